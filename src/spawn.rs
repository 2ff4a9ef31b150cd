//! fork/exec of service processes.
//!
//! Everything the child needs (argv, environment, paths, groups) is prepared before
//! `fork(2)`; the child then allocates nothing and only makes system calls, through nix
//! where nix has them: a new session (`setsid`), default signal dispositions and an empty
//! signal mask, its stdio, fds above 2 closed, and `execvp`. If exec fails the child
//! reports why on stderr and exits 127 (not found) or 126 (found but not executable), the
//! shell's and tini's convention.
//!
//! The child is made by `clone`: born in its cgroup by a fork-like clone3, or, without
//! a cgroup, on rinit's memory until it execs; where the kernel refuses clone3 a child
//! with a cgroup is forked and writes itself into the group's `cgroup.procs`.

use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::sync::OnceLock;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use nix::sys::stat::Mode;
use nix::unistd::{
    Gid, Pid, Uid, chdir, getpgrp, setgid, setgroups, setpgid, setsid, setuid, tcsetpgrp,
};

use crate::clone::{self, Refused};
use crate::signals;
use crate::users::Credentials;

/// Exit status of a child whose command was not found.
pub const EXIT_NOT_FOUND: i32 = 127;
/// Exit status of a child whose command exists but could not be executed.
pub const EXIT_NOT_EXECUTABLE: i32 = 126;

/// The most arguments a child on rinit's memory may have: glibc's execvp copies argv's
/// pointers onto the child's stack for a script without `#!` (8 KiB here, of 256).
const MAX_SHARED_ARGS: usize = 1024;

/// The `RLIMIT_NOFILE` (soft, hard) rinit inherited, which its children get back.
static INHERITED_NOFILE: OnceLock<(u64, u64)> = OnceLock::new();

/// Raise rinit's soft fd limit to its hard limit (containerd starts containers with a
/// soft limit of 1024, while a stop may need a pidfd per process), remembering the
/// inherited one for the services. Returns the soft limit now in force.
pub fn raise_fd_limit() -> u64 {
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return 1024;
    };
    let _ = INHERITED_NOFILE.set((soft, hard));
    if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        log::debug!("fd limit raised from {soft} to {hard}");
        return hard;
    }
    soft
}

/// Where a child's stdout and stderr go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stdio {
    /// rinit's own stdout and stderr.
    Inherit,
    /// Both to this fd (a pipe's write end or a file), which the child dups onto 1 and 2.
    Fd(RawFd),
}

/// A command ready to be spawned.
pub struct Spawn {
    name: String,
    argv: Vec<CString>,
    stdio: Stdio,
    /// The full environment; `None` keeps rinit's.
    env: Option<Vec<CString>>,
    workdir: Option<CString>,
    creds: Option<Credentials>,
    /// An fd the child gets as stdin (else it inherits rinit's).
    stdin: Option<RawFd>,
    /// Join rinit's session in a process group of its own and take the terminal on
    /// stdin as its foreground group (see [`Spawn::foreground`]).
    foreground: bool,
    /// Set `WATCHDOG_PID` to the child's own pid (see [`Spawn::watchdog_pid`]).
    watchdog_pid: bool,
    /// Limits and settings applied before exec (see [`Spawn::settings`]).
    settings: Settings,
    /// The directory of the service's cgroup: the child is cloned into it, or else
    /// writes itself into its `cgroup.procs` first thing.
    cgroup: Option<std::os::fd::OwnedFd>,
    /// Join `cgroup` after fork even where clone3 could clone into it (see
    /// [`Spawn::join_after_fork`]).
    join_after_fork: bool,
}

/// A service's process limits and settings (`limits`, `nice`, `umask`,
/// `oom_score_adj`), applied in the child before it switches user and execs; a value
/// the kernel refuses makes the child fail with a message naming the key.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    pub limits: Vec<Limit>,
    pub nice: Option<i32>,
    pub umask: Option<u32>,
    pub oom_score_adj: Option<i32>,
}

/// One resource limit: soft, and hard (None: the hard limit it had).
#[derive(Clone, Copy, Debug)]
pub struct Limit {
    pub resource: Resource,
    pub soft: u64,
    pub hard: Option<u64>,
    /// "limits.nofile: " and so on, for the child's message.
    pub label: &'static [u8],
}

/// The resources `limits` may name, with the label the child reports a failure with.
pub const RESOURCES: &[(&str, Resource, &[u8])] = &[
    ("as", Resource::RLIMIT_AS, b"limits.as: "),
    ("core", Resource::RLIMIT_CORE, b"limits.core: "),
    ("cpu", Resource::RLIMIT_CPU, b"limits.cpu: "),
    ("data", Resource::RLIMIT_DATA, b"limits.data: "),
    ("fsize", Resource::RLIMIT_FSIZE, b"limits.fsize: "),
    ("locks", Resource::RLIMIT_LOCKS, b"limits.locks: "),
    ("memlock", Resource::RLIMIT_MEMLOCK, b"limits.memlock: "),
    ("msgqueue", Resource::RLIMIT_MSGQUEUE, b"limits.msgqueue: "),
    ("nice", Resource::RLIMIT_NICE, b"limits.nice: "),
    ("nofile", Resource::RLIMIT_NOFILE, b"limits.nofile: "),
    ("nproc", Resource::RLIMIT_NPROC, b"limits.nproc: "),
    ("rss", Resource::RLIMIT_RSS, b"limits.rss: "),
    ("rtprio", Resource::RLIMIT_RTPRIO, b"limits.rtprio: "),
    ("rttime", Resource::RLIMIT_RTTIME, b"limits.rttime: "),
    (
        "sigpending",
        Resource::RLIMIT_SIGPENDING,
        b"limits.sigpending: ",
    ),
    ("stack", Resource::RLIMIT_STACK, b"limits.stack: "),
];

/// The resource `limits` calls `name`.
pub fn resource_named(name: &str) -> Option<(Resource, &'static [u8])> {
    RESOURCES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, r, label)| (*r, *label))
}

impl Spawn {
    /// `argv` must not be empty and must not contain NUL bytes; any other bytes pass
    /// through exactly.
    pub fn new<A: AsRef<OsStr>>(name: &str, argv: &[A], stdio: Stdio) -> Result<Spawn, String> {
        if argv.is_empty() {
            return Err(format!("{name}: empty command"));
        }
        let argv = argv
            .iter()
            .map(|a| CString::new(a.as_ref().as_bytes()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| format!("{name}: an argument contains a NUL byte"))?;
        Ok(Spawn {
            name: name.to_string(),
            argv,
            stdio,
            env: None,
            workdir: None,
            creds: None,
            stdin: None,
            foreground: false,
            watchdog_pid: false,
            settings: Settings::default(),
            cgroup: None,
            join_after_fork: false,
        })
    }

    /// For a `main` whose stdin is a terminal (`docker run -it IMAGE -- sh`), as tini
    /// does: instead of a session of its own, the child gets a process group of its own
    /// in rinit's session and makes it the terminal's foreground group, so Ctrl+C,
    /// Ctrl+Z and job control reach it and its jobs, not rinit. ENOTTY/ENXIO (no
    /// controlling terminal after all) are ignored.
    pub fn foreground(mut self, yes: bool) -> Spawn {
        self.foreground = yes;
        self
    }

    /// sd_notify's watchdog: `WATCHDOG_PID` is the pid of the process that execs, known
    /// only after fork, so the child writes it into a buffer prepared before (it
    /// replaces any inherited one). Needs an environment given with [`Spawn::env`].
    pub fn watchdog_pid(mut self, yes: bool) -> Spawn {
        self.watchdog_pid = yes;
        self
    }

    pub fn settings(mut self, settings: Settings) -> Spawn {
        self.settings = settings;
        self
    }

    /// Start the child in the cgroup whose directory `fd` is open (`O_PATH` will do).
    pub fn cgroup(mut self, fd: Option<std::os::fd::OwnedFd>) -> Spawn {
        self.cgroup = fd;
        self
    }

    /// Fork and let the child write itself into its cgroup instead of cloning it into
    /// the group: for a group that may have been killed through `cgroup.kill`, into
    /// which some kernels (seen on 6.18) kill every child cloned afterwards at birth.
    pub fn join_after_fork(mut self, yes: bool) -> Spawn {
        self.join_after_fork = yes;
        self
    }

    pub fn stdin(mut self, fd: Option<RawFd>) -> Spawn {
        self.stdin = fd;
        self
    }

    /// Run with rinit's environment plus `vars` (which win). rinit's environment is
    /// taken as bytes: a value that is not UTF-8 reaches the child unchanged.
    pub fn env(mut self, vars: &[(String, String)]) -> Result<Spawn, String> {
        if vars.is_empty() && !std::env::vars_os().any(|(k, _)| is_reserved(&k)) {
            return Ok(self);
        }
        let mut all: Vec<Vec<u8>> = std::env::vars_os()
            .filter(|(k, _)| !is_reserved(k))
            .filter(|(k, _)| !vars.iter().any(|(v, _)| OsStr::new(v) == k))
            .map(|(k, v)| env_entry(k.as_bytes(), v.as_bytes()))
            .collect();
        all.extend(
            vars.iter()
                .map(|(k, v)| env_entry(k.as_bytes(), v.as_bytes())),
        );
        let env = all
            .into_iter()
            .map(CString::new)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| format!("{}: an environment variable contains a NUL byte", self.name))?;
        self.env = Some(env);
        Ok(self)
    }

    pub fn workdir(mut self, dir: Option<&std::path::Path>) -> Result<Spawn, String> {
        if let Some(dir) = dir {
            let c = CString::new(dir.as_os_str().as_bytes())
                .map_err(|_| format!("{}: workdir contains a NUL byte", self.name))?;
            self.workdir = Some(c);
        }
        Ok(self)
    }

    pub fn credentials(mut self, creds: Option<Credentials>) -> Spawn {
        self.creds = creds;
        self
    }

    /// Fork and exec. Returns the child's pid, which is also its session and group id.
    pub fn spawn(&self) -> io::Result<i32> {
        let mut argv: Vec<*const libc::c_char> = self.argv.iter().map(|a| a.as_ptr()).collect();
        argv.push(std::ptr::null());
        // "WATCHDOG_PID=" and room for any pid and its NUL, filled in by the child.
        let mut watchdog = WATCHDOG_PID.to_vec();
        watchdog.resize(WATCHDOG_PID.len() + 24, 0);
        let watchdog_slot = watchdog.as_mut_ptr();
        let envp: Option<Vec<*const libc::c_char>> = self.env.as_ref().map(|env| {
            let own = self
                .watchdog_pid
                .then_some(watchdog_slot.cast_const().cast());
            env.iter()
                .filter(|e| !(self.watchdog_pid && e.as_bytes().starts_with(WATCHDOG_PID)))
                .map(|e| e.as_ptr())
                .chain(own)
                .chain(std::iter::once(std::ptr::null()))
                .collect()
        });
        let watchdog_slot = (self.watchdog_pid && envp.is_some()).then_some(watchdog_slot);
        let groups: Option<Vec<Gid>> = self
            .creds
            .as_ref()
            .map(|c| c.groups.iter().map(|g| Gid::from_raw(*g)).collect());
        // Formatted before fork so the child does not allocate.
        let prefix = format!("rinit: {}: cannot run {:?}: ", self.name, self.program());
        // Taken here, not in the child: the first `stdin()` allocates its buffer.
        let stdin = std::io::stdin();
        let child = Child {
            terminal: stdin.as_fd(),
            argv: &argv,
            envp: envp.as_deref(),
            watchdog_slot,
            groups: groups.as_deref(),
            prefix: prefix.as_bytes(),
        };
        let dir = self.cgroup.as_ref().map(|d| d.as_fd());
        match dir {
            None if !self.may_hold_rinit() => return self.fork(&child, None),
            Some(dir) if self.join_after_fork => return self.fork_into(&child, dir),
            _ => {}
        }
        let mut run = || {
            self.run_child(&child, None);
        };
        match clone::spawn(dir, &mut run) {
            Ok(pid) => {
                crate::process::note_spawn();
                return Ok(pid);
            }
            Err(Refused::Failed(e)) => log::debug!("{}: clone: {e}; forking", self.name),
            Err(Refused::Unsupported) => {}
        }
        match dir {
            None => self.fork(&child, None),
            Some(dir) => self.fork_into(&child, dir),
        }
    }

    /// fork(2); the child writes itself into the cgroup whose directory is open as `dir`.
    fn fork_into(&self, child: &Child<'_>, dir: BorrowedFd<'_>) -> io::Result<i32> {
        let flags = OFlag::O_WRONLY | OFlag::O_CLOEXEC;
        let procs = nix::fcntl::openat(dir, "cgroup.procs", flags, Mode::empty())
            .map_err(|e| io::Error::other(format!("cannot open its cgroup.procs: {e}")))?;
        self.fork(child, Some(procs.as_fd()))
    }

    /// fork(2); the child, after writing itself into the `cgroup.procs` open as `join`,
    /// if any, runs [`Spawn::run_child`].
    fn fork(&self, child: &Child<'_>, join: Option<BorrowedFd<'_>>) -> io::Result<i32> {
        // SAFETY: after fork(2) the child allocates nothing and takes no lock, so it is
        // sound even where other threads exist (unit tests); it only makes system calls
        // until exec or _exit.
        match unsafe { libc::fork() } {
            -1 => Err(io::Error::last_os_error()),
            0 => self.run_child(child, join),
            pid => {
                crate::process::note_spawn();
                Ok(pid)
            }
        }
    }

    /// The child's life until exec, or its exit with the reason on stderr.
    fn run_child(&self, child: &Child<'_>, join: Option<BorrowedFd<'_>>) -> ! {
        let code = match self.prepare_child(join, child) {
            Ok(()) => {
                let errno = exec(child.argv, child.envp, child.watchdog_slot);
                report(child.prefix, b"", errno)
            }
            Err((what, errno)) => report(child.prefix, what, errno),
        };
        // SAFETY: leaves the child at once, without rinit's exit path (which would
        // flush buffers that belong to the parent).
        unsafe { libc::_exit(code) }
    }

    /// Whether the child may borrow rinit's memory and stack of [`clone`], which holds
    /// rinit until the child execs: not when it first changes to a `workdir` (on a
    /// network mount that stopped answering, chdir would hang, and rinit with it), nor
    /// with an argv whose pointers alone would fill a good part of that stack.
    fn may_hold_rinit(&self) -> bool {
        self.workdir.is_none() && self.argv.len() <= MAX_SHARED_ARGS
    }

    fn program(&self) -> String {
        self.argv
            .first()
            .map(|a| a.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The child's side before exec: session or foreground group, default signal
    /// dispositions and an empty mask, stdio, no other fds, rinit's inherited fd limit,
    /// workdir, user. An error says what failed.
    fn prepare_child(
        &self,
        join: Option<BorrowedFd<'_>>,
        child: &Child<'_>,
    ) -> Result<(), (&'static [u8], Errno)> {
        if let Some(fd) = join {
            // "0" moves the writer: the child is in its service's group before anything
            // it runs can fork.
            nix::unistd::write(fd, b"0").map_err(|e| (&b"cannot join its cgroup: "[..], e))?;
        }
        if self.foreground {
            // SIGTTOU is still ignored here (rinit's disposition), so a group that is not
            // yet in the foreground may take the terminal.
            let _ = setpgid(Pid::from_raw(0), Pid::from_raw(0));
            let _ = tcsetpgrp(child.terminal, getpgrp());
        } else {
            let _ = setsid();
        }
        for sig in 1..=signals::SIGMAX {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                signals::set_action(sig, libc::SIG_DFL);
            }
        }
        let _ = signals::set_mask(libc::SIG_SETMASK, &signals::SigSet::empty());
        raw_setup(self.stdin, self.stdio, self.settings.nice).map_err(|e| (&b"nice: "[..], e))?;
        if let Some((soft, hard)) = INHERITED_NOFILE.get() {
            let _ = setrlimit(Resource::RLIMIT_NOFILE, *soft, *hard);
        }
        self.apply_settings()?;
        if let Some(dir) = &self.workdir {
            chdir(dir.as_c_str()).map_err(|e| (&b"cannot change to its workdir: "[..], e))?;
        }
        if let (Some(c), Some(groups)) = (&self.creds, child.groups) {
            // setgroups, then setgid, then setuid: once the uid changes, the others are
            // no longer permitted.
            setgroups(groups)
                .and_then(|()| setgid(Gid::from_raw(c.gid)))
                .and_then(|()| setuid(Uid::from_raw(c.uid)))
                .map_err(|e| (&b"cannot switch user: "[..], e))?;
        }
        Ok(())
    }
}

impl Spawn {
    /// `limits`, `umask`, `oom_score_adj` in the child (before it switches user: raising
    /// a hard limit or lowering the OOM score needs root).
    fn apply_settings(&self) -> Result<(), (&'static [u8], Errno)> {
        for limit in &self.settings.limits {
            let hard = match limit.hard {
                Some(hard) => hard,
                None => getrlimit(limit.resource).map_err(|e| (limit.label, e))?.1,
            };
            setrlimit(limit.resource, limit.soft, hard).map_err(|e| (limit.label, e))?;
        }
        if let Some(mask) = self.settings.umask {
            let mode = nix::sys::stat::Mode::from_bits_truncate(mask);
            nix::sys::stat::umask(mode);
        }
        if let Some(adj) = self.settings.oom_score_adj {
            // One write: the kernel parses each write on its own.
            let (digits, len) = decimal(adj);
            let mut text = [0u8; 13];
            let sign = usize::from(adj < 0);
            if let Some(minus) = text.get_mut(..sign) {
                minus.fill(b'-');
            }
            if let (Some(to), Some(from)) = (text.get_mut(sign..sign + len), digits.get(..len)) {
                to.copy_from_slice(from);
            }
            let fail = |e| (&b"oom_score_adj: "[..], e);
            let flags = OFlag::O_WRONLY | OFlag::O_CLOEXEC;
            let fd = nix::fcntl::open(c"/proc/self/oom_score_adj", flags, Mode::empty())
                .map_err(fail)?;
            nix::unistd::write(&fd, text.get(..sign + len).unwrap_or_default()).map_err(fail)?;
        }
        Ok(())
    }
}

/// The child's raw system calls before exec: its stdin and stdout/stderr, every fd above
/// 2 closed (close_range(2), with a loop as a fallback), and its `nice` (nix has no
/// setpriority).
fn raw_setup(stdin: Option<RawFd>, stdio: Stdio, nice: Option<i32>) -> Result<(), Errno> {
    // SAFETY: in the child before exec: dup2 and close on fd numbers (the fds it
    // replaces or closes are the child's copies, which nothing in it uses any more), and
    // setpriority on itself.
    unsafe {
        if let Some(fd) = stdin {
            libc::dup2(fd, 0);
        }
        if let Stdio::Fd(fd) = stdio {
            libc::dup2(fd, 1);
            libc::dup2(fd, 2);
        }
        if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0) != 0 {
            let max = libc::sysconf(libc::_SC_OPEN_MAX).clamp(256, 65536) as RawFd;
            for fd in 3..max {
                libc::close(fd);
            }
        }
        // After the redirect, so that a refusal is reported where the service logs.
        if let Some(n) = nice {
            if libc::setpriority(libc::PRIO_PROCESS, 0, n) != 0 {
                return Err(Errno::last());
            }
        }
    }
    Ok(())
}

/// What the child needs, prepared by the parent before fork.
struct Child<'a> {
    /// rinit's stdin (fd 0), whose terminal a foreground child takes.
    terminal: BorrowedFd<'a>,
    argv: &'a [*const libc::c_char],
    envp: Option<&'a [*const libc::c_char]>,
    watchdog_slot: Option<*mut u8>,
    groups: Option<&'a [Gid]>,
    prefix: &'a [u8],
}

/// execvp(3) or execvpe(3); returns only on failure, with its errno. `watchdog`: the
/// buffer after "WATCHDOG_PID=" in `envp`, for this process's pid.
fn exec(
    argv: &[*const libc::c_char],
    envp: Option<&[*const libc::c_char]>,
    watchdog: Option<*mut u8>,
) -> Errno {
    let program = argv.first().copied().unwrap_or(std::ptr::null());
    let (digits, len) = decimal(nix::unistd::getpid().as_raw());
    // SAFETY: argv and envp are NULL-terminated arrays of pointers to C strings owned by
    // the Spawn or by spawn's frame, prepared before fork; the child's copy of memory
    // keeps them alive. The watchdog buffer has room for "WATCHDOG_PID=", any pid's
    // digits and the NUL (it is all zeros after the prefix), and nothing else points
    // into it.
    unsafe {
        if let Some(slot) = watchdog {
            let at = slot.add(WATCHDOG_PID.len());
            std::ptr::copy_nonoverlapping(digits.as_ptr(), at, len);
        }
        match envp {
            Some(envp) => libc::execvpe(program, argv.as_ptr(), envp.as_ptr()),
            None => libc::execvp(program, argv.as_ptr()),
        };
    }
    Errno::last()
}

const WATCHDOG_PID: &[u8] = b"WATCHDOG_PID=";

/// The variables a service manager sets for the process it supervises: if rinit was
/// given them (it runs under systemd, or `podman --sdnotify`), they are rinit's, and
/// its children get only the ones rinit sets for them.
const RESERVED: [&str; 3] = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"];

fn is_reserved(name: &OsStr) -> bool {
    RESERVED.iter().any(|r| OsStr::new(r) == name)
}

/// `n` in decimal, without allocating: the digits and how many there are.
fn decimal(n: i32) -> ([u8; 12], usize) {
    let mut digits = [0u8; 12];
    let mut rest = n.unsigned_abs();
    let mut len = 0;
    loop {
        if let Some(d) = digits.get_mut(len) {
            *d = b'0' + (rest % 10) as u8;
        }
        len += 1;
        rest /= 10;
        if rest == 0 || len == digits.len() {
            break;
        }
    }
    digits.get_mut(..len).unwrap_or_default().reverse();
    (digits, len)
}

/// Say on stderr why the child could not run (`prefix`, `what`, the error); the exit
/// status: 127 if the program was not found, 126 otherwise.
fn report(prefix: &[u8], what: &[u8], errno: Errno) -> i32 {
    let stderr = std::io::stderr();
    for part in [prefix, what, errno.desc().as_bytes(), b"\n"] {
        write_all(&stderr, part);
    }
    match errno {
        Errno::ENOENT | Errno::ENOTDIR if what.is_empty() => EXIT_NOT_FOUND,
        _ => EXIT_NOT_EXECUTABLE,
    }
}

/// `KEY=VALUE` as bytes.
fn env_entry(key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut entry = Vec::with_capacity(key.len() + value.len() + 1);
    entry.extend_from_slice(key);
    entry.push(b'=');
    entry.extend_from_slice(value);
    entry
}

fn write_all(fd: impl AsFd, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        match nix::unistd::write(&fd, bytes) {
            Ok(n) if n > 0 => bytes = bytes.get(n..).unwrap_or_default(),
            Err(Errno::EINTR) => {}
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_child_with_a_workdir_or_a_huge_argv_never_holds_rinit() {
        let plain = Spawn::new("app", &["true"], Stdio::Inherit).unwrap();
        assert!(plain.may_hold_rinit());
        let with_dir = Spawn::new("app", &["true"], Stdio::Inherit)
            .unwrap()
            .workdir(Some(std::path::Path::new("/mnt/nfs")))
            .unwrap();
        assert!(!with_dir.may_hold_rinit());
        let args = vec!["x"; MAX_SHARED_ARGS + 1];
        let many = Spawn::new("app", &args, Stdio::Inherit).unwrap();
        assert!(!many.may_hold_rinit());
    }

    #[test]
    fn a_child_with_a_workdir_runs_there() {
        let dir = std::env::temp_dir();
        let out = dir.join(format!("rinit-spawn-pwd-{}", std::process::id()));
        let script = format!("pwd > {}", out.display());
        let pid = Spawn::new("app", &["sh", "-c", &script], Stdio::Inherit)
            .unwrap()
            .workdir(Some(&dir))
            .unwrap()
            .spawn()
            .unwrap();
        let status = nix::sys::wait::waitpid(Pid::from_raw(pid), None).unwrap();
        assert_eq!(
            status,
            nix::sys::wait::WaitStatus::Exited(Pid::from_raw(pid), 0)
        );
        let pwd = std::fs::read_to_string(&out).unwrap();
        let _ = std::fs::remove_file(&out);
        assert_eq!(
            pwd.trim_end(),
            dir.canonicalize().unwrap().to_str().unwrap()
        );
    }
}
