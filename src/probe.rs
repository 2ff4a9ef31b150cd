//! One attempt of a check, bounded in time and never blocking: a TCP connect, an HTTP
//! GET, or a command. Health checks make one attempt per interval; an `http://` readiness
//! probe makes attempts until one passes.
//!
//! A connect is non-blocking and its socket waits in `poll(2)`; an HTTP request is a few
//! hundred bytes written once the socket is connected, and only the status line of the
//! reply is read (at most [`MAX_REPLY`] bytes; Kubernetes' rule: 200 to 399 passes). A
//! command runs in its own session with its stdout and stderr on a pipe rinit reads; its
//! last line is the reason given when it fails. When a command exits, or runs past its
//! timeout, its whole process group is killed and rinit reaps what was in it: nothing a
//! check started outlives the check. Where rinit tracks the service in a cgroup, the
//! command is born in the service's [`ProbeGroup`] and that group is what is killed.

use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::sys::socket::{MsgFlags, recv, send};

use crate::cgroup::Group;
use crate::config::{HealthProbe, HttpTarget};
use crate::process::ExitStatus;
use crate::spawn::{Spawn, Stdio};

/// The most of an HTTP reply that is read: the status line is in the first bytes.
pub const MAX_REPLY: usize = 1024;
/// The most of a command's output that is kept to find its last line.
const MAX_OUTPUT: usize = 4096;

/// How an attempt ended, or that it has not yet.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Pending,
    Passed,
    /// Why it failed, in a few words.
    Failed(String),
}

/// An attempt in progress.
#[derive(Debug)]
pub struct Attempt {
    kind: Kind,
    deadline: Instant,
    timeout: Duration,
    /// Where its command runs, if rinit tracks the service in a cgroup.
    group: ProbeGroup,
}

#[derive(Debug)]
enum Kind {
    /// A TCP connect, then for HTTP the request and the reply's first bytes.
    Connect {
        sock: OwnedFd,
        connected: bool,
        http: Option<Http>,
    },
    /// A command, its output pipe and, once reaped, how it ended.
    Exec {
        pid: i32,
        output: Option<OwnedFd>,
        text: Vec<u8>,
        status: Option<ExitStatus>,
    },
}

#[derive(Debug)]
struct Http {
    request: Vec<u8>,
    sent: usize,
    reply: Vec<u8>,
}

impl Attempt {
    /// Start a health check attempt; `name` is the service's, for the command's messages.
    pub fn start(
        probe: &HealthProbe,
        name: &str,
        now: Instant,
        timeout: Duration,
        group: &ProbeGroup,
    ) -> Result<Attempt, String> {
        let (kind, group) = match probe {
            HealthProbe::Tcp { host, port } => (connect(host, *port, None)?, None),
            HealthProbe::Http(target) => (http(target)?, None),
            HealthProbe::Exec(argv) => exec(name, argv, group)?,
        };
        Ok(Attempt {
            kind,
            deadline: later(now, timeout),
            timeout,
            group,
        })
    }

    /// Start an HTTP GET of `target`.
    pub fn start_http(
        target: &HttpTarget,
        now: Instant,
        timeout: Duration,
    ) -> Result<Attempt, String> {
        Ok(Attempt {
            kind: http(target)?,
            deadline: later(now, timeout),
            timeout,
            group: None,
        })
    }

    /// When the attempt times out.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The fd to wait on and its events.
    pub fn poll_fd(&self) -> Option<(BorrowedFd<'_>, i16)> {
        match &self.kind {
            Kind::Connect {
                sock,
                connected,
                http,
            } => {
                let reading =
                    *connected && http.as_ref().is_some_and(|h| h.sent == h.request.len());
                let events = if reading { libc::POLLIN } else { libc::POLLOUT };
                Some((sock.as_fd(), events))
            }
            Kind::Exec { output, .. } => output.as_ref().map(|o| (o.as_fd(), libc::POLLIN)),
        }
    }

    /// What to kill if the attempt is dropped while its command runs.
    pub fn leftovers(&self) -> Option<Leftovers> {
        self.pid().map(|pid| (pid, self.group.clone()))
    }

    /// The command's pid while it has not been reaped.
    pub fn pid(&self) -> Option<i32> {
        match &self.kind {
            Kind::Exec {
                pid, status: None, ..
            } => Some(*pid),
            _ => None,
        }
    }

    /// The command `pid` exited; true if it was this attempt's.
    pub fn on_exit(&mut self, exited: i32, how: ExitStatus) -> bool {
        match &mut self.kind {
            Kind::Exec { pid, status, .. } if *pid == exited && status.is_none() => {
                *status = Some(how);
                // Whatever it left running (a `&` in a shell) goes with it, now.
                kill_leftovers(*pid, &self.group, Reaped::Yes);
                true
            }
            _ => false,
        }
    }

    /// Go as far as possible now. A timed-out command's group is killed.
    pub fn advance(&mut self, now: Instant) -> Outcome {
        let outcome = match &mut self.kind {
            Kind::Connect {
                sock,
                connected,
                http,
            } => advance_connect(sock, connected, http),
            Kind::Exec {
                output,
                text,
                status,
                ..
            } => advance_exec(output, text, *status),
        };
        if outcome == Outcome::Pending && now >= self.deadline {
            self.kill();
            return Outcome::Failed(format!("timed out after {:?}", self.timeout));
        }
        outcome
    }

    /// Kill what the attempt still runs (its command's process group).
    pub fn kill(&self) {
        if let Kind::Exec { pid, .. } = &self.kind {
            kill_leftovers(*pid, &self.group, Reaped::No);
        }
    }
}

/// `now + d`, or a year from now if that does not fit an `Instant`: never a panic.
pub fn later(now: Instant, d: Duration) -> Instant {
    const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);
    now.checked_add(d.min(YEAR)).unwrap_or(now)
}

/// Where a service's check commands run when rinit tracks it in a cgroup: the `.probe`
/// sub-group of its group, shared by its checks (one runs at a time). Its limits are the
/// service's, a pause freezes it, and its processes stop with the service.
pub type ProbeGroup = Option<Rc<Group>>;

/// What a check's command may leave running, to kill when the check ends: its process
/// group (the command's pid) and the probe group it was born in, if any.
pub type Leftovers = (i32, ProbeGroup);

/// Whether the check command whose leftovers are killed has been reaped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reaped {
    /// Reaped: its pid is free, and so is its process group's id once the group is empty
    /// (another process may take it), so the group is signalled only while it has
    /// members.
    Yes,
    /// Still rinit's unreaped child: its pid, and so its process group's, are its own.
    No,
}

/// SIGKILL to what the check command `pgid` runs or left running: with a probe group,
/// everything in it at once (`cgroup.kill`: even what double-forked out of the command's
/// session); without one, or on a kernel without `cgroup.kill`, [`kill_group`].
pub fn kill_leftovers(pgid: i32, group: &ProbeGroup, reaped: Reaped) {
    use nix::sys::signal::{Signal, killpg};
    let id = nix::unistd::Pid::from_raw(pgid);
    let Some(group) = group else {
        if reaped == Reaped::Yes && killpg(id, None) == Err(Errno::ESRCH) {
            // Nothing is left in its process group; what left the group as well is the
            // service's stop's, or the final sweep's.
            return;
        }
        return kill_group(pgid);
    };
    // The command itself first, even while it has not yet joined the cgroup (one
    // joined after fork); once it is reaped, all it started is in the cgroup.
    if reaped == Reaped::No && pgid > 1 {
        let _ = killpg(id, Signal::SIGKILL);
    }
    if group.populated() == Some(false) {
        // Nothing left in it: no kill, and so no new group for the next check.
        return;
    }
    if !matches!(group.kill(), Ok(true)) {
        kill_group(pgid);
    }
}

/// SIGKILL to what a check's command runs: its process group and its whole tree — every
/// process in its session (spawned commands start one, with the command's pid as id) or
/// below it, found in a fresh /proc snapshot and signalled through a start-time-checked
/// pidfd. Sessions and groups outlive their leader while members remain, so this also
/// reaches what the command left behind after it exited.
pub fn kill_group(pgid: i32) {
    use nix::sys::signal::{Signal, killpg};
    if pgid <= 1 {
        return;
    }
    // The tree first, while it is whole: once the leader dies, a child that left its
    // session is handed to rinit and no longer looks like the check's.
    let me = std::process::id() as i32;
    let snap = crate::proctree::Snapshot::scan().ok();
    let _ = killpg(nix::unistd::Pid::from_raw(pgid), Signal::SIGKILL);
    if let Some(snap) = snap {
        for pid in snap.service_members(Some(pgid), pgid, me) {
            if let Some(p) = snap.get(pid).filter(|p| !p.is_dead()) {
                let _ = crate::pidfd::send_checked(p.pid, p.starttime, libc::SIGKILL, false);
            }
        }
    }
}

fn connect(host: &str, port: u16, http: Option<Http>) -> Result<Kind, String> {
    let addr: SocketAddr = crate::ready::resolve(host, port)
        .ok_or_else(|| format!("{host:?} is not an IP address or in /etc/hosts"))?;
    let (sock, connected) =
        crate::ready::start_connect(addr).map_err(|e| format!("connect to {addr}: {e}"))?;
    Ok(Kind::Connect {
        sock,
        connected,
        http,
    })
}

fn http(target: &HttpTarget) -> Result<Kind, String> {
    connect(&target.host, target.port, Some(Http::new(target)))
}

impl Http {
    fn new(target: &HttpTarget) -> Http {
        let host = if target.host.contains(':') {
            format!("[{}]", target.host)
        } else {
            target.host.clone()
        };
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: {host}:{}\r\nUser-Agent: rinit\r\nAccept: */*\r\nConnection: close\r\n\r\n",
            target.path, target.port
        );
        Http {
            request: request.into_bytes(),
            sent: 0,
            reply: Vec::new(),
        }
    }
}

fn advance_connect(sock: &OwnedFd, connected: &mut bool, http: &mut Option<Http>) -> Outcome {
    if !*connected {
        match crate::ready::connect_error(sock) {
            None => return Outcome::Pending,
            Some(0) => *connected = true,
            Some(errno) => return Outcome::Failed(Errno::from_raw(errno).desc().to_string()),
        }
    }
    let Some(http) = http else {
        return Outcome::Passed;
    };
    while http.sent < http.request.len() {
        let rest = http.request.get(http.sent..).unwrap_or_default();
        match send(
            sock.as_raw_fd(),
            rest,
            MsgFlags::MSG_NOSIGNAL | MsgFlags::MSG_DONTWAIT,
        ) {
            Ok(n) => http.sent += n,
            Err(Errno::EAGAIN) => return Outcome::Pending,
            Err(Errno::EINTR) => {}
            Err(e) => return Outcome::Failed(format!("sending the request: {}", e.desc())),
        }
    }
    let mut buf = [0u8; MAX_REPLY];
    loop {
        let room = MAX_REPLY.saturating_sub(http.reply.len());
        let Some(space) = buf.get_mut(..room) else {
            break;
        };
        if space.is_empty() {
            break;
        }
        match recv(sock.as_raw_fd(), space, MsgFlags::MSG_DONTWAIT) {
            Ok(0) => break,
            Ok(n) => {
                http.reply
                    .extend_from_slice(space.get(..n).unwrap_or_default());
                if http.reply.contains(&b'\n') {
                    break;
                }
            }
            Err(Errno::EAGAIN) => return Outcome::Pending,
            Err(Errno::EINTR) => {}
            Err(e) => return Outcome::Failed(format!("reading the reply: {}", e.desc())),
        }
    }
    http_verdict(&http.reply)
}

/// The verdict on the first bytes of an HTTP reply (read to the end of its status line,
/// to the end of the connection, or to [`MAX_REPLY`] bytes). Pure.
pub fn http_verdict(reply: &[u8]) -> Outcome {
    let line = reply.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut words = line.split_whitespace();
    let version = words.next().unwrap_or_default();
    let status = words.next().and_then(|w| w.parse::<u16>().ok());
    match status {
        _ if reply.is_empty() => Outcome::Failed("the connection closed without a reply".into()),
        Some(code) if version.starts_with("HTTP/") && (200..400).contains(&code) => Outcome::Passed,
        Some(code) if version.starts_with("HTTP/") => {
            Outcome::Failed(format!("HTTP status {code}"))
        }
        _ => Outcome::Failed(format!("not an HTTP reply: {:?}", line.trim_end())),
    }
}

/// Start a check command, in `group` if given; its pid, and the group it was born in
/// (none if the group's directory could not be opened: the attempt then kills what it
/// leaves as without a group).
pub fn spawn_check(spawn: Spawn, group: &ProbeGroup) -> Result<(i32, ProbeGroup), String> {
    // After a kill the group is made afresh (see Spawn::join_after_fork); while
    // something killed in it is still dying, the check joins it after fork instead.
    let after_fork = group
        .as_ref()
        .is_some_and(|g| g.was_killed() && g.renew().is_err());
    let join = group.as_ref().and_then(|g| match g.join_fd() {
        Ok(fd) => Some(fd),
        Err(e) => {
            log::warn!("{}: {e}; the check runs outside it", g.dir().display());
            None
        }
    });
    let used = if join.is_some() { group.clone() } else { None };
    let pid = spawn
        .cgroup(join)
        .join_after_fork(after_fork)
        .spawn()
        .map_err(|e| format!("cannot run the check: {e}"))?;
    Ok((pid, used))
}

fn exec(name: &str, argv: &[String], group: &ProbeGroup) -> Result<(Kind, ProbeGroup), String> {
    let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    fcntl(&read, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).map_err(|e| format!("pipe: {e}"))?;
    let spawn = Spawn::new(
        &format!("{name} health check"),
        argv,
        Stdio::Fd(write.as_raw_fd()),
    )?
    .env(&[])?;
    let (pid, group) = spawn_check(spawn, group)?;
    drop(write);
    let kind = Kind::Exec {
        pid,
        output: Some(read),
        text: Vec::new(),
        status: None,
    };
    Ok((kind, group))
}

fn advance_exec(
    output: &mut Option<OwnedFd>,
    text: &mut Vec<u8>,
    status: Option<ExitStatus>,
) -> Outcome {
    if let Some(fd) = output {
        if read_available(fd, text) {
            *output = None;
        }
    }
    let Some(status) = status else {
        return Outcome::Pending;
    };
    match status {
        ExitStatus::Code(0) => Outcome::Passed,
        _ => match last_line(text) {
            Some(line) => Outcome::Failed(format!("{status}: {line}")),
            None => Outcome::Failed(status.to_string()),
        },
    }
}

/// Read what the pipe holds now, keeping the last [`MAX_OUTPUT`] bytes; true at its end.
fn read_available(fd: &OwnedFd, text: &mut Vec<u8>) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match nix::unistd::read(fd, &mut buf) {
            Ok(0) => return true,
            Ok(n) => {
                text.extend_from_slice(buf.get(..n).unwrap_or_default());
                let excess = text.len().saturating_sub(MAX_OUTPUT);
                text.drain(..excess);
            }
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => return false,
            Err(_) => return true,
        }
    }
}

/// The last line of output that is not blank. Pure.
pub fn last_line(text: &[u8]) -> Option<String> {
    text.split(|b| *b == b'\n')
        .map(|l| String::from_utf8_lossy(l).trim().to_string())
        .rfind(|l| !l.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_status_decides() {
        assert_eq!(http_verdict(b"HTTP/1.1 200 OK\r\n"), Outcome::Passed);
        assert_eq!(
            http_verdict(b"HTTP/1.0 302 Found\r\nLocation: /"),
            Outcome::Passed
        );
        assert_eq!(
            http_verdict(b"HTTP/1.1 503 Service Unavailable\r\n"),
            Outcome::Failed("HTTP status 503".into())
        );
        assert_eq!(
            http_verdict(b"HTTP/1.1 404 Not Found\r\n"),
            Outcome::Failed("HTTP status 404".into())
        );
        assert_eq!(
            http_verdict(b""),
            Outcome::Failed("the connection closed without a reply".into())
        );
        assert!(matches!(
            http_verdict(b"SSH-2.0-OpenSSH\r\n"),
            Outcome::Failed(_)
        ));
        assert!(matches!(
            http_verdict(&[0xff, 0xfe, b'\n']),
            Outcome::Failed(_)
        ));
    }

    #[test]
    fn the_last_line_is_the_reason() {
        assert_eq!(
            last_line(b"connecting\nrefused\n\n"),
            Some("refused".into())
        );
        assert_eq!(last_line(b"  \n"), None);
        assert_eq!(last_line(b"no newline"), Some("no newline".into()));
    }

    #[test]
    fn the_request_names_the_host_and_path() {
        let target = HttpTarget {
            host: "::1".into(),
            port: 8080,
            path: "/healthz?full=1".into(),
        };
        let request = String::from_utf8(Http::new(&target).request).unwrap();
        assert!(request.starts_with("GET /healthz?full=1 HTTP/1.1\r\nHost: [::1]:8080\r\n"));
        assert!(request.ends_with("\r\n\r\n"));
    }
}
