//! Fuzzes `rinit::proctree::parse_stat` (a /proc/PID/stat record) and `parse_cmdline`.
//! Must hold: no panic and no hang on any bytes, whatever `comm` holds.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(p) = rinit::proctree::parse_stat(data) {
        let _ = (p.is_dead(), p.is_kernel_thread());
    }
    let _ = rinit::proctree::parse_cmdline(data);
});
