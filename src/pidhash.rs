//! Hash maps and sets keyed by pid.
//!
//! std's default hasher (SipHash) is built to resist keys chosen to collide, and costs
//! some 40 instructions per key. Pids are handed out by the kernel, and rinit hashes them
//! on every stop round (the table's index, the tree of children, the descendants of a
//! service) — on the critical path of a stop. [`PidHasher`] is one multiplication: the
//! key times an odd 64-bit constant, the high half folded into the low half, so the
//! bucket index (low bits) and the tag (high bits) both depend on every bit of the pid —
//! pids that differ only in their high bits (a namespace's `ns_last_pid` set by its
//! root) still spread. It is not seeded: a root that picks pids on purpose (`ns_last_pid`,
//! `clone3`'s `set_tid`) could make them share buckets, which slows a scan's lookups but
//! changes no decision.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// 2^64 / φ, rounded to odd: consecutive keys land far apart.
const MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;

/// A map from pid to `V`, hashed with [`PidHasher`].
pub type PidMap<V> = HashMap<i32, V, BuildHasherDefault<PidHasher>>;
/// A set of pids, hashed with [`PidHasher`].
pub type PidSet = HashSet<i32, BuildHasherDefault<PidHasher>>;

/// A multiply-and-fold hasher for integer keys (see the module doc).
#[derive(Clone, Copy, Debug, Default)]
pub struct PidHasher(u64);

impl PidHasher {
    fn mix(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_add(1).wrapping_mul(MULTIPLIER);
    }
}

impl Hasher for PidHasher {
    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 32)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.mix(u64::from(b));
        }
    }

    fn write_i32(&mut self, n: i32) {
        self.mix(u64::from(n.cast_unsigned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    fn hash(pid: i32) -> u64 {
        BuildHasherDefault::<PidHasher>::default().hash_one(pid)
    }

    /// The bucket index of `pid` in a table of `2^bits` buckets (hashbrown takes the low
    /// bits).
    fn bucket(pid: i32, bits: u32) -> u64 {
        hash(pid) & ((1 << bits) - 1)
    }

    fn distinct_buckets(pids: impl Iterator<Item = i32>, bits: u32) -> usize {
        let buckets: HashSet<u64> = pids.map(|p| bucket(p, bits)).collect();
        buckets.len()
    }

    #[test]
    fn consecutive_pids_spread_over_the_buckets() {
        // 1,000 pids in 1,024 buckets: a perfect spread would use 1,000; random ~630.
        assert!(distinct_buckets(1000..2000, 10) > 550);
    }

    #[test]
    fn pids_that_differ_only_in_their_high_bits_spread_too() {
        // Multiples of 4,096: a plain multiplication would put all of them in bucket 0.
        let pids = (1..=1000).map(|i| i * 4096);
        assert!(distinct_buckets(pids, 10) > 550);
    }

    #[test]
    fn the_tag_bits_differ_between_neighbours() {
        // hashbrown compares the top 7 bits first: neighbours must not share them all.
        let tags: HashSet<u64> = (1..=200).map(|p| hash(p) >> 57).collect();
        assert!(tags.len() > 64);
    }

    #[test]
    fn maps_and_sets_work_as_std_ones() {
        let mut map: PidMap<&str> = PidMap::default();
        map.insert(1, "init");
        map.insert(-1, "all");
        map.insert(i32::MAX, "last");
        assert_eq!(map.get(&1), Some(&"init"));
        assert_eq!(map.get(&-1), Some(&"all"));
        assert_eq!(map.get(&i32::MAX), Some(&"last"));
        let set: PidSet = (1..=3).collect();
        assert!(set.contains(&2) && !set.contains(&4));
    }
}
