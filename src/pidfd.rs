//! Process handles that cannot be fooled by pid reuse.
//!
//! Every signal rinit sends to a process it found in /proc goes through a [`Pidfd`]:
//! `pidfd_open(2)`, then a check that /proc/PID/stat still shows the start time seen in the
//! snapshot, then `pidfd_send_signal(2)`. A pid recycled between the snapshot and the
//! signal is therefore never signalled. A pidfd also becomes readable when its process
//! exits, so rinit waits for grandchildren in `poll(2)` instead of re-scanning on a timer.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use crate::proctree;

/// An open pidfd for a process whose identity (pid + start time) was verified.
#[derive(Debug)]
pub struct Pidfd {
    fd: OwnedFd,
    pub pid: i32,
}

impl Pidfd {
    /// Open a pidfd for `pid` if it is still the process that started at `starttime`.
    pub fn open_checked(pid: i32, starttime: u64) -> io::Result<Pidfd> {
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a new descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        match proctree::read_proc(pid) {
            Some(p) if p.starttime == starttime => Ok(Pidfd { fd, pid }),
            _ => Err(io::Error::from_raw_os_error(libc::ESRCH)),
        }
    }

    /// Send `sig` to the process. ESRCH means it is already gone.
    pub fn signal(&self, sig: i32) -> io::Result<()> {
        // SAFETY: the fd is a valid pidfd; a null siginfo means "as kill(2) would".
        let rc = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.fd.as_raw_fd(),
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
}

impl AsFd for Pidfd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
