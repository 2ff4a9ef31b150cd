//! VM duties (DESIGN §7): detecting that rinit is the kernel's init, early mounts, the
//! hostname, ctrl-alt-del, and the final sync, unmount and `reboot(2)`.
//!
//! In a container none of this runs: rinit is then PID 1 of a child PID namespace, where
//! `reboot(2)` would only kill it. The decisions — which signal asks for which power
//! action, which mounts are missing, in what order to unmount — are pure functions,
//! unit-tested; the rest are thin system calls whose failures are logged, never fatal.

use std::io::Write;
use std::time::Duration;

use log::{info, warn};

/// The inode of the initial PID namespace (PROC_PID_INIT_INO).
pub const PROC_PID_INIT_INO: u64 = 4026531836;

/// What the machine does at the end of a shutdown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PowerAction {
    PowerOff,
    Reboot,
    Halt,
}

impl PowerAction {
    /// The action a signal asks for in VM mode (SIGINT is ctrl-alt-del: reboot).
    pub fn for_signal(sig: i32) -> PowerAction {
        match sig {
            libc::SIGINT => PowerAction::Reboot,
            libc::SIGUSR1 => PowerAction::Halt,
            _ => PowerAction::PowerOff,
        }
    }

    /// The action a control command asks for.
    pub fn for_command(command: &str) -> PowerAction {
        match command {
            "reboot" => PowerAction::Reboot,
            "halt" => PowerAction::Halt,
            _ => PowerAction::PowerOff,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PowerAction::PowerOff => "power off",
            PowerAction::Reboot => "reboot",
            PowerAction::Halt => "halt",
        }
    }

    fn reboot_mode(self) -> nix::sys::reboot::RebootMode {
        use nix::sys::reboot::RebootMode;
        match self {
            PowerAction::PowerOff => RebootMode::RB_POWER_OFF,
            PowerAction::Reboot => RebootMode::RB_AUTOBOOT,
            PowerAction::Halt => RebootMode::RB_HALT_SYSTEM,
        }
    }
}

/// Parse `pid:[4026531836]` (the target of /proc/self/ns/pid) into its inode.
pub fn ns_inode(link: &str) -> Option<u64> {
    link.strip_prefix("pid:[")?.strip_suffix(']')?.parse().ok()
}

/// Is rinit the kernel's init? PID 1 in the initial PID namespace (mounting /proc first
/// if it is not there yet), or `--vm`.
pub fn detect_vm(force: bool) -> bool {
    if force {
        return true;
    }
    if std::process::id() != 1 {
        return false;
    }
    if std::fs::read_link("/proc/self/ns/pid").is_err() {
        let _ = std::fs::create_dir_all("/proc");
        mount(
            "proc",
            "/proc",
            "proc",
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            "",
        );
    }
    std::fs::read_link("/proc/self/ns/pid")
        .ok()
        .and_then(|l| l.to_str().and_then(ns_inode))
        == Some(PROC_PID_INIT_INO)
}

/// An early-boot mount: (source, target, fstype, flags, data).
type MountSpec = (
    &'static str,
    &'static str,
    &'static str,
    libc::c_ulong,
    &'static str,
);

const EARLY_MOUNTS: &[MountSpec] = &[
    (
        "proc",
        "/proc",
        "proc",
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        "",
    ),
    (
        "sysfs",
        "/sys",
        "sysfs",
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        "",
    ),
    ("devtmpfs", "/dev", "devtmpfs", libc::MS_NOSUID, "mode=0755"),
    (
        "devpts",
        "/dev/pts",
        "devpts",
        libc::MS_NOSUID | libc::MS_NOEXEC,
        "gid=5,mode=0620,ptmxmode=0666",
    ),
    (
        "tmpfs",
        "/dev/shm",
        "tmpfs",
        libc::MS_NOSUID | libc::MS_NODEV,
        "mode=1777",
    ),
    (
        "tmpfs",
        "/run",
        "tmpfs",
        libc::MS_NOSUID | libc::MS_NODEV,
        "mode=0755",
    ),
    // For cgroup tracking (src/cgroup.rs), where the kernel has cgroup v2.
    (
        "cgroup2",
        "/sys/fs/cgroup",
        "cgroup2",
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        "",
    ),
];

/// Mount points listed in /proc/self/mountinfo (field 5), in mount order. Pure.
pub fn mount_points(mountinfo: &str) -> Vec<String> {
    mountinfo
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .map(unescape_mount_path)
        .collect()
}

/// mountinfo escapes space, tab, newline and backslash as octal (`\040`).
pub fn unescape_mount_path(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('\\') {
        out.push_str(rest.get(..i).unwrap_or_default());
        let code = rest
            .get(i + 1..i + 4)
            .and_then(|o| u8::from_str_radix(o, 8).ok());
        match code {
            Some(c) => {
                out.push(char::from(c));
                rest = rest.get(i + 4..).unwrap_or_default();
            }
            None => {
                out.push('\\');
                rest = rest.get(i + 1..).unwrap_or_default();
            }
        }
    }
    out.push_str(rest);
    out
}

/// The early mounts whose target is not mounted yet. Pure.
fn missing_mounts(mounted: &[String]) -> Vec<&'static MountSpec> {
    EARLY_MOUNTS
        .iter()
        .filter(|m| !mounted.iter().any(|p| p == m.1))
        .collect()
}

/// What to unmount at the end, in order: everything but `/`, newest first. Pure.
pub fn unmount_order(mounted: &[String]) -> Vec<String> {
    let mut order: Vec<String> = mounted
        .iter()
        .filter(|p| p.as_str() != "/")
        .cloned()
        .collect();
    order.reverse();
    order.dedup();
    order
}

fn mount(source: &str, target: &str, fstype: &str, flags: libc::c_ulong, data: &str) -> bool {
    let flags = nix::mount::MsFlags::from_bits_truncate(flags);
    nix::mount::mount(Some(source), target, Some(fstype), flags, Some(data)).is_ok()
}

fn read_mount_points() -> Vec<String> {
    mount_points(&std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default())
}

/// Early boot: the missing mounts, a console for our output, the hostname, and
/// ctrl-alt-del turned into SIGINT.
pub fn early_boot(hostname: Option<&str>) {
    for (source, target, fstype, flags, data) in missing_mounts(&read_mount_points()) {
        let _ = std::fs::create_dir_all(target);
        if !mount(source, target, fstype, *flags, data) {
            warn!(
                "cannot mount {fstype} on {target}: {}",
                std::io::Error::last_os_error()
            );
        }
    }
    ensure_console();
    if let Some(name) = hostname {
        if let Err(e) = nix::unistd::sethostname(name) {
            warn!("cannot set the hostname: {e}");
        }
    }
    // Ctrl-alt-del then sends SIGINT to init instead of rebooting at once.
    if let Err(e) = nix::sys::reboot::set_cad_enabled(false) {
        warn!("cannot disable ctrl-alt-del: {e}");
    }
}

/// If stdout is not open (an initramfs without /dev/console), use /dev/console.
fn ensure_console() {
    use nix::fcntl::{FcntlArg, OFlag, fcntl, open};
    if fcntl(std::io::stdout(), FcntlArg::F_GETFD).is_ok() {
        return;
    }
    let flags = OFlag::O_RDWR | OFlag::O_NOCTTY;
    if let Ok(console) = open("/dev/console", flags, nix::sys::stat::Mode::empty()) {
        let _ = nix::unistd::dup2_stdin(&console);
        let _ = nix::unistd::dup2_stdout(&console);
        let _ = nix::unistd::dup2_stderr(&console);
    }
}

/// How long the final sync and unmounts may take before the machine goes down anyway: a
/// dead disk or a hung network filesystem must not keep it up forever.
pub const SYNC_TIMEOUT: Duration = Duration::from_secs(10);

/// The end of a VM's life: kill what is left (`kill(-1)` is allowed here and only here),
/// sync, unmount, and `reboot(2)`. The sync and unmounts run in a child, waited for at
/// most [`SYNC_TIMEOUT`]. Never returns.
pub fn finish(action: PowerAction) -> ! {
    info!(
        "{}: killing what is left, syncing, unmounting",
        action.name()
    );
    // In VM mode rinit is the machine's init: everything else may go.
    let everyone = nix::unistd::Pid::from_raw(-1);
    let _ = nix::sys::signal::kill(everyone, nix::sys::signal::Signal::SIGKILL);
    reap_all();
    let until = std::time::Instant::now() + Duration::from_secs(1);
    crate::logs::rinit_lines().flush_until(until);
    // SAFETY: rinit is single-threaded; the child only syncs, unmounts and exits.
    match unsafe { libc::fork() } {
        0 => {
            sync_and_unmount();
            // SAFETY: leaving the child without running rinit's exit path.
            unsafe { libc::_exit(0) }
        }
        -1 => sync_and_unmount(),
        child => {
            if !wait_child(child, SYNC_TIMEOUT) {
                warn!(
                    "sync and unmount still running after {} s; going down anyway",
                    SYNC_TIMEOUT.as_secs()
                );
            }
        }
    }
    crate::logs::rinit_lines().flush_until(std::time::Instant::now() + Duration::from_secs(1));
    let _ = std::io::stdout().flush();
    // On success reboot(2) does not return.
    let Err(e) = nix::sys::reboot::reboot(action.reboot_mode());
    warn!("reboot(2) failed: {e}; waiting forever");
    crate::logs::rinit_lines().flush_until(std::time::Instant::now() + Duration::from_secs(1));
    loop {
        nix::unistd::pause();
    }
}

/// sync, unmount what can be (newest first), remount / read-only, sync again.
fn sync_and_unmount() {
    nix::unistd::sync();
    for target in unmount_order(&read_mount_points()) {
        if nix::mount::umount2(target.as_str(), nix::mount::MntFlags::empty()).is_err() {
            let ro = libc::MS_REMOUNT | libc::MS_RDONLY;
            // /proc, /sys and /dev may stay busy; that is harmless for a power-off.
            let _ = mount("", &target, "", ro, "");
        }
    }
    let _ = mount("", "/", "", libc::MS_REMOUNT | libc::MS_RDONLY, "");
    nix::unistd::sync();
}

/// Wait for `child` to exit, at most `limit`, reaping any other child on the way:
/// SIGCHLD is blocked (rinit reads signals from a signalfd), so `sigtimedwait` sleeps
/// until a child changes state or time is up.
fn wait_child(child: i32, limit: Duration) -> bool {
    let until = std::time::Instant::now() + limit;
    loop {
        loop {
            match reap_one() {
                Reaped::Child(pid) if pid == child => return true,
                Reaped::NoChildren => return true,
                Reaped::NoneExited => break,
                Reaped::Child(_) => {}
            }
        }
        let left = until.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return false;
        }
        let timeout = nix::sys::time::TimeSpec::from(left);
        // SAFETY: set and timeout are valid; a null info pointer is allowed.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGCHLD);
            libc::sigtimedwait(&set, std::ptr::null_mut(), timeout.as_ref());
        }
    }
}

fn reap_all() {
    while let Reaped::Child(_) = reap_one() {}
}

/// What one `waitpid(-1, WNOHANG)` found.
enum Reaped {
    Child(i32),
    NoneExited,
    NoChildren,
}

/// Reap one exited child, whatever its status. nix cannot decode a death by a real-time
/// signal and says EINVAL, but the child is reaped all the same; its pid is unknown.
fn reap_one() -> Reaped {
    use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
    match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::StillAlive) => Reaped::NoneExited,
        Ok(status) => Reaped::Child(status.pid().map_or(0, nix::unistd::Pid::as_raw)),
        Err(nix::errno::Errno::EINVAL) => Reaped::Child(0),
        Err(_) => Reaped::NoChildren,
    }
}

/// A configuration error in VM mode: show it on the console, wait a little so a person
/// can read it, and power off rather than let the kernel panic.
pub fn fatal(message: &str) -> ! {
    ensure_console();
    eprintln!("rinit: fatal: {message}");
    eprintln!("rinit: powering off in 5 seconds");
    std::thread::sleep(Duration::from_secs(5));
    finish(PowerAction::PowerOff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_map_to_power_actions() {
        assert_eq!(PowerAction::for_signal(libc::SIGPWR), PowerAction::PowerOff);
        assert_eq!(
            PowerAction::for_signal(libc::SIGTERM),
            PowerAction::PowerOff
        );
        assert_eq!(
            PowerAction::for_signal(libc::SIGUSR2),
            PowerAction::PowerOff
        );
        assert_eq!(PowerAction::for_signal(libc::SIGINT), PowerAction::Reboot);
        assert_eq!(PowerAction::for_signal(libc::SIGUSR1), PowerAction::Halt);
        assert_eq!(PowerAction::for_command("reboot"), PowerAction::Reboot);
        assert_eq!(PowerAction::for_command("halt"), PowerAction::Halt);
        assert_eq!(PowerAction::for_command("shutdown"), PowerAction::PowerOff);
    }

    #[test]
    fn reads_the_namespace_inode() {
        assert_eq!(ns_inode("pid:[4026531836]"), Some(PROC_PID_INIT_INO));
        assert_eq!(ns_inode("pid:[4026532201]"), Some(4026532201));
        assert_eq!(ns_inode("net:[1]"), None);
    }

    const MOUNTINFO: &str = "\
22 1 0:21 / / rw,relatime - rootfs rootfs rw
23 22 0:22 / /proc rw,nosuid,nodev,noexec - proc proc rw
24 22 0:5 / /dev rw,nosuid - devtmpfs devtmpfs rw,mode=755
25 24 0:23 / /dev/pts rw - devpts devpts rw
26 22 0:24 / /mnt/with\\040space rw - tmpfs tmpfs rw
";

    #[test]
    fn parses_mountinfo_and_plans_mounts() {
        let points = mount_points(MOUNTINFO);
        assert_eq!(
            points,
            vec!["/", "/proc", "/dev", "/dev/pts", "/mnt/with space"]
        );
        let missing: Vec<&str> = missing_mounts(&points).iter().map(|m| m.1).collect();
        assert_eq!(missing, vec!["/sys", "/dev/shm", "/run", "/sys/fs/cgroup"]);
        assert_eq!(
            unmount_order(&points),
            vec!["/mnt/with space", "/dev/pts", "/dev", "/proc"]
        );
    }
}
