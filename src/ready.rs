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
use std::ffi::CString;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::config::Ready;
use crate::process::ExitStatus;
use crate::spawn::{Spawn, Stdio};

/// First retry delay of a probe; it doubles up to `RETRY_MAX`.
pub const RETRY_START: Duration = Duration::from_millis(10);
pub const RETRY_MAX: Duration = Duration::from_millis(500);
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
        pid: Option<i32>,
        kill_at: Option<Instant>,
        passed: bool,
    },
    Notify {
        ready: bool,
    },
}

/// A readiness check in progress for one service.
#[derive(Debug)]
pub struct Check {
    probe: Probe,
    retry: Retry,
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
    pub fn new(ready: &Ready, now: Instant) -> Check {
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
                pid: None,
                kill_at: None,
                passed: false,
            },
            Ready::Notify => Probe::Notify { ready: false },
        };
        Check {
            probe,
            retry: Retry {
                attempts: 0,
                next_try: now,
            },
        }
    }

    /// The fd to wait on and its events, if the probe has one.
    pub fn poll_fd(&self) -> Option<(BorrowedFd<'_>, i16)> {
        match &self.probe {
            Probe::Tcp { sock: Some(s), .. } => Some((s.as_fd(), libc::POLLOUT)),
            _ => None,
        }
    }

    /// When the probe wants to run again without an event.
    pub fn next_deadline(&self) -> Option<Instant> {
        match &self.probe {
            Probe::Tcp { sock: Some(_), .. } | Probe::Notify { .. } => None,
            Probe::File { watched: true, .. } => None,
            Probe::Exec {
                pid: Some(_),
                kill_at,
                ..
            } => *kill_at,
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
                pid,
                kill_at,
                passed,
            } => *passed || exec_step(name, argv, pid, kill_at, retry, now),
        }
    }

    /// An exec probe's process exited; true if `pid` was this check's.
    pub fn on_exit(&mut self, pid: i32, status: ExitStatus, now: Instant) -> bool {
        let Probe::Exec {
            pid: running,
            kill_at,
            passed,
            ..
        } = &mut self.probe
        else {
            return false;
        };
        if *running != Some(pid) {
            return false;
        }
        *running = None;
        *kill_at = None;
        if status == ExitStatus::Code(0) {
            *passed = true;
        } else {
            self.retry.later(now);
        }
        true
    }

    /// The pid of a running exec probe (to stop it with the service).
    pub fn probe_pid(&self) -> Option<i32> {
        match &self.probe {
            Probe::Exec { pid, .. } => *pid,
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
        match connect_result(s.as_raw_fd()) {
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

/// `exec:`: start an attempt when one is due, kill one that ran too long. Its exit
/// arrives through [`Check::on_exit`]; this never reports ready by itself.
fn exec_step(
    name: &str,
    argv: &[String],
    pid: &mut Option<i32>,
    kill_at: &mut Option<Instant>,
    retry: &mut Retry,
    now: Instant,
) -> bool {
    match *pid {
        Some(p) if kill_at.is_some_and(|k| now >= k) => {
            // SAFETY: p is our own unreaped child.
            unsafe { libc::kill(p, libc::SIGKILL) };
            *kill_at = None;
        }
        Some(_) => {}
        None if retry.due(now) => {
            let spawned = Spawn::new(&format!("{name} ready probe"), argv, Stdio::Inherit)
                .and_then(|s| s.spawn().map_err(|e| e.to_string()));
            match spawned {
                Ok(p) => {
                    *pid = Some(p);
                    *kill_at = Some(now + EXEC_ATTEMPT_TIMEOUT);
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

/// An address for a tcp probe without DNS (a resolver could block the event loop for
/// seconds): an IP address, `localhost`, or a name in /etc/hosts.
fn resolve(host: &str, port: u16) -> Option<SocketAddr> {
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
fn start_connect(addr: SocketAddr) -> io::Result<(OwnedFd, bool)> {
    let family = if addr.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: plain socket(2).
    let fd = unsafe {
        libc::socket(
            family,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a new descriptor we own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let (storage, len) = sockaddr(addr);
    // SAFETY: storage holds a valid sockaddr of `len` bytes.
    let rc = unsafe { libc::connect(fd.as_raw_fd(), (&raw const storage).cast(), len) };
    if rc == 0 {
        return Ok((fd, true));
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EINPROGRESS) {
        Ok((fd, false))
    } else {
        Err(err)
    }
}

/// None while the connect is still in progress; Some(ok) when it finished.
fn connect_result(fd: RawFd) -> Option<bool> {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    if unsafe { libc::poll(&mut pfd, 1, 0) } <= 0 {
        return None;
    }
    let mut err: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: err and len are valid out-pointers.
    unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&raw mut err).cast(),
            &mut len,
        )
    };
    Some(err == 0)
}

fn sockaddr(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: an all-zero sockaddr_storage is valid.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(*a.ip()).to_be(),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than sockaddr_in.
            unsafe { std::ptr::write((&raw mut storage).cast(), sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than sockaddr_in6.
            unsafe { std::ptr::write((&raw mut storage).cast(), sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

/// One inotify instance watching the directories that `file:` probes wait in.
///
/// Shared, because closing an inotify instance waits for an RCU grace period (several
/// milliseconds): one instance per probe made a 100-service start stall in close(2).
#[derive(Debug)]
pub struct DirWatch {
    fd: OwnedFd,
    watches: HashMap<PathBuf, i32>,
}

impl DirWatch {
    pub fn new() -> io::Result<DirWatch> {
        // SAFETY: plain inotify_init1.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a new descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(DirWatch {
            fd,
            watches: HashMap::new(),
        })
    }

    /// Watch exactly `dirs`: add the new ones, drop the ones no probe needs any more.
    /// Returns whether a watch was added (a file may have appeared just before it).
    pub fn sync(&mut self, dirs: &HashSet<PathBuf>) -> bool {
        let mut added = false;
        let fd = self.fd.as_raw_fd();
        self.watches.retain(|dir, wd| {
            let keep = dirs.contains(dir);
            if !keep {
                // SAFETY: removing a watch descriptor of our own instance.
                unsafe { libc::inotify_rm_watch(fd, *wd) };
            }
            keep
        });
        for dir in dirs {
            if self.watches.contains_key(dir) {
                continue;
            }
            let Ok(c) = CString::new(dir.as_os_str().as_bytes()) else {
                continue;
            };
            let mask = libc::IN_CREATE | libc::IN_MOVED_TO | libc::IN_CLOSE_WRITE | libc::IN_ATTRIB;
            // SAFETY: a valid C string and our own instance.
            let wd = unsafe { libc::inotify_add_watch(fd, c.as_ptr(), mask) };
            if wd >= 0 {
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
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: buf is writable for its length.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            let Ok(n) = usize::try_from(n) else { break };
            if n == 0 {
                break;
            }
            for (wd, name) in parse_events(buf.get(..n).unwrap_or_default()) {
                if let Some((dir, _)) = self.watches.iter().find(|(_, w)| **w == wd) {
                    paths.push(dir.join(name));
                }
            }
        }
        paths
    }
}

impl AsFd for DirWatch {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Parse a buffer of `struct inotify_event`s into (watch descriptor, name). Pure.
pub fn parse_events(mut buf: &[u8]) -> Vec<(i32, String)> {
    let mut events = Vec::new();
    // struct inotify_event { int wd; uint32_t mask, cookie, len; char name[len]; }
    while buf.len() >= 16 {
        let word = |i: usize| -> [u8; 4] {
            let mut w = [0u8; 4];
            w.copy_from_slice(buf.get(i..i + 4).unwrap_or(&[0; 4]));
            w
        };
        let wd = i32::from_ne_bytes(word(0));
        let len = u32::from_ne_bytes(word(12)) as usize;
        let name = buf.get(16..16 + len).unwrap_or_default();
        let name = name.split(|&b| b == 0).next().unwrap_or_default();
        events.push((wd, String::from_utf8_lossy(name).into_owned()));
        buf = buf.get(16 + len..).unwrap_or_default();
    }
    events
}

/// The sd_notify datagram socket: an abstract unix socket whose name the kernel picks
/// (autobind), so two rinits in one network namespace — `--network host`, or two
/// containers of one pod, each rinit being pid 1 — can never collide.
#[derive(Debug)]
pub struct NotifySocket {
    fd: OwnedFd,
    pub address: String,
}

impl NotifySocket {
    pub fn bind() -> io::Result<NotifySocket> {
        // SAFETY: plain socket calls on values we own; addr and len are valid for
        // getsockname, which writes at most `len` bytes.
        unsafe {
            let fd = libc::socket(
                libc::AF_UNIX,
                libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            );
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            let fd = OwnedFd::from_raw_fd(fd);
            let mut addr: libc::sockaddr_un = std::mem::zeroed();
            addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
            // Only the family: the kernel binds a unique abstract name (unix(7), autobind).
            let family_len = std::mem::size_of::<libc::sa_family_t>() as libc::socklen_t;
            if libc::bind(fd.as_raw_fd(), (&raw const addr).cast(), family_len) != 0 {
                return Err(io::Error::last_os_error());
            }
            let mut len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
            if libc::getsockname(fd.as_raw_fd(), (&raw mut addr).cast(), &mut len) != 0 {
                return Err(io::Error::last_os_error());
            }
            let name_len = (len as usize).saturating_sub(family_len as usize + 1);
            let name: Vec<u8> = addr
                .sun_path
                .iter()
                .skip(1)
                .take(name_len)
                .map(|&c| c as u8)
                .collect();
            let one: libc::c_int = 1;
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_PASSCRED,
                (&raw const one).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
            Ok(NotifySocket {
                fd,
                address: format!("@{}", String::from_utf8_lossy(&name)),
            })
        }
    }

    /// Read one datagram: (sender pid from the kernel's credentials, text).
    pub fn recv(&self) -> Option<(i32, String)> {
        let mut buf = [0u8; 4096];
        let mut cmsg = [0u64; 8];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: msghdr points at the buffers above, which outlive the call.
        unsafe {
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = cmsg.as_mut_ptr().cast();
            msg.msg_controllen = std::mem::size_of_val(&cmsg) as _;
            let n = libc::recvmsg(self.fd.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT);
            if n < 0 {
                return None;
            }
            let mut pid = 0;
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_CREDENTIALS {
                    let cred: libc::ucred = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                    pid = cred.pid;
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
            let text =
                String::from_utf8_lossy(buf.get(..n as usize).unwrap_or_default()).into_owned();
            Some((pid, text))
        }
    }
}

impl AsFd for NotifySocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Does an sd_notify message say READY=1? Pure.
pub fn says_ready(message: &str) -> bool {
    message.lines().any(|l| l.trim() == "READY=1")
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
    fn ready_messages() {
        assert!(says_ready("STATUS=up\nREADY=1\n"));
        assert!(!says_ready("READY=0"));
        assert!(!says_ready("STATUS=READY=1"));
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
        let (pid, text) = a.recv().unwrap();
        assert_eq!((pid, text.as_str()), (std::process::id() as i32, "READY=1"));
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
        let mut c = Check::new(&Ready::File(path.clone()), Instant::now());
        let mut watch = DirWatch::new().unwrap();
        watch.sync(&[c.watch_dir().unwrap().to_path_buf()].into_iter().collect());
        assert!(watch.is_watched(&dir));
        c.set_watched(true);
        assert_eq!(c.next_deadline(), None, "a watched probe needs no timer");
        assert!(!c.advance("f", Instant::now()));
        std::fs::write(&path, "").unwrap();
        let mut pfd = libc::pollfd {
            fd: watch.as_fd().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        assert_eq!(
            unsafe { libc::poll(&mut pfd, 1, 1000) },
            1,
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
