//! The sd_notify protocol as daemons speak it (sd_notify(3), sd_watchdog_enabled(3)):
//! what one datagram says. Parsing is pure and never fails: unknown fields, malformed
//! values and lines that are not `KEY=VALUE` are ignored, as systemd does; when a field
//! repeats, the last one counts.

use std::time::Duration;

/// The longest `STATUS=` text kept (longer is cut, at a character boundary).
pub const MAX_STATUS: usize = 256;

/// What a service's `WATCHDOG=` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Watchdog {
    /// `WATCHDOG=1`: alive; the watchdog timer starts again.
    Ping,
    /// `WATCHDOG=trigger`: act as if the timer had run out.
    Trigger,
}

/// The fields of one notify message rinit acts on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Notice {
    /// `READY=1`.
    pub ready: bool,
    /// `RELOADING=1`: reloading its configuration until the next `READY=1`.
    pub reloading: bool,
    /// `STOPPING=1`: it is shutting down.
    pub stopping: bool,
    /// `STATUS=…`, control characters replaced, at most [`MAX_STATUS`] bytes.
    pub status: Option<String>,
    /// `MAINPID=N`: its main process is now N (a daemon that forked).
    pub mainpid: Option<i32>,
    /// `ERRNO=N`: why it failed, as an errno.
    pub errno: Option<i32>,
    /// `EXIT_STATUS=…`: why it failed, as it would exit (a number or a name).
    pub exit_status: Option<String>,
    /// `EXTEND_TIMEOUT_USEC=N`: more time for the current ready or stop timeout.
    pub extend_timeout: Option<Duration>,
    pub watchdog: Option<Watchdog>,
}

/// What `message` says. Pure.
pub fn parse(message: &str) -> Notice {
    let mut notice = Notice::default();
    for line in message.lines() {
        let Some((key, value)) = line.trim().split_once('=') else {
            continue;
        };
        match key {
            "READY" => notice.ready = value == "1",
            "RELOADING" => notice.reloading = value == "1",
            "STOPPING" => notice.stopping = value == "1",
            "STATUS" => notice.status = Some(clean_status(value)),
            "MAINPID" => notice.mainpid = value.parse().ok().filter(|p| *p > 1),
            "ERRNO" => notice.errno = value.parse().ok().filter(|e| *e > 0),
            "EXIT_STATUS" if !value.is_empty() => {
                notice.exit_status = Some(clean_status(value));
            }
            "EXTEND_TIMEOUT_USEC" => {
                notice.extend_timeout = value.parse().ok().map(Duration::from_micros);
            }
            "WATCHDOG" => {
                notice.watchdog = match value {
                    "1" => Some(Watchdog::Ping),
                    "trigger" => Some(Watchdog::Trigger),
                    _ => notice.watchdog,
                }
            }
            _ => {}
        }
    }
    notice
}

/// A status text fit to show on one line: control characters as spaces, bounded.
fn clean_status(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if out.len() > MAX_STATUS {
        let mut cut = MAX_STATUS;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_daemons_send() {
        // What PostgreSQL sends once it accepts connections.
        let n = parse("READY=1\nSTATUS=ready to accept connections\n");
        assert!(n.ready);
        assert_eq!(n.status.as_deref(), Some("ready to accept connections"));
        let n = parse("RELOADING=1\nMONOTONIC_USEC=123");
        assert!(n.reloading && !n.ready);
        assert!(parse("STOPPING=1").stopping);
        assert_eq!(parse("MAINPID=4242").mainpid, Some(4242));
        assert_eq!(parse("ERRNO=5").errno, Some(5));
        assert_eq!(parse("EXIT_STATUS=3").exit_status.as_deref(), Some("3"));
        assert_eq!(
            parse("EXTEND_TIMEOUT_USEC=5000000").extend_timeout,
            Some(Duration::from_secs(5))
        );
        assert_eq!(parse("WATCHDOG=1").watchdog, Some(Watchdog::Ping));
        assert_eq!(parse("WATCHDOG=trigger").watchdog, Some(Watchdog::Trigger));
    }

    #[test]
    fn ready_only_as_its_own_line() {
        assert!(parse("STATUS=up\nREADY=1\n").ready);
        assert!(parse(" READY=1\r\n").ready);
        assert!(!parse("STATUS=READY=1").ready);
    }

    #[test]
    fn nonsense_is_ignored() {
        for text in [
            "",
            "READY",
            "READY=0",
            "READY=yes",
            "FDSTORE=1",
            "=1",
            "\n\n",
            "BARRIER=1",
        ] {
            assert!(!parse(text).ready, "{text:?}");
        }
        assert_eq!(parse("MAINPID=0").mainpid, None, "never pid 0");
        assert_eq!(parse("MAINPID=1").mainpid, None, "never init");
        assert_eq!(parse("MAINPID=-5").mainpid, None);
        assert_eq!(parse("MAINPID=x").mainpid, None);
        assert_eq!(parse("ERRNO=-1").errno, None);
        assert_eq!(parse("EXTEND_TIMEOUT_USEC=-1").extend_timeout, None);
        assert_eq!(parse("WATCHDOG=2").watchdog, None);
    }

    #[test]
    fn the_last_field_counts_and_status_is_bounded() {
        assert_eq!(parse("STATUS=a\nSTATUS=b").status.as_deref(), Some("b"));
        let long = format!("STATUS={}", "é".repeat(400));
        let status = parse(&long).status.unwrap();
        assert!(status.len() <= MAX_STATUS);
        assert_eq!(parse("STATUS=a\tb\u{7}").status.as_deref(), Some("a b "));
    }
}
