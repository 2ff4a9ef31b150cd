//! rinit's stack, made present before the event loop starts.
//!
//! A stop runs deeper on the stack than anything rinit does before it (the shutdown's
//! plan, the first round of its stops), so its first signal used to wait for a page
//! fault on a stack page never touched before — on a VM the first touch of a page can
//! cost the host's fault too (ftrace, 25 stops each of `rinit -- sleep 1000`: PID 1's
//! wakeup to the child's SIGTERM 96 → 77 µs with the stack made present). The deepest
//! stop measured reaches 32 KiB below the top; [`make_present`] touches [`DEPTH`] below
//! its caller's frame once, at start. The pages stay present: a child that shares
//! rinit's memory (see `clone`) leaves it at its exec, and one made with a copy of it
//! only write-protects rinit's pages until then.

/// How far below the caller's frame the stack is made present: twice the deepest stop
/// measured.
pub const DEPTH: usize = 64 * 1024;

/// Touch [`DEPTH`] bytes of stack below the caller's frame, so that those pages are
/// present from now on. Costs the pages (64 KiB of memory) and one pass of writes.
#[inline(never)]
pub fn make_present() {
    let mut pad = [0u8; DEPTH];
    // The writes must happen: the compiler may not drop an array it cannot see used.
    std::hint::black_box(&mut pad);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the page holding `addr` is present in this process (/proc/self/pagemap's
    /// bit 63, readable without privileges).
    fn present(addr: usize) -> bool {
        use std::os::unix::fs::FileExt;
        let page = addr / 4096;
        let mut entry = [0u8; 8];
        let file = std::fs::File::open("/proc/self/pagemap").unwrap();
        file.read_exact_at(&mut entry, (page * 8) as u64).unwrap();
        u64::from_le_bytes(entry) >> 63 == 1
    }

    #[test]
    fn the_pages_below_the_callers_frame_become_present() {
        std::thread::Builder::new()
            .stack_size(1024 * 1024)
            .spawn(|| {
                let here = 0u8;
                let top = std::ptr::addr_of!(here) as usize;
                let deep = top - DEPTH + 8 * 1024;
                // Drop what lies there (unused stack below this frame; a thread's stack
                // may be a reused one), so the test starts from pages not present.
                let start = deep & !4095;
                let end = (top - 16 * 1024) & !4095;
                // SAFETY: [start, end) is this thread's stack below the live frames.
                let rc = unsafe {
                    libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED)
                };
                assert_eq!(rc, 0);
                assert!(!present(deep), "not present before");
                make_present();
                assert!(present(deep), "made present");
                assert!(present(top - 32 * 1024), "the depth a stop reaches");
            })
            .unwrap()
            .join()
            .unwrap();
    }
}
