//! rinit's stack, made present before the event loop starts.
//!
//! A stop runs deeper on the stack than anything rinit does before it (the shutdown's
//! plan, the first round of its stops: 32 KiB below the stack's top, by
//! /proc/PID/pagemap during a stop), so its first signal used to wait for a page fault
//! on a stack page never touched before — and on a VM the first touch of a page can cost
//! the host's fault too (ftrace, 25 stops each of `rinit -- sleep 1000` without cgroups:
//! PID 1's wakeup to the child's SIGTERM 88 → 70 µs with the stack made present).
//! [`make_present`] writes one byte per page of [`DEPTH`] below its caller's frame, once,
//! at start. Without cgroups the pages then stay as they are: a child that shares
//! rinit's memory (see `clone`) runs on a stack of its own. A child made with a copy of
//! rinit's memory (one born in its cgroup) write-protects rinit's pages, so a stop with
//! cgroups still takes a copy-on-write fault on its first write to each — a cheaper one.

/// How far below the caller's frame the stack is made present: twice the deepest stop
/// measured.
pub const DEPTH: usize = 64 * 1024;

/// Below this stack limit (`ulimit -s`) nothing is touched: the stop must not be the
/// reason a small stack overflows at start.
pub const MIN_LIMIT: u64 = 1024 * 1024;

const PAGE: usize = 4096;

/// Whether a stack whose soft limit is `soft` bytes (`None`: unlimited) has room for
/// [`make_present`] with a wide margin. Pure.
pub fn worth_touching(soft: Option<u64>) -> bool {
    soft.is_none_or(|limit| limit >= MIN_LIMIT)
}

/// Make [`DEPTH`] bytes of stack below the caller's frame present, where the stack
/// limit leaves room (see [`worth_touching`]). Costs those pages (64 KiB of memory).
pub fn make_present() {
    use nix::sys::resource::{RLIM_INFINITY, Resource, getrlimit};
    let soft = match getrlimit(Resource::RLIMIT_STACK) {
        Ok((soft, _)) if soft == RLIM_INFINITY => None,
        Ok((soft, _)) => Some(soft),
        Err(_) => Some(0),
    };
    if worth_touching(soft) {
        touch();
    }
}

/// One volatile write per page of a `DEPTH`-byte frame: writes the compiler must keep,
/// to a frame it must lay out whole (its address escapes through `black_box`; without
/// that, LLVM split the array into the 16 bytes written, all in one page — the test
/// below caught it).
#[inline(never)]
fn touch() {
    let mut pad = std::mem::MaybeUninit::<[u8; DEPTH]>::uninit();
    let base = std::hint::black_box(pad.as_mut_ptr().cast::<u8>());
    for offset in (0..DEPTH).step_by(PAGE) {
        // SAFETY: offset < DEPTH: inside `pad`, which this frame owns.
        unsafe { base.add(offset).write_volatile(0) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the page holding `addr` is present in this process (/proc/self/pagemap's
    /// bit 63, readable without privileges).
    fn present(addr: usize) -> bool {
        use std::os::unix::fs::FileExt;
        let page = addr / PAGE;
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
                let start = deep & !(PAGE - 1);
                let end = (top - 16 * 1024) & !(PAGE - 1);
                // SAFETY: [start, end) is this thread's stack below the live frames.
                let rc = unsafe {
                    libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED)
                };
                assert_eq!(rc, 0);
                assert!(!present(deep), "not present before");
                touch();
                assert!(present(deep), "made present");
                assert!(present(top - 32 * 1024), "the depth a stop reaches");
            })
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn a_small_stack_limit_is_left_alone() {
        assert!(worth_touching(None));
        assert!(worth_touching(Some(8 * 1024 * 1024)));
        assert!(worth_touching(Some(MIN_LIMIT)));
        assert!(!worth_touching(Some(64 * 1024)));
        assert!(!worth_touching(Some(0)));
    }
}
