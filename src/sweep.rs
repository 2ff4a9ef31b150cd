//! The final sweep's targeting: who holds a swept port, whose command line matches a
//! swept pattern (DESIGN §4.4).
//!
//! Port owners are found the way `ss -p` does: the socket inodes bound to a port are read
//! from /proc/net/{tcp,tcp6,udp,udp6}, then matched against the `socket:[INODE]` links in
//! /proc/PID/fd. Patterns are POSIX extended regexes matched against the whole command
//! line, as `pkill -f` does. The table parsing is pure and tested on fixtures; this module
//! only finds and explains targets — signalling them is the shutdown's job, and only within
//! rinit's scope.

use std::collections::{HashMap, HashSet};
use std::fs;

use crate::config::{PortSpec, Proto};
use crate::pattern::Pattern;

/// Parse one /proc/net/{tcp,udp}[6] table: the (local port, socket inode) of every socket.
pub fn parse_net_table(text: &str) -> Vec<(u16, u64)> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local = fields.get(1)?;
            let port_hex = local.rsplit(':').next()?;
            let port = u16::from_str_radix(port_hex, 16).ok()?;
            let inode = fields.get(9)?.parse::<u64>().ok()?;
            (inode != 0).then_some((port, inode))
        })
        .collect()
}

/// The inode number in a `socket:[12345]` fd link.
pub fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// Socket inodes bound to each swept port, from rinit's network namespace.
fn port_inodes(ports: &[PortSpec]) -> HashMap<u64, PortSpec> {
    let mut map = HashMap::new();
    for (proto, files) in [(Proto::Tcp, ["tcp", "tcp6"]), (Proto::Udp, ["udp", "udp6"])] {
        let wanted: Vec<&PortSpec> = ports.iter().filter(|p| p.proto == proto).collect();
        if wanted.is_empty() {
            continue;
        }
        for file in files {
            let text = fs::read_to_string(format!("/proc/net/{file}")).unwrap_or_default();
            for (port, inode) in parse_net_table(&text) {
                if let Some(spec) = wanted.iter().find(|w| w.port == port) {
                    map.insert(inode, **spec);
                }
            }
        }
    }
    map
}

/// The socket inodes a process holds open.
fn sockets_of(pid: i32) -> HashSet<u64> {
    let Ok(dir) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return HashSet::new();
    };
    dir.flatten()
        .filter_map(|e| fs::read_link(e.path()).ok())
        .filter_map(|l| l.to_str().and_then(socket_inode))
        .collect()
}

/// What makes processes sweep targets: ports and command-line patterns.
pub struct Targets {
    inodes: HashMap<u64, PortSpec>,
    patterns: Vec<Pattern>,
}

impl Targets {
    /// Look up the port owners now; compile the patterns (invalid ones were rejected
    /// when the configuration was loaded, so a failure here only skips that pattern).
    pub fn new(ports: &[PortSpec], patterns: &[String]) -> Targets {
        let patterns = patterns
            .iter()
            .filter_map(|p| match Pattern::new(p) {
                Ok(p) => Some(p),
                Err(e) => {
                    log::warn!("sweep pattern {p:?} skipped: {e}");
                    None
                }
            })
            .collect();
        Targets {
            inodes: port_inodes(ports),
            patterns,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.inodes.is_empty() && self.patterns.is_empty()
    }

    /// Why `pid` is a target: `port 8080/tcp` or `pattern "x"`; None if neither.
    pub fn reason(&self, pid: i32) -> Option<String> {
        if !self.inodes.is_empty() {
            if let Some(spec) = sockets_of(pid).iter().find_map(|i| self.inodes.get(i)) {
                return Some(format!("port {spec}"));
            }
        }
        if self.patterns.is_empty() {
            return None;
        }
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        self.patterns
            .iter()
            .find(|p| p.is_match_bytes(&cmdline))
            .map(|p| format!("pattern {:?}", p.source()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41234 1 0000000000000000 100 0 0 10 0
   1: 0100007F:8AE4 0100007F:D439 06 00000000:00000000 03:00000A33 00000000     0        0 0 3 0000000000000000
   2: 0100007F:D439 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 55555 1 0000000000000000 20 4 30 10 -1
";
    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:14E9 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000   108        0 77777 1 0000000000000000 100 0 0 10 0
";

    #[test]
    fn parses_ports_and_inodes() {
        assert_eq!(parse_net_table(TCP), vec![(8080, 41234), (54329, 55555)]);
        assert_eq!(parse_net_table(TCP6), vec![(5353, 77777)]);
        assert!(parse_net_table("").is_empty());
        assert!(parse_net_table("header\ngarbage line\n").is_empty());
    }

    #[test]
    fn parses_socket_links() {
        assert_eq!(socket_inode("socket:[41234]"), Some(41234));
        assert_eq!(socket_inode("pipe:[41234]"), None);
        assert_eq!(socket_inode("/dev/null"), None);
    }
}
