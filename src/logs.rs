//! Service output: `log = "prefix"` pipes, reassembled into whole lines.
//!
//! Each prefixed service writes stdout and stderr into one non-blocking pipe that rinit
//! reads in the event loop. Bytes are reassembled into lines and written to rinit's
//! stdout as `NAME | line`, one `write` per line, so lines of several services never
//! interleave mid-line. A line longer than [`MAX_LINE`] is cut into pieces, and a read
//! takes at most [`READ_BUDGET`] bytes per wakeup, so a service that floods its output
//! cannot starve reaping, signals or the other services.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// Longest line passed on whole; longer ones are split.
pub const MAX_LINE: usize = 4096;
/// Bytes read from one pipe per event-loop wakeup.
pub const READ_BUDGET: usize = 64 * 1024;

/// Largest single write to stdout: whole lines, at most PIPE_BUF bytes, so a write to a
/// pipe is atomic, never splits a line, and never blocks once poll(2) said POLLOUT.
pub const WRITE_CHUNK: usize = 4096;

/// Splits a byte stream into lines of at most `MAX_LINE` bytes. Pure.
#[derive(Debug, Default)]
pub struct LineBuffer {
    pending: Vec<u8>,
}

impl LineBuffer {
    /// Add bytes; call `line` with every line they complete (without the newline).
    pub fn push(&mut self, mut bytes: &[u8], line: &mut dyn FnMut(&[u8])) {
        while !bytes.is_empty() {
            let room = MAX_LINE.saturating_sub(self.pending.len()).max(1);
            let window = bytes.get(..bytes.len().min(room)).unwrap_or_default();
            let (taken, complete) = match window.iter().position(|&b| b == b'\n') {
                Some(i) => (i, true),
                None => (window.len(), window.len() == room),
            };
            let piece = window.get(..taken).unwrap_or_default();
            if complete && self.pending.is_empty() {
                line(piece);
            } else {
                self.pending.extend_from_slice(piece);
                if complete {
                    line(&self.pending);
                    self.pending.clear();
                }
            }
            let consumed = if taken < window.len() {
                taken + 1
            } else {
                taken
            };
            bytes = bytes.get(consumed..).unwrap_or_default();
        }
    }

    /// Whatever is left without a newline (at end of stream).
    pub fn flush(&mut self) -> Option<Vec<u8>> {
        (!self.pending.is_empty()).then(|| std::mem::take(&mut self.pending))
    }
}

/// Append one output line as rinit prints it: `NAME | line`.
pub fn append_prefixed(out: &mut Vec<u8>, name: &str, line: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b" | ");
    out.extend_from_slice(line);
    out.push(b'\n');
}

/// Most output kept for a stdout that does not keep up; beyond it, lines are dropped
/// (and counted) rather than blocking PID 1.
pub const MAX_PENDING: usize = 1024 * 1024;

/// rinit's stdout as the services' lines go to it: a queue of whole lines, written only
/// when fd 1 can take a chunk without blocking (a paused terminal or a stuck log reader
/// must not stall reaping and signals).
#[derive(Debug, Default)]
pub struct Output {
    pending: Vec<u8>,
    dropped: usize,
}

impl Output {
    /// Queue whole lines (each ending in a newline), or drop them when the queue is full.
    pub fn push(&mut self, lines: &[u8]) {
        if self.pending.len() + lines.len() > MAX_PENDING {
            if self.dropped == 0 {
                log::warn!("stdout is not keeping up: dropping service lines until it does");
            }
            self.dropped += lines.iter().filter(|&&b| b == b'\n').count();
            return;
        }
        self.pending.extend_from_slice(lines);
    }

    /// Lines are waiting: poll fd 1 for POLLOUT.
    pub fn wants_write(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Write queued lines while fd 1 takes them without blocking, waiting at most
    /// `wait_ms` for it to become writable (0 in the event loop).
    pub fn flush(&mut self, wait_ms: i32) {
        while !self.pending.is_empty() {
            let mut pfd = libc::pollfd {
                fd: 1,
                events: libc::POLLOUT,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            if unsafe { libc::poll(&mut pfd, 1, wait_ms) } <= 0 || pfd.revents & libc::POLLOUT == 0
            {
                return;
            }
            // A chunk that ends at a line's end and fits in PIPE_BUF is written whole.
            let limit = self.pending.len().min(WRITE_CHUNK);
            let end = match self
                .pending
                .get(..limit)
                .and_then(|c| c.iter().rposition(|&b| b == b'\n'))
            {
                Some(i) => i + 1,
                None => limit,
            };
            // SAFETY: the chunk is a valid buffer.
            let n = unsafe { libc::write(1, self.pending.as_ptr().cast(), end) };
            match usize::try_from(n) {
                Ok(n) if n > 0 => {
                    self.pending.drain(..n.min(self.pending.len()));
                }
                _ if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted => {}
                _ => {
                    // stdout is gone: nothing will ever read these lines.
                    self.pending.clear();
                    return;
                }
            }
        }
        if self.dropped > 0 {
            log::warn!(
                "stdout did not keep up: {} service line(s) dropped",
                self.dropped
            );
            self.dropped = 0;
        }
    }
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

    /// Read what is available (up to the budget) and queue whole prefixed lines on
    /// `output`, which writes them when stdout can take them.
    pub fn drain(&mut self, output: &mut Output) {
        let mut buf = [0u8; 16384];
        let mut total = 0;
        let mut lines_out = Vec::new();
        let LogPipe {
            name, read, lines, ..
        } = self;
        while total < READ_BUDGET {
            // SAFETY: buf is a writable buffer of its length.
            let n = unsafe { libc::read(read.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            let Ok(n) = usize::try_from(n) else { break };
            if n == 0 {
                break;
            }
            total += n;
            lines.push(buf.get(..n).unwrap_or_default(), &mut |line| {
                append_prefixed(&mut lines_out, name, line);
            });
        }
        output.push(&lines_out);
        output.flush(0);
    }

    /// Queue a last line that had no newline (its service exited).
    pub fn flush_partial(&mut self, output: &mut Output) {
        if let Some(rest) = self.lines.flush() {
            let mut line = Vec::new();
            append_prefixed(&mut line, &self.name, &rest);
            output.push(&line);
            output.flush(0);
        }
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

    fn lines_of(b: &mut LineBuffer, bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        b.push(bytes, &mut |l| out.push(l.to_vec()));
        out
    }

    #[test]
    fn reassembles_lines_across_reads() {
        let mut b = LineBuffer::default();
        assert!(lines_of(&mut b, b"hel").is_empty());
        assert_eq!(lines_of(&mut b, b"lo\nwor"), vec![b"hello".to_vec()]);
        assert_eq!(
            lines_of(&mut b, b"ld\n\n"),
            vec![b"world".to_vec(), b"".to_vec()]
        );
        assert_eq!(b.flush(), None);
        lines_of(&mut b, b"tail");
        assert_eq!(b.flush(), Some(b"tail".to_vec()));
    }

    #[test]
    fn splits_overlong_lines() {
        let mut b = LineBuffer::default();
        let long = vec![b'x'; MAX_LINE * 2 + 10];
        let lines = lines_of(&mut b, &long);
        assert_eq!(lines.len(), 2);
        assert!(lines.iter().all(|l| l.len() == MAX_LINE));
        assert_eq!(b.flush().map(|l| l.len()), Some(10));
        // A long line that ends within the limit is one line.
        let mut b = LineBuffer::default();
        let mut text = vec![b'y'; MAX_LINE - 1];
        text.push(b'\n');
        assert_eq!(lines_of(&mut b, &text), vec![vec![b'y'; MAX_LINE - 1]]);
    }

    #[test]
    fn output_drops_lines_beyond_its_cap_instead_of_growing() {
        let mut out = Output::default();
        let line = vec![b'x'; 1023]
            .into_iter()
            .chain([b'\n'])
            .collect::<Vec<u8>>();
        for _ in 0..(MAX_PENDING / line.len() + 10) {
            out.push(&line);
        }
        assert!(out.pending.len() <= MAX_PENDING);
        assert_eq!(out.dropped, 10);
        assert!(out.wants_write());
    }

    #[test]
    fn prefix_format() {
        let mut out = Vec::new();
        append_prefixed(&mut out, "db", b"ready");
        assert_eq!(out, b"db | ready\n".to_vec());
    }
}
