//! Test harness: runs rinit as PID 1 of its own PID namespace and observes it from outside.
//!
//! Every rinit a test starts runs under `unshare --pid --fork --mount-proc` (plus
//! `--user --map-root-user` when not root, and `--net` on request), so nothing it signals
//! can be a process of the machine. The harness finds rinit's pid as seen from here,
//! sends it signals, lists the processes of its namespace, and waits for files that the
//! `probe` workload writes. Every wait has a bound.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing)]

use std::ffi::{OsStr, OsString};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const RINIT: &str = env!("CARGO_BIN_EXE_rinit");

/// The `probe` example binary (built on demand if `cargo test` did not build it).
pub fn probe() -> String {
    let path = Path::new(RINIT).parent().unwrap().join("examples/probe");
    if !path.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--example", "probe"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(status.success(), "cannot build the probe example");
    }
    path.to_str().unwrap().to_string()
}

/// Write `text` as `dir/rinit.toml`, with `{probe}` and `{dir}` replaced; return its path.
pub fn write_config(dir: &TempDir, text: &str) -> String {
    let text = text
        .replace("{probe}", &probe())
        .replace("{dir}", dir.0.to_str().unwrap());
    let path = dir.path("rinit.toml");
    fs::write(&path, text).unwrap();
    path
}

/// Start rinit on `config` (see [`write_config`]) in a fresh temp dir.
pub fn start_with_config(tag: &str, config: &str, opts: Opts) -> (Rinit, TempDir) {
    let dir = TempDir::new(tag);
    let path = write_config(&dir, config);
    (Rinit::start(&["-c", &path], opts), dir)
}

/// The signals a probe named `name` logged, in order — without SIGCHLD, which the kernel
/// sends a parent whenever a child exits (a child stopped first can exit before its
/// parent gets its own stop signal) and rinit never sends.
pub fn sigs_of(ev: &[Event], name: &str) -> Vec<i32> {
    ev.iter()
        .filter(|e| e.name == name && e.event == "SIG" && e.sig != libc::SIGCHLD)
        .map(|e| e.sig)
        .collect()
}

/// A scratch directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "rinit-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> String {
        self.0.join(name).to_str().unwrap().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Wait until `f` returns Some, at most `limit`.
pub fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Wait until a file exists and return its contents.
pub fn wait_file(path: &str, limit: Duration) -> String {
    wait_for(path, limit, || fs::read_to_string(path).ok())
}

/// Wait until a file contains `needle`; return the whole text.
pub fn wait_contains(path: &str, needle: &str, limit: Duration) -> String {
    wait_for(&format!("{needle:?} in {path}"), limit, || {
        fs::read_to_string(path).ok().filter(|t| t.contains(needle))
    })
}

pub fn is_root() -> bool {
    unsafe { libc::geteuid() == 0 }
}

/// How to run rinit.
#[derive(Default, Clone)]
pub struct Opts {
    /// Also a new network namespace.
    pub net: bool,
    /// Run rinit under this shell command instead of as PID 1 (`$RINIT` is replaced by
    /// rinit's command line): for subreaper tests.
    pub wrapper: Option<String>,
    pub env: Vec<(String, String)>,
    /// Run in the background of a parent that ignores and blocks signals first.
    pub dirty_signals: bool,
    /// rinit's stdout is a pipe that nobody reads (a stuck log reader).
    pub stuck_stdout: bool,
    /// stdout and stderr are one pipe that nobody reads (a paused `docker run -t`).
    pub stuck_both: bool,
    /// Soft and hard RLIMIT_NOFILE for rinit (and only for what the test starts).
    pub nofile: Option<u64>,
    /// A lower soft limit under `nofile`'s hard one.
    pub nofile_soft: Option<u64>,
    /// Run under a seccomp filter that makes pidfd_open, pidfd_send_signal, close_range
    /// and clone3 fail with ENOSYS: a kernel older than 5.3, as far as rinit can tell.
    pub old_kernel: bool,
    /// The errno the old-kernel filter answers with (default ENOSYS; EPERM is what
    /// Docker's seccomp profile before 20.10 answered for pidfd_open).
    pub old_kernel_errno: Option<i32>,
    /// Environment variables as bytes (any encoding).
    pub env_os: Vec<(OsString, OsString)>,
}

/// A running rinit in its own PID namespace.
pub struct Rinit {
    child: Child,
    pub dir: TempDir,
    started: Instant,
    /// The read end of a stuck stdout, kept open and never read.
    _stuck: Option<std::io::PipeReader>,
}

impl Rinit {
    pub fn start<A: AsRef<OsStr>>(args: &[A], opts: Opts) -> Rinit {
        let dir = TempDir::new("rinit");
        let mut cmd = Command::new("unshare");
        cmd.args(["--pid", "--fork", "--mount-proc", "--kill-child"]);
        if !is_root() {
            cmd.args(["--user", "--map-root-user"]);
        }
        if opts.net {
            cmd.arg("--net");
        }
        match &opts.wrapper {
            None if opts.net => {
                // A new network namespace starts with loopback down; bring it up, then
                // exec rinit so that it is PID 1.
                cmd.args(["sh", "-c", "ip link set lo up && exec \"$0\" \"$@\"", RINIT])
                    .args(args);
            }
            None => {
                cmd.arg(RINIT).args(args);
            }
            Some(w) => {
                let line: Vec<String> = std::iter::once(RINIT.to_string())
                    .chain(
                        args.iter()
                            .map(|a| shell_quote(&a.as_ref().to_string_lossy())),
                    )
                    .collect();
                cmd.args(["sh", "-c", &w.replace("$RINIT", &line.join(" "))]);
            }
        }
        cmd.env("RINIT_LOG", "debug");
        // Each rinit gets its own control socket, away from the machine's /run.
        cmd.env("RINIT_SOCKET", dir.path("rinit.sock"));
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        for (k, v) in &opts.env_os {
            cmd.env(k, v);
        }
        let mut stuck = None;
        cmd.stdin(Stdio::null())
            .stderr(fs::File::create(dir.0.join("stderr")).unwrap());
        if opts.stuck_both {
            let (reader, writer) = std::io::pipe().unwrap();
            cmd.stderr(writer.try_clone().unwrap());
            cmd.stdout(writer);
            stuck = Some(reader);
        } else if opts.stuck_stdout {
            let (reader, writer) = std::io::pipe().unwrap();
            cmd.stdout(writer);
            stuck = Some(reader);
        } else {
            cmd.stdout(fs::File::create(dir.0.join("stdout")).unwrap());
        }
        if opts.dirty_signals {
            use std::os::unix::process::CommandExt;
            unsafe {
                cmd.pre_exec(|| {
                    for s in [libc::SIGHUP, libc::SIGINT, libc::SIGQUIT, libc::SIGUSR1] {
                        libc::signal(s, libc::SIG_IGN);
                    }
                    let mut set = std::mem::zeroed::<libc::sigset_t>();
                    libc::sigemptyset(&mut set);
                    libc::sigaddset(&mut set, libc::SIGUSR2);
                    libc::sigaddset(&mut set, libc::SIGTERM);
                    libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
                    Ok(())
                });
            }
        }
        if let Some(n) = opts.nofile {
            use std::os::unix::process::CommandExt;
            let soft = opts.nofile_soft.unwrap_or(n);
            unsafe {
                cmd.pre_exec(move || {
                    let lim = libc::rlimit {
                        rlim_cur: soft,
                        rlim_max: n,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        if opts.old_kernel {
            use std::os::unix::process::CommandExt;
            // Built here: after fork only the prctl calls run (no allocation).
            let prog = no_pidfd_filter(opts.old_kernel_errno.unwrap_or(libc::ENOSYS));
            unsafe {
                cmd.pre_exec(move || install_filter(&prog));
            }
        }
        let child = cmd.spawn().expect("cannot run unshare");
        Rinit {
            child,
            dir,
            started: Instant::now(),
            _stuck: stuck,
        }
    }

    /// The pid of the namespace's PID 1 as seen from the test (unshare's only child).
    pub fn ns_init_pid(&self) -> i32 {
        let unshare = self.child.id();
        wait_for("unshare's child", Duration::from_secs(5), || {
            let text =
                fs::read_to_string(format!("/proc/{unshare}/task/{unshare}/children")).ok()?;
            text.split_whitespace().next()?.parse().ok()
        })
    }

    /// rinit's pid as seen from the test: PID 1 of the namespace, or (with a wrapper) the
    /// process whose command line is rinit's.
    pub fn host_pid(&self) -> i32 {
        let init = self.ns_init_pid();
        wait_for("rinit's process", Duration::from_secs(5), || {
            self.ns_procs()
                .into_iter()
                .filter(|p| p.exe_is_rinit)
                .min_by_key(|p| p.ns_pid)
                .map(|p| p.host_pid)
                .or_else(|| self_is_rinit(init).then_some(init))
        })
    }

    /// Every process in rinit's PID namespace.
    pub fn ns_procs(&self) -> Vec<NsProc> {
        let unshare = self.child.id();
        let Ok(text) = fs::read_to_string(format!("/proc/{unshare}/task/{unshare}/children"))
        else {
            return Vec::new();
        };
        match text.split_whitespace().next().and_then(|p| p.parse().ok()) {
            Some(init) => ns_procs_of(init),
            None => Vec::new(),
        }
    }

    /// The probe started with `--name NAME` (matched as an exact argument pair, never a
    /// substring: every command line holds the checkout's path, which may hold any word).
    pub fn probe_named(&self, name: &str) -> Option<NsProc> {
        self.ns_procs().into_iter().find(|p| {
            argv_of(p.host_pid)
                .windows(2)
                .any(|w| w[0] == "--name" && w[1] == name)
        })
    }

    pub fn signal(&self, sig: i32) {
        let pid = self.host_pid();
        assert_eq!(unsafe { libc::kill(pid, sig) }, 0, "kill({pid}, {sig})");
    }

    /// Signal a process inside the namespace, given its pid as seen from here.
    pub fn signal_host_pid(&self, pid: i32, sig: i32) {
        assert_eq!(unsafe { libc::kill(pid, sig) }, 0, "kill({pid}, {sig})");
    }

    /// Wait for rinit (and so the namespace) to end; return its exit code.
    pub fn wait(&mut self, limit: Duration) -> i32 {
        let status = self.wait_status(limit);
        status
            .code()
            .unwrap_or_else(|| panic!("unshare died by a signal: {status:?}"))
    }

    pub fn wait_status(&mut self, limit: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if start.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "rinit did not exit within {limit:?}; stderr:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    pub fn stderr(&self) -> String {
        fs::read_to_string(self.dir.0.join("stderr")).unwrap_or_default()
    }

    pub fn stdout(&self) -> String {
        fs::read_to_string(self.dir.0.join("stdout")).unwrap_or_default()
    }

    /// The control socket path this rinit was given.
    pub fn socket(&self) -> String {
        self.dir.path("rinit.sock")
    }

    /// Run `rinit ctl -s SOCKET ARGS…`; return (exit code, stdout, stderr).
    pub fn ctl(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(RINIT)
            .args(["ctl", "-s", &self.socket()])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// rinit's context switches so far (voluntary + involuntary): how often it woke up.
    pub fn wakeups(&self) -> u64 {
        let status = fs::read_to_string(format!("/proc/{}/status", self.host_pid())).unwrap();
        status
            .lines()
            .filter(|l| l.contains("ctxt_switches"))
            .filter_map(|l| l.split_whitespace().last()?.parse::<u64>().ok())
            .sum()
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

impl Drop for Rinit {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- rinit stderr ---\n{}--- end ---", self.stderr());
        }
        if let Ok(None) = self.child.try_wait() {
            // SIGKILL to the namespace's init ends every process in it.
            if let Ok(text) =
                fs::read_to_string(format!("/proc/{0}/task/{0}/children", self.child.id()))
            {
                for pid in text
                    .split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok())
                {
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn self_is_rinit(pid: i32) -> bool {
    fs::read_link(format!("/proc/{pid}/exe"))
        .map(|p| p == Path::new(RINIT))
        .unwrap_or(false)
}

/// One process of a test namespace.
#[derive(Debug, Clone)]
pub struct NsProc {
    pub host_pid: i32,
    pub ns_pid: i32,
    pub state: char,
    pub comm: String,
    pub exe_is_rinit: bool,
}

/// Processes that share `init`'s PID namespace.
pub fn ns_procs_of(init: i32) -> Vec<NsProc> {
    let Ok(ns) = fs::read_link(format!("/proc/{init}/ns/pid")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if fs::read_link(format!("/proc/{pid}/ns/pid")).ok().as_ref() != Some(&ns) {
            continue;
        }
        let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) else {
            continue;
        };
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        let ns_pid = field("NSpid:")
            .split_whitespace()
            .last()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let state = field("State:").chars().next().unwrap_or('?');
        out.push(NsProc {
            host_pid: pid,
            ns_pid,
            state,
            comm: field("Name:"),
            exe_is_rinit: self_is_rinit(pid),
        });
    }
    out
}

/// A seccomp program for the processes a test starts: pidfd_open, pidfd_send_signal,
/// close_range and clone3 fail with ENOSYS, as on a kernel older than 5.3 (RHEL 8,
/// Amazon Linux 2). x86_64 only (other architectures: everything is allowed).
fn no_pidfd_filter(errno: i32) -> Vec<libc::sock_filter> {
    const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
    let errno = libc::SECCOMP_RET_ERRNO | errno as u32;
    let stmt = |code: u32, k: u32| libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let jeq = |k: u32, jt: u8, jf: u8| libc::sock_filter {
        code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
        jt,
        jf,
        k,
    };
    let load = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
    let ret = libc::BPF_RET | libc::BPF_K;
    // seccomp_data: nr at offset 0, arch at offset 4.
    let blocked = [
        libc::SYS_pidfd_open,
        libc::SYS_pidfd_send_signal,
        libc::SYS_close_range,
        libc::SYS_clone3,
    ];
    let mut prog = vec![
        stmt(load, 4),
        jeq(AUDIT_ARCH_X86_64, 1, 0),
        stmt(ret, libc::SECCOMP_RET_ALLOW),
        stmt(load, 0),
    ];
    let n = blocked.len() as u8;
    for (i, nr) in blocked.iter().enumerate() {
        // Match: jump to the ERRNO return after the remaining checks and the ALLOW.
        prog.push(jeq(*nr as u32, n - i as u8, 0));
    }
    prog.push(stmt(ret, libc::SECCOMP_RET_ALLOW));
    prog.push(stmt(ret, errno));
    prog
}

/// Install `prog` on this (forked, about to exec) process and all it starts.
fn install_filter(prog: &[libc::sock_filter]) -> std::io::Result<()> {
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_ptr().cast_mut(),
    };
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
            || libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &fprog as *const libc::sock_fprog,
            ) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// A process's arguments (host pid), as /proc/PID/cmdline lists them.
pub fn argv_of(host_pid: i32) -> Vec<String> {
    fs::read(format!("/proc/{host_pid}/cmdline"))
        .unwrap_or_default()
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Lines of a probe log: (name, event, signal number, monotonic ns, pid).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub name: String,
    pub event: String,
    pub sig: i32,
    pub ns: u128,
    pub pid: u32,
}

pub fn events(path: &str) -> Vec<Event> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some(Event {
                name: f.first()?.to_string(),
                event: f.get(1)?.to_string(),
                sig: f.get(2)?.parse().ok()?,
                ns: f.get(3)?.parse().ok()?,
                pid: f.get(4)?.parse().ok()?,
            })
        })
        .collect()
}

/// The pids rinit says it sent `signal` (e.g. "SIGTERM") to, in order, from its debug log
/// lines `NAME: SIGTERM -> pid N (comm)`.
pub fn signal_order(stderr: &str, signal: &str) -> Vec<u32> {
    let marker = format!(" {signal} -> pid ");
    stderr
        .lines()
        .filter_map(|l| l.split_once(&marker))
        .filter_map(|(_, rest)| rest.split_whitespace().next()?.parse().ok())
        .collect()
}

/// The pid a probe named `name` logged (its pid in the namespace).
pub fn probe_pid(ev: &[Event], name: &str) -> u32 {
    ev.iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("no event from {name}: {ev:?}"))
        .pid
}
