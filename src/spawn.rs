//! fork/exec of service processes.
//!
//! Everything the child needs (argv, environment, paths) is prepared as C strings before
//! `fork(2)`; the child then only makes system calls: a new session (`setsid`), default
//! signal dispositions and an empty signal mask, its stdio, fds above 2 closed, and
//! `execvp`. If exec fails the child reports why on stderr and exits 127 (not found) or
//! 126 (found but not executable), the shell's and tini's convention.

use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::sync::OnceLock;

use crate::signals;
use crate::users::Credentials;

/// Exit status of a child whose command was not found.
pub const EXIT_NOT_FOUND: i32 = 127;
/// Exit status of a child whose command exists but could not be executed.
pub const EXIT_NOT_EXECUTABLE: i32 = 126;

/// The `RLIMIT_NOFILE` rinit inherited, which its children get back before exec.
static INHERITED_NOFILE: OnceLock<libc::rlimit> = OnceLock::new();

/// Raise rinit's soft fd limit to its hard limit (containerd starts containers with a
/// soft limit of 1024, while a stop may need a pidfd per process), remembering the
/// inherited one for the services. Returns the soft limit now in force.
pub fn raise_fd_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: lim is a valid out-pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 1024;
    }
    let _ = INHERITED_NOFILE.set(lim);
    let raised = libc::rlimit {
        rlim_cur: lim.rlim_max,
        rlim_max: lim.rlim_max,
    };
    // SAFETY: raised is a valid rlimit.
    if lim.rlim_cur < lim.rlim_max && unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0
    {
        log::debug!("fd limit raised from {} to {}", lim.rlim_cur, lim.rlim_max);
        return raised.rlim_cur;
    }
    lim.rlim_cur
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

    pub fn stdin(mut self, fd: Option<RawFd>) -> Spawn {
        self.stdin = fd;
        self
    }

    /// Run with rinit's environment plus `vars` (which win). rinit's environment is
    /// taken as bytes: a value that is not UTF-8 reaches the child unchanged.
    pub fn env(mut self, vars: &[(String, String)]) -> Result<Spawn, String> {
        if vars.is_empty() {
            return Ok(self);
        }
        let mut all: Vec<Vec<u8>> = std::env::vars_os()
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
        let mut ptrs: Vec<*const libc::c_char> = self.argv.iter().map(|a| a.as_ptr()).collect();
        ptrs.push(std::ptr::null());
        let envp: Option<Vec<*const libc::c_char>> = self.env.as_ref().map(|env| {
            env.iter()
                .map(|e| e.as_ptr())
                .chain(std::iter::once(std::ptr::null()))
                .collect()
        });
        let program = ptrs.first().copied().unwrap_or(std::ptr::null());
        // Formatted before fork so the child does not allocate.
        let prefix = format!("rinit: {}: cannot run {:?}: ", self.name, self.program());
        // SAFETY: rinit is single-threaded; the child only makes system calls before exec.
        match unsafe { libc::fork() } {
            -1 => Err(io::Error::last_os_error()),
            0 => {
                // SAFETY: in the child, with pointers prepared above.
                unsafe { self.child(program, &ptrs, envp.as_deref(), prefix.as_bytes()) }
            }
            pid => Ok(pid),
        }
    }

    fn program(&self) -> String {
        self.argv
            .first()
            .map(|a| a.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The child's side: never returns.
    unsafe fn child(
        &self,
        program: *const libc::c_char,
        argv: &[*const libc::c_char],
        envp: Option<&[*const libc::c_char]>,
        prefix: &[u8],
    ) -> ! {
        // SAFETY: plain system calls on values prepared before fork.
        unsafe {
            if self.foreground {
                // SIGTTOU is still ignored here (rinit's disposition), so a group that is
                // not yet in the foreground may take the terminal.
                libc::setpgid(0, 0);
                libc::tcsetpgrp(0, libc::getpgrp());
            } else {
                libc::setsid();
            }
            for sig in 1..=signals::SIGMAX {
                if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                    signals::set_action(sig, libc::SIG_DFL);
                }
            }
            let _ = signals::set_mask(libc::SIG_SETMASK, &signals::SigSet::empty());
            if let Some(fd) = self.stdin {
                libc::dup2(fd, 0);
            }
            if let Stdio::Fd(fd) = self.stdio {
                libc::dup2(fd, 1);
                libc::dup2(fd, 2);
            }
            close_fds_from(3);
            if let Some(lim) = INHERITED_NOFILE.get() {
                libc::setrlimit(libc::RLIMIT_NOFILE, lim);
            }
            if let Some(dir) = &self.workdir {
                if libc::chdir(dir.as_ptr()) != 0 {
                    fail(
                        prefix,
                        b"cannot change to its workdir: ",
                        EXIT_NOT_EXECUTABLE,
                    );
                }
            }
            if let Some(c) = &self.creds {
                // setgroups, then setgid, then setuid: once the uid changes, the others
                // are no longer permitted.
                if libc::setgroups(c.groups.len(), c.groups.as_ptr()) != 0
                    || libc::setgid(c.gid) != 0
                    || libc::setuid(c.uid) != 0
                {
                    fail(prefix, b"cannot switch user: ", EXIT_NOT_EXECUTABLE);
                }
            }
            match envp {
                Some(envp) => libc::execvpe(program, argv.as_ptr(), envp.as_ptr()),
                None => libc::execvp(program, argv.as_ptr()),
            };
            let err = *libc::__errno_location();
            let code = if err == libc::ENOENT || err == libc::ENOTDIR {
                EXIT_NOT_FOUND
            } else {
                EXIT_NOT_EXECUTABLE
            };
            write_all(2, prefix);
            let msg = libc::strerror(err);
            if !msg.is_null() {
                write_all(2, std::ffi::CStr::from_ptr(msg).to_bytes());
            }
            write_all(2, b"\n");
            libc::_exit(code)
        }
    }
}

/// Report the current errno after `what` on stderr and exit with `code` (child only).
unsafe fn fail(prefix: &[u8], what: &[u8], code: i32) -> ! {
    // SAFETY: errno and strerror in the single-threaded child.
    unsafe {
        let err = *libc::__errno_location();
        write_all(2, prefix);
        write_all(2, what);
        let msg = libc::strerror(err);
        if !msg.is_null() {
            write_all(2, std::ffi::CStr::from_ptr(msg).to_bytes());
        }
        write_all(2, b"\n");
        libc::_exit(code)
    }
}

/// Close every fd from `first` up (close_range(2), with a loop as a fallback).
unsafe fn close_fds_from(first: RawFd) {
    // SAFETY: closing fds in the child before exec.
    unsafe {
        if libc::syscall(libc::SYS_close_range, first as u32, u32::MAX, 0) != 0 {
            let max = libc::sysconf(libc::_SC_OPEN_MAX).clamp(256, 65536) as RawFd;
            for fd in first..max {
                libc::close(fd);
            }
        }
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

fn write_all(fd: RawFd, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: bytes is a valid buffer.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n <= 0 {
            return;
        }
        bytes = bytes.get(n as usize..).unwrap_or_default();
    }
}
