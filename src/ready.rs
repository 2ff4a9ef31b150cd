//! Readiness probes (`ready = …`) and the sd_notify socket, all driven by the event loop.
//!
//! A [`Check`] never blocks: a TCP probe is a non-blocking connect whose socket waits in
//! `poll(2)`; a file probe is woken by the supervisor's one [`DirWatch`] (inotify on the
//! files' directories, shared by all probes); an exec probe is a
//! child process reaped like any other. Failed attempts are retried with a growing delay
//! ([`retry_delay`]), which is the only timer a check sets. `notify` services are made
//! ready by a `READY=1` datagram on the [`NotifySocket`], accepted only from a process of
//! that service (checked with the sender's kernel-supplied credentials).

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};

use crate::config::{HttpTarget, Ready};
use crate::probe::{Attempt, Outcome, ProbeGroup};
use crate::process::ExitStatus;
use crate::spawn::{Spawn, Stdio};

/// First retry delay of a probe; it doubles up to `RETRY_MAX`.
pub const RETRY_START: Duration = Duration::from_millis(10);
pub const RETRY_MAX: Duration = Duration::from_millis(500);
/// One HTTP GET of a readiness probe may take at most this long.
pub const HTTP_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(1);
/// One exec probe may run at most this long before it is killed and retried.
pub const EXEC_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// The delay before attempt `n + 1`. Pure.
pub fn retry_delay(attempt: u32) -> Duration {
    let factor = 1u32.checked_shl(attempt.min(16)).unwrap_or(u32::MAX);
    RETRY_START.saturating_mul(factor).min(RETRY_MAX)
}

/// Progress of a readiness probe.
#[derive(Debug)]
enum Probe {
    Tcp {
        host: String,
        port: u16,
        addr: Option<SocketAddr>,
        sock: Option<OwnedFd>,
    },
    File {
        path: PathBuf,
        /// The directory is watched, so no timer is needed.
        watched: bool,
        /// Something happened to the file (or we have not looked yet): look.
        poked: bool,
    },
    Exec {
        argv: Vec<String>,
        running: Option<ExecRun>,
        passed: bool,
    },
    Notify {
        ready: bool,
    },
    Http {
        target: HttpTarget,
        attempt: Option<Attempt>,
    },
}

/// An exec probe's command while rinit has not reaped it.
#[derive(Debug)]
struct ExecRun {
    pid: i32,
    kill_at: Option<Instant>,
    /// The probe group it was born in, if any (see [`crate::probe::spawn_check`]).
    born_in: ProbeGroup,
}

/// A readiness check in progress for one service.
#[derive(Debug)]
pub struct Check {
    probe: Probe,
    retry: Retry,
    /// Where an exec probe runs (the service's probe cgroup), if anywhere.
    group: ProbeGroup,
}

/// When a probe tries again: after [`retry_delay`] of its failed attempts.
#[derive(Debug)]
struct Retry {
    attempts: u32,
    next_try: Instant,
}

impl Retry {
    fn due(&self, now: Instant) -> bool {
        now >= self.next_try
    }

    fn later(&mut self, now: Instant) {
        self.next_try = now + retry_delay(self.attempts);
        self.attempts += 1;
    }
}

impl Check {
    pub fn new(ready: &Ready, now: Instant, group: ProbeGroup) -> Check {
        let probe = match ready {
            Ready::Tcp { host, port } => Probe::Tcp {
                host: host.clone(),
                port: *port,
                addr: None,
                sock: None,
            },
            Ready::File(path) => Probe::File {
                watched: false,
                poked: true,
                path: path.clone(),
            },
            Ready::Exec(argv) => Probe::Exec {
                argv: argv.clone(),
                running: None,
                passed: false,
            },
            Ready::Notify => Probe::Notify { ready: false },
            Ready::Http(target) => Probe::Http {
                target: target.clone(),
                attempt: None,
            },
        };
        Check {
            probe,
            retry: Retry {
                attempts: 0,
                next_try: now,
            },
            group,
        }
    }

    /// The fd to wait on and its events, if the probe has one.
    pub fn poll_fd(&self) -> Option<(BorrowedFd<'_>, i16)> {
        match &self.probe {
            Probe::Tcp { sock: Some(s), .. } => Some((s.as_fd(), libc::POLLOUT)),
            Probe::Http {
                attempt: Some(a), ..
            } => a.poll_fd(),
            _ => None,
        }
    }

    /// When the probe wants to run again without an event.
    pub fn next_deadline(&self) -> Option<Instant> {
        match &self.probe {
            Probe::Tcp { sock: Some(_), .. } | Probe::Notify { .. } => None,
            Probe::File { watched: true, .. } => None,
            Probe::Exec {
                running: Some(run), ..
            } => run.kill_at,
            Probe::Http {
                attempt: Some(a), ..
            } => Some(a.deadline()),
            _ => Some(self.retry.next_try),
        }
    }

    /// Run the probe as far as it goes now; true once the service is ready.
    pub fn advance(&mut self, name: &str, now: Instant) -> bool {
        let retry = &mut self.retry;
        match &mut self.probe {
            Probe::Notify { ready } => *ready,
            Probe::File {
                path,
                watched,
                poked,
            } => file_ready(path, *watched, poked, retry, now),
            Probe::Tcp {
                host,
                port,
                addr,
                sock,
            } => tcp_ready(host, *port, addr, sock, retry, now),
            Probe::Exec {
                argv,
                running,
                passed,
            } => *passed || exec_step(name, argv, running, retry, &self.group, now),
            Probe::Http { target, attempt } => http_ready(target, attempt, retry, now),
        }
    }

    /// An exec probe's process exited; true if `pid` was this check's.
    pub fn on_exit(&mut self, pid: i32, status: ExitStatus, now: Instant) -> bool {
        let Probe::Exec {
            running, passed, ..
        } = &mut self.probe
        else {
            return false;
        };
        let Some(run) = running.take_if(|r| r.pid == pid) else {
            return false;
        };
        // Whatever it left running goes with it, as after a health check.
        crate::probe::kill_leftovers(run.pid, &run.born_in, crate::probe::Reaped::Yes);
        if status == ExitStatus::Code(0) {
            *passed = true;
        } else {
            self.retry.later(now);
        }
        true
    }

    /// A running exec probe's process group and probe group (to kill with the
    /// service's stop).
    pub fn probe_leftovers(&self) -> Option<crate::probe::Leftovers> {
        match &self.probe {
            Probe::Exec {
                running: Some(run), ..
            } => Some((run.pid, run.born_in.clone())),
            _ => None,
        }
    }

    /// The directory a `file:` probe waits in.
    pub fn watch_dir(&self) -> Option<&Path> {
        match &self.probe {
            Probe::File { path, .. } => path.parent().filter(|d| !d.as_os_str().is_empty()),
            _ => None,
        }
    }

    /// Tell a `file:` probe whether its directory is watched. A probe that just became
    /// watched looks once more: the file may have appeared before the watch.
    pub fn set_watched(&mut self, yes: bool) {
        if let Probe::File { watched, poked, .. } = &mut self.probe {
            if yes && !*watched {
                *poked = true;
            }
            *watched = yes;
        }
    }

    /// The watched directory reported an event for `path`.
    pub fn poke(&mut self, event_path: &Path) {
        if let Probe::File { path, poked, .. } = &mut self.probe {
            if path == event_path {
                *poked = true;
            }
        }
    }

    /// A `READY=1` from the service arrived.
    pub fn notify_ready(&mut self) {
        if let Probe::Notify { ready } = &mut self.probe {
            *ready = true;
        }
    }
}

/// `file:`: look at the file when inotify named it (or, unwatched, on the retry timer).
fn file_ready(
    path: &Path,
    watched: bool,
    poked: &mut bool,
    retry: &mut Retry,
    now: Instant,
) -> bool {
    // A watched directory says when to look: no stat on every wakeup.
    if watched && !*poked {
        return false;
    }
    *poked = false;
    let ready = path.exists();
    if !ready && !watched && retry.due(now) {
        retry.later(now);
    }
    ready
}

/// `tcp:`: a non-blocking connect, its result, or the next attempt when one is due.
fn tcp_ready(
    host: &str,
    port: u16,
    addr: &mut Option<SocketAddr>,
    sock: &mut Option<OwnedFd>,
    retry: &mut Retry,
    now: Instant,
) -> bool {
    if addr.is_none() && retry.due(now) {
        *addr = resolve(host, port);
    }
    let Some(target) = *addr else {
        if retry.due(now) {
            retry.later(now);
        }
        return false;
    };
    if let Some(s) = sock {
        match connect_result(s) {
            None => return false,
            Some(true) => return true,
            Some(false) => *sock = None,
        }
        retry.later(now);
        return false;
    }
    if !retry.due(now) {
        return false;
    }
    match start_connect(target) {
        Ok((_, true)) => true,
        Ok((fd, false)) => {
            *sock = Some(fd);
            false
        }
        Err(_) => {
            retry.later(now);
            false
        }
    }
}

/// `http://`: one GET at a time (each bounded by [`HTTP_ATTEMPT_TIMEOUT`]), the next
/// when one is due after a failure.
fn http_ready(
    target: &HttpTarget,
    attempt: &mut Option<Attempt>,
    retry: &mut Retry,
    now: Instant,
) -> bool {
    if attempt.is_none() && retry.due(now) {
        match Attempt::start_http(target, now, HTTP_ATTEMPT_TIMEOUT) {
            Ok(a) => *attempt = Some(a),
            Err(_) => retry.later(now),
        }
    }
    let Some(a) = attempt else {
        return false;
    };
    match a.advance(now) {
        Outcome::Pending => false,
        Outcome::Passed => true,
        Outcome::Failed(_) => {
            *attempt = None;
            retry.later(now);
            false
        }
    }
}

/// `exec:`: start an attempt when one is due, kill one that ran too long. Its exit
/// arrives through [`Check::on_exit`]; this never reports ready by itself.
fn exec_step(
    name: &str,
    argv: &[String],
    running: &mut Option<ExecRun>,
    retry: &mut Retry,
    group: &ProbeGroup,
    now: Instant,
) -> bool {
    match running {
        Some(run) if run.kill_at.is_some_and(|k| now >= k) => {
            // Its pid is rinit's own unreaped child; what it started goes with it.
            crate::probe::kill_leftovers(run.pid, &run.born_in, crate::probe::Reaped::No);
            run.kill_at = None;
        }
        Some(_) => {}
        None if retry.due(now) => {
            let spawned = Spawn::new(&format!("{name} ready probe"), argv, Stdio::Inherit)
                .and_then(|s| s.env(&[]))
                .and_then(|s| crate::probe::spawn_check(s, group));
            match spawned {
                Ok((pid, born_in)) => {
                    *running = Some(ExecRun {
                        pid,
                        kill_at: Some(now + EXEC_ATTEMPT_TIMEOUT),
                        born_in,
                    });
                }
                Err(e) => {
                    log::warn!("{name}: cannot run ready probe: {e}");
                    retry.later(now);
                }
            }
        }
        None => {}
    }
    false
}

/// An address for a tcp or http probe without DNS (a resolver could block the event loop for
/// seconds): an IP address, `localhost`, or a name in /etc/hosts.
pub fn resolve(host: &str, port: u16) -> Option<SocketAddr> {
    if host == "localhost" {
        return Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, port));
    }
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let ip = lookup_hosts(&hosts, host);
    if ip.is_none() {
        log::warn!("tcp ready probe: {host:?} is not an IP address or in /etc/hosts; retrying");
    }
    ip.map(|ip| SocketAddr::new(ip, port))
}

/// The first address /etc/hosts gives `name`. Pure.
pub fn lookup_hosts(hosts: &str, name: &str) -> Option<IpAddr> {
    hosts.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or_default();
        let mut words = line.split_whitespace();
        let ip = words.next()?.parse::<IpAddr>().ok()?;
        words.any(|w| w.eq_ignore_ascii_case(name)).then_some(ip)
    })
}

/// Start a non-blocking connect. Ok((fd, true)) if it connected at once.
pub fn start_connect(addr: SocketAddr) -> io::Result<(OwnedFd, bool)> {
    use nix::sys::socket::{self, AddressFamily, SockFlag, SockType, SockaddrStorage};
    let family = if addr.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    let flags = SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC;
    let fd = socket::socket(family, SockType::Stream, flags, None)?;
    match socket::connect(fd.as_raw_fd(), &SockaddrStorage::from(addr)) {
        Ok(()) => Ok((fd, true)),
        Err(nix::errno::Errno::EINPROGRESS) => Ok((fd, false)),
        Err(e) => Err(e.into()),
    }
}

/// None while the connect is still in progress; Some(ok) when it finished.
fn connect_result(fd: &OwnedFd) -> Option<bool> {
    connect_error(fd).map(|e| e == 0)
}

/// None while the connect is still in progress; Some(errno) when it finished (0: it
/// connected).
pub fn connect_error(fd: &OwnedFd) -> Option<i32> {
    use nix::poll::{PollFd, PollFlags, PollTimeout};
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLOUT)];
    if !nix::poll::poll(&mut fds, PollTimeout::ZERO).is_ok_and(|n| n > 0) {
        return None;
    }
    let error = nix::sys::socket::getsockopt(fd, nix::sys::socket::sockopt::SocketError);
    Some(error.unwrap_or(libc::EIO))
}

/// One inotify instance watching the directories that `file:` probes wait in.
///
/// Shared, because closing an inotify instance waits for an RCU grace period (several
/// milliseconds): one instance per probe made a 100-service start stall in close(2).
#[derive(Debug)]
pub struct DirWatch {
    inotify: Inotify,
    watches: HashMap<PathBuf, WatchDescriptor>,
}

impl DirWatch {
    pub fn new() -> io::Result<DirWatch> {
        let flags = InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC;
        Ok(DirWatch {
            inotify: Inotify::init(flags)?,
            watches: HashMap::new(),
        })
    }

    /// Watch exactly `dirs`: add the new ones, drop the ones no probe needs any more.
    /// Returns whether a watch was added (a file may have appeared just before it).
    pub fn sync(&mut self, dirs: &HashSet<PathBuf>) -> bool {
        let mut added = false;
        let inotify = &self.inotify;
        self.watches.retain(|dir, wd| {
            let keep = dirs.contains(dir);
            if !keep {
                let _ = inotify.rm_watch(*wd);
            }
            keep
        });
        let mask = AddWatchFlags::IN_CREATE
            | AddWatchFlags::IN_MOVED_TO
            | AddWatchFlags::IN_CLOSE_WRITE
            | AddWatchFlags::IN_ATTRIB;
        for dir in dirs {
            if self.watches.contains_key(dir) {
                continue;
            }
            if let Ok(wd) = self.inotify.add_watch(dir.as_path(), mask) {
                self.watches.insert(dir.clone(), wd);
                added = true;
            }
        }
        added
    }

    pub fn is_watched(&self, dir: &Path) -> bool {
        self.watches.contains_key(dir)
    }

    pub fn is_idle(&self) -> bool {
        self.watches.is_empty()
    }

    /// Read the pending events: the paths that appeared or changed.
    pub fn drain(&self) -> Vec<PathBuf> {
        let mut paths = Vec::new();
        // EAGAIN once everything is read.
        while let Ok(events) = self.inotify.read_events() {
            if events.is_empty() {
                break;
            }
            for event in events {
                let dir = self.watches.iter().find(|(_, w)| **w == event.wd);
                if let (Some((dir, _)), Some(name)) = (dir, event.name) {
                    paths.push(dir.join(name));
                }
            }
        }
        paths
    }
}

impl AsFd for DirWatch {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inotify.as_fd()
    }
}

/// The sd_notify datagram socket: an abstract unix socket whose name the kernel picks
/// (autobind), so two rinits in one network namespace — `--network host`, or two
/// containers of one pod, each rinit being pid 1 — can never collide.
#[derive(Debug)]
pub struct NotifySocket {
    fd: OwnedFd,
    pub address: String,
    /// Its file, removed with it.
    path: Option<PathBuf>,
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        if let Some(path) = &self.path {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl NotifySocket {
    pub fn bind() -> io::Result<NotifySocket> {
        NotifySocket::bind_at(None)
    }

    /// A socket at `path` (`[rinit] notify_socket`, for sandboxes that can only
    /// bind-mount files; a socket left there by an earlier run is replaced), or with an
    /// abstract name the kernel picks.
    pub fn bind_at(path: Option<&Path>) -> io::Result<NotifySocket> {
        use nix::sys::socket::{self, AddressFamily, SockFlag, SockType, UnixAddr, sockopt};
        use std::os::unix::fs::{FileTypeExt, PermissionsExt};
        let flags = SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC;
        let fd = socket::socket(AddressFamily::Unix, SockType::Datagram, flags, None)?;
        let address = match path {
            Some(path) => {
                if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
                    std::fs::remove_file(path)?;
                }
                socket::bind(fd.as_raw_fd(), &UnixAddr::new(path)?)?;
                // Services of any user may write to it; the credentials decide.
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))?;
                path.display().to_string()
            }
            None => {
                // An unnamed address: the kernel binds a unique abstract name (unix(7),
                // autobind).
                socket::bind(fd.as_raw_fd(), &UnixAddr::new_unnamed())?;
                let bound: UnixAddr = socket::getsockname(fd.as_raw_fd())?;
                let name = bound.as_abstract().unwrap_or_default();
                format!("@{}", String::from_utf8_lossy(name))
            }
        };
        // The kernel attaches each sender's pid, uid and gid.
        socket::setsockopt(&fd, sockopt::PassCred, &true)?;
        let path = path.map(Path::to_path_buf);
        Ok(NotifySocket { address, fd, path })
    }

    /// Read one datagram. The fds passed with it (SCM_RIGHTS: `BARRIER=1` sends one) are
    /// closed when the [`Datagram`] is dropped, after it was handled: closing is the
    /// barrier's answer, so a sender waiting for it still exists while rinit decides
    /// which service it belongs to. rinit keeps no fds from clients (no FDSTORE).
    pub fn recv(&self) -> Option<Datagram> {
        use nix::sys::socket::{ControlMessageOwned, MsgFlags, UnixCredentials};
        let mut buf = [0u8; 4096];
        let mut cmsg = nix::cmsg_space!(UnixCredentials, [RawFd; 16]);
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_CMSG_CLOEXEC;
        let msg =
            nix::sys::socket::recvmsg::<()>(self.fd.as_raw_fd(), &mut iov, Some(&mut cmsg), flags)
                .ok()?;
        let mut pid = 0;
        let mut fds = Vec::new();
        for c in msg.cmsgs().into_iter().flatten() {
            match c {
                ControlMessageOwned::ScmCredentials(cred) => pid = cred.pid(),
                ControlMessageOwned::ScmRights(passed) => fds.extend(passed),
                _ => {}
            }
        }
        let n = msg.bytes;
        let text = String::from_utf8_lossy(buf.get(..n).unwrap_or_default()).into_owned();
        Some(Datagram { pid, text, fds })
    }
}

/// One notify message: its sender's pid (from the kernel), its text, and the fds that
/// came with it, closed on drop.
#[derive(Debug)]
pub struct Datagram {
    pub pid: i32,
    pub text: String,
    fds: Vec<RawFd>,
}

impl Drop for Datagram {
    fn drop(&mut self) {
        for fd in self.fds.drain(..) {
            let _ = nix::unistd::close(fd);
        }
    }
}

impl AsFd for NotifySocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delay_grows_and_caps() {
        assert_eq!(retry_delay(0), RETRY_START);
        assert_eq!(retry_delay(1), RETRY_START * 2);
        assert_eq!(retry_delay(40), RETRY_MAX);
    }

    #[test]
    fn hosts_file_lookup() {
        let hosts = "127.0.0.1 localhost\n# 10.0.0.9 commented\n10.1.2.3 db db.internal # x\n::1 ip6-localhost\n";
        assert_eq!(lookup_hosts(hosts, "db.internal"), "10.1.2.3".parse().ok());
        assert_eq!(lookup_hosts(hosts, "DB"), "10.1.2.3".parse().ok());
        assert_eq!(lookup_hosts(hosts, "ip6-localhost"), "::1".parse().ok());
        assert_eq!(lookup_hosts(hosts, "commented"), None);
        assert_eq!(lookup_hosts(hosts, "nowhere"), None);
    }

    #[test]
    fn notify_sockets_never_collide() {
        let a = NotifySocket::bind().unwrap();
        let b = NotifySocket::bind().unwrap();
        assert!(
            a.address.starts_with('@') && a.address.len() > 1,
            "{}",
            a.address
        );
        assert_ne!(a.address, b.address);
        // A datagram to the address arrives, with the sender's pid.
        let sock = std::os::unix::net::UnixDatagram::unbound().unwrap();
        use std::os::linux::net::SocketAddrExt;
        let to =
            std::os::unix::net::SocketAddr::from_abstract_name(&a.address.as_bytes()[1..]).unwrap();
        sock.send_to_addr(b"READY=1", &to).unwrap();
        let d = a.recv().unwrap();
        assert_eq!(
            (d.pid, d.text.as_str()),
            (std::process::id() as i32, "READY=1")
        );
    }

    #[test]
    fn fds_passed_with_a_message_are_closed_once_it_is_handled() {
        use nix::sys::socket::{ControlMessage, MsgFlags, UnixAddr, sendmsg};
        let a = NotifySocket::bind().unwrap();
        let sock = std::os::unix::net::UnixDatagram::unbound().unwrap();
        let to = UnixAddr::new_abstract(&a.address.as_bytes()[1..]).unwrap();
        // What sd_notify_barrier(3) does: send a pipe's write end, wait for EOF.
        let (reader, writer) = std::io::pipe().unwrap();
        let fds = [writer.as_raw_fd()];
        let iov = [std::io::IoSlice::new(b"BARRIER=1")];
        let cmsg = [ControlMessage::ScmRights(&fds)];
        sendmsg(sock.as_raw_fd(), &iov, &cmsg, MsgFlags::empty(), Some(&to)).unwrap();
        drop(writer);
        let datagram = a.recv().unwrap();
        assert_eq!(datagram.text, "BARRIER=1");
        // Non-blocking: a kept copy shows as EAGAIN, not as a hang.
        use nix::fcntl::{FcntlArg, OFlag, fcntl};
        fcntl(&reader, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).unwrap();
        let mut byte = [0u8; 1];
        let n = std::io::Read::read(&mut &reader, &mut byte);
        assert!(n.is_err(), "the barrier waits while the message is handled");
        drop(datagram);
        // A child another test thread forks meanwhile holds a copy of the write end
        // until it execs: wait for the EOF (a kept copy would never give it).
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        let mut fds = [PollFd::new(reader.as_fd(), PollFlags::POLLIN)];
        assert_eq!(poll(&mut fds, PollTimeout::from(10_000u16)).ok(), Some(1));
        let n = std::io::Read::read(&mut &reader, &mut byte);
        assert_eq!(n.ok(), Some(0), "EOF: rinit kept no copy of the passed fd");
    }

    #[test]
    fn tcp_probe_sees_a_listener() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let now = Instant::now();
        let mut c = Check::new(
            &Ready::Tcp {
                host: "127.0.0.1".into(),
                port,
            },
            now,
            None,
        );
        let start = Instant::now();
        while !c.advance("t", Instant::now()) {
            assert!(start.elapsed() < Duration::from_secs(5));
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn file_probe_sees_the_file() {
        let dir = std::env::temp_dir().join(format!("rinit-ready-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ready");
        let _ = std::fs::remove_file(&path);
        let mut c = Check::new(&Ready::File(path.clone()), Instant::now(), None);
        let mut watch = DirWatch::new().unwrap();
        watch.sync(&[c.watch_dir().unwrap().to_path_buf()].into_iter().collect());
        assert!(watch.is_watched(&dir));
        c.set_watched(true);
        assert_eq!(c.next_deadline(), None, "a watched probe needs no timer");
        assert!(!c.advance("f", Instant::now()));
        std::fs::write(&path, "").unwrap();
        let mut fds = [nix::poll::PollFd::new(
            watch.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        assert_eq!(
            nix::poll::poll(&mut fds, 1000u16),
            Ok(1),
            "inotify saw the file"
        );
        let paths = watch.drain();
        assert!(paths.contains(&path), "{paths:?}");
        assert!(!c.advance("f", Instant::now()), "not poked: no look");
        c.poke(&path);
        assert!(c.advance("f", Instant::now()));
        watch.sync(&HashSet::new());
        assert!(watch.is_idle());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
