//! The control socket (DESIGN §6): a non-blocking server inside the event loop, and the
//! `rinit ctl` client.
//!
//! The server owns the listening socket and its connections and deals only in lines: it
//! accepts (checking `SO_PEERCRED`: root or rinit's own uid), buffers input up to
//! [`MAX_LINE`] per line, parses each complete line into a [`Request`], and queues
//! replies for non-blocking writes. What a request *does* is the supervisor's business.
//! Limits keep any client from stalling rinit: at most [`MAX_CONNECTIONS`] (the longest
//! idle one is dropped to admit a new one), an idle timeout, and a cap on unread replies.
//!
//! Protocol: one JSON object per line each way. A request is
//! `{"command": "stop", "name": "db"}` (`name` and `signal` where the command takes them);
//! a reply is `{"ok": true, …}` or `{"ok": false, "error": "…"}`.

use std::ffi::CString;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use log::{debug, warn};

use crate::json::{self, Json};

/// Default path of the control socket.
pub const DEFAULT_SOCKET: &str = "/run/rinit.sock";
/// Longest request line; a longer one gets an error and the connection is closed.
pub const MAX_LINE: usize = 64 * 1024;
/// Most connections served at once.
pub const MAX_CONNECTIONS: usize = 128;
/// A connection with no traffic for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Most unread reply bytes kept for a client before it is dropped.
const MAX_PENDING_OUTPUT: usize = 1024 * 1024;

/// Where the socket lives: `RINIT_SOCKET`, else the configuration's, else the default.
pub fn socket_path(configured: Option<&Path>) -> PathBuf {
    match std::env::var_os("RINIT_SOCKET").filter(|p| !p.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => configured.map_or_else(|| PathBuf::from(DEFAULT_SOCKET), Path::to_path_buf),
    }
}

/// Where the socket goes when the first choice cannot be created — a non-root container
/// (`docker run --user 1234`, OpenShift's arbitrary uid: /run is root's) or a read-only
/// root filesystem: `$XDG_RUNTIME_DIR/rinit.sock`, then `/tmp/rinit-UID/rinit.sock` in a
/// directory of mode 0700. `rinit ctl` looks in the same places.
pub fn fallback_paths() -> Vec<PathBuf> {
    let mut paths = Vec::new();
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        paths.push(Path::new(&dir).join("rinit.sock"));
    }
    paths.push(private_tmp_dir().join("rinit.sock"));
    paths
}

/// `/tmp/rinit-UID`, rinit's private directory for the fallback socket.
fn private_tmp_dir() -> PathBuf {
    // SAFETY: geteuid cannot fail.
    let uid = unsafe { libc::geteuid() };
    PathBuf::from(format!("/tmp/rinit-{uid}"))
}

/// Make `/tmp/rinit-UID` (mode 0700) if it is missing, and refuse one that another user
/// owns or others may write: a socket there could be swapped under rinit ctl's feet.
fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
        Err(_) => {}
    }
    let meta = std::fs::symlink_metadata(dir)?;
    // SAFETY: geteuid cannot fail.
    let me = unsafe { libc::geteuid() };
    if !meta.is_dir() || meta.uid() != me || meta.mode() & 0o077 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "exists, but is not a private directory of rinit's user",
        ));
    }
    Ok(())
}

/// The commands of the protocol.
pub const COMMANDS: &[&str] = &[
    "status", "health", "start", "stop", "restart", "pause", "resume", "kill", "reload",
    "shutdown", "poweroff", "reboot", "halt",
];

/// A parsed request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub command: String,
    pub name: Option<String>,
    pub signal: Option<String>,
}

/// Parse and check one request line. Pure.
pub fn parse_request(line: &str) -> Result<Request, String> {
    let value = json::parse(line)?;
    let Json::Obj(members) = &value else {
        return Err("a request must be a JSON object".into());
    };
    for (key, _) in members {
        if !matches!(key.as_str(), "command" | "name" | "signal") {
            return Err(format!(
                "unknown key {key:?} (expected command, name, signal)"
            ));
        }
    }
    let text = |key: &str| -> Result<Option<String>, String> {
        match value.get(key) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::Str(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("{key} must be a string")),
        }
    };
    let command = text("command")?.ok_or("missing \"command\"")?;
    if !COMMANDS.contains(&command.as_str()) {
        return Err(format!(
            "unknown command {command:?} (expected one of {})",
            COMMANDS.join(", ")
        ));
    }
    let request = Request {
        command,
        name: text("name")?,
        signal: text("signal")?,
    };
    let needs_name = !matches!(
        request.command.as_str(),
        "status" | "health" | "reload" | "shutdown" | "poweroff" | "reboot" | "halt"
    );
    if needs_name && request.name.is_none() {
        return Err(format!("{} needs a service name", request.command));
    }
    if request.command == "kill" && request.signal.is_none() {
        return Err("kill needs a signal".into());
    }
    Ok(request)
}

/// An error reply.
pub fn error_reply(message: &str) -> Json {
    Json::obj([("ok", Json::Bool(false)), ("error", Json::str(message))])
}

struct Conn {
    id: u64,
    stream: UnixStream,
    input: Vec<u8>,
    output: Vec<u8>,
    last_active: Instant,
    /// Close once the output is flushed.
    closing: bool,
}

/// The listening socket and its clients.
pub struct Server {
    path: PathBuf,
    listener: OwnedFd,
    conns: Vec<Conn>,
    next_id: u64,
    my_uid: u32,
    /// Out of fds: stop accepting until then (the listener would stay readable and spin
    /// the loop).
    accept_paused: Option<Instant>,
}

/// How long accepting pauses when rinit is out of fds.
pub const ACCEPT_PAUSE: Duration = Duration::from_millis(250);

/// What to poll for a connection or the listener.
pub enum Slot {
    Listener,
    Conn(u64),
}

impl Server {
    /// Create the socket, mode 0600. A live socket at the path (another rinit) is left
    /// alone and reported; a stale one is replaced; anything that is not a socket is
    /// never touched.
    pub fn bind(path: &Path) -> io::Result<Server> {
        use std::os::unix::fs::FileTypeExt;
        match std::fs::symlink_metadata(path) {
            Ok(meta) if !meta.file_type().is_socket() => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "something that is not a socket is there; left alone",
                ));
            }
            Ok(_) if UnixStream::connect(path).is_ok() => {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    "another rinit is listening there",
                ));
            }
            Ok(_) => std::fs::remove_file(path)?,
            Err(_) => {}
        }
        if path.parent() == Some(private_tmp_dir().as_path()) {
            ensure_private_dir(&private_tmp_dir())?;
        }
        // A minimal image may have no /run yet.
        if let Some(dir) = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty() && !d.exists())
        {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(dir)?;
        }
        let c_path = CString::new(path.as_os_str().as_bytes())?;
        // SAFETY: plain socket calls; umask is restored right after bind.
        let listener = unsafe {
            let fd = libc::socket(
                libc::AF_UNIX,
                libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            );
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            let fd = OwnedFd::from_raw_fd(fd);
            let mut addr: libc::sockaddr_un = std::mem::zeroed();
            addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
            let bytes = c_path.as_bytes_with_nul();
            if bytes.len() > addr.sun_path.len() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "socket path too long",
                ));
            }
            for (slot, b) in addr.sun_path.iter_mut().zip(bytes) {
                *slot = *b as libc::c_char;
            }
            let old = libc::umask(0o177);
            let rc = libc::bind(
                fd.as_raw_fd(),
                (&raw const addr).cast(),
                std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
            );
            libc::umask(old);
            if rc != 0 {
                return Err(io::Error::last_os_error());
            }
            libc::chmod(c_path.as_ptr(), 0o600);
            if libc::listen(fd.as_raw_fd(), 64) != 0 {
                return Err(io::Error::last_os_error());
            }
            fd
        };
        // SAFETY: geteuid cannot fail.
        let my_uid = unsafe { libc::geteuid() };
        Ok(Server {
            path: path.to_path_buf(),
            listener,
            conns: Vec::new(),
            next_id: 0,
            my_uid,
            accept_paused: None,
        })
    }

    /// Every fd to poll, with its events.
    pub fn poll_fds(&self) -> Vec<(Slot, BorrowedFd<'_>, i16)> {
        let mut fds = Vec::new();
        if self.accept_paused.is_none() {
            fds.push((Slot::Listener, self.listener.as_fd(), libc::POLLIN));
        }
        for c in &self.conns {
            let mut events = if c.closing { 0 } else { libc::POLLIN };
            if !c.output.is_empty() {
                events |= libc::POLLOUT;
            }
            fds.push((Slot::Conn(c.id), c.stream.as_fd(), events));
        }
        fds
    }

    /// The next idle timeout.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.conns
            .iter()
            .map(|c| c.last_active + IDLE_TIMEOUT)
            .chain(self.accept_paused)
            .min()
    }

    /// Accept every waiting client.
    pub fn accept(&mut self, now: Instant) {
        loop {
            // SAFETY: accept4 with null address pointers.
            let fd = unsafe {
                libc::accept4(
                    self.listener.as_raw_fd(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                )
            };
            if fd < 0 {
                let err = io::Error::last_os_error();
                match err.raw_os_error() {
                    Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM) => {
                        warn!("control: cannot accept a client: {err}; pausing");
                        self.accept_paused = Some(now + ACCEPT_PAUSE);
                        return;
                    }
                    // The client gave up before we took it: take the next one.
                    Some(libc::ECONNABORTED | libc::EINTR) => continue,
                    _ => return,
                }
            }
            // SAFETY: a new descriptor we own.
            let stream = UnixStream::from(unsafe { OwnedFd::from_raw_fd(fd) });
            if self.conns.len() >= MAX_CONNECTIONS {
                self.drop_most_idle();
            }
            let id = self.next_id;
            self.next_id += 1;
            let mut conn = Conn {
                id,
                stream,
                input: Vec::new(),
                output: Vec::new(),
                last_active: now,
                closing: false,
            };
            match peer_uid(conn.stream.as_raw_fd()) {
                Some(uid) if uid == 0 || uid == self.my_uid => {}
                uid => {
                    warn!("control: refused a client with uid {uid:?}");
                    let reply = error_reply(
                        "permission denied: only root or rinit's own user may control rinit",
                    );
                    queue(&mut conn, &reply);
                    conn.closing = true;
                }
            }
            self.conns.push(conn);
        }
    }

    fn drop_most_idle(&mut self) {
        if let Some(i) =
            (0..self.conns.len()).min_by_key(|&i| self.conns.get(i).map(|c| c.last_active))
        {
            debug!("control: too many connections; dropping the longest idle one");
            self.conns.swap_remove(i);
        }
    }

    /// Read from a ready connection; return the complete request lines it sent (parsed,
    /// or the error to answer with).
    pub fn read(&mut self, id: u64, now: Instant) -> Vec<Result<Request, String>> {
        let Some(conn) = self.conns.iter_mut().find(|c| c.id == id) else {
            return Vec::new();
        };
        let mut requests = Vec::new();
        let mut buf = [0u8; 8192];
        // At most two lines' worth per wakeup: a client streaming input cannot make
        // rinit buffer without bound or keep it from its other work.
        let mut budget = 2 * MAX_LINE;
        while budget > 0 {
            match conn.stream.read(&mut buf) {
                Ok(0) => {
                    conn.closing = true;
                    break;
                }
                Ok(n) => {
                    budget = budget.saturating_sub(n);
                    conn.last_active = now;
                    conn.input
                        .extend_from_slice(buf.get(..n).unwrap_or_default());
                    let last_line_start = conn
                        .input
                        .iter()
                        .rposition(|&b| b == b'\n')
                        .map_or(0, |i| i + 1);
                    if conn.input.len() - last_line_start > MAX_LINE {
                        requests.push(Err(format!("request line longer than {MAX_LINE} bytes")));
                        conn.input.clear();
                        conn.closing = true;
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        while let Some(end) = conn.input.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = conn.input.drain(..=end).collect();
            let text = String::from_utf8_lossy(line.get(..end).unwrap_or_default()).into_owned();
            if text.trim().is_empty() {
                continue;
            }
            requests.push(parse_request(text.trim()));
        }
        requests
    }

    /// Queue a reply line for a connection.
    pub fn reply(&mut self, id: u64, reply: &Json) {
        if let Some(conn) = self.conns.iter_mut().find(|c| c.id == id) {
            queue(conn, reply);
        }
    }

    /// Write what can be written, and drop finished, idle, hung-up or flooded connections.
    pub fn flush_and_prune(&mut self, now: Instant) {
        if self.accept_paused.is_some_and(|until| now >= until) {
            self.accept_paused = None;
        }
        for conn in &mut self.conns {
            while !conn.output.is_empty() {
                match conn.stream.write(&conn.output) {
                    Ok(0) => break,
                    Ok(n) => {
                        conn.output.drain(..n.min(conn.output.len()));
                        conn.last_active = now;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => {
                        conn.output.clear();
                        conn.closing = true;
                    }
                }
            }
        }
        self.conns.retain(|c| {
            let done = c.closing && c.output.is_empty();
            let idle = now >= c.last_active + IDLE_TIMEOUT;
            let flooded = c.output.len() > MAX_PENDING_OUTPUT;
            !(done || idle || flooded)
        });
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn queue(conn: &mut Conn, reply: &Json) {
    conn.output.extend_from_slice(reply.to_string().as_bytes());
    conn.output.push(b'\n');
}

/// The uid of the process at the other end of a unix socket.
fn peer_uid(fd: RawFd) -> Option<u32> {
    // SAFETY: an all-zero ucred is valid; getsockopt fills it.
    let mut cred: libc::ucred = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: cred and len are valid out-pointers of the right size.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&raw mut cred).cast(),
            &mut len,
        )
    };
    (rc == 0).then_some(cred.uid)
}

// ----- the client --------------------------------------------------------------------

/// Exit status of `rinit ctl` when no rinit listens on the socket.
pub const EXIT_NO_SERVER: i32 = 3;

const CTL_USAGE: &str = "\
usage: rinit ctl [-s SOCKET] [--json] COMMAND [NAME] [SIGNAL]
commands: status [NAME] | health | start NAME | stop NAME | restart NAME | pause NAME
          resume NAME
          kill NAME SIGNAL | reload | shutdown | poweroff | reboot | halt
The socket is -s SOCKET, else $RINIT_SOCKET, else the first that answers of
/run/rinit.sock, $XDG_RUNTIME_DIR/rinit.sock and /tmp/rinit-UID/rinit.sock.";

/// `rinit ctl …`: send one request, print the reply; return the exit status.
pub fn client(args: &[String]) -> i32 {
    let mut socket = None;
    let mut raw = false;
    let mut words = Vec::new();
    let mut iter = args.iter();
    while let Some(a) = iter.next() {
        match a.as_str() {
            "-s" | "--socket" => socket = iter.next().cloned(),
            "--json" => raw = true,
            "-h" | "--help" => {
                println!("{CTL_USAGE}");
                return 0;
            }
            _ => words.push(a.clone()),
        }
    }
    let Some(command) = words.first() else {
        eprintln!("rinit ctl: no command\n{CTL_USAGE}");
        return 2;
    };
    let mut members = vec![("command".to_string(), Json::str(command.clone()))];
    if let Some(name) = words.get(1) {
        members.push(("name".into(), Json::str(name.clone())));
    }
    if let Some(sig) = words.get(2) {
        members.push(("signal".into(), Json::str(sig.clone())));
    }
    let request = Json::Obj(members);
    if let Err(e) = parse_request(&request.to_string()) {
        eprintln!("rinit ctl: {e}\n{CTL_USAGE}");
        return 2;
    }
    // -s or RINIT_SOCKET: that socket only. Otherwise the default, then the places a
    // non-root or read-only rinit falls back to: the first one that answers.
    let explicit = socket.map(PathBuf::from).or_else(|| {
        std::env::var_os("RINIT_SOCKET")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
    });
    let path = match explicit {
        Some(path) => path,
        None => {
            let mut candidates = vec![PathBuf::from(DEFAULT_SOCKET)];
            candidates.extend(fallback_paths());
            let answering = candidates.iter().find(|p| UnixStream::connect(p).is_ok());
            match answering {
                Some(p) => p.clone(),
                None => {
                    let tried: Vec<String> =
                        candidates.iter().map(|p| p.display().to_string()).collect();
                    eprintln!(
                        "rinit ctl: no rinit is listening on {}; point to another socket with -s PATH or RINIT_SOCKET",
                        tried.join(", ")
                    );
                    return EXIT_NO_SERVER;
                }
            }
        }
    };
    let is_shutdown = matches!(
        command.as_str(),
        "shutdown" | "poweroff" | "reboot" | "halt"
    );
    match exchange(&path, &request) {
        Ok(reply) => print_reply(&reply, raw),
        Err(Failure::NoServer(e)) => {
            eprintln!(
                "rinit ctl: no rinit is listening on {} ({e}); point to another socket with -s PATH or RINIT_SOCKET",
                path.display()
            );
            EXIT_NO_SERVER
        }
        // The request was sent: rinit may exit before its reply reaches us.
        Err(Failure::Dropped) if is_shutdown => {
            println!("shutdown accepted (rinit closed the connection)");
            0
        }
        Err(Failure::Dropped) => {
            eprintln!("rinit ctl: rinit closed the connection without a reply");
            1
        }
        Err(Failure::Other(e)) => {
            eprintln!("rinit ctl: {}: {e}", path.display());
            1
        }
    }
}

enum Failure {
    NoServer(io::Error),
    Dropped,
    Other(io::Error),
}

fn exchange(path: &Path, request: &Json) -> Result<Json, Failure> {
    let mut stream = UnixStream::connect(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => Failure::NoServer(e),
        _ => Failure::Other(e),
    })?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(35)));
    // A refusal may be written (and the connection closed) before the request goes out:
    // read the reply even if the write failed.
    let _ = stream.write_all(format!("{request}\n").as_bytes());
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    while !reply.contains(&b'\n') {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return Err(Failure::Dropped),
            Ok(n) => reply.extend_from_slice(buf.get(..n).unwrap_or_default()),
        }
    }
    let text = String::from_utf8_lossy(&reply);
    json::parse(text.trim())
        .map_err(|e| Failure::Other(io::Error::new(io::ErrorKind::InvalidData, e)))
}

fn print_reply(reply: &Json, raw: bool) -> i32 {
    let ok = reply.get("ok") == Some(&Json::Bool(true));
    // `health`: exit 0 only when healthy (Docker's HEALTHCHECK and Kubernetes' exec
    // probes read the exit status).
    let healthy = reply.get("healthy") != Some(&Json::Bool(false));
    if raw {
        println!("{reply}");
    } else if !ok {
        eprintln!(
            "rinit ctl: {}",
            reply.get("error").and_then(Json::as_str).unwrap_or("error")
        );
    } else if let Some(Json::Arr(services)) = reply.get("services") {
        print_status(reply, services);
    } else if let Some(msg) = reply.get("message").and_then(Json::as_str) {
        println!("{msg}");
    }
    if ok && healthy { 0 } else { 1 }
}

/// The human form of a status reply: the phase, then one row per service.
fn print_status(reply: &Json, services: &[Json]) {
    let phase = reply.get("phase").and_then(Json::as_str).unwrap_or("?");
    match reply.get("seconds_left") {
        Some(Json::Num(left)) => println!("phase: {phase} ({left:.1} s left)"),
        _ => println!("phase: {phase}"),
    }
    println!(
        "{:<16} {:<9} {:>7} {:>9} {:>8}  {:<14} NOTE",
        "NAME", "STATE", "PID", "UPTIME", "RESTARTS", "LAST EXIT"
    );
    for s in services {
        let text = |k: &str| match s.get(k) {
            Some(Json::Str(v)) => v.clone(),
            Some(Json::Num(n)) => format!("{n}"),
            Some(Json::Bool(b)) => b.to_string(),
            _ => "-".into(),
        };
        let uptime = match s.get("uptime_ms") {
            Some(Json::Num(ms)) => format_duration(*ms / 1000.0),
            _ => "-".into(),
        };
        println!(
            "{:<16} {:<9} {:>7} {:>9} {:>8}  {:<14} {}",
            text("name"),
            text("state"),
            text("pid"),
            uptime,
            text("restarts"),
            text("last_exit"),
            s.get("reason").and_then(Json::as_str).unwrap_or("")
        );
    }
}

fn format_duration(secs: f64) -> String {
    let s = secs as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_good_requests() {
        assert_eq!(
            parse_request(r#"{"command":"kill","name":"db","signal":"HUP"}"#),
            Ok(Request {
                command: "kill".into(),
                name: Some("db".into()),
                signal: Some("HUP".into())
            })
        );
        assert!(parse_request(r#"{"command":"status"}"#).is_ok());
        assert!(parse_request(r#"{"command":"status","name":"db"}"#).is_ok());
    }

    #[test]
    fn rejects_bad_requests_with_reasons() {
        let err = |s: &str| parse_request(s).unwrap_err();
        assert!(err("garbage").contains("invalid JSON"));
        assert!(err("[1]").contains("JSON object"));
        assert!(err(r#"{"command":"explode"}"#).contains("unknown command"));
        assert!(err(r#"{"command":"stop"}"#).contains("needs a service name"));
        assert!(err(r#"{"command":"kill","name":"x"}"#).contains("needs a signal"));
        assert!(err(r#"{"command":"stop","name":3}"#).contains("must be a string"));
        assert!(err(r#"{"command":"status","bogus":1}"#).contains("unknown key"));
        assert!(err(r#"{}"#).contains("missing"));
    }

    #[test]
    fn durations_for_people() {
        assert_eq!(format_duration(5.2), "5s");
        assert_eq!(format_duration(63.0), "1m03s");
        assert_eq!(format_duration(7300.0), "2h01m");
    }
}
