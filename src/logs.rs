//! Service output: `log = "prefix"` pipes, reassembled into whole lines.
//!
//! Each prefixed service writes stdout and stderr into one non-blocking pipe that rinit
//! reads in the event loop. Bytes are reassembled into lines and written to rinit's
//! stdout as `NAME | line`, one `write` per line, so lines of several services never
//! interleave mid-line. A line longer than [`MAX_LINE`] is cut into pieces, and a read
//! takes at most [`READ_BUDGET`] bytes per wakeup, so a service that floods its output
//! cannot starve reaping, signals or the other services.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

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

/// Most output kept for a stdout or stderr that does not keep up; beyond it, lines are
/// dropped (and counted) rather than blocking PID 1.
pub const MAX_PENDING: usize = 1024 * 1024;

/// How rinit writes to its stdout or stderr without ever blocking.
///
/// fd 1 and 2 are shared with whoever else holds them (a `log = "inherit"` service, the
/// shell of `docker run -it`), so rinit never sets O_NONBLOCK on them. Instead it opens
/// its own file description of the same pipe or terminal (`/proc/self/fd/N`, with
/// O_NONBLOCK and O_NOCTTY); a socket is written with `MSG_DONTWAIT`; a regular file
/// never blocks for long. Anything else is written only after poll(2) says POLLOUT.
#[derive(Debug)]
enum Sink {
    /// Its own non-blocking description of the pipe or terminal.
    Own(OwnedFd),
    /// A copy (dup) of fd 1 or 2 that is a socket: written with MSG_DONTWAIT.
    Socket(OwnedFd),
    /// A copy of fd 1 or 2 that is a regular file: written at once (poll(2) would
    /// always say POLLOUT).
    File(OwnedFd),
    /// A copy of fd 1 or 2 of another kind (one that cannot be reopened): written
    /// after poll(2).
    Plain(OwnedFd),
}

impl Sink {
    /// The writer for rinit's fd 1 or 2; None if that fd is not open.
    fn for_std(fd: RawFd) -> Option<Sink> {
        let copy = match fd {
            1 => std::io::stdout().as_fd().try_clone_to_owned(),
            2 => std::io::stderr().as_fd().try_clone_to_owned(),
            _ => return None,
        };
        copy.ok().map(Sink::from_copy)
    }

    /// Choose how to write to `fd` (a copy of the fd to write to).
    fn from_copy(fd: OwnedFd) -> Sink {
        let Ok(st) = nix::sys::stat::fstat(&fd) else {
            return Sink::Plain(fd);
        };
        match st.st_mode & libc::S_IFMT {
            libc::S_IFSOCK => return Sink::Socket(fd),
            libc::S_IFREG => return Sink::File(fd),
            _ => {}
        }
        use nix::fcntl::OFlag;
        let flags = OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_NOCTTY | OFlag::O_CLOEXEC;
        let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
        match nix::fcntl::open(path.as_str(), flags, nix::sys::stat::Mode::empty()) {
            Ok(own) => Sink::Own(own),
            Err(_) => Sink::Plain(fd),
        }
    }

    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Sink::Own(fd) | Sink::Socket(fd) | Sink::File(fd) | Sink::Plain(fd) => fd.as_fd(),
        }
    }

    /// Write without blocking: `WouldBlock` when it cannot take anything now.
    fn write(&self, buf: &[u8]) -> io::Result<usize> {
        use nix::sys::socket::MsgFlags;
        let written = match self {
            Sink::Own(fd) | Sink::File(fd) => nix::unistd::write(fd, buf),
            Sink::Socket(fd) => nix::sys::socket::send(
                fd.as_raw_fd(),
                buf,
                MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL,
            ),
            Sink::Plain(fd) => {
                match poll_out(fd.as_fd(), 0) {
                    Writable::Yes => {}
                    Writable::NotNow => return Err(io::ErrorKind::WouldBlock.into()),
                    // POLLERR/POLLHUP/POLLNVAL: nobody will ever read it.
                    Writable::Gone => return Err(io::ErrorKind::BrokenPipe.into()),
                }
                nix::unistd::write(fd, buf)
            }
        };
        written.map_err(io::Error::from)
    }
}

/// What poll(2) says about writing to an fd.
enum Writable {
    Yes,
    NotNow,
    Gone,
}

/// Can `fd` take a write within `wait_ms`?
fn poll_out(fd: BorrowedFd<'_>, wait_ms: u16) -> Writable {
    use nix::poll::{PollFd, PollFlags};
    let mut fds = [PollFd::new(fd, PollFlags::POLLOUT)];
    let ready = nix::poll::poll(&mut fds, wait_ms).is_ok_and(|n| n > 0);
    let revents = fds[0].revents().unwrap_or(PollFlags::empty());
    let gone = PollFlags::POLLERR | PollFlags::POLLHUP | PollFlags::POLLNVAL;
    if ready && revents.intersects(gone) {
        Writable::Gone
    } else if ready && revents.contains(PollFlags::POLLOUT) {
        Writable::Yes
    } else {
        Writable::NotNow
    }
}

/// rinit's stdout (the services' lines) or stderr (its own): a queue of whole lines,
/// written only as far as the fd takes them without blocking, so a paused terminal or a
/// stuck log reader never stalls reaping and signals. EAGAIN means "wait"; only a full
/// queue drops lines, and they are counted.
#[derive(Debug)]
pub struct Output {
    fd: RawFd,
    sink: Option<Sink>,
    pending: Vec<u8>,
    dropped: usize,
    /// Drops began since the caller last asked (see [`Output::drops_began`]).
    drops_began: bool,
}

impl Default for Output {
    fn default() -> Output {
        Output::new(1)
    }
}

impl Output {
    /// A queue for `fd`; its writer is set up on first use (see [`Output::open`]).
    pub const fn new(fd: RawFd) -> Output {
        Output {
            fd,
            sink: None,
            pending: Vec::new(),
            dropped: 0,
            drops_began: false,
        }
    }

    /// Set up the non-blocking writer now (it needs /proc, mounted late in VM mode).
    pub fn open(&mut self) {
        self.sink = Sink::for_std(self.fd);
    }

    /// A queue that writes to `fd` (a pipe in the tests).
    #[cfg(test)]
    pub fn on(fd: OwnedFd) -> Output {
        let mut out = Output::new(-1);
        out.sink = Some(Sink::from_copy(fd));
        out
    }

    /// Queue whole lines (each ending in a newline), or drop them when the queue is full.
    pub fn push(&mut self, lines: &[u8]) {
        if self.pending.len() + lines.len() > MAX_PENDING {
            self.drops_began |= self.dropped == 0;
            self.dropped += lines.iter().filter(|&&b| b == b'\n').count().max(1);
            return;
        }
        self.pending.extend_from_slice(lines);
    }

    /// Lines are waiting: poll the fd for POLLOUT.
    pub fn wants_write(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The fd to poll for POLLOUT (none before [`Output::open`], or if fd 1/2 is closed).
    pub fn poll_fd(&self) -> Option<BorrowedFd<'_>> {
        self.sink.as_ref().map(Sink::fd)
    }

    /// True once after the queue began to drop lines (for the caller to say so).
    pub fn drops_began(&mut self) -> bool {
        std::mem::take(&mut self.drops_began)
    }

    /// Lines dropped so far and not yet reported.
    pub fn dropped(&self) -> usize {
        self.dropped
    }

    /// Write queued lines while the fd takes them. Returns how many lines had been
    /// dropped, once the queue has drained after a drop (for the caller to report).
    pub fn flush(&mut self) -> Option<usize> {
        if self.sink.is_none() {
            self.sink = Sink::for_std(self.fd);
        }
        let Some(sink) = &self.sink else {
            // fd 1 or 2 is closed: nothing will ever read these lines.
            self.pending.clear();
            return None;
        };
        while !self.pending.is_empty() {
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
            match sink.write(self.pending.get(..end).unwrap_or_default()) {
                Ok(n) if n > 0 => {
                    self.pending.drain(..n.min(self.pending.len()));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                _ => {
                    // The fd is gone: nothing will ever read these lines.
                    self.pending.clear();
                    return None;
                }
            }
        }
        (self.dropped > 0).then(|| std::mem::take(&mut self.dropped))
    }

    /// Flush, waiting for the fd at most until `until` (rinit's last lines at exit).
    pub fn flush_until(&mut self, until: std::time::Instant) -> Option<usize> {
        let mut dropped = None;
        loop {
            dropped = self.flush().or(dropped);
            let left = until.saturating_duration_since(std::time::Instant::now());
            if !self.wants_write() || left.is_zero() {
                return dropped;
            }
            let wait = u16::try_from(left.as_millis()).unwrap_or(u16::MAX).max(1);
            let gone = match self.poll_fd() {
                Some(fd) => matches!(poll_out(fd, wait), Writable::Gone),
                None => true,
            };
            if gone {
                self.pending.clear();
                return dropped;
            }
        }
    }
}

/// rinit's own log lines, on their way to stderr: the logger only queues them here, and
/// the event loop writes them when stderr can take them.
static RINIT_LINES: std::sync::Mutex<Output> = std::sync::Mutex::new(Output::new(2));

/// The queue of rinit's own log lines. Never log while holding it.
pub fn rinit_lines() -> std::sync::MutexGuard<'static, Output> {
    RINIT_LINES.lock().unwrap_or_else(|e| e.into_inner())
}

/// Write what stderr takes now; report drops once it drained.
pub fn flush_rinit_lines() {
    let mut out = rinit_lines();
    if let Some(n) = out.flush() {
        out.push(
            format!("rinit: warning: stderr did not keep up: {n} log line(s) dropped\n").as_bytes(),
        );
        out.flush();
    }
}

/// The logger's writer: whole lines into [`rinit_lines`], never a write to stderr.
#[derive(Debug, Default)]
pub struct QueueWriter {
    partial: Vec<u8>,
}

impl io::Write for QueueWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.partial.extend_from_slice(buf);
        if let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') {
            let lines: Vec<u8> = self.partial.drain(..=end).collect();
            rinit_lines().push(&lines);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
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
    /// Its last lines, for `ctl logs`.
    pub ring: LogRing,
    /// `log_timestamps`: an RFC 3339 time before each line.
    timestamps: bool,
    /// Lines read since the supervisor last took them (for `ctl logs -f`).
    fresh: Vec<Vec<u8>>,
    /// Someone follows it (`ctl logs -f`): keep each new line in `fresh` for them.
    pub followed: bool,
    /// `log = "/path"` with `log_max_size`: the lines go to this file, not to stdout.
    pub file: Option<RotatingFile>,
}

/// A log file rinit writes itself, renamed to `FILE.1` (and `FILE.1` to `FILE.2`, …, up
/// to `keep`) once it would grow past `max` bytes; no signal to anyone.
#[derive(Debug)]
pub struct RotatingFile {
    path: std::path::PathBuf,
    file: Option<std::fs::File>,
    size: u64,
    max: u64,
    keep: u32,
    /// An error was reported (once, until a write works again).
    failing: bool,
}

impl RotatingFile {
    pub fn new(path: &std::path::Path, max: u64, keep: u32) -> RotatingFile {
        RotatingFile {
            path: path.to_path_buf(),
            file: None,
            size: 0,
            max,
            keep,
            failing: false,
        }
    }

    /// Append one line (with its newline), rotating first if it would not fit.
    pub fn write_line(&mut self, line: &[u8]) {
        use std::io::Write as _;
        if self.file.is_none() {
            self.open();
        }
        let len = line.len() as u64 + 1;
        if self.size > 0 && self.size + len > self.max {
            self.rotate();
        }
        let Some(file) = self.file.as_mut() else {
            return;
        };
        let written = file.write_all(line).and_then(|()| file.write_all(b"\n"));
        match written {
            Ok(()) => {
                self.size += len;
                self.failing = false;
            }
            Err(e) => self.report(&e),
        }
    }

    fn open(&mut self) {
        let opened = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path);
        match opened {
            Ok(f) => {
                self.size = f.metadata().map_or(0, |m| m.len());
                self.file = Some(f);
            }
            Err(e) => self.report(&e),
        }
    }

    fn rotate(&mut self) {
        self.file = None;
        for (from, to) in rotation_renames(&self.path, self.keep) {
            let _ = std::fs::rename(from, to);
        }
        if self.keep == 0 {
            let _ = std::fs::remove_file(&self.path);
        }
        self.size = 0;
        self.open();
    }

    fn report(&mut self, e: &io::Error) {
        if !self.failing {
            log::warn!(
                "log file {}: {e}; its lines are dropped",
                self.path.display()
            );
        }
        self.failing = true;
        self.file = None;
    }
}

/// The renames of one rotation, oldest first so nothing is overwritten before it moved:
/// `FILE.{keep-1}` → `FILE.{keep}`, …, `FILE` → `FILE.1` (what was `FILE.{keep}` is
/// replaced). Pure.
pub fn rotation_renames(
    path: &std::path::Path,
    keep: u32,
) -> Vec<(std::path::PathBuf, std::path::PathBuf)> {
    let numbered = |n: u32| {
        let mut p = path.as_os_str().to_owned();
        p.push(format!(".{n}"));
        std::path::PathBuf::from(p)
    };
    let mut renames: Vec<_> = (1..keep)
        .rev()
        .map(|n| (numbered(n), numbered(n + 1)))
        .collect();
    if keep > 0 {
        renames.push((path.to_path_buf(), numbered(1)));
    }
    renames
}

/// What a kept line costs beyond its bytes (its Vec), counted against the cap so that
/// many short or empty lines cannot grow memory past it.
const LINE_COST: usize = 32;

/// A service's last lines, at most `cap` bytes of them counting [`LINE_COST`] per line
/// (the oldest go first). Pure.
#[derive(Debug, Default)]
pub struct LogRing {
    lines: std::collections::VecDeque<Vec<u8>>,
    bytes: usize,
    cap: usize,
}

impl LogRing {
    pub fn new(cap: usize) -> LogRing {
        LogRing {
            cap,
            ..LogRing::default()
        }
    }

    pub fn push(&mut self, line: &[u8]) {
        if self.cap == 0 {
            return;
        }
        let line = line.get(..self.cap.min(line.len())).unwrap_or_default();
        // Make room first; the last line dropped lends its allocation to the new one, so
        // a full ring under a flood allocates nothing. The newest line always stays.
        let mut spare = None;
        while self.bytes + line.len() + LINE_COST > self.cap && !self.lines.is_empty() {
            match self.lines.pop_front() {
                Some(old) => {
                    self.bytes -= old.len() + LINE_COST;
                    spare = Some(old);
                }
                None => break,
            }
        }
        let mut slot = spare.unwrap_or_default();
        slot.clear();
        slot.extend_from_slice(line);
        self.bytes += line.len() + LINE_COST;
        self.lines.push_back(slot);
    }

    /// The last `n` lines (all with None), oldest first.
    pub fn last(&self, n: Option<usize>) -> impl Iterator<Item = &[u8]> {
        let skip = n.map_or(0, |n| self.lines.len().saturating_sub(n));
        self.lines.iter().skip(skip).map(Vec::as_slice)
    }
}

/// `2026-12-02T10:30:05.123Z` for a time since the epoch. Pure.
pub fn rfc3339(since_epoch: std::time::Duration) -> String {
    let secs = since_epoch.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Days to a civil date (Howard Hinnant's algorithm, proleptic Gregorian).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        since_epoch.subsec_millis()
    )
}

impl LogPipe {
    /// A pipe for service `name`, keeping its last `ring` bytes of lines.
    pub fn new(name: &str, ring: usize, timestamps: bool) -> io::Result<LogPipe> {
        use nix::fcntl::{FcntlArg, OFlag};
        let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)?;
        // The child's end must block like any ordinary stdout.
        nix::fcntl::fcntl(&write, FcntlArg::F_SETFL(OFlag::empty()))?;
        Ok(LogPipe {
            name: name.to_string(),
            read,
            write,
            lines: LineBuffer::default(),
            ring: LogRing::new(ring),
            timestamps,
            fresh: Vec::new(),
            followed: false,
            file: None,
        })
    }

    /// The lines read since the last call.
    pub fn take_fresh(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.fresh)
    }

    /// The fd a child gets as stdout and stderr.
    pub fn writer(&self) -> i32 {
        self.write.as_raw_fd()
    }

    /// Read what is available (up to the budget) and queue whole prefixed lines on
    /// `output`; the event loop writes them when stdout can take them.
    pub fn drain(&mut self, output: &mut Output) {
        let mut buf = [0u8; 16384];
        let mut total = 0;
        let mut lines_out = Vec::new();
        let LogPipe {
            name,
            read,
            lines,
            ring,
            timestamps,
            fresh,
            followed,
            file,
            ..
        } = self;
        let keep_fresh = *followed;
        while total < READ_BUDGET {
            // EAGAIN (drained), EOF or an error: done for this wakeup.
            let n = match nix::unistd::read(&*read, &mut buf) {
                Ok(n) if n > 0 => n,
                _ => break,
            };
            total += n;
            lines.push(buf.get(..n).unwrap_or_default(), &mut |line| {
                let line = stamped(line, *timestamps);
                match file.as_mut() {
                    Some(f) => f.write_line(&line),
                    None => append_prefixed(&mut lines_out, name, &line),
                }
                ring.push(&line);
                if keep_fresh {
                    fresh.push(line.into_owned());
                }
            });
        }
        output.push(&lines_out);
    }

    /// Queue a last line that had no newline (its service exited).
    pub fn flush_partial(&mut self, output: &mut Output) {
        if let Some(rest) = self.lines.flush() {
            let rest = stamped(&rest, self.timestamps).into_owned();
            match self.file.as_mut() {
                Some(f) => f.write_line(&rest),
                None => {
                    let mut line = Vec::new();
                    append_prefixed(&mut line, &self.name, &rest);
                    output.push(&line);
                }
            }
            self.ring.push(&rest);
            self.fresh.push(rest);
        }
    }
}

/// `line`, after an RFC 3339 time if `timestamps` (borrowed as it is otherwise).
fn stamped(line: &[u8], timestamps: bool) -> std::borrow::Cow<'_, [u8]> {
    if !timestamps {
        return std::borrow::Cow::Borrowed(line);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut out = rfc3339(now).into_bytes();
    out.push(b' ');
    out.extend_from_slice(line);
    std::borrow::Cow::Owned(out)
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
    fn rotation_moves_the_oldest_first() {
        let r = rotation_renames(std::path::Path::new("/var/log/a.log"), 3);
        let names: Vec<(String, String)> = r
            .iter()
            .map(|(a, b)| (a.display().to_string(), b.display().to_string()))
            .collect();
        let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(
            names,
            [
                pair("/var/log/a.log.2", "/var/log/a.log.3"),
                pair("/var/log/a.log.1", "/var/log/a.log.2"),
                pair("/var/log/a.log", "/var/log/a.log.1"),
            ]
        );
        assert!(rotation_renames(std::path::Path::new("/x"), 0).is_empty());
    }

    #[test]
    fn a_rotating_file_stays_under_its_size_and_keeps_its_count() {
        let dir = std::env::temp_dir().join(format!("rinit-rotate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("app.log");
        let mut f = RotatingFile::new(&path, 4096, 2);
        let line = [b'x'; 99];
        for _ in 0..200 {
            f.write_line(&line);
        }
        let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).ok();
        for p in [path.clone(), dir.join("app.log.1"), dir.join("app.log.2")] {
            let s = size(&p).unwrap();
            assert!(s <= 4096 && s % 100 == 0, "{} is {s} bytes", p.display());
        }
        assert_eq!(size(&dir.join("app.log.3")), None, "only 2 kept");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_ring_keeps_the_last_bytes_of_lines() {
        // Each line costs its bytes and 32 more.
        let mut ring = LogRing::new(80);
        for line in [&b"one"[..], b"two", b"three", b"four"] {
            ring.push(line);
        }
        let kept: Vec<&[u8]> = ring.last(None).collect();
        assert_eq!(kept, [&b"three"[..], b"four"], "73 of at most 80");
        let last: Vec<&[u8]> = ring.last(Some(1)).collect();
        assert_eq!(last, [&b"four"[..]]);
        ring.push(&[b'x'; 100]);
        assert_eq!(
            ring.last(None).map(<[u8]>::len).collect::<Vec<_>>(),
            [80],
            "cut to fit"
        );
        // Empty lines are not free: a flood of them stays within the cap.
        let mut blanks = LogRing::new(320);
        for _ in 0..10_000 {
            blanks.push(b"");
        }
        assert_eq!(blanks.last(None).count(), 10);
        let mut off = LogRing::new(0);
        off.push(b"nothing kept");
        assert_eq!(off.last(None).count(), 0);
    }

    #[test]
    fn rfc3339_times() {
        use std::time::Duration;
        assert_eq!(rfc3339(Duration::ZERO), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339(Duration::from_millis(951_782_400_123)),
            "2000-02-29T00:00:00.123Z"
        );
        assert_eq!(
            rfc3339(Duration::from_secs(1_796_178_605)),
            "2026-12-02T02:30:05.000Z"
        );
    }

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
    fn a_full_pipe_means_wait_not_drop() {
        let (reader, writer) = std::io::pipe().unwrap();
        let mut out = Output::on(OwnedFd::from(writer.try_clone().unwrap()));
        let line = [b'y'; 1023]
            .iter()
            .copied()
            .chain([b'\n'])
            .collect::<Vec<u8>>();
        // 64 KiB fills a pipe; the rest waits in the queue.
        for _ in 0..200 {
            out.push(&line);
        }
        assert_eq!(out.flush(), None);
        assert!(out.wants_write(), "the pipe is full: lines wait");
        let queued = out.pending.len();
        assert!(queued > 0 && queued < 200 * 1024);
        // Reading makes room: everything arrives, nothing was dropped.
        let reader_thread = std::thread::spawn(move || {
            let mut all = Vec::new();
            std::io::Read::read_to_end(&mut &reader, &mut all).unwrap();
            all
        });
        out.flush_until(std::time::Instant::now() + std::time::Duration::from_secs(10));
        assert!(!out.wants_write());
        drop(out);
        drop(writer);
        let all = reader_thread.join().unwrap();
        assert_eq!(all.len(), 200 * 1024);
    }

    #[test]
    fn prefix_format() {
        let mut out = Vec::new();
        append_prefixed(&mut out, "db", b"ready");
        assert_eq!(out, b"db | ready\n".to_vec());
    }
}
