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

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use log::{debug, warn};

use crate::health::HealthStatus;
use nix::sys::stat::{Mode, umask};
use serde::{Deserialize, Serialize};
use serde_json::Value;

impl Conn {
    /// When it counts as idle and is dropped.
    fn idle_at(&self) -> Instant {
        let idle = self.last_active + IDLE_TIMEOUT;
        self.held_until
            .map_or(idle, |held| idle.max(held + IDLE_TIMEOUT))
    }
}

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
    let uid = nix::unistd::geteuid().as_raw();
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
    let me = nix::unistd::geteuid().as_raw();
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
    "status", "health", "start", "stop", "restart", "pause", "resume", "kill", "reload", "logs",
    "shutdown", "poweroff", "reboot", "halt",
];

/// A request, as the protocol defines it: `{"command": "kill", "name": "db",
/// "signal": "HUP"}`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "command", rename_all = "lowercase", deny_unknown_fields)]
pub enum Request {
    Status {
        #[serde(default)]
        name: Option<String>,
    },
    Health {},
    Start {
        name: String,
    },
    Stop {
        name: String,
    },
    Restart {
        name: String,
    },
    Pause {
        name: String,
    },
    Resume {
        name: String,
    },
    Kill {
        name: String,
        signal: String,
    },
    /// Without a name: the configuration. With one: that service (SIGHUP, and for a
    /// service that speaks sd_notify, the reply waits for its `READY=1`).
    Reload {
        #[serde(default)]
        name: Option<String>,
    },
    /// A `prefix` service's last lines (`lines`: how many, default all kept); `follow`:
    /// then every new line, as long as the connection stays open.
    Logs {
        name: String,
        #[serde(default)]
        lines: Option<String>,
        #[serde(default)]
        follow: Option<String>,
    },
    Shutdown {},
    Poweroff {},
    Reboot {},
    Halt {},
}

impl Request {
    /// The command's word, as in the protocol.
    pub fn command(&self) -> &'static str {
        match self {
            Request::Status { .. } => "status",
            Request::Health {} => "health",
            Request::Start { .. } => "start",
            Request::Stop { .. } => "stop",
            Request::Restart { .. } => "restart",
            Request::Pause { .. } => "pause",
            Request::Resume { .. } => "resume",
            Request::Kill { .. } => "kill",
            Request::Reload { .. } => "reload",
            Request::Logs { .. } => "logs",
            Request::Shutdown {} => "shutdown",
            Request::Poweroff {} => "poweroff",
            Request::Reboot {} => "reboot",
            Request::Halt {} => "halt",
        }
    }
}

/// The keys a request may have.
const KEYS: &[&str] = &["command", "name", "signal", "lines", "follow"];

/// Parse and check one request line: strict JSON (serde_json), then the typed request.
/// Errors say what was expected, in the protocol's words. Pure.
pub fn parse_request(line: &str) -> Result<Request, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("invalid JSON: {e}"))?;
    let Value::Object(mut members) = value else {
        return Err("a request must be a JSON object".into());
    };
    if let Some(key) = members.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(format!(
            "unknown key {key:?} (expected command, name, signal, lines, follow)"
        ));
    }
    // null is as good as absent.
    members.retain(|_, v| !v.is_null());
    for (key, v) in &members {
        if !v.is_string() {
            return Err(format!("{key} must be a string"));
        }
    }
    let command = match members.get("command").and_then(Value::as_str) {
        Some(c) => c.to_string(),
        None => return Err("missing \"command\"".into()),
    };
    if !COMMANDS.contains(&command.as_str()) {
        return Err(format!(
            "unknown command {command:?} (expected one of {})",
            COMMANDS.join(", ")
        ));
    }
    serde_json::from_value(Value::Object(members)).map_err(|e| {
        let e = e.to_string();
        if e.contains("missing field `name`") {
            format!("{command} needs a service name")
        } else if e.contains("missing field `signal`") {
            format!("{command} needs a signal")
        } else if e.contains("unknown field") {
            format!("{command} takes no such key: {e}")
        } else {
            e
        }
    })
}

/// One service in a status reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceStatus {
    pub name: String,
    pub state: String,
    pub pid: Option<i32>,
    pub uptime_ms: Option<u64>,
    pub restarts: u32,
    pub last_exit: Option<String>,
    pub ready: bool,
    pub reason: Option<String>,
    /// Services with health checks only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthStatus>,
    /// Its sd_notify `STATUS=` text, if it sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_text: Option<String>,
    /// `reloading` or `stopping`, as it said with sd_notify.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<String>,
    /// From its cgroup (`memory.current`), where it has one with the memory controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    /// From its cgroup (`cpu.stat` `usage_usec`): CPU time of its processes, in µs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_usec: Option<u64>,
}

/// A reply: one JSON object per line, `"ok"` first.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Reply {
    Error {
        ok: bool,
        error: String,
    },
    Message {
        ok: bool,
        message: String,
    },
    Status {
        ok: bool,
        phase: &'static str,
        seconds_left: Option<f64>,
        services: Vec<ServiceStatus>,
    },
    Health {
        ok: bool,
        healthy: bool,
        message: String,
        problems: Vec<String>,
    },
    /// `logs`: the lines kept (as text; bytes that are not UTF-8 as U+FFFD).
    Lines {
        ok: bool,
        lines: Vec<String>,
    },
    /// `logs -f`: one more line, after the first reply.
    Line {
        line: String,
    },
}

impl Reply {
    pub fn error(message: impl Into<String>) -> Reply {
        Reply::Error {
            ok: false,
            error: message.into(),
        }
    }

    pub fn message(message: impl Into<String>) -> Reply {
        Reply::Message {
            ok: true,
            message: message.into(),
        }
    }

    /// The reply as one line of JSON (without the newline).
    pub fn to_line(&self) -> String {
        serde_json::to_string(self)
            .unwrap_or_else(|_| r#"{"ok":false,"error":"cannot encode the reply"}"#.to_string())
    }
}

/// An error reply.
pub fn error_reply(message: &str) -> Reply {
    Reply::error(message)
}

struct Conn {
    id: u64,
    stream: UnixStream,
    input: Vec<u8>,
    output: Vec<u8>,
    last_active: Instant,
    /// Kept open without traffic until then (a reply that comes later, `logs -f`).
    held_until: Option<Instant>,
    /// Close once the output is flushed.
    closing: bool,
}

/// The listening socket and its clients.
pub struct Server {
    path: PathBuf,
    listener: UnixListener,
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
        // The private directory is checked before anything in it is touched.
        if path.parent() == Some(private_tmp_dir().as_path()) {
            ensure_private_dir(&private_tmp_dir())?;
        }
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
        // Created 0600 (umask 0177 around bind), then made sure of with chmod.
        let old = umask(Mode::from_bits_truncate(0o177));
        let bound = UnixListener::bind(path);
        umask(old);
        let listener = bound?;
        listener.set_nonblocking(true)?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        let my_uid = nix::unistd::geteuid().as_raw();
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

    /// Is connection `id` still open?
    pub fn has(&self, id: u64) -> bool {
        self.conns.iter().any(|c| c.id == id)
    }

    /// Keep connection `id` open without traffic until `until` (a reply that comes later:
    /// `ctl reload NAME`).
    pub fn hold(&mut self, id: u64, until: Instant) {
        let active_from = until.checked_sub(IDLE_TIMEOUT).unwrap_or(until);
        if let Some(conn) = self.conns.iter_mut().find(|c| c.id == id) {
            conn.held_until = Some(active_from.max(conn.held_until.unwrap_or(active_from)));
        }
    }

    /// The next idle timeout.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.conns
            .iter()
            .map(Conn::idle_at)
            .chain(self.accept_paused)
            .min()
    }

    /// Accept every waiting client.
    pub fn accept(&mut self, now: Instant) {
        loop {
            let stream = match self.listener.accept() {
                Ok((stream, _)) => stream,
                Err(err) => match err.raw_os_error() {
                    Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM) => {
                        warn!("control: cannot accept a client: {err}; pausing");
                        self.accept_paused = Some(now + ACCEPT_PAUSE);
                        return;
                    }
                    // The client gave up before we took it: take the next one.
                    Some(libc::ECONNABORTED | libc::EINTR) => continue,
                    _ => return,
                },
            };
            if stream.set_nonblocking(true).is_err() {
                continue;
            }
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
                held_until: None,
                closing: false,
            };
            match peer_uid(&conn.stream) {
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
    pub fn reply(&mut self, id: u64, reply: &Reply) {
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
            let idle = now >= c.idle_at();
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

fn queue(conn: &mut Conn, reply: &Reply) {
    conn.output.extend_from_slice(reply.to_line().as_bytes());
    conn.output.push(b'\n');
}

/// The uid of the process at the other end of a unix socket (SO_PEERCRED).
fn peer_uid(stream: &UnixStream) -> Option<u32> {
    let cred = nix::sys::socket::getsockopt(stream, nix::sys::socket::sockopt::PeerCredentials);
    cred.ok().map(|c| c.uid())
}

// ----- the client --------------------------------------------------------------------

/// Exit status of `rinit ctl` when no rinit listens on the socket.
pub const EXIT_NO_SERVER: i32 = 3;

const CTL_USAGE: &str = "\
usage: rinit ctl [-s SOCKET] [--json] COMMAND [NAME] [SIGNAL]
commands: status [NAME] | health | start NAME | stop NAME | restart NAME | pause NAME
          resume NAME | logs NAME [-n LINES] [-f]
          kill NAME SIGNAL | reload [NAME] | shutdown | poweroff | reboot | halt
The socket is -s SOCKET, else $RINIT_SOCKET, else the first that answers of
/run/rinit.sock, $XDG_RUNTIME_DIR/rinit.sock and /tmp/rinit-UID/rinit.sock.";

/// `rinit ctl …`: send one request, print the reply; return the exit status.
pub fn client(args: &[String]) -> i32 {
    let ctl = match CtlArgs::parse(args) {
        Ok(ctl) => ctl,
        Err(code) => return code,
    };
    let path = match ctl.socket.clone().map_or_else(find_socket, Ok) {
        Ok(path) => path,
        Err(code) => return code,
    };
    let is_shutdown = matches!(
        ctl.command.as_str(),
        "shutdown" | "poweroff" | "reboot" | "halt"
    );
    let follow = ctl.request.get("follow").is_some();
    match exchange(&path, &ctl.request) {
        Ok(done) if follow && done.value.get("ok") == Some(&Value::Bool(true)) => {
            print_reply(&done.line, &done.value, ctl.raw);
            follow_lines(done, ctl.raw)
        }
        Ok(done) => print_reply(&done.line, &done.value, ctl.raw),
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

/// `rinit ctl`'s command line: the request and where to send it.
struct CtlArgs {
    command: String,
    request: Value,
    /// `-s PATH`, else `$RINIT_SOCKET`.
    socket: Option<PathBuf>,
    /// `--json`: print the reply as sent.
    raw: bool,
}

impl CtlArgs {
    /// The arguments, or the exit status when there is nothing to send (help: 0, a
    /// usage error: 2, with the message printed).
    fn parse(args: &[String]) -> Result<CtlArgs, i32> {
        let mut socket = None;
        let mut raw = false;
        let mut words = Vec::new();
        let mut flags = serde_json::Map::new();
        let mut iter = args.iter();
        while let Some(a) = iter.next() {
            match a.as_str() {
                "-s" | "--socket" => socket = iter.next().cloned(),
                "--json" => raw = true,
                "-n" | "--lines" => {
                    let n = iter.next().cloned().unwrap_or_default();
                    flags.insert("lines".into(), Value::String(n));
                }
                "-f" | "--follow" => {
                    flags.insert("follow".into(), Value::String("yes".into()));
                }
                "-h" | "--help" => {
                    println!("{CTL_USAGE}");
                    return Err(0);
                }
                _ => words.push(a.clone()),
            }
        }
        let Some(command) = words.first().cloned() else {
            eprintln!("rinit ctl: no command\n{CTL_USAGE}");
            return Err(2);
        };
        let mut members = serde_json::Map::new();
        for (key, word) in KEYS.iter().zip(&words) {
            members.insert(key.to_string(), Value::String(word.clone()));
        }
        members.extend(flags);
        let request = Value::Object(members);
        if let Err(e) = parse_request(&request.to_string()) {
            eprintln!("rinit ctl: {e}\n{CTL_USAGE}");
            return Err(2);
        }
        let socket = socket.map(PathBuf::from).or_else(|| {
            std::env::var_os("RINIT_SOCKET")
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
        });
        Ok(CtlArgs {
            command,
            request,
            socket,
            raw,
        })
    }
}

/// Without `-s` or `RINIT_SOCKET`: the default socket, then the places a non-root or
/// read-only rinit falls back to — the first one that answers. Only a rinit of root's or
/// this user's counts: anyone may create a socket in /tmp or in a directory named like
/// ours. None answering: the message is printed and the exit status returned.
fn find_socket() -> Result<PathBuf, i32> {
    let mut candidates = vec![PathBuf::from(DEFAULT_SOCKET)];
    candidates.extend(fallback_paths());
    let me = nix::unistd::geteuid().as_raw();
    let answering = candidates.iter().find(|p| {
        UnixStream::connect(p)
            .ok()
            .and_then(|s| peer_uid(&s))
            .is_some_and(|uid| uid == 0 || uid == me)
    });
    if let Some(path) = answering {
        return Ok(path.clone());
    }
    let tried: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
    eprintln!(
        "rinit ctl: no rinit is listening on {}; point to another socket with -s PATH or RINIT_SOCKET",
        tried.join(", ")
    );
    Err(EXIT_NO_SERVER)
}

enum Failure {
    NoServer(io::Error),
    Dropped,
    Other(io::Error),
}

/// Send the request; return the reply line as rinit wrote it, and parsed.
/// The first reply line to a request, and the connection with what followed it.
struct Exchange {
    line: String,
    value: Value,
    stream: UnixStream,
    rest: Vec<u8>,
}

fn exchange(path: &Path, request: &Value) -> Result<Exchange, Failure> {
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
    let end = reply
        .iter()
        .position(|b| *b == b'\n')
        .unwrap_or(reply.len());
    let rest = reply.split_off(end);
    let text = String::from_utf8_lossy(&reply);
    let line = text.trim().to_string();
    let value = serde_json::from_str(&line)
        .map_err(|e| Failure::Other(io::Error::new(io::ErrorKind::InvalidData, e)))?;
    Ok(Exchange {
        line,
        value,
        stream,
        rest: rest.get(1..).unwrap_or_default().to_vec(),
    })
}

/// `ctl logs -f`: print each `{"line": …}` rinit streams until it closes the
/// connection (or is gone).
fn follow_lines(done: Exchange, raw: bool) -> i32 {
    let Exchange {
        mut stream,
        mut rest,
        ..
    } = done;
    let _ = stream.set_read_timeout(None);
    let mut buf = [0u8; 4096];
    let mut out = io::stdout();
    loop {
        while let Some(end) = rest.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = rest.drain(..=end).collect();
            let text = String::from_utf8_lossy(&line);
            let printed = if raw {
                writeln!(out, "{}", text.trim_end())
            } else {
                let value: Value = serde_json::from_str(text.trim()).unwrap_or(Value::Null);
                let line = value
                    .get("line")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                writeln!(out, "{line}")
            };
            if printed.and_then(|()| out.flush()).is_err() {
                return 0;
            }
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return 0,
            Ok(n) => rest.extend_from_slice(buf.get(..n).unwrap_or_default()),
        }
    }
}

/// Print a reply for people, or (`--json`) exactly as rinit sent it; the exit status.
fn print_reply(line: &str, reply: &Value, raw: bool) -> i32 {
    let ok = reply.get("ok") == Some(&Value::Bool(true));
    // `health`: exit 0 only when healthy (Docker's HEALTHCHECK and Kubernetes' exec
    // probes read the exit status).
    let healthy = reply.get("healthy") != Some(&Value::Bool(false));
    if raw {
        println!("{line}");
    } else if !ok {
        eprintln!(
            "rinit ctl: {}",
            reply
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("error")
        );
    } else if let Some(Value::Array(services)) = reply.get("services") {
        print_status(reply, services);
    } else if let Some(msg) = reply.get("message").and_then(Value::as_str) {
        println!("{msg}");
    } else if let Some(Value::Array(lines)) = reply.get("lines") {
        for line in lines {
            println!("{}", line.as_str().unwrap_or_default());
        }
    }
    if ok && healthy { 0 } else { 1 }
}

/// The human form of a status reply: the phase, then one row per service.
fn print_status(reply: &Value, services: &[Value]) {
    let phase = reply.get("phase").and_then(Value::as_str).unwrap_or("?");
    match reply.get("seconds_left").and_then(Value::as_f64) {
        Some(left) => println!("phase: {phase} ({left:.1} s left)"),
        None => println!("phase: {phase}"),
    }
    println!(
        "{:<16} {:<9} {:>7} {:>9} {:>8}  {:<14} NOTE",
        "NAME", "STATE", "PID", "UPTIME", "RESTARTS", "LAST EXIT"
    );
    for s in services {
        let text = |k: &str| match s.get(k) {
            Some(Value::String(v)) => v.clone(),
            Some(v @ (Value::Number(_) | Value::Bool(_))) => v.to_string(),
            _ => "-".into(),
        };
        let uptime = match s.get("uptime_ms").and_then(Value::as_f64) {
            Some(ms) => format_duration(ms / 1000.0),
            None => "-".into(),
        };
        let mut note: Vec<String> = s
            .get("reason")
            .and_then(Value::as_str)
            .map(String::from)
            .into_iter()
            .collect();
        note.extend(s.get("notify").and_then(Value::as_str).map(String::from));
        note.extend(
            s.get("status_text")
                .and_then(Value::as_str)
                .map(|t| format!("status: {t}")),
        );
        note.extend(s.get("health").map(health_note));
        let mut usage = Vec::new();
        if let Some(b) = s.get("memory_bytes").and_then(Value::as_f64) {
            usage.push(format!("mem {:.1}M", b / 1048576.0));
        }
        if let Some(us) = s.get("cpu_usec").and_then(Value::as_f64) {
            usage.push(format!("cpu {:.2}s", us / 1e6));
        }
        if !usage.is_empty() {
            note.push(usage.join(", "));
        }
        println!(
            "{:<16} {:<9} {:>7} {:>9} {:>8}  {:<14} {}",
            text("name"),
            text("state"),
            text("pid"),
            uptime,
            text("restarts"),
            text("last_exit"),
            note.join("; ")
        );
    }
}

/// `health: healthy`, or with the failures in a row and the last reason.
fn health_note(health: &Value) -> String {
    let state = health.get("state").and_then(Value::as_str).unwrap_or("?");
    let failures = health.get("failures").and_then(Value::as_u64).unwrap_or(0);
    match health.get("last_failure").and_then(Value::as_str) {
        Some(reason) if failures > 0 => {
            format!("health: {state}, {failures} failed in a row, last: {reason}")
        }
        _ => format!("health: {state}"),
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
            Ok(Request::Kill {
                name: "db".into(),
                signal: "HUP".into()
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
    fn json_is_strict_and_keys_belong_to_their_command() {
        let err = |s: &str| parse_request(s).unwrap_err();
        // What the hand-written parser used to accept.
        for bad in [
            r#"{"command":"status","name":01}"#,
            r#"{"command":"status","name":1.}"#,
            r#"{"command":"status","name":"\u+123"}"#,
            r#"{"command":"status"} trailing"#,
        ] {
            assert!(err(bad).contains("invalid JSON"), "{bad}: {}", err(bad));
        }
        assert!(err(r#"{"command":"health","name":"x"}"#).contains("no such key"));
        assert!(err(r#"{"command":"stop","name":"db","signal":"HUP"}"#).contains("no such key"));
        assert_eq!(
            parse_request(r#"{"command":"status","name":null}"#),
            Ok(Request::Status { name: None })
        );
        assert_eq!(parse_request(r#"{"command":"halt"}"#), Ok(Request::Halt {}));
    }

    #[test]
    fn replies_are_one_json_object_each() {
        assert_eq!(Reply::error("no").to_line(), r#"{"ok":false,"error":"no"}"#);
        assert_eq!(
            Reply::message("fine").to_line(),
            r#"{"ok":true,"message":"fine"}"#
        );
        let status = Reply::Status {
            ok: true,
            phase: "running",
            seconds_left: None,
            services: vec![ServiceStatus {
                name: "db".into(),
                state: "running".into(),
                pid: Some(12),
                uptime_ms: Some(2500),
                restarts: 0,
                last_exit: None,
                ready: true,
                reason: None,
                health: None,
                status_text: None,
                memory_bytes: None,
                cpu_usec: None,
                notify: None,
            }],
        };
        assert_eq!(
            status.to_line(),
            r#"{"ok":true,"phase":"running","seconds_left":null,"services":[{"name":"db","state":"running","pid":12,"uptime_ms":2500,"restarts":0,"last_exit":null,"ready":true,"reason":null}]}"#
        );
    }

    #[test]
    fn durations_for_people() {
        assert_eq!(format_duration(5.2), "5s");
        assert_eq!(format_duration(63.0), "1m03s");
        assert_eq!(format_duration(7300.0), "2h01m");
    }
}
