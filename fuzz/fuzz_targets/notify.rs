//! Fuzzes `rinit::notify::parse` on sd_notify datagrams (NOTIFY_SOCKET messages).
//! Must hold: no panic and no hang on any text; READY only if some line says READY=1;
//! a status within its bound; MAINPID never 0 or 1.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let notice = rinit::notify::parse(&text);
    if notice.ready {
        assert!(text.contains("READY=1"));
    }
    if let Some(status) = &notice.status {
        assert!(status.len() <= rinit::notify::MAX_STATUS);
    }
    assert!(notice.mainpid.is_none_or(|p| p > 1));
});
