//! Memory: a small cache of freed blocks in front of the C library's `malloc`.
//!
//! musl's allocator (the one in the static build) hands a size class's pages back to the
//! kernel as soon as the last block in them is freed. A loop that allocates and frees one
//! small string per /proc entry or per log line then pays an `mmap`, a page fault and a
//! `munmap` every time — on the stop path that was a third of rinit's system calls
//! (BENCHMARKS.md). [`BlockCache`] keeps up to [`KEEP`] freed blocks of each power-of-two
//! size from 16 to 4096 bytes and hands them out again; larger or over-aligned blocks go
//! to `malloc` and `free` directly. At most about 128 KiB stay cached.
//!
//! rinit is one thread; the lock is there so the allocator is sound anyway (tests, the
//! fuzz targets). It is a flag taken with one compare-and-swap and never contended.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, Ordering};

/// The smallest class is 2^4 = 16 bytes (room for the free list's link, malloc's alignment).
const MIN_SHIFT: u32 = 4;
/// Classes 16, 32, …, 4096 bytes.
const CLASSES: usize = 9;
/// Freed blocks kept per class.
pub const KEEP: usize = 16;
/// What `malloc` aligns every block to on the 64-bit targets rinit builds for.
const MALLOC_ALIGN: usize = 16;

/// The size class of a layout, or `None` for blocks that bypass the cache (larger than
/// 4096 bytes, or aligned beyond what `malloc` guarantees). Pure.
pub fn class_of(size: usize, align: usize) -> Option<usize> {
    if align > MALLOC_ALIGN || size > class_size(CLASSES - 1) {
        return None;
    }
    let bits = usize::BITS - size.max(1).saturating_sub(1).leading_zeros();
    Some(bits.saturating_sub(MIN_SHIFT) as usize)
}

/// The bytes a block of `class` really has. Pure.
pub fn class_size(class: usize) -> usize {
    1 << (MIN_SHIFT as usize + class)
}

/// One class's free list: each block's first word links to the next.
#[derive(Clone, Copy)]
struct List {
    head: *mut u8,
    len: usize,
}

/// The free lists, one per class.
struct Lists([List; CLASSES]);

/// A global allocator: `malloc` behind a cache of recently freed small blocks.
pub struct BlockCache {
    busy: AtomicBool,
    lists: UnsafeCell<Lists>,
}

// SAFETY: `lists` is only touched inside `with_lists`, which holds `busy`.
unsafe impl Sync for BlockCache {}

impl Default for BlockCache {
    fn default() -> Self {
        Self::new()
    }
}

impl BlockCache {
    pub const fn new() -> BlockCache {
        BlockCache {
            busy: AtomicBool::new(false),
            lists: UnsafeCell::new(Lists(
                [List {
                    head: std::ptr::null_mut(),
                    len: 0,
                }; CLASSES],
            )),
        }
    }

    fn with_lists<R>(&self, f: impl FnOnce(&mut Lists) -> R) -> R {
        while self
            .busy
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            std::hint::spin_loop();
        }
        // SAFETY: `busy` is held, so this is the only reference to the lists.
        let result = f(unsafe { &mut *self.lists.get() });
        self.busy.store(false, Ordering::Release);
        result
    }

    /// A cached block of `class`, if one is free.
    fn take(&self, class: usize) -> Option<*mut u8> {
        self.with_lists(|lists| {
            let list = lists.0.get_mut(class)?;
            let block = list.head;
            if block.is_null() {
                return None;
            }
            // SAFETY: every block on a list is a live malloc block of at least 16 bytes
            // whose first word `keep` wrote.
            list.head = unsafe { block.cast::<*mut u8>().read() };
            list.len -= 1;
            Some(block)
        })
    }

    /// Keep a freed block of `class`; false when that list is full.
    fn keep(&self, class: usize, block: *mut u8) -> bool {
        self.with_lists(|lists| {
            let Some(list) = lists.0.get_mut(class).filter(|l| l.len < KEEP) else {
                return false;
            };
            // SAFETY: the block was handed out for this class, is at least 16 bytes and
            // 16-aligned, and its owner gave it back.
            unsafe { block.cast::<*mut u8>().write(list.head) };
            list.head = block;
            list.len += 1;
            true
        })
    }

    /// Blocks cached now (for tests).
    pub fn cached(&self) -> usize {
        self.with_lists(|lists| lists.0.iter().map(|l| l.len).sum())
    }
}

// SAFETY: every block comes from malloc (or posix_memalign) with at least the layout's
// size and alignment, and goes back to free or to a list of its own class.
unsafe impl GlobalAlloc for BlockCache {
    #[inline(never)] // called from every allocation site: one copy, not thousands
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let class = class_of(layout.size(), layout.align());
        if let Some(block) = class.and_then(|c| self.take(c)) {
            return block;
        }
        let size = class.map_or(layout.size(), class_size);
        let mut block = std::ptr::null_mut();
        // SAFETY: malloc, or posix_memalign (Layout's alignment is a power of two), which
        // writes the block into `block` or leaves it null.
        unsafe {
            if layout.align() <= MALLOC_ALIGN {
                libc::malloc(size).cast()
            } else if libc::posix_memalign(&mut block, layout.align(), size) == 0 {
                block.cast()
            } else {
                std::ptr::null_mut()
            }
        }
    }

    #[inline(never)]
    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        let kept = class_of(layout.size(), layout.align()).is_some_and(|c| self.keep(c, block));
        if !kept {
            // SAFETY: the block came from malloc or posix_memalign.
            unsafe { libc::free(block.cast()) }
        }
    }

    #[inline(never)]
    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = class_of(layout.size(), layout.align());
        let new = class_of(new_size, layout.align());
        if old.is_some() && old == new {
            return block; // the block already has room
        }
        if old.is_none() && new.is_none() && layout.align() <= MALLOC_ALIGN {
            // SAFETY: a malloc block of the caller's, resized by malloc.
            return unsafe { libc::realloc(block.cast(), new_size).cast() };
        }
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return std::ptr::null_mut();
        };
        // SAFETY: a fresh block, the old one copied into it and then given back; both
        // are at least min(old, new) bytes long.
        unsafe {
            let moved = self.alloc(new_layout);
            if !moved.is_null() {
                std::ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size));
                self.dealloc(block, layout);
            }
            moved
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_fall_into_power_of_two_classes() {
        assert_eq!(class_of(0, 1), Some(0));
        assert_eq!(class_of(1, 1), Some(0));
        assert_eq!(class_of(16, 8), Some(0));
        assert_eq!(class_of(17, 8), Some(1));
        assert_eq!(class_of(4096, 16), Some(8));
        assert_eq!(class_of(4097, 1), None);
        assert_eq!(class_of(64, 32), None);
        for size in 0..=4096 {
            let class = class_of(size, 1).unwrap_or(99);
            assert!(class_size(class) >= size.max(1), "{size}");
            assert!(class == 0 || class_size(class - 1) < size, "{size}");
        }
    }

    #[test]
    fn freed_blocks_are_handed_out_again_and_the_cache_is_bounded() {
        let cache = BlockCache::new();
        let small = Layout::from_size_align(24, 8).unwrap_or(Layout::new::<u64>());
        // SAFETY: blocks used within their layouts and each freed once.
        unsafe {
            let a = cache.alloc(small);
            assert!(!a.is_null());
            a.write_bytes(0xAB, 24);
            cache.dealloc(a, small);
            assert_eq!(cache.cached(), 1);
            let b = cache.alloc(small);
            assert_eq!(a, b, "the freed block comes back");
            assert_eq!(cache.cached(), 0);
            cache.dealloc(b, small);

            let blocks: Vec<*mut u8> = (0..KEEP + 10).map(|_| cache.alloc(small)).collect();
            for &block in &blocks {
                cache.dealloc(block, small);
            }
            assert_eq!(cache.cached(), KEEP, "at most KEEP per class");
        }
    }

    #[test]
    fn realloc_keeps_the_bytes_across_classes_and_beyond() {
        let cache = BlockCache::new();
        let start = Layout::from_size_align(10, 1).unwrap_or(Layout::new::<u8>());
        // SAFETY: each block used within its current size, freed once at the end.
        unsafe {
            let mut block = cache.alloc(start);
            for i in 0..10u8 {
                block.add(usize::from(i)).write(i);
            }
            let mut size = 10;
            for new_size in [16, 100, 3000, 5000, 20000, 12, 9] {
                block = cache.realloc(block, Layout::from_size_align_unchecked(size, 1), new_size);
                assert!(!block.is_null());
                for i in 0..size.min(new_size).min(10) {
                    assert_eq!(block.add(i).read(), i as u8, "byte {i} after {new_size}");
                }
                size = new_size;
            }
            cache.dealloc(block, Layout::from_size_align_unchecked(size, 1));
        }
    }

    #[test]
    fn over_aligned_blocks_bypass_the_cache() {
        let cache = BlockCache::new();
        let page = Layout::from_size_align(100, 4096).unwrap_or(Layout::new::<u8>());
        // SAFETY: allocated and freed once.
        unsafe {
            let block = cache.alloc(page);
            assert!(!block.is_null());
            assert_eq!(block as usize % 4096, 0);
            cache.dealloc(block, page);
        }
        assert_eq!(cache.cached(), 0);
    }
}
