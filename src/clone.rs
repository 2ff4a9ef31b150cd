//! How a service's child is made: born in its cgroup (clone3 with `CLONE_INTO_CGROUP`),
//! or — without a cgroup — on rinit's memory until it execs, as posix_spawn does.
//!
//! A plain fork copies rinit's page tables and makes every page rinit writes next a
//! copy-on-write fault; profiled, that was over half of rinit's CPU time for starting
//! 100 services. With `clone(CLONE_VM | CLONE_VFORK)` the child borrows rinit's memory on
//! a stack of its own, and rinit waits (tens of microseconds) until the child has exec'd
//! or exited — so a child stuck before its exec holds rinit's loop with it, as under
//! posix_spawn (spawn forks a child with a workdir, whose chdir could hang on a network
//! mount; an exec from a hung mount still holds rinit). The child's code must then be what
//! spawn's child already is: system calls
//! only, no allocation, no lock, and a write to memory only where the parent expects it
//! (the `WATCHDOG_PID` slot, errno). That is done only for a child without a cgroup: a
//! child that joins its group by writing `cgroup.procs` can wait for an RCU grace
//! period, which rinit must not wait with it. A child born in its group could share the
//! memory too, but only through a raw clone3 with a stack, which needs inline assembly
//! for the switch of stacks; tried, it halved rinit's CPU time for the 100-service start
//! (36 → 20 ms) and did not move the wall time (62 ms both), so that child gets a copy of
//! rinit's memory, as from fork, and is born in its group.
//!
//! Where clone3 is refused (a kernel older than 5.7, or a seccomp filter such as
//! Docker's default profile, which answers ENOSYS), rinit says so once, and a child with
//! a cgroup is forked and joins its group itself.

use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use nix::errno::Errno;

/// clone3's flag for a child born in the cgroup whose directory fd is given (5.7+).
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// The child's own stack while it shares rinit's memory: ample for the code before exec
/// (execvp's search of PATH takes about 4 KiB; glibc's fallback for a script without
/// `#!` copies argv's pointers onto it, so spawn forks a child with a huge argv), with a
/// guard page below it.
const STACK_SIZE: usize = 256 * 1024;

/// Whether clone3 is worth trying: false once the kernel or a seccomp filter said no.
static WORKS: AtomicBool = AtomicBool::new(true);

/// The lowest address of the child stack (0: not made yet; 1: cannot be made).
static STACK: AtomicUsize = AtomicUsize::new(0);

/// Whether a child is on the stack (it is made and used only by the thread that set this).
static STACK_BUSY: AtomicBool = AtomicBool::new(false);

/// What a call that could not make a child leaves the caller to do.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// clone3 cannot be used here (said once in the log): fork.
    Unsupported,
    /// This call failed (the errno): fork, and let the child report a real problem.
    Failed(Errno),
}

/// Start a child that runs `child` (which must exec or `_exit`, and never return) in the
/// cgroup whose directory is open as `cgroup`, if any. Returns its pid in the parent.
pub fn spawn(cgroup: Option<BorrowedFd<'_>>, child: &mut dyn FnMut()) -> Result<i32, Refused> {
    let Some(dir) = cgroup else {
        // One stack for one child at a time: CLONE_VFORK suspends only the calling
        // thread, so where another thread's child is on it (unit tests), fork instead.
        if STACK_BUSY.swap(true, Ordering::Acquire) {
            return Err(Refused::Unsupported);
        }
        let made = child_stack()
            .ok_or(Refused::Unsupported)
            .and_then(|stack| shared_memory(stack, child).map_err(Refused::Failed));
        STACK_BUSY.store(false, Ordering::Release);
        return made;
    };
    if !WORKS.load(Ordering::Relaxed) {
        return Err(Refused::Unsupported);
    }
    let rc = born_in(dir.as_raw_fd() as u64, child);
    if rc >= 0 {
        return i32::try_from(rc).map_err(|_| Refused::Failed(Errno::EOVERFLOW));
    }
    let errno = Errno::from_raw(i32::try_from(-rc).unwrap_or(libc::EINVAL));
    if matches!(
        errno,
        Errno::ENOSYS | Errno::EPERM | Errno::EINVAL | Errno::E2BIG
    ) {
        if WORKS.swap(false, Ordering::Relaxed) {
            log::info!(
                "cgroups: clone3 into a group is refused here ({errno}); children join \
                 their group after fork"
            );
        }
        return Err(Refused::Unsupported);
    }
    Err(Refused::Failed(errno))
}

/// clone3 with `CLONE_INTO_CGROUP`, fork-like: the child gets a copy of rinit's memory,
/// starts in the group whose directory fd is `cgroup` and runs `child` there. The pid,
/// or -errno.
fn born_in(cgroup: u64, child: &mut dyn FnMut()) -> i64 {
    let args = libc::clone_args {
        flags: CLONE_INTO_CGROUP,
        pidfd: 0,
        child_tid: 0,
        parent_tid: 0,
        exit_signal: libc::SIGCHLD as u64,
        stack: 0,
        stack_size: 0,
        tls: 0,
        set_tid: 0,
        set_tid_size: 0,
        cgroup,
    };
    // SAFETY: like fork(2): without a stack the child runs on its copy of the parent's
    // memory and returns here with 0, then only runs `child`, which execs or exits.
    // libc's fork handlers do not run, which nothing in the child needs.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const libc::clone_args,
            std::mem::size_of::<libc::clone_args>(),
        )
    };
    if rc == 0 {
        child();
        // SAFETY: `child` never returns; should it, the child leaves at once.
        unsafe { libc::_exit(127) }
    }
    if rc < 0 {
        -i64::from(Errno::last_raw())
    } else {
        rc
    }
}

/// The child stack, made on first use (None where it cannot be).
fn child_stack() -> Option<usize> {
    match STACK.load(Ordering::Relaxed) {
        0 => {}
        1 => return None,
        at => return Some(at),
    }
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .and_then(|p| usize::try_from(p).ok())
        .unwrap_or(4096);
    // SAFETY: a fresh anonymous mapping, owned by this module for the life of rinit.
    let at = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            STACK_SIZE + page,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
            -1,
            0,
        )
    };
    // SAFETY: the lowest page of the mapping just made becomes the guard page.
    if at == libc::MAP_FAILED || unsafe { libc::mprotect(at, page, libc::PROT_NONE) } != 0 {
        STACK.store(1, Ordering::Relaxed);
        return None;
    }
    let stack = at as usize + page;
    STACK.store(stack, Ordering::Relaxed);
    Some(stack)
}

/// Where the child starts on its own stack: it runs the closure `arg` points to.
extern "C" fn child_entry(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the `&mut &mut dyn FnMut()` of shared_memory's frame, which the
    // parent keeps alive: it is suspended until this child execs or exits.
    let child = unsafe { &mut *arg.cast::<&mut dyn FnMut()>() };
    child();
    // SAFETY: `child` never returns; should it, the child leaves at once.
    unsafe { libc::_exit(127) }
}

/// clone(2) with `CLONE_VM | CLONE_VFORK` through libc: the child runs `child` on the
/// stack at `stack` in rinit's memory, and this returns once it has exec'd or exited.
fn shared_memory(stack: usize, child: &mut dyn FnMut()) -> Result<i32, Errno> {
    let mut child = child;
    let arg: *mut &mut dyn FnMut() = &mut child;
    let top = (stack + STACK_SIZE) as *mut libc::c_void;
    let flags = libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD;
    // SAFETY: `top` is the (page-aligned) end of a stack only children use, one at a
    // time: the parent is suspended until the child execs or exits, so the stack, `arg`
    // and everything `child` borrows stay alive and are not used by anyone else; the
    // parent's own stack is never touched by the child.
    let pid = unsafe { libc::clone(child_entry, top, flags, arg.cast()) };
    if pid < 0 { Err(Errno::last()) } else { Ok(pid) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `spawn` without a cgroup, waiting while another test thread's child holds the
    /// stack (the only reason it is refused here).
    fn spawn_shared(child: &mut dyn FnMut()) -> i32 {
        loop {
            match spawn(None, child) {
                Err(Refused::Unsupported) => std::thread::yield_now(),
                made => return made.expect("a child"),
            }
        }
    }

    fn exit_code(pid: i32) -> i32 {
        let mut status = 0;
        // SAFETY: status is a valid out-pointer; pid is this test's child.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        libc::WEXITSTATUS(status)
    }

    #[test]
    fn a_child_without_a_cgroup_runs_on_rinits_memory_and_returns_after_it_exits() {
        let mut seen = 0u32;
        let at: *mut u32 = &mut seen;
        let mut child = || {
            // SAFETY: the parent's variable, in the memory the child shares with it.
            unsafe {
                at.write_volatile(42);
                libc::_exit(7);
            }
        };
        let pid = spawn_shared(&mut child);
        // The parent was suspended until the child exited: its write is here, in the
        // parent's memory (a fork's child would have written into its own copy).
        // SAFETY: `at` points to `seen`, alive in this frame.
        assert_eq!(unsafe { at.read_volatile() }, 42);
        assert_eq!(exit_code(pid), 7);
    }

    #[test]
    fn a_child_that_returns_exits_127() {
        let mut child = || {};
        let pid = spawn_shared(&mut child);
        assert_eq!(exit_code(pid), 127);
    }
}
