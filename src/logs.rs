//! Service output: `log = "prefix"` pipes, reassembled into whole lines.
//!
//! Each prefixed service writes stdout and stderr into one non-blocking pipe that rinit
//! reads in the event loop. Bytes are reassembled into lines and written to rinit's
//! stdout as `NAME | line`, one `write` per line, so lines of several services never
//! interleave mid-line. A line longer than [`MAX_LINE`] is cut into pieces, and a read
//! takes at most [`READ_BUDGET`] bytes per wakeup, so a service that floods its output
//! cannot starve reaping, signals or the other services.

use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// Longest line passed on whole; longer ones are split.
pub const MAX_LINE: usize = 4096;
/// Bytes read from one pipe per event-loop wakeup.
pub const READ_BUDGET: usize = 64 * 1024;

/// Splits a byte stream into lines of at most `MAX_LINE` bytes. Pure.
#[derive(Debug, Default)]
pub struct LineBuffer {
    pending: Vec<u8>,
}

impl LineBuffer {
    /// Add bytes; return every line they complete (without the newline).
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut lines = Vec::new();
        for &b in bytes {
            if b == b'\n' {
                lines.push(std::mem::take(&mut self.pending));
            } else {
                self.pending.push(b);
                if self.pending.len() >= MAX_LINE {
                    lines.push(std::mem::take(&mut self.pending));
                }
            }
        }
        lines
    }

    /// Whatever is left without a newline (at end of stream).
    pub fn flush(&mut self) -> Option<Vec<u8>> {
        (!self.pending.is_empty()).then(|| std::mem::take(&mut self.pending))
    }
}

/// Format one output line as rinit prints it.
pub fn prefixed(name: &str, line: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + line.len() + 4);
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b" | ");
    out.extend_from_slice(line);
    out.push(b'\n');
    out
}

/// The read side of one service's output pipe. rinit keeps the write side too, to hand
/// it to every new run of the service.
#[derive(Debug)]
pub struct LogPipe {
    name: String,
    read: OwnedFd,
    write: OwnedFd,
    lines: LineBuffer,
}

impl LogPipe {
    pub fn new(name: &str) -> io::Result<LogPipe> {
        let mut fds = [0; 2];
        // SAFETY: fds is a valid array of two ints.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe2 returned two new descriptors we now own.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // The child's end must block like any ordinary stdout.
        // SAFETY: fcntl on a descriptor we own.
        unsafe { libc::fcntl(write.as_raw_fd(), libc::F_SETFL, 0) };
        Ok(LogPipe {
            name: name.to_string(),
            read,
            write,
            lines: LineBuffer::default(),
        })
    }

    /// The fd a child gets as stdout and stderr.
    pub fn writer(&self) -> i32 {
        self.write.as_raw_fd()
    }

    /// Read what is available (up to the budget) and print whole lines to stdout.
    pub fn drain(&mut self) {
        let mut buf = [0u8; 8192];
        let mut total = 0;
        while total < READ_BUDGET {
            // SAFETY: buf is a writable buffer of its length.
            let n =
                unsafe { libc::read(self.read.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break;
            }
            let n = n as usize;
            total += n;
            let lines = self.lines.push(buf.get(..n).unwrap_or_default());
            self.emit(lines);
        }
    }

    fn emit(&self, lines: Vec<Vec<u8>>) {
        let mut out = io::stdout().lock();
        for line in lines {
            // One write per line; an error (stdout closed) is not worth dying for.
            let _ = out.write_all(&prefixed(&self.name, &line));
        }
        let _ = out.flush();
    }
}

impl AsFd for LogPipe {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reassembles_lines_across_reads() {
        let mut b = LineBuffer::default();
        assert!(b.push(b"hel").is_empty());
        assert_eq!(b.push(b"lo\nwor"), vec![b"hello".to_vec()]);
        assert_eq!(b.push(b"ld\n\n"), vec![b"world".to_vec(), b"".to_vec()]);
        assert_eq!(b.flush(), None);
        b.push(b"tail");
        assert_eq!(b.flush(), Some(b"tail".to_vec()));
    }

    #[test]
    fn splits_overlong_lines() {
        let mut b = LineBuffer::default();
        let long = vec![b'x'; MAX_LINE * 2 + 10];
        let lines = b.push(&long);
        assert_eq!(lines.len(), 2);
        assert!(lines.iter().all(|l| l.len() == MAX_LINE));
        assert_eq!(b.flush().map(|l| l.len()), Some(10));
    }

    #[test]
    fn prefix_format() {
        assert_eq!(prefixed("db", b"ready"), b"db | ready\n".to_vec());
    }
}
