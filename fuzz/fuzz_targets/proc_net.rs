//! Fuzzes `rinit::sweep::parse_net_table` (/proc/net/{tcp,udp}[6]) and `socket_inode`.
//! Must hold: no panic and no hang on any text; at most one socket per line after the header.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let sockets = rinit::sweep::parse_net_table(&text);
    assert!(sockets.len() <= text.lines().count().saturating_sub(1));
    assert!(sockets.iter().all(|&(_, inode)| inode != 0));
    for line in text.lines() {
        let _ = rinit::sweep::socket_inode(line);
    }
});
