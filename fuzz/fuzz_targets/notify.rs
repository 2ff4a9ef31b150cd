//! Fuzzes `rinit::ready::says_ready` on sd_notify datagrams (NOTIFY_SOCKET messages).
//! Must hold: no panic and no hang on any text; true only if some line is `READY=1`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let ready = rinit::ready::says_ready(&text);
    if ready {
        assert!(text.contains("READY=1"));
    }
});
