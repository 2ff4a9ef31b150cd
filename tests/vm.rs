//! Booting a real Linux kernel with rinit as PID 1 (DESIGN §7), under qemu.
//!
//! `tests/vm/setup.sh` fetches Debian's kernel and qemu into target/vm/; each test builds
//! an initramfs (cpio newc, written here) holding the static rinit, busybox-static and a
//! configuration, boots it with `rdinit=/sbin/rinit`, and asserts on the serial console
//! and on qemu's exit: mounts, start order, and each way to power off or reboot. Without
//! the prerequisites the tests are skipped, unless `RINIT_REQUIRE_VM=1` (as in CI).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const BOOT_LIMIT: Duration = Duration::from_secs(90);

fn vm_dir() -> PathBuf {
    Path::new(ROOT).join("target/vm")
}

fn static_rinit() -> PathBuf {
    Path::new(ROOT).join("target/static/rinit")
}

/// One VM at a time: two cores cannot emulate two machines quickly.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn ready() -> Option<std::sync::MutexGuard<'static, ()>> {
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let have = [
        vm_dir().join("vmlinuz"),
        vm_dir().join("qemu-system-x86_64"),
        static_rinit(),
        PathBuf::from("/bin/busybox"),
    ];
    let missing: Vec<String> = have
        .iter()
        .filter(|p| !p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if missing.is_empty() {
        return Some(guard);
    }
    assert!(
        std::env::var_os("RINIT_REQUIRE_VM").is_none(),
        "VM prerequisites missing (run tests/vm/setup.sh and make static): {missing:?}"
    );
    eprintln!("skipped: missing {missing:?} (run tests/vm/setup.sh and make static)");
    None
}

// ----- a cpio newc writer ------------------------------------------------------------

struct Cpio {
    out: Vec<u8>,
    ino: u32,
}

impl Cpio {
    fn new() -> Cpio {
        Cpio {
            out: Vec::new(),
            ino: 1,
        }
    }

    fn entry(&mut self, name: &str, mode: u32, rdev: (u32, u32), data: &[u8]) {
        let name = name.trim_start_matches('/');
        let header = format!(
            "070701{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
            self.ino,
            mode,
            0,
            0,
            1,
            0,
            data.len(),
            0,
            0,
            rdev.0,
            rdev.1,
            name.len() + 1,
            0
        );
        self.ino += 1;
        self.out.extend_from_slice(header.as_bytes());
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(0);
        self.pad();
        self.out.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.out.len().is_multiple_of(4) {
            self.out.push(0);
        }
    }

    fn dir(&mut self, name: &str) {
        self.entry(name, 0o040755, (0, 0), &[]);
    }

    fn file(&mut self, name: &str, mode: u32, data: &[u8]) {
        self.entry(name, 0o100000 | mode, (0, 0), data);
    }

    fn symlink(&mut self, name: &str, target: &str) {
        self.entry(name, 0o120777, (0, 0), target.as_bytes());
    }

    fn chardev(&mut self, name: &str, major: u32, minor: u32) {
        self.entry(name, 0o020600, (major, minor), &[]);
    }

    fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, (0, 0), &[]);
        self.out
    }
}

/// An initramfs with rinit, busybox and `config` as /etc/rinit/rinit.toml.
fn initramfs(config: &str) -> Vec<u8> {
    let mut c = Cpio::new();
    for d in [
        "bin",
        "sbin",
        "etc",
        "etc/rinit",
        "proc",
        "sys",
        "dev",
        "run",
        "tmp",
        "root",
    ] {
        c.dir(d);
    }
    c.chardev("dev/console", 5, 1);
    c.file("sbin/rinit", 0o755, &std::fs::read(static_rinit()).unwrap());
    c.file(
        "bin/busybox",
        0o755,
        &std::fs::read("/bin/busybox").unwrap(),
    );
    for applet in [
        "sh", "sleep", "echo", "cat", "kill", "ls", "grep", "touch", "test", "hostname", "dd",
    ] {
        c.symlink(&format!("bin/{applet}"), "busybox");
    }
    c.file("etc/rinit/rinit.toml", 0o644, config.as_bytes());
    c.finish()
}

// ----- booting -----------------------------------------------------------------------

struct Vm {
    child: Child,
    dir: PathBuf,
}

impl Vm {
    fn boot(config: &str) -> Vm {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "rinit-vm-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("initrd"), initramfs(config)).unwrap();
        // KVM only on request: where nested virtualisation is broken, a KVM guest can hang
        // without a word, while TCG boots to PID 1 in a few seconds everywhere.
        let kvm = std::env::var("RINIT_VM_ACCEL").is_ok_and(|a| a == "kvm");
        let mut cmd = Command::new(vm_dir().join("qemu-system-x86_64"));
        cmd.args([
            "-m",
            "256",
            "-no-reboot",
            "-display",
            "none",
            "-vga",
            "none",
            "-nodefaults",
        ])
        .args(["-accel", if kvm { "kvm" } else { "tcg" }, "-accel", "tcg"])
        .arg("-kernel")
        .arg(vm_dir().join("vmlinuz"))
        .arg("-initrd")
        .arg(dir.join("initrd"))
        .args(["-append", "console=ttyS0 rdinit=/sbin/rinit panic=-1 quiet"])
        .arg("-serial")
        .arg(format!("file:{}", dir.join("serial").display()))
        .arg("-qmp")
        .arg(format!(
            "unix:{},server=on,wait=off",
            dir.join("qmp").display()
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("qemu.err")).unwrap());
        Vm {
            child: cmd.spawn().expect("cannot start qemu"),
            dir,
        }
    }

    fn serial(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(self.dir.join("serial")).unwrap_or_default())
            .into_owned()
    }

    fn wait_serial(&self, needle: &str) {
        let start = Instant::now();
        while !self.serial().contains(needle) {
            assert!(
                start.elapsed() < BOOT_LIMIT,
                "no {needle:?} on the console:\n{}",
                self.serial()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Wait for qemu to exit by itself; return (exit code, seconds, console).
    fn wait(&mut self) -> (i32, f64, String) {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let console = self.serial();
                assert!(!console.contains("Attempted to kill init"), "{console}");
                assert!(!console.contains("Kernel panic"), "{console}");
                return (
                    status.code().unwrap_or(-1),
                    start.elapsed().as_secs_f64(),
                    console,
                );
            }
            assert!(
                start.elapsed() < BOOT_LIMIT,
                "qemu did not exit; console:\n{}",
                self.serial()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Press ctrl-alt-delete through QMP.
    fn ctrl_alt_delete(&self) {
        let mut qmp = UnixStream::connect(self.dir.join("qmp")).unwrap();
        qmp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = [0u8; 4096];
        let _ = qmp.read(&mut buf).unwrap();
        qmp.write_all(b"{\"execute\":\"qmp_capabilities\"}\n")
            .unwrap();
        let _ = qmp.read(&mut buf).unwrap();
        let keys = r#"{"execute":"send-key","arguments":{"keys":[{"type":"qcode","data":"ctrl"},{"type":"qcode","data":"alt"},{"type":"qcode","data":"delete"}]}}"#;
        qmp.write_all(format!("{keys}\n").as_bytes()).unwrap();
        let n = qmp.read(&mut buf).unwrap();
        let reply = String::from_utf8_lossy(&buf[..n]);
        assert!(reply.contains("return"), "QMP: {reply}");
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- console ---\n{}\n--- qemu ---\n{}",
                self.serial(),
                std::fs::read_to_string(self.dir.join("qemu.err")).unwrap_or_default()
            );
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn pos(console: &str, needle: &str) -> usize {
    console
        .find(needle)
        .unwrap_or_else(|| panic!("no {needle:?} on the console:\n{console}"))
}

/// Services that show the boot: mounts, hostname, start order; `power` does `action`.
fn config(action: &str) -> String {
    format!(
        r#"
[rinit]
hostname = "rinit-vm"

[service.first]
oneshot = true
shell = true
exec = "echo MARK first; cat /proc/mounts; echo MARK hostname $(hostname)"

[service.second]
after = ["first"]
shell = true
exec = "echo MARK second; trap 'echo MARK second stopping; exit 0' TERM; while :; do sleep 1 & wait; done"

[service.power]
after = ["second"]
shell = true
exec = "echo MARK ready; {action}; while :; do sleep 1 & wait; done"
"#
    )
}

#[test]
fn boots_mounts_starts_in_order_and_powers_off_on_sigpwr() {
    let Some(_serial) = ready() else { return };
    let mut vm = Vm::boot(&config("kill -PWR 1"));
    let (code, secs, console) = vm.wait();
    eprintln!("SIGPWR boot: qemu exited {code} after {secs:.1} s");
    assert_eq!(code, 0, "{console}");
    for mount in [
        "proc /proc proc",
        "sysfs /sys sysfs",
        "devtmpfs /dev devtmpfs",
        "devpts /dev/pts devpts",
        "tmpfs /dev/shm tmpfs",
        "tmpfs /run tmpfs",
    ] {
        assert!(console.contains(mount), "{mount:?} not mounted:\n{console}");
    }
    assert!(console.contains("MARK hostname rinit-vm"), "{console}");
    // Start order as rinit enforces it: the oneshot has exited before `second` starts,
    // and `second` is started (ready at once) before `power`. (The services' own output
    // may interleave in any order.)
    assert!(pos(&console, "first | MARK first") < pos(&console, "first exited"));
    assert!(pos(&console, "first exited") < pos(&console, "started second"));
    assert!(pos(&console, "started second") < pos(&console, "started power"));
    assert!(
        console.contains("shutting down (SIGPWR received"),
        "{console}"
    );
    assert!(
        pos(&console, "stopping power") < pos(&console, "stopping second"),
        "{console}"
    );
    assert!(
        console.contains("second | MARK second stopping"),
        "{console}"
    );
    assert!(console.contains("shutdown report"), "{console}");
    assert!(console.contains("reboot: Power down"), "{console}");
}

#[test]
fn ctrl_alt_delete_reboots() {
    let Some(_serial) = ready() else { return };
    let mut vm = Vm::boot(&config("true"));
    vm.wait_serial("power | MARK ready");
    vm.ctrl_alt_delete();
    let (code, _, console) = vm.wait();
    assert_eq!(code, 0, "{console}");
    assert!(
        console.contains("shutting down (SIGINT received"),
        "{console}"
    );
    assert!(console.contains("reboot: Restarting system"), "{console}");
}

#[test]
fn rinit_ctl_poweroff_from_a_guest_service() {
    let Some(_serial) = ready() else { return };
    let mut vm = Vm::boot(&config("/sbin/rinit ctl poweroff"));
    let (code, _, console) = vm.wait();
    assert_eq!(code, 0, "{console}");
    assert!(console.contains("shutting down (ctl poweroff"), "{console}");
    assert!(console.contains("reboot: Power down"), "{console}");
}

#[test]
fn a_broken_config_is_shown_and_powers_off() {
    let Some(_serial) = ready() else { return };
    let mut vm = Vm::boot("[service.broken]\nexec = \"true\"\nafter = [\"nowhere\"]\n");
    let (code, _, console) = vm.wait();
    assert_eq!(code, 0, "{console}");
    assert!(
        console.contains("rinit: fatal:") && console.contains("nowhere"),
        "{console}"
    );
    assert!(
        pos(&console, "powering off in 5 seconds") < pos(&console, "reboot: Power down"),
        "{console}"
    );
}

#[test]
fn sigusr1_halts() {
    let Some(_serial) = ready() else { return };
    // A halted machine stays on: qemu does not exit, so watch the console instead.
    let vm = Vm::boot(&config("kill -USR1 1"));
    vm.wait_serial("reboot: System halted");
    let console = vm.serial();
    assert!(
        console.contains("shutting down (SIGUSR1 received"),
        "{console}"
    );
    assert!(pos(&console, "shutdown report") < pos(&console, "reboot: System halted"));
}

#[test]
fn cgroups_limit_memory_and_processes_and_report_an_oom_kill() {
    let Some(_serial) = ready() else { return };
    let config = r#"
[service.hog]
exec = "dd if=/dev/zero of=/dev/null bs=64M count=1"
memory_max = "16M"

[service.forker]
shell = true
exec = "for i in 1 2 3 4 5 6 7 8; do sleep 100 & done; echo MARK forked; wait"
pids_max = 4

[service.power]
after = ["hog", "forker"]
shell = true
exec = "while ! /sbin/rinit ctl status hog | grep -q failed; do sleep 1; done; /sbin/rinit ctl status; cat /sys/fs/cgroup/forker/pids.max; kill -PWR 1; while :; do sleep 1 & wait; done"
"#;
    let mut vm = Vm::boot(config);
    let (code, _, console) = vm.wait();
    assert_eq!(code, 0, "{console}");
    // rinit, PID 1, mounted cgroup2 and enabled the controllers for the services.
    let line = console
        .lines()
        .find(|l| l.contains("cgroups: each service in its own group under /sys/fs/cgroup "))
        .unwrap_or_else(|| panic!("no cgroups line:\n{console}"));
    for controller in ["cpu", "memory", "pids"] {
        assert!(line.contains(controller), "{line}");
    }
    assert!(
        console.contains("hog: killed by the OOM killer (memory_max 16M)"),
        "{console}"
    );
    assert!(
        console.contains("hog failed: SIGKILL: killed by the OOM killer (memory_max 16M)"),
        "an OOM kill is a failure, with its reason:\n{console}"
    );
    // Four processes at most: the shell and three sleeps; the other forks fail.
    assert!(console.contains("power | 4"), "pids.max is 4:\n{console}");
    assert!(
        console.contains("can't fork") || console.contains("Resource temporarily unavailable"),
        "{console}"
    );
    assert!(
        console.contains("mem "),
        "ctl status shows memory:\n{console}"
    );
}

/// An exec check runs in its service's group (`.probe` below it), so the service's
/// `memory_max` covers it: a check that allocates 64 MiB under a 16 MiB limit is killed by
/// the OOM killer and counts as a failed check, while the service runs on.
#[test]
fn a_services_memory_limit_covers_its_exec_checks() {
    let Some(_serial) = ready() else { return };
    let config = r#"
[service.web]
exec = "sleep 1000"
memory_max = "16M"
health = "exec:dd if=/dev/zero of=/dev/null bs=64M count=1"
health_interval = "200ms"
health_retries = 100

[service.power]
after = ["web"]
shell = true
exec = "while ! /sbin/rinit ctl status web | grep -q 'last: SIGKILL'; do sleep 1; done; cat /sys/fs/cgroup/web/memory.events; kill -PWR 1; while :; do sleep 1 & wait; done"
"#;
    let mut vm = Vm::boot(config);
    let (code, _, console) = vm.wait();
    assert_eq!(code, 0, "{console}");
    assert!(
        console.contains("web: health check failed (1 of 100): SIGKILL"),
        "the check was killed by the service's limit:\n{console}"
    );
    assert!(
        console.contains("web: its check was killed by the OOM killer (memory_max 16M)"),
        "{console}"
    );
    assert!(
        console
            .lines()
            .any(|l| l.contains("power | oom_kill ") && !l.ends_with("oom_kill 0")),
        "the OOM kill was the service group's:\n{console}"
    );
    assert!(!console.contains("web failed"), "web runs on:\n{console}");
    assert!(
        !console.contains("web: the OOM killer"),
        "the checks' OOM kills are not the service's:\n{console}"
    );
}
