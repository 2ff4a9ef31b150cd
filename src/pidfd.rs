//! Process handles that cannot be fooled by pid reuse, and signals that use them.
//!
//! Every signal rinit sends to a process it found in /proc is checked against the start
//! time seen in the snapshot. Where the kernel has pidfds (Linux 5.3+) that is
//! `pidfd_open(2)`, the check, then `pidfd_send_signal(2)`: a pid recycled between the
//! snapshot and the signal is never signalled, and the pidfd becomes readable when its
//! process exits, so rinit waits for grandchildren in `poll(2)`.
//!
//! Two limits shape this module:
//! - **Old kernels** (RHEL 8's 4.18, Amazon Linux 2's 4.14) have no pidfds. [`supported`]
//!   finds out once; without them [`send_checked`] checks the start time and uses
//!   `kill(2)` — exact for rinit's own unreaped children, which cannot be recycled, and a
//!   window of a few microseconds for others — and stops learn of exits from SIGCHLD and
//!   re-scans.
//! - **File descriptors.** A pidfd is an fd, and a stop of thousands of processes must
//!   not exhaust them: at most [`max_held`] pidfds are kept open at once (counted in
//!   [`held`]); beyond that a process is signalled through a pidfd that is closed at once,
//!   and its exit is noticed by a re-scan. When even a transient pidfd cannot be opened
//!   (EMFILE), the `kill(2)` path is used.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};

use crate::proctree;

/// Pidfds open right now (every [`Pidfd`] counts while it lives).
static HELD: AtomicUsize = AtomicUsize::new(0);
/// The most pidfds held at once; set from the fd limit by [`set_fd_limit`].
static MAX_HELD: AtomicUsize = AtomicUsize::new(512);
/// `MAX_HELD` is to be computed again from the fds open when it is next needed.
static STALE: AtomicBool = AtomicBool::new(true);
/// 0: not probed yet, 1: pidfds work, 2: they do not (ENOSYS).
static SUPPORT: AtomicU8 = AtomicU8::new(0);

/// The fds rinit keeps for everything but pidfds: stdio, signalfd, log pipes, control
/// connections, probes and /proc scans.
const RESERVED_FDS: u64 = 256;

/// rinit's soft `RLIMIT_NOFILE`, as last set by [`set_fd_limit`].
static SOFT_LIMIT: AtomicUsize = AtomicUsize::new(1024);

/// rinit's soft `RLIMIT_NOFILE` (after [`set_fd_limit`]).
pub fn fd_limit() -> usize {
    SOFT_LIMIT.load(Ordering::Relaxed)
}

/// Size the pidfd budget from rinit's soft `RLIMIT_NOFILE` (see [`budget_for`]).
pub fn set_fd_limit(soft: u64) {
    SOFT_LIMIT.store(
        usize::try_from(soft).unwrap_or(usize::MAX),
        Ordering::Relaxed,
    );
    resize_budget();
}

/// Size the budget again from the fds free when a pidfd is next asked for (a stop
/// begins; log pipes and control clients may have taken many since the start). Lazy:
/// a stop that signals only rinit's own children never counts its fds.
pub fn resize_budget() {
    STALE.store(true, Ordering::Relaxed);
}

/// A /proc scan ran out of fds: hold at most half of what is held now.
pub fn shrink_budget() {
    STALE.store(false, Ordering::Relaxed);
    MAX_HELD.store(held() / 2, Ordering::Relaxed);
}

/// The pidfd budget: half the soft limit, but never more than what is free after the
/// `open` fds rinit already has and [`RESERVED_FDS`] for the rest. Pure.
pub fn budget_for(soft: u64, open: u64) -> usize {
    let free = soft.saturating_sub(open).saturating_sub(RESERVED_FDS);
    usize::try_from((soft / 2).min(free)).unwrap_or(usize::MAX)
}

/// How many fds rinit has open: the size Linux 6.2+ gives /proc/self/fd (one stat), else
/// a count of its entries (0 if it cannot be read).
fn open_fds() -> usize {
    let fd_dir = std::path::Path::new("/proc/self/fd");
    if let Ok(st) = nix::sys::stat::stat(fd_dir) {
        if st.st_size > 0 {
            return usize::try_from(st.st_size).unwrap_or(0);
        }
    }
    match crate::proctree::open_dir(fd_dir) {
        // ".", "..", and the directory's own fd are not rinit's.
        Ok(mut dir) => dir.iter().count().saturating_sub(3),
        Err(_) => 0,
    }
}

/// The most pidfds rinit holds at once.
pub fn max_held() -> usize {
    if STALE.swap(false, Ordering::Relaxed) {
        let open = open_fds().saturating_sub(held());
        let soft = SOFT_LIMIT.load(Ordering::Relaxed);
        MAX_HELD.store(budget_for(soft as u64, open as u64), Ordering::Relaxed);
    }
    MAX_HELD.load(Ordering::Relaxed)
}

/// Pidfds held right now.
pub fn held() -> usize {
    HELD.load(Ordering::Relaxed)
}

/// Whether another pidfd may be kept open.
pub fn may_hold() -> bool {
    held() < max_held()
}

/// Does this kernel have pidfds? Probed once, on rinit's own pid.
pub fn supported() -> bool {
    match SUPPORT.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => {
            // ENOSYS: an old kernel; EPERM: a seccomp profile that refuses them (Docker's
            // before 20.10). Either way, kill(2) it is.
            let works = match raw_open(std::process::id() as i32) {
                Ok(fd) => raw_signal(&fd, 0).is_ok(),
                Err(e) => !matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)),
            };
            SUPPORT.store(if works { 1 } else { 2 }, Ordering::Relaxed);
            works
        }
    }
}

/// An open pidfd for a process whose identity (pid + start time) was verified.
#[derive(Debug)]
pub struct Pidfd {
    fd: OwnedFd,
}

impl Pidfd {
    /// Open a pidfd for `pid` if it is still the process that started at `starttime`.
    pub fn open_checked(pid: i32, starttime: u64) -> io::Result<Pidfd> {
        let fd = raw_open(pid)?;
        HELD.fetch_add(1, Ordering::Relaxed);
        let fd = Pidfd { fd };
        match proctree::try_read_proc(pid)? {
            Some(p) if p.starttime == starttime => Ok(fd),
            _ => Err(io::Error::from_raw_os_error(libc::ESRCH)),
        }
    }

    /// Send `sig` to the process. ESRCH means it is already gone.
    pub fn signal(&self, sig: i32) -> io::Result<()> {
        raw_signal(&self.fd, sig)
    }
}

impl Drop for Pidfd {
    fn drop(&mut self) {
        HELD.fetch_sub(1, Ordering::Relaxed);
    }
}

impl AsFd for Pidfd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Signal the process `pid` that started at `starttime`, and return its pidfd when
/// `keep` is asked for and the budget allows (else the pidfd, if any, is closed at once).
/// `Err(ESRCH)`: it is gone (or its pid now names another process).
pub fn send_checked(pid: i32, starttime: u64, sig: i32, keep: bool) -> io::Result<Option<Pidfd>> {
    if supported() {
        match Pidfd::open_checked(pid, starttime) {
            Ok(fd) => {
                fd.signal(sig)?;
                return Ok((keep && held() <= max_held()).then_some(fd));
            }
            Err(e) if !out_of_fds(&e) => return Err(e),
            // No fd for even a transient pidfd: check and kill instead.
            Err(_) => {}
        }
    }
    kill_checked(pid, starttime, sig)?;
    Ok(None)
}

/// A pidfd to wait on `pid`'s exit without signalling it, if pidfds exist and the
/// budget allows. `Err(ESRCH)`: it is gone.
pub fn watch(pid: i32, starttime: u64) -> io::Result<Option<Pidfd>> {
    if !supported() || !may_hold() {
        return Ok(None);
    }
    match Pidfd::open_checked(pid, starttime) {
        Ok(fd) => Ok(Some(fd)),
        Err(e) if out_of_fds(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The system calls a stop makes on processes, behind a trait so that the decisions of
/// a stop (who gets which signal when, escalation, "done") are unit-tested against a
/// recording fake, as dinit tests against a mocked system layer.
pub trait Signaller {
    /// Signal `pid` if it still started at `starttime`; keep its pidfd if `keep`.
    /// `Err(ESRCH)`: it is gone.
    fn signal(
        &mut self,
        pid: i32,
        starttime: u64,
        sig: i32,
        keep: bool,
    ) -> io::Result<Option<Pidfd>>;
    /// Signal rinit's own child `pid`: its pid cannot name anyone else until rinit reaps
    /// it, so no pidfd and no start-time check are needed, and SIGCHLD reports its exit.
    fn signal_child(&mut self, pid: i32, sig: i32) -> io::Result<()>;
    /// A pidfd to wait on `pid` without signalling it, when the budget allows.
    fn watch(&mut self, pid: i32, starttime: u64) -> io::Result<Option<Pidfd>>;
    /// May one more pidfd be kept open?
    fn may_hold(&self) -> bool;
}

/// The real thing: [`send_checked`], [`watch`], the global pidfd budget.
#[derive(Debug, Default)]
pub struct System;

impl Signaller for System {
    fn signal(
        &mut self,
        pid: i32,
        starttime: u64,
        sig: i32,
        keep: bool,
    ) -> io::Result<Option<Pidfd>> {
        send_checked(pid, starttime, sig, keep)
    }

    fn signal_child(&mut self, pid: i32, sig: i32) -> io::Result<()> {
        crate::process::signal_child(pid, sig)
    }

    fn watch(&mut self, pid: i32, starttime: u64) -> io::Result<Option<Pidfd>> {
        watch(pid, starttime)
    }

    fn may_hold(&self) -> bool {
        may_hold()
    }
}

/// `kill(2)` after checking the start time.
fn kill_checked(pid: i32, starttime: u64, sig: i32) -> io::Result<()> {
    match proctree::try_read_proc(pid)? {
        Some(p) if p.starttime == starttime => crate::process::kill(pid, sig),
        _ => Err(io::Error::from_raw_os_error(libc::ESRCH)),
    }
}

/// An error that means "use kill(2) instead": no fd for a pidfd, or pidfds refused.
fn out_of_fds(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOSYS | libc::EPERM)
    )
}

/// An error that says "try again later", not "it failed": the system ran short.
pub fn is_shortage(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOMEM | libc::ENOBUFS)
    )
}

fn raw_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd, which we then own,
    // or -1.
    unsafe {
        let fd = libc::syscall(libc::SYS_pidfd_open, pid, 0);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(OwnedFd::from_raw_fd(fd as i32))
    }
}

fn raw_signal(fd: &OwnedFd, sig: i32) -> io::Result<()> {
    // SAFETY: the fd is a valid pidfd; a null siginfo means "as kill(2) would".
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_leaves_room_for_everything_else() {
        assert_eq!(budget_for(1024, 10), 512);
        assert_eq!(budget_for(400, 0), 144);
        assert_eq!(budget_for(100, 0), 0);
        assert_eq!(budget_for(1 << 20, 10), 1 << 19);
        // 300 prefixed services hold 600 pipe fds: the budget is what is left.
        assert_eq!(budget_for(1024, 610), 158);
        assert_eq!(budget_for(1024, 2000), 0);
    }

    #[test]
    fn signals_a_child_by_identity() {
        let mut child = std::process::Command::new("sleep")
            .arg("100")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let start = proctree::read_proc(pid).unwrap().starttime;
        // A wrong start time is a recycled pid: never signalled.
        let wrong = send_checked(pid, start + 1, libc::SIGTERM, false);
        assert_eq!(wrong.unwrap_err().raw_os_error(), Some(libc::ESRCH));
        let fd = send_checked(pid, start, 0, true).unwrap();
        assert_eq!(fd.is_some(), supported());
        drop(fd);
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
