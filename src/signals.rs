//! Signals: what each one means to rinit, their names, and the signalfd they arrive on.
//!
//! rinit blocks every signal it handles and reads them from one signalfd in the event
//! loop, so no code runs in signal-handler context. Which signal does what is one table,
//! [`disposition`], kept pure so it can be unit-tested; children get a clean mask and
//! default dispositions back in `spawn`.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd};

/// What rinit does when a signal arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Start the ordered shutdown (SIGTERM, SIGINT, SIGPWR, SIGRTMIN+3).
    Shutdown,
    /// Reap children (SIGCHLD).
    Reap,
    /// Pass the signal on to the main service, if there is one.
    Forward,
    /// Ignore it (SIGPIPE; SIGTTIN/SIGTTOU, which would otherwise stop rinit at a terminal).
    Ignore,
    /// Leave the default action: faults raised by rinit itself (SIGSEGV, SIGBUS, …).
    Default,
}

/// Highest signal number on Linux.
pub const SIGMAX: i32 = 64;

/// SIGRTMIN as the world names it: 34, glibc's value, which systemd (SIGRTMIN+3),
/// Docker's STOPSIGNAL and the kill(1) of most systems use. (musl reserves one more and
/// would say 35; rinit does not depend on its C library for this.)
pub fn sigrtmin() -> i32 {
    34
}

/// SIGRTMAX: the kernel's last signal.
pub fn sigrtmax() -> i32 {
    SIGMAX
}

/// SIGRTMIN+3: systemd's "halt" signal, used as STOPSIGNAL by systemd-based images.
pub fn sigrtmin3() -> i32 {
    sigrtmin() + 3
}

/// The role of signal `sig` for rinit. Pure: the whole signal policy is this table.
pub fn disposition(sig: i32) -> Disposition {
    match sig {
        libc::SIGTERM | libc::SIGINT | libc::SIGPWR => Disposition::Shutdown,
        s if s == sigrtmin3() => Disposition::Shutdown,
        libc::SIGCHLD => Disposition::Reap,
        libc::SIGPIPE | libc::SIGTTIN | libc::SIGTTOU => Disposition::Ignore,
        libc::SIGHUP
        | libc::SIGQUIT
        | libc::SIGUSR1
        | libc::SIGUSR2
        | libc::SIGALRM
        | libc::SIGWINCH
        | libc::SIGTSTP
        | libc::SIGCONT
        | libc::SIGURG
        | libc::SIGIO
        | libc::SIGVTALRM
        | libc::SIGPROF
        | libc::SIGXCPU
        | libc::SIGXFSZ
        | libc::SIGSTKFLT => Disposition::Forward,
        s if (sigrtmin()..=sigrtmax()).contains(&s) => Disposition::Forward,
        _ => Disposition::Default,
    }
}

/// The role of `sig` when rinit may be the kernel's init: in VM mode SIGUSR1 (halt) and
/// SIGUSR2 (power off) are shutdown triggers too, as with sysvinit and systemd.
pub fn disposition_for(sig: i32, vm: bool) -> Disposition {
    if vm && (sig == libc::SIGUSR1 || sig == libc::SIGUSR2) {
        Disposition::Shutdown
    } else {
        disposition(sig)
    }
}

/// The signals rinit reads from its signalfd: every one whose disposition is not `Default`
/// or `Ignore`.
pub fn handled() -> impl Iterator<Item = i32> {
    (1..=SIGMAX).filter(|&s| {
        !matches!(disposition(s), Disposition::Default | Disposition::Ignore)
            && s != libc::SIGKILL
            && s != libc::SIGSTOP
    })
}

const NAMES: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("IOT", libc::SIGABRT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("POLL", libc::SIGIO),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
];

/// Parse a signal given as `SIGTERM`, `TERM`, `term`, `15`, `SIGRTMIN+3` or `RTMAX-1`.
pub fn parse(text: &str) -> Result<i32, String> {
    let t = text.trim();
    if let Ok(n) = t.parse::<i32>() {
        return if (1..=SIGMAX).contains(&n) {
            Ok(n)
        } else {
            Err(format!("signal number {n} is out of range 1..{SIGMAX}"))
        };
    }
    let upper = t.to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(&(_, n)) = NAMES.iter().find(|(name, _)| *name == bare) {
        return Ok(n);
    }
    parse_realtime(bare).ok_or_else(|| {
        format!("unknown signal {text:?} (expected a name like SIGTERM or TERM, or a number)")
    })
}

fn parse_realtime(bare: &str) -> Option<i32> {
    let (base, rest) = if let Some(rest) = bare.strip_prefix("RTMIN") {
        (sigrtmin(), rest)
    } else {
        (sigrtmax(), bare.strip_prefix("RTMAX")?)
    };
    let n = if rest.is_empty() {
        base
    } else if let Some(k) = rest.strip_prefix('+') {
        base + k.parse::<i32>().ok()?
    } else {
        base - rest.strip_prefix('-')?.parse::<i32>().ok()?
    };
    (sigrtmin()..=sigrtmax()).contains(&n).then_some(n)
}

/// A signal's name for logs and reports: `SIGTERM`, `SIGRTMIN+3`, or `signal 99`.
pub fn name(sig: i32) -> String {
    if let Some((n, _)) = NAMES.iter().find(|&&(_, s)| s == sig) {
        // Joined by hand: this names the signal that begins a shutdown, on the way to its
        // first stop signal.
        let mut name = String::from("SIG");
        name.push_str(n);
        return name;
    }
    if (sigrtmin()..=sigrtmax()).contains(&sig) {
        return match sig - sigrtmin() {
            0 => "SIGRTMIN".to_string(),
            k => format!("SIGRTMIN+{k}"),
        };
    }
    format!("signal {sig}")
}

/// A kernel signal set: bit `n - 1` stands for signal `n`. Built and applied with raw
/// system calls, because C libraries refuse to add the signals they reserve (32–34).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SigSet(u64);

impl SigSet {
    pub fn empty() -> Self {
        SigSet(0)
    }

    pub fn of(signals: impl IntoIterator<Item = i32>) -> Self {
        let bits = signals
            .into_iter()
            .filter(|s| (1..=SIGMAX).contains(s))
            .fold(0u64, |bits, s| bits | (1u64 << (s - 1)));
        SigSet(bits)
    }

    #[cfg(test)]
    pub fn contains(&self, sig: i32) -> bool {
        (1..=SIGMAX).contains(&sig) && self.0 & (1u64 << (sig - 1)) != 0
    }
}

/// Change the signal mask of the calling (only) thread: rt_sigprocmask(2).
pub fn set_mask(how: libc::c_int, set: &SigSet) -> io::Result<()> {
    // SAFETY: the kernel reads 8 bytes from the set; the old-set pointer may be null.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            how,
            &set.0 as *const u64,
            std::ptr::null_mut::<u64>(),
            8usize,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The kernel's `struct sigaction` for rt_sigaction(2) on x86_64 and aarch64.
#[repr(C)]
struct KernelSigaction {
    handler: libc::sighandler_t,
    flags: libc::c_ulong,
    restorer: libc::sighandler_t,
    mask: u64,
}

/// Set a signal's disposition to SIG_DFL or SIG_IGN. This calls rt_sigaction(2) directly:
/// the C library refuses the signals it reserves (32 and 33), which a parent may have
/// left ignored and which a child must not inherit that way.
pub fn set_action(sig: i32, handler: libc::sighandler_t) {
    let action = KernelSigaction {
        handler,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    // SAFETY: SIG_DFL and SIG_IGN need no restorer; errors for SIGKILL/SIGSTOP are
    // harmless and ignored.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            sig,
            &action as *const KernelSigaction,
            std::ptr::null_mut::<KernelSigaction>(),
            8usize,
        );
    }
}

/// Block every signal rinit handles, give them default dispositions (a signal that is
/// ignored is discarded even when blocked, and rinit may have inherited SIG_IGN), ignore
/// the ignored ones, and return a non-blocking signalfd that delivers them.
pub fn take_over() -> io::Result<SignalFd> {
    for sig in 1..=SIGMAX {
        match disposition(sig) {
            Disposition::Ignore => set_action(sig, libc::SIG_IGN),
            Disposition::Default => {}
            _ => set_action(sig, libc::SIG_DFL),
        }
    }
    let set = SigSet::of(handled());
    set_mask(libc::SIG_BLOCK, &set)?;
    // SAFETY: signalfd4(2) reads an 8-byte set; -1 asks for a new fd, which we then own.
    unsafe {
        let fd = libc::syscall(
            libc::SYS_signalfd4,
            -1,
            &set.0 as *const u64,
            8usize,
            libc::SFD_NONBLOCK | libc::SFD_CLOEXEC,
        ) as i32;
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(SignalFd(OwnedFd::from_raw_fd(fd)))
    }
}

/// The size of one `struct signalfd_siginfo` as read(2) returns it.
const SIGINFO_SIZE: usize = std::mem::size_of::<libc::signalfd_siginfo>();

/// `ssi_signo`, the record's first field (a u32 in native byte order).
fn signo_of(record: &[u8]) -> i32 {
    let mut signo = [0u8; 4];
    if let Some(bytes) = record.get(..4) {
        signo.copy_from_slice(bytes);
    }
    u32::from_ne_bytes(signo) as i32
}

/// The signalfd rinit reads its signals from.
pub struct SignalFd(OwnedFd);

impl SignalFd {
    /// Read the pending signals into `out`, up to [`BATCH`] per call; return how many
    /// (0 when none is pending).
    pub fn read_batch(&self, out: &mut [i32; BATCH]) -> usize {
        let mut buf = [0u8; SIGINFO_SIZE * BATCH];
        let n = nix::unistd::read(&self.0, &mut buf).unwrap_or(0);
        let records = buf.get(..n).unwrap_or_default().chunks_exact(SIGINFO_SIZE);
        let mut count = 0;
        for (slot, record) in out.iter_mut().zip(records) {
            *slot = signo_of(record);
            count += 1;
        }
        count
    }
}

/// Signals read from the signalfd per system call.
pub const BATCH: usize = 16;

impl AsFd for SignalFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers_are_the_documented_four() {
        let triggers: Vec<i32> = (1..=SIGMAX)
            .filter(|&s| disposition(s) == Disposition::Shutdown)
            .collect();
        let mut want = vec![libc::SIGINT, libc::SIGTERM, libc::SIGPWR, sigrtmin3()];
        want.sort();
        assert_eq!(triggers, want);
    }

    #[test]
    fn forwarded_signals() {
        for s in [
            libc::SIGHUP,
            libc::SIGUSR1,
            libc::SIGUSR2,
            libc::SIGWINCH,
            libc::SIGQUIT,
            libc::SIGALRM,
            libc::SIGTSTP,
            libc::SIGCONT,
            sigrtmin(),
            sigrtmin() + 1,
            sigrtmin() + 4,
            sigrtmax(),
        ] {
            assert_eq!(disposition(s), Disposition::Forward, "{}", name(s));
        }
        assert_eq!(disposition(libc::SIGTTIN), Disposition::Ignore);
        assert_eq!(disposition(libc::SIGSEGV), Disposition::Default);
        assert!(handled().all(|s| s != libc::SIGKILL && s != libc::SIGSTOP));
        assert!(handled().any(|s| s == libc::SIGCHLD));
    }

    #[test]
    fn vm_mode_adds_the_power_signals() {
        assert_eq!(disposition_for(libc::SIGUSR1, true), Disposition::Shutdown);
        assert_eq!(disposition_for(libc::SIGUSR2, true), Disposition::Shutdown);
        assert_eq!(disposition_for(libc::SIGUSR1, false), Disposition::Forward);
        assert_eq!(disposition_for(libc::SIGHUP, true), Disposition::Forward);
    }

    #[test]
    fn parses_names_numbers_and_realtime() {
        assert_eq!(parse("SIGTERM"), Ok(libc::SIGTERM));
        assert_eq!(parse("term"), Ok(libc::SIGTERM));
        assert_eq!(parse("sigint"), Ok(libc::SIGINT));
        assert_eq!(parse("9"), Ok(libc::SIGKILL));
        assert_eq!(parse("SIGRTMIN+3"), Ok(sigrtmin3()));
        assert_eq!(parse("RTMAX-1"), Ok(sigrtmax() - 1));
        assert_eq!(parse("RTMIN"), Ok(sigrtmin()));
        assert!(parse("SIGFOO").is_err());
        assert!(parse("0").is_err());
        assert!(parse("65").is_err());
        assert!(parse("RTMIN+99").is_err());
        assert!(parse("RTMIN+").is_err());
    }

    #[test]
    fn signal_sets_are_bitmasks() {
        let set = SigSet::of([libc::SIGTERM, 34, 64, 0, 65]);
        assert!(set.contains(libc::SIGTERM) && set.contains(34) && set.contains(64));
        assert!(!set.contains(libc::SIGINT) && !set.contains(0) && !set.contains(65));
        assert!(SigSet::of(handled()).contains(sigrtmin3()));
        assert_eq!(sigrtmin3(), 37, "systemd's and Docker's SIGRTMIN+3");
    }

    #[test]
    fn names_round_trip() {
        for s in 1..=SIGMAX {
            let n = name(s);
            if !n.starts_with("signal") {
                assert_eq!(parse(&n), Ok(s), "{n}");
            }
        }
        assert_eq!(name(sigrtmin3()), "SIGRTMIN+3");
    }
}
