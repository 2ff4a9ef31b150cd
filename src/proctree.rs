//! Snapshots of the process table from /proc, and the pure tree logic on top of them.
//!
//! A [`Snapshot`] is a list of [`Proc`] records parsed from `/proc/PID/stat`. Everything
//! rinit decides about processes — who belongs to a service (descendants by ppid plus
//! members of its session), who is in rinit's scope, and the deepest-first signal order —
//! is computed here from a snapshot, without system calls, so it is unit-tested on
//! fixtures. Only [`Snapshot::scan`] and [`cmdline`] touch /proc.

use crate::pidhash::{PidMap, PidSet};
use std::fs;
use std::os::unix::ffi::OsStrExt;

/// Kernel threads carry this flag (field 9 of /proc/PID/stat); rinit never touches them.
const PF_KTHREAD: u64 = 0x0020_0000;
/// Set once a process has begun to exit (a SIGKILL was delivered, or it called exit):
/// it runs no more user code, and only its teardown and reaping are left.
const PF_EXITING: u64 = 0x0000_0004;

/// The `state` of a [`Proc`] rinit did not read: one of its own unreaped children (see
/// [`Proc::own_child`]).
pub const NOT_READ: char = '?';

/// One process as /proc/PID/stat describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proc {
    pub pid: i32,
    /// The kernel's name for it (at most 15 bytes, cut without regard to UTF-8): only a
    /// label for logs, decoded lossily.
    pub comm: String,
    /// R, S, D, Z, T, t, X, I …
    pub state: char,
    pub ppid: i32,
    pub pgrp: i32,
    pub session: i32,
    pub flags: u64,
    /// Start time in clock ticks since boot (field 22): with the pid, a process identity
    /// that survives pid reuse.
    pub starttime: u64,
    /// Threads in its thread group (field 20).
    pub threads: u64,
}

impl Proc {
    /// A zombie (or dead) process: it can do nothing more and only needs reaping. A
    /// zombie leader whose other threads still run (its main thread called
    /// `pthread_exit`) is alive: signals to it reach the thread group.
    pub fn is_dead(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x') && self.threads <= 1
    }

    /// Already exiting (after SIGKILL, or it called exit) but not yet a zombie: it runs no
    /// more user code, so it needs no signal and is never a leftover — but a stop still
    /// waits the moment it takes to become a zombie, so that its teardown (its sockets
    /// closing) also comes before the next wave.
    pub fn is_exiting(&self) -> bool {
        self.flags & PF_EXITING != 0
    }

    /// Stopped by a signal (`T`) or a tracer (`t`): it needs a SIGCONT to act on a
    /// stop signal.
    pub fn is_stopped(&self) -> bool {
        matches!(self.state, 'T' | 't')
    }

    /// A child rinit forked and has not reaped, described without reading /proc: its pid
    /// cannot be reused before rinit reaps it, it leads its own process group (rinit
    /// made it a session leader, or a group leader in the foreground, before exec), and
    /// until reaped it counts as alive. Its state is [`NOT_READ`]; `comm` is a label
    /// for logs. The stop path saves a /proc read per service this way.
    pub fn own_child(pid: i32, rinit: i32, comm: &str) -> Proc {
        Proc {
            pid,
            comm: comm.to_string(),
            state: NOT_READ,
            ppid: rinit,
            pgrp: pid,
            session: pid,
            flags: 0,
            starttime: 0,
            threads: 1,
        }
    }

    /// Stopped, or possibly so: a stop signal to it is followed by a SIGCONT.
    pub fn may_be_stopped(&self) -> bool {
        self.is_stopped() || self.state == NOT_READ
    }

    /// A process for the tests' fixtures: its own process group leader, one thread.
    #[cfg(test)]
    pub fn fixture(pid: i32, ppid: i32, session: i32, state: char) -> Proc {
        Proc {
            pid,
            comm: format!("p{pid}"),
            state,
            ppid,
            pgrp: session,
            session,
            flags: 0,
            starttime: 1000 + pid as u64,
            threads: 1,
        }
    }

    pub fn is_kernel_thread(&self) -> bool {
        self.flags & PF_KTHREAD != 0
    }
}

/// Parse the contents of /proc/PID/stat, as bytes: `comm` may hold any bytes (a `)`
/// included, hence the last `)` ends it). `None` if it is malformed.
pub fn parse_stat(text: &[u8]) -> Option<Proc> {
    let open = text.iter().position(|&b| b == b'(')?;
    let close = text.iter().rposition(|&b| b == b')')?;
    let pid = number(text.get(..open)?)?;
    let comm = String::from_utf8_lossy(text.get(open + 1..close)?).into_owned();
    // Fields 3 to 22 (of 52), the first being the state: no allocation, as this runs for
    // every process of every scan.
    let mut rest: [&[u8]; 20] = [&[]; 20];
    let words = text
        .get(close + 1..)?
        .split(u8::is_ascii_whitespace)
        .filter(|w| !w.is_empty());
    for (slot, word) in rest.iter_mut().zip(words) {
        *slot = word;
    }
    let field = |n: usize| rest.get(n - 3).copied().filter(|w| !w.is_empty());
    Some(Proc {
        pid,
        comm,
        state: char::from(*field(3)?.first()?),
        ppid: number(field(4)?)?,
        pgrp: number(field(5)?)?,
        session: number(field(6)?)?,
        flags: number(field(9)?)?,
        starttime: number(field(22)?)?,
        threads: number(field(20)?)?,
    })
}

/// A decimal number in ASCII digits, surrounding whitespace allowed; `None` for anything
/// else (a sign included: the fields rinit reads are never negative) or one too large
/// for `T`. Pure.
fn number<T: TryFrom<u64>>(bytes: &[u8]) -> Option<T> {
    let digits = bytes.trim_ascii();
    if digits.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &b in digits {
        let digit = b.checked_sub(b'0').filter(|d| *d <= 9)?;
        n = n.checked_mul(10)?.checked_add(u64::from(digit))?;
    }
    T::try_from(n).ok()
}

/// Open `path` read-only and close-on-exec. Through openat(2): musl's open(3) follows an
/// `O_CLOEXEC` open with an fcntl for kernels older than 2.6.23, one syscall more on the
/// stop path's every file.
pub fn open_ro(path: &std::path::Path) -> std::io::Result<std::os::fd::OwnedFd> {
    use nix::fcntl::{AT_FDCWD, OFlag, openat};
    let flags = OFlag::O_RDONLY | OFlag::O_CLOEXEC;
    openat(AT_FDCWD, path, flags, nix::sys::stat::Mode::empty()).map_err(std::io::Error::from)
}

/// rinit (`me`, PID 1 of its namespace) is the only process in it: it has no child
/// (exited or not), and /proc lists no other pid — a process that entered the
/// namespace from outside (`docker exec`, `nsenter`) is not rinit's child but is listed.
/// Reads only the /proc directory, no process's files.
pub fn alone_in_namespace(me: i32) -> bool {
    crate::process::has_no_children() && nobody_else_listed(me)
}

/// /proc lists no pid but `me`'s (a zombie is listed until it is reaped), and could be
/// listed to the end. Reads only the /proc directory.
pub fn nobody_else_listed(me: i32) -> bool {
    with_proc_dir(|dir| {
        // An entry that could not be read may have been anyone's.
        let mut others = dir
            .iter()
            .map(|e| e.map(|e| pid_of(e.file_name().to_bytes())))
            .filter(|e| !matches!(e, Ok(None)) && *e != Ok(Some(me)));
        others.next().is_none()
    })
    .unwrap_or(false)
}

thread_local! {
    /// /proc, opened once: every scan lists it again from the start (getdents on procfs
    /// generates the list afresh), which saves the open, fstat, fcntl, buffer and close
    /// of a fresh directory handle per scan.
    static PROC_DIR: std::cell::RefCell<Option<nix::dir::Dir>> = const { std::cell::RefCell::new(None) };
}

/// Close the kept /proc handle (the next scan opens it again).
pub fn close_proc_dir() {
    PROC_DIR.with(|cell| {
        if let Ok(mut slot) = cell.try_borrow_mut() {
            *slot = None;
        }
    });
}

/// Run `f` on the /proc directory handle, opening it on first use. Each listing starts
/// from the top (nix rewinds the handle when an iteration ends).
pub fn with_proc_dir<R>(f: impl FnOnce(&mut nix::dir::Dir) -> R) -> std::io::Result<R> {
    PROC_DIR.with(|cell| {
        let Ok(mut slot) = cell.try_borrow_mut() else {
            // Re-entered (never in rinit's single loop): a handle of its own.
            return open_dir(std::path::Path::new("/proc")).map(|mut dir| f(&mut dir));
        };
        if slot.is_none() {
            *slot = Some(open_dir(std::path::Path::new("/proc"))?);
        }
        match slot.as_mut() {
            Some(dir) => Ok(f(dir)),
            None => Err(std::io::Error::from_raw_os_error(libc::EBADF)),
        }
    })
}

/// A directory to list, opened as [`open_ro`] opens files.
pub fn open_dir(path: &std::path::Path) -> std::io::Result<nix::dir::Dir> {
    use nix::fcntl::{AT_FDCWD, OFlag};
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    nix::dir::Dir::openat(AT_FDCWD, path, flags, nix::sys::stat::Mode::empty())
        .map_err(std::io::Error::from)
}

/// A small generated file (/proc, cgroupfs), read with as few syscalls as it takes: no
/// fstat, no size hint, 4 KiB at a time until the end.
pub fn read_small(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    let fd = open_ro(path)?;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = nix::unistd::read(&fd, &mut buf).map_err(std::io::Error::from)?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(buf.get(..n).unwrap_or_default());
    }
}

/// All of a generated file of short records through an fd kept open on it: `pread`
/// from offset 0 (a seq_file starts its listing afresh there) until the end. A seq_file
/// read stops only at the end of its records, when the buffer is full, or when the next
/// record would not fit; so a read that left room for a whole `max_record` more bytes
/// reached the end, and the `pread` that would return 0 is not needed.
pub fn pread_records(fd: &std::os::fd::OwnedFd, max_record: usize) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    // No larger than the seq_file's own buffer (a page at least): a read stops when that
    // is full, which a larger buffer here would take for the end.
    let mut buf = [0u8; RECORDS_BUFFER];
    loop {
        let at = libc::off_t::try_from(out.len()).unwrap_or(libc::off_t::MAX);
        let n = nix::sys::uio::pread(fd, &mut buf, at).map_err(std::io::Error::from)?;
        out.extend_from_slice(buf.get(..n).unwrap_or_default());
        if reached_end(n, buf.len(), max_record) {
            return Ok(out);
        }
    }
}

/// See [`pread_records`]: at most the smallest page size.
const RECORDS_BUFFER: usize = 4096;

/// Did a read of `n` bytes into `capacity` reach the end of a seq_file whose records are
/// at most `max_record` bytes? A record that does not fit may leave up to its own length
/// free (the kernel keeps a byte for the NUL of its formatting). Pure.
fn reached_end(n: usize, capacity: usize, max_record: usize) -> bool {
    n == 0 || capacity.saturating_sub(n) > max_record
}

/// Read one process's stat record: `Ok(None)` if it is gone, an error if it could not
/// be read (no fd left, no /proc): a caller must not take that as "gone".
pub fn try_read_proc(pid: i32) -> std::io::Result<Option<Proc>> {
    // open, one read into a stack buffer, close: a stat line is a few hundred bytes and
    // is generated whole, and this runs for every process on every scan.
    if pid <= 0 {
        // Not a process: /proc has no such entry (and -N would name process N's path).
        return Ok(None);
    }
    let mut path = [0u8; 32];
    let path = stat_path(pid, &mut path);
    let mut buf = [0u8; 1024];
    // Gone, or not ours to see (hidepid=1 shows other users' pids, not their stat):
    // only a shortage (no fd, no memory) makes the read an error.
    let gone = |e: &std::io::Error| {
        !matches!(
            e.raw_os_error(),
            Some(libc::EMFILE | libc::ENFILE | libc::ENOMEM | libc::ENOBUFS)
        )
    };
    let path = std::path::Path::new(std::ffi::OsStr::from_bytes(path));
    let read =
        open_ro(path).and_then(|fd| nix::unistd::read(&fd, &mut buf).map_err(std::io::Error::from));
    match read {
        Ok(len) => Ok(buf.get(..len).and_then(parse_stat)),
        Err(e) if gone(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `/proc/PID/stat` in `buf` for a positive `pid`, the digits written by hand: the
/// formatting machinery cost a third of each record's read. Pure.
fn stat_path(pid: i32, buf: &mut [u8; 32]) -> &[u8] {
    const HEAD: &[u8] = b"/proc/";
    const TAIL: &[u8] = b"/stat";
    // u32::MAX has 10 digits: they fill `digits` from the end.
    let mut digits = [0u8; 10];
    let mut n = pid.unsigned_abs();
    let mut start = digits.len();
    loop {
        start -= 1;
        if let Some(slot) = digits.get_mut(start) {
            *slot = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || start == 0 {
            break;
        }
    }
    let digits = digits.get(start..).unwrap_or_default();
    let parts = [HEAD, digits, TAIL];
    let mut len = 0;
    for part in parts {
        if let Some(dest) = buf.get_mut(len..len + part.len()) {
            dest.copy_from_slice(part);
            len += part.len();
        }
    }
    buf.get(..len).unwrap_or_default()
}

/// The record of `pid`: from `known` if it is there, else read (see [`try_read_proc`]).
fn read_unless_known(pid: i32, known: &[Proc]) -> std::io::Result<Option<Proc>> {
    match known.iter().find(|p| p.pid == pid) {
        Some(p) => Ok(Some(p.clone())),
        None => try_read_proc(pid),
    }
}

/// Read one process's stat record; `None` if it is gone or cannot be read.
pub fn read_proc(pid: i32) -> Option<Proc> {
    try_read_proc(pid).ok().flatten()
}

/// A process's command line, arguments joined by spaces (empty for zombies).
pub fn cmdline(pid: i32) -> String {
    match fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(bytes) => parse_cmdline(&bytes),
        Err(_) => String::new(),
    }
}

/// Turn /proc/PID/cmdline's NUL-separated arguments into one line.
pub fn parse_cmdline(bytes: &[u8]) -> String {
    bytes
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(String::from_utf8_lossy)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The pid a /proc directory entry names, if it names one. Pure.
pub(crate) fn pid_of(name: &[u8]) -> Option<i32> {
    (!name.is_empty() && name.iter().all(u8::is_ascii_digit))
        .then(|| number(name))
        .flatten()
}

/// Which processes rinit may touch when it sweeps up leftovers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// rinit is PID 1 of its own PID namespace: every process in it except rinit.
    Namespace,
    /// rinit is a subreaper on a shared machine: its descendants and the sessions it
    /// created, nothing else.
    Descendants,
}

/// The process table at one moment (kernel threads left out).
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub procs: Vec<Proc>,
    /// rinit's descendants, computed once per snapshot (every service's stop needs them).
    ours: std::cell::OnceCell<(i32, PidSet)>,
    /// Where each pid is in `procs`, built on first lookup.
    index: std::cell::OnceCell<PidMap<usize>>,
    /// Each pid's children, built on first use.
    children: std::cell::OnceCell<PidMap<Vec<i32>>>,
}

impl Snapshot {
    /// Read every process from /proc. Processes that vanish mid-scan are skipped; a
    /// process that cannot be read (no fd left) fails the whole scan, because a table with
    /// a hole would make a stop take a live process for a gone one.
    pub fn scan() -> std::io::Result<Snapshot> {
        Snapshot::read_all(None, &[])
    }

    /// [`Snapshot::scan`] for rinit (`me`): without its own entry (no stop, sweep or tree
    /// walk needs it), and with the records of its `known` unreaped children (see
    /// [`Proc::own_child`]) taken as given instead of read — one file fewer each.
    pub fn scan_without(me: i32, known: &[Proc]) -> std::io::Result<Snapshot> {
        Snapshot::read_all(Some(me), known)
    }

    fn read_all(skip: Option<i32>, known: &[Proc]) -> std::io::Result<Snapshot> {
        let mut procs = Vec::new();
        with_proc_dir(|dir| {
            for entry in dir.iter() {
                let entry = entry.map_err(std::io::Error::from)?;
                let Some(pid) = pid_of(entry.file_name().to_bytes()).filter(|p| Some(*p) != skip)
                else {
                    continue;
                };
                if let Some(p) = read_unless_known(pid, known)?.filter(|p| !p.is_kernel_thread()) {
                    procs.push(p);
                }
            }
            Ok::<(), std::io::Error>(())
        })??;
        Ok(Snapshot::new(procs))
    }

    /// Read only the processes `pids` (a cgroup's members), taking the `known` ones as
    /// given (see [`Snapshot::scan_without`]): those gone are left out; one that cannot
    /// be read (no fd left) fails the table, as in [`Snapshot::scan`]. Every `known`
    /// child is in the table, listed or not: one that exited has left its cgroup, but
    /// counts until rinit has reaped it.
    pub fn of_pids(pids: &[i32], known: &[Proc]) -> std::io::Result<Snapshot> {
        let mut procs = Vec::with_capacity(pids.len() + known.len());
        for &pid in pids {
            if let Some(p) = read_unless_known(pid, known)? {
                procs.push(p);
            }
        }
        let unlisted = known.iter().filter(|k| !pids.contains(&k.pid));
        procs.extend(unlisted.cloned());
        Ok(Snapshot::new(procs))
    }

    #[cfg(test)]
    pub fn from_procs(procs: Vec<Proc>) -> Snapshot {
        Snapshot::new(procs)
    }

    fn new(procs: Vec<Proc>) -> Snapshot {
        Snapshot {
            procs,
            ours: std::cell::OnceCell::new(),
            index: std::cell::OnceCell::new(),
            children: std::cell::OnceCell::new(),
        }
    }

    pub fn get(&self, pid: i32) -> Option<&Proc> {
        let index = self.index.get_or_init(|| {
            self.procs
                .iter()
                .enumerate()
                .map(|(i, p)| (p.pid, i))
                .collect()
        });
        index.get(&pid).and_then(|&i| self.procs.get(i))
    }

    fn children_map(&self) -> &PidMap<Vec<i32>> {
        self.children.get_or_init(|| {
            let mut map: PidMap<Vec<i32>> = PidMap::default();
            for p in &self.procs {
                map.entry(p.ppid).or_default().push(p.pid);
            }
            map
        })
    }

    /// `root` and all its descendants by ppid.
    pub fn descendants_of(&self, roots: &[i32]) -> PidSet {
        let children = self.children_map();
        let mut seen = PidSet::default();
        let mut stack: Vec<i32> = roots.to_vec();
        while let Some(pid) = stack.pop() {
            if seen.insert(pid) {
                if let Some(kids) = children.get(&pid) {
                    stack.extend(kids);
                }
            }
        }
        seen.retain(|pid| self.get(*pid).is_some());
        seen
    }

    /// A service's processes: the descendants of its main process plus every process in
    /// its session (double-forked children reparented to rinit keep the session), and
    /// their descendants — but only among rinit's own descendants, so a stale or recycled
    /// session id can never reach anyone else's process. Never rinit itself.
    pub fn service_members(&self, main_pid: Option<i32>, session: i32, rinit: i32) -> Vec<i32> {
        let mut roots: Vec<i32> = self
            .procs
            .iter()
            .filter(|p| p.session == session)
            .map(|p| p.pid)
            .collect();
        roots.extend(main_pid);
        let ours = self.ours(rinit);
        let members: Vec<i32> = self
            .descendants_of(&roots)
            .into_iter()
            .filter(|pid| *pid != rinit && ours.contains(pid))
            .collect();
        self.deepest_first(members)
    }

    /// rinit's descendants (computed on first use; a snapshot belongs to one rinit).
    fn ours(&self, rinit: i32) -> std::borrow::Cow<'_, PidSet> {
        let (pid, set) = self
            .ours
            .get_or_init(|| (rinit, self.descendants_of(&[rinit])));
        if *pid == rinit {
            std::borrow::Cow::Borrowed(set)
        } else {
            std::borrow::Cow::Owned(self.descendants_of(&[rinit]))
        }
    }

    /// Every process rinit may touch (see [`Scope`]), rinit itself excluded. As a
    /// subreaper that is its descendants: orphans of its services are reparented to it.
    pub fn in_scope(&self, scope: Scope, rinit: i32) -> Vec<i32> {
        let members: Vec<i32> = match scope {
            Scope::Namespace => self.procs.iter().map(|p| p.pid).collect(),
            Scope::Descendants => self.ours(rinit).iter().copied().collect(),
        };
        let members = members.into_iter().filter(|&pid| pid != rinit).collect();
        self.deepest_first(members)
    }

    /// Depth of a process in the ppid tree (init = 1). Cycles and gaps end the walk.
    fn depth(&self, pid: i32, memo: &mut PidMap<usize>) -> usize {
        let mut chain = Vec::new();
        let mut cur = pid;
        let mut base = 0;
        loop {
            if let Some(&d) = memo.get(&cur) {
                base = d;
                break;
            }
            match self.get(cur) {
                Some(p) if !chain.contains(&cur) => {
                    chain.push(cur);
                    cur = p.ppid;
                }
                _ => break,
            }
        }
        for (i, p) in chain.iter().rev().enumerate() {
            memo.insert(*p, base + i + 1);
        }
        memo.get(&pid).copied().unwrap_or(base)
    }

    /// Order pids so that every child comes before its parent: deepest first, ties by
    /// pid, highest first (younger processes first).
    pub fn deepest_first(&self, mut pids: Vec<i32>) -> Vec<i32> {
        if pids.len() < 2 {
            return pids;
        }
        let mut memo = PidMap::default();
        let mut keyed: Vec<(usize, i32)> = pids
            .drain(..)
            .map(|p| (self.depth(p, &mut memo), p))
            .collect();
        keyed.sort_by(|a, b| b.cmp(a));
        keyed.into_iter().map(|(_, p)| p).collect()
    }

    /// The pids among `pids` whose process is still alive (not a zombie).
    pub fn alive<'a>(&'a self, pids: &'a [i32]) -> impl Iterator<Item = &'a Proc> + 'a {
        pids.iter()
            .filter_map(|pid| self.get(*pid))
            .filter(|p| !p.is_dead())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pid: i32, ppid: i32, session: i32, state: char) -> Proc {
        Proc::fixture(pid, ppid, session, state)
    }

    #[test]
    fn parses_stat_with_awkward_comm() {
        let text = "4242 (my (odd) proc) S 1 4242 4242 0 -1 4194560 101 0 0 0 1 2 0 0 20 0 1 0 \
                    987654 1234 56 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        let proc = parse_stat(text.as_bytes()).unwrap();
        assert_eq!(proc.pid, 4242);
        assert_eq!(proc.comm, "my (odd) proc");
        assert_eq!(proc.state, 'S');
        assert_eq!((proc.ppid, proc.pgrp, proc.session), (1, 4242, 4242));
        assert_eq!(proc.starttime, 987654);
        assert!(!proc.is_kernel_thread());
        assert!(parse_stat(b"12 (x) S 1").is_none());
        assert!(parse_stat(b"").is_none());
    }

    #[test]
    fn stat_paths_are_written_by_hand() {
        let mut buf = [0u8; 32];
        assert_eq!(stat_path(1, &mut buf), b"/proc/1/stat");
        assert_eq!(stat_path(0, &mut buf), b"/proc/0/stat");
        assert_eq!(stat_path(4194304, &mut buf), b"/proc/4194304/stat");
        assert_eq!(stat_path(i32::MAX, &mut buf), b"/proc/2147483647/stat");
    }

    #[test]
    fn a_pid_that_is_not_positive_has_no_record() {
        // -N must not read N's record: a caller would then signal the group -N.
        assert!(matches!(try_read_proc(-1), Ok(None)));
        assert!(matches!(try_read_proc(0), Ok(None)));
        assert!(matches!(try_read_proc(i32::MIN), Ok(None)));
    }

    #[test]
    fn numbers_are_plain_digits_that_fit() {
        assert_eq!(number::<i32>(b" 4242 "), Some(4242));
        assert_eq!(number::<u64>(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(number::<u64>(b"18446744073709551616"), None);
        assert_eq!(number::<i32>(b"2147483648"), None);
        assert_eq!(number::<i32>(b"-1"), None);
        assert_eq!(number::<i32>(b"+1"), None);
        assert_eq!(number::<i32>(b"1x"), None);
        assert_eq!(number::<i32>(b" "), None);
        assert_eq!(number::<i32>(b""), None);
    }

    #[test]
    fn a_stat_record_cut_before_field_22_is_malformed() {
        let full = "9 (a) S 1 9 9 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777 0 0";
        assert_eq!(parse_stat(full.as_bytes()).map(|p| p.starttime), Some(777));
        let cut = "9 (a) S 1 9 9 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0";
        assert!(parse_stat(cut.as_bytes()).is_none());
        // Field 22 exactly the last one, then a newline as the kernel writes it.
        let short = "9 (a) S 1 9 9 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 778\n";
        assert_eq!(parse_stat(short.as_bytes()).map(|p| p.starttime), Some(778));
    }

    #[test]
    fn parses_stat_whose_comm_is_not_utf8() {
        // The kernel cuts comm at 15 bytes: "ääääääää" (16 bytes) loses half a letter.
        let mut text = b"77 (".to_vec();
        text.extend_from_slice(&"ääääääää".as_bytes()[..15]);
        text.extend_from_slice(b"\xff) S 1 77 77 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 5555 0 0");
        let proc = parse_stat(&text).unwrap();
        assert_eq!(
            (proc.pid, proc.ppid, proc.session, proc.starttime),
            (77, 1, 77, 5555)
        );
        assert!(proc.comm.starts_with("äääääää"));
        assert!(!proc.is_dead());
    }

    #[test]
    fn a_zombie_leader_with_live_threads_is_alive() {
        let mut proc = p(5, 1, 5, 'Z');
        assert!(proc.is_dead());
        proc.threads = 3;
        assert!(!proc.is_dead(), "its other threads still run");
        let text = b"9 (x) Z 1 9 9 0 -1 4194564 0 0 0 0 0 0 0 0 20 0 3 0 777 0 0";
        assert_eq!(
            parse_stat(text).map(|p| (p.threads, p.is_dead())),
            Some((3, false))
        );
    }

    #[test]
    fn exiting_processes_are_not_yet_dead() {
        let mut proc = p(5, 1, 5, 'R');
        assert!(!proc.is_dead() && !proc.is_exiting());
        proc.flags |= PF_EXITING;
        assert!(proc.is_exiting(), "a process past SIGKILL needs no signal");
        assert!(!proc.is_dead(), "but it is not gone until it is a zombie");
    }

    #[test]
    fn the_kept_proc_handle_lists_afresh_each_scan() {
        let Ok(first) = Snapshot::scan() else { return };
        let Ok(mut child) = std::process::Command::new("sleep").arg("30").spawn() else {
            return;
        };
        let pid = child.id() as i32;
        assert!(first.get(pid).is_none());
        let second = Snapshot::scan();
        let _ = child.kill(); // our own child, by its handle
        let _ = child.wait();
        let second = second.unwrap_or_else(|_| Snapshot::from_procs(Vec::new()));
        assert!(
            second.get(pid).is_some(),
            "a process started after the first scan"
        );
        assert!(!alone_in_namespace(std::process::id() as i32));
    }

    #[test]
    fn a_short_read_of_short_records_is_the_end() {
        assert!(reached_end(0, 4096, 11), "end of file");
        assert!(reached_end(8, 4096, 11), "room left for another record");
        assert!(reached_end(4084, 4096, 11));
        assert!(
            !reached_end(4085, 4096, 11),
            "an 11-byte record may not have fit in the 11 bytes left"
        );
        assert!(!reached_end(4096, 4096, 11), "the buffer is full");
    }

    #[test]
    fn known_children_are_taken_as_given_and_rinit_is_left_out() {
        let me = std::process::id() as i32;
        // A pid that is not running: known, it is in the table without a read.
        let known = [Proc::own_child(i32::MAX - 1, me, "app")];
        let snap = Snapshot::of_pids(&[i32::MAX - 1, i32::MAX - 2], &known).unwrap();
        assert_eq!(snap.procs, known.to_vec(), "unknown and gone: left out");
        let exited = Snapshot::of_pids(&[], &known).unwrap();
        assert_eq!(
            exited.procs,
            known.to_vec(),
            "a known child is in, listed or not"
        );
        let p = snap.get(i32::MAX - 1).unwrap();
        assert!(p.may_be_stopped() && !p.is_dead() && p.ppid == me && p.pgrp == p.pid);
        if std::path::Path::new("/proc/self/stat").exists() {
            let all = Snapshot::scan_without(me, &[]).unwrap();
            assert!(all.get(me).is_none(), "rinit's own entry is not read");
            assert!(!all.procs.is_empty());
        }
    }

    #[test]
    fn proc_entries_name_pids() {
        assert_eq!(pid_of(b"123"), Some(123));
        assert_eq!(pid_of(b"self"), None);
        assert_eq!(pid_of(b""), None);
        assert_eq!(pid_of(b"+5"), None);
    }

    #[test]
    fn parses_cmdline() {
        assert_eq!(parse_cmdline(b"sleep\x00100\x00"), "sleep 100");
        assert_eq!(parse_cmdline(b""), "");
    }

    /// rinit(1) -> main(10) -> a(11) -> b(12) ; main's session also holds 20 (reparented
    /// to rinit); 30 is in another session under rinit; 40 is a bystander outside.
    fn fixture() -> Snapshot {
        Snapshot::from_procs(vec![
            p(1, 0, 1, 'S'),
            p(10, 1, 10, 'S'),
            p(11, 10, 10, 'S'),
            p(12, 11, 10, 'S'),
            p(20, 1, 10, 'S'),
            p(21, 20, 21, 'S'),
            p(30, 1, 30, 'S'),
            p(31, 30, 30, 'Z'),
            p(40, 0, 40, 'S'),
        ])
    }

    #[test]
    fn service_members_include_session_and_descendants_deepest_first() {
        let snap = fixture();
        let members = snap.service_members(Some(10), 10, 1);
        assert_eq!(members, vec![12, 21, 11, 20, 10]);
        // After main is gone its session still finds the reparented processes.
        let members = snap.service_members(None, 10, 1);
        assert!(members.contains(&20) && members.contains(&21) && members.contains(&12));
        assert!(!members.contains(&30));
    }

    #[test]
    fn children_always_precede_parents() {
        let snap = fixture();
        let order = snap.in_scope(Scope::Namespace, 1);
        for proc in &snap.procs {
            let (Some(ci), Some(pi)) = (
                order.iter().position(|&x| x == proc.pid),
                order.iter().position(|&x| x == proc.ppid),
            ) else {
                continue;
            };
            assert!(
                ci < pi,
                "{} must come before its parent {}",
                proc.pid,
                proc.ppid
            );
        }
        assert!(!order.contains(&1), "never rinit itself");
    }

    #[test]
    fn subreaper_scope_leaves_bystanders_alone() {
        let snap = fixture();
        let scope = snap.in_scope(Scope::Descendants, 1);
        assert!(!scope.contains(&40));
        assert!(scope.contains(&31) && scope.contains(&21));
        // rinit at pid 30 as a subreaper: only 31.
        assert_eq!(snap.in_scope(Scope::Descendants, 30), vec![31]);
        // A session id that names no process of ours reaches nobody: 40 (outside)
        // shares session 10 with main's service in this variant.
        let mut procs = snap.procs.clone();
        procs.push(p(41, 40, 10, 'S'));
        let snap = Snapshot::from_procs(procs);
        assert!(!snap.service_members(None, 10, 1).contains(&41));
        // Namespace scope includes the bystander.
        assert!(snap.in_scope(Scope::Namespace, 1).contains(&40));
    }

    #[test]
    fn alive_skips_zombies() {
        let snap = fixture();
        let alive: Vec<i32> = snap.alive(&[30, 31, 99]).map(|p| p.pid).collect();
        assert_eq!(alive, vec![30]);
    }

    #[test]
    fn depth_survives_ppid_cycles() {
        let snap = Snapshot::from_procs(vec![p(5, 6, 5, 'S'), p(6, 5, 5, 'S')]);
        let order = snap.deepest_first(vec![5, 6]);
        assert_eq!(order.len(), 2);
    }
}
