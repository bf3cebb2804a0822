//! Bounded-memory summaries that merge: [`SpaceSaving`] heavy hitters (the report's top-N lists)
//! and, re-exported from `latency.rs`, [`Latency`] (a quantised, mergeable latency distribution).
//!
//! Space-Saving (Metwally, Agrawal, El Abbadi 2005) keeps a bounded number of counters. While the
//! distinct values seen fit, every count is exact. Past that, a new value takes a counter whose
//! count it inherits as its possible over-count. This one evicts in batches, so that no update
//! costs more than a hash look-up (the heap of the original costs a sift per update): it
//! monitors up to twice its capacity C and, when full, keeps the C largest counts and evicts the
//! rest. A new value then starts at the largest count evicted so far, the bound B
//! ([`SpaceSaving::bound`]), with B as its error. Every count over-estimates by at most its error
//! (at most B), a value not monitored had at most B, and B is at most total / C: just before an
//! eviction the table's counts add up to at most the total plus C·B (the values inherited since
//! the last one, each at least B); the C counts kept are each at least the new B and the C
//! evicted at least the old one.

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;
use rustc_hash::FxHashMap;
use std::cmp::Ordering;
use std::hash::BuildHasher;

pub use super::latency::Latency;

/// The hash a summary files `key` under: computed once per key and record, and shared by the
/// summaries that count it ([`SpaceSaving::add_hashed`]).
#[inline]
pub fn hash_key(key: &[u8]) -> u64 {
    FxBuildHasher.hash_one(key)
}

/// One monitored value.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Counter {
    /// The value.
    key: Vec<u8>,
    /// [`hash_key`] of `key`.
    hash: u64,
    count: u64,
    /// What `count` may over-count by (the bound when the value was taken in).
    error: u64,
}

/// Largest count first, ties by value: the order values are listed and merged in.
fn rank(a: &Counter, b: &Counter) -> Ordering {
    b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key))
}

/// Largest count first, ties by hash: the order values are kept in when evicting, where ties
/// are the rule (most counts are the bound plus one) and comparing values would cost more than
/// the eviction saves. Deterministic like [`rank`]: the same records always keep the same values.
fn rank_by_hash(a: &Counter, b: &Counter) -> Ordering {
    b.count.cmp(&a.count).then_with(|| a.hash.cmp(&b.hash))
}

/// A Space-Saving summary of weighted values. See the module documentation.
#[derive(Debug, Clone)]
pub struct SpaceSaving {
    capacity: usize,
    /// Counter ids (indices into `counters`) by their key's hash.
    ids: HashTable<u32>,
    counters: Vec<Counter>,
    /// Key buffers of evicted counters, reused by new ones.
    spare: Vec<Vec<u8>>,
    /// Largest count evicted (or dropped in a merge): the over-count bound; 0 while exact.
    bound: u64,
    /// Whether any value was ever evicted or dropped: counts are then approximate.
    overflowed: bool,
}

/// One entry of a summary, for reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: Vec<u8>,
    pub count: u64,
    /// What `count` may over-count by (0 while the summary is exact).
    pub error: u64,
}

impl SpaceSaving {
    /// An empty summary of capacity `capacity` (at least 1): exact while at most that many
    /// distinct values were seen (up to twice as many are monitored).
    pub fn new(capacity: usize) -> Self {
        SpaceSaving {
            capacity: capacity.max(1),
            ids: HashTable::new(),
            counters: Vec::new(),
            spare: Vec::new(),
            bound: 0,
            overflowed: false,
        }
    }

    /// Counters monitored at most: an eviction brings them back to the capacity.
    fn limit(&self) -> usize {
        self.capacity.saturating_mul(2)
    }

    /// Whether every count is exact (no value was ever evicted).
    pub fn is_exact(&self) -> bool {
        !self.overflowed
    }

    /// The most any count over-estimates by, and the most a value not in the summary may have
    /// been counted: 0 while exact.
    pub fn bound(&self) -> u64 {
        self.bound
    }

    /// Number of values monitored.
    pub fn len(&self) -> usize {
        self.counters.len()
    }

    /// Whether no value was counted.
    pub fn is_empty(&self) -> bool {
        self.counters.is_empty()
    }

    /// The counter of `key`, when it is monitored.
    #[inline]
    pub fn id_of(&self, key: &[u8]) -> Option<u32> {
        self.id_of_hashed(hash_key(key), key)
    }

    /// [`SpaceSaving::id_of`] with the key's [`hash_key`] already computed.
    #[inline]
    pub fn id_of_hashed(&self, hash: u64, key: &[u8]) -> Option<u32> {
        let counters = &self.counters;
        self.ids
            .find(hash, |&id| counters[id as usize].key == key)
            .copied()
    }

    /// Counts `weight` more for the value of counter `id` (from [`SpaceSaving::id_of`]).
    #[inline]
    pub fn bump(&mut self, id: u32, weight: u64) {
        let c = &mut self.counters[id as usize];
        c.count = c.count.saturating_add(weight);
    }

    /// Counts `weight` more for `key`.
    #[inline]
    pub fn add(&mut self, key: &[u8], weight: u64) {
        self.add_hashed(hash_key(key), key, weight);
    }

    /// [`SpaceSaving::add`] with the key's [`hash_key`] already computed.
    #[inline]
    pub fn add_hashed(&mut self, hash: u64, key: &[u8], weight: u64) {
        if let Some(id) = self.id_of_hashed(hash, key) {
            self.bump(id, weight);
            return;
        }
        if self.counters.len() >= self.limit() {
            self.evict();
        }
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.extend_from_slice(key);
        let id = self.counters.len() as u32;
        self.counters.push(Counter {
            key: buf,
            hash,
            count: self.bound.saturating_add(weight),
            error: self.bound,
        });
        let counters = &self.counters;
        self.ids
            .insert_unique(hash, id, |&i| counters[i as usize].hash);
    }

    /// Keeps the `capacity` largest counts; the bound rises to the largest count evicted.
    #[cold]
    fn evict(&mut self) {
        let keep = self.capacity;
        if self.counters.len() <= keep {
            return;
        }
        self.counters.select_nth_unstable_by(keep, rank_by_hash);
        // The first evicted is the largest evicted.
        self.bound = self.bound.max(self.counters[keep].count);
        self.overflowed = true;
        for mut c in self.counters.drain(keep..) {
            c.key.clear();
            self.spare.push(c.key);
        }
        self.reindex();
    }

    /// Rebuilds the hash index of `counters`.
    fn reindex(&mut self) {
        self.ids.clear();
        let counters = &self.counters;
        for (id, c) in counters.iter().enumerate() {
            self.ids
                .insert_unique(c.hash, id as u32, |&i| counters[i as usize].hash);
        }
    }

    /// Adds another summary (of other records) into this one (the mergeable Space-Saving of
    /// Agarwal et al. 2012). Counts of values in both add up; a value in one only may have been
    /// counted up to the other's bound there, which is added to its count and its error. When more
    /// values remain than are monitored at most, the capacity's largest are kept and the bound
    /// rises to the largest dropped count. Exact summaries whose values fit stay exact.
    pub fn merge(&mut self, other: &SpaceSaving) {
        let mut all: FxHashMap<&[u8], (u64, u64)> = FxHashMap::default();
        for (src, dst) in [(&*self, other), (other, &*self)] {
            for c in &src.counters {
                let e = all.entry(&c.key).or_insert((0, 0));
                e.0 = e.0.saturating_add(c.count);
                e.1 = e.1.saturating_add(c.error);
                if dst.id_of_hashed(c.hash, &c.key).is_none() {
                    // The other side may have dropped up to its bound of this value: counts
                    // stay over-estimates, by at most their error.
                    e.0 = e.0.saturating_add(dst.bound);
                    e.1 = e.1.saturating_add(dst.bound);
                }
            }
        }
        let mut merged: Vec<Counter> = all
            .into_iter()
            .map(|(key, (count, error))| Counter {
                key: key.to_vec(),
                hash: hash_key(key),
                count,
                error,
            })
            .collect();
        let mut bound = self.bound.saturating_add(other.bound);
        let mut overflowed = self.overflowed || other.overflowed;
        if merged.len() > self.limit() {
            merged.sort_unstable_by(rank);
            overflowed = true;
            bound = bound.max(merged[self.capacity].count);
            merged.truncate(self.capacity);
        }
        self.counters = merged;
        self.bound = bound;
        self.overflowed = overflowed;
        self.reindex();
    }

    /// Every monitored value, largest count first (ties by value), keeping those `keep` accepts.
    pub fn top(&self, n: usize, mut keep: impl FnMut(&[u8]) -> bool) -> Vec<Entry> {
        let mut v: Vec<&Counter> = self.counters.iter().filter(|c| keep(&c.key)).collect();
        v.sort_unstable_by(|a, b| rank(a, b));
        v.into_iter()
            .take(n)
            .map(|c| Entry {
                key: c.key.clone(),
                count: c.count,
                error: c.error,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(s: &SpaceSaving) -> Vec<(String, u64)> {
        s.top(usize::MAX, |_| true)
            .into_iter()
            .map(|e| (String::from_utf8(e.key).unwrap(), e.count))
            .collect()
    }

    #[test]
    fn exact_while_the_values_fit() {
        let mut s = SpaceSaving::new(3);
        for k in ["a", "b", "a", "c", "a", "b"] {
            s.add(k.as_bytes(), 1);
        }
        assert!(s.is_exact());
        assert_eq!(
            counts(&s),
            [("a".into(), 3), ("b".into(), 2), ("c".into(), 1)]
        );
    }

    #[test]
    fn past_capacity_counts_stay_within_the_bound_and_heavy_hitters_survive() {
        let mut s = SpaceSaving::new(10);
        let mut truth: FxHashMap<String, u64> = FxHashMap::default();
        for i in 0..10_000u64 {
            // "hot" is a third of the stream; the rest are 3,000 distinct values.
            let k = if i % 3 == 0 {
                "hot".to_owned()
            } else {
                format!("v{}", i % 3001)
            };
            s.add(k.as_bytes(), 1);
            *truth.entry(k).or_default() += 1;
        }
        assert!(!s.is_exact());
        assert!(s.bound() <= 10_000 / 10, "bound {}", s.bound());
        let top = s.top(1, |_| true);
        assert_eq!(top[0].key, b"hot");
        for e in s.top(usize::MAX, |_| true) {
            let t = truth[std::str::from_utf8(&e.key).unwrap()];
            assert!(e.count >= t && e.count - t <= e.error && e.error <= s.bound());
        }
    }

    #[test]
    fn weighted_counts_bound_their_error_and_the_bound_stays_within_total_over_capacity() {
        let mut s = SpaceSaving::new(50);
        let mut truth: FxHashMap<u64, u64> = FxHashMap::default();
        let (mut x, mut total) = (7u64, 0u64);
        for _ in 0..20_000 {
            // A skewed stream of 5,000 values with weights 1 to 1,000 (a splitmix-like step).
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let v = (x >> 33) % 5000 % ((x >> 20) % 5000 + 1);
            let w = (x >> 45) % 1000 + 1;
            s.add(&v.to_be_bytes(), w);
            *truth.entry(v).or_default() += w;
            total += w;
            assert!(s.len() <= 100);
        }
        assert!(!s.is_exact());
        assert!(
            s.bound() > 0 && s.bound() <= total / 50,
            "bound {}",
            s.bound()
        );
        let top = s.top(usize::MAX, |_| true);
        for e in &top {
            let t = truth[&u64::from_be_bytes(e.key.as_slice().try_into().unwrap())];
            assert!(e.count >= t && e.count - t <= e.error && e.error <= s.bound());
        }
        for (v, t) in &truth {
            if !top.iter().any(|e| e.key == v.to_be_bytes()) {
                assert!(*t <= s.bound(), "{v} had {t}, bound {}", s.bound());
            }
        }
    }

    #[test]
    fn merging_exact_summaries_that_fit_is_exact() {
        let (mut a, mut b) = (SpaceSaving::new(4), SpaceSaving::new(4));
        a.add(b"x", 5);
        a.add(b"y", 1);
        b.add(b"y", 2);
        b.add(b"z", 7);
        a.merge(&b);
        assert!(a.is_exact());
        assert_eq!(
            counts(&a),
            [("z".into(), 7), ("x".into(), 5), ("y".into(), 3)]
        );
        // Up to twice the capacity stays monitored, and exact.
        let mut c = SpaceSaving::new(4);
        for k in [b"s", b"t", b"u", b"v", b"w"] {
            c.add(k, 1);
        }
        let mut exact = a.clone();
        exact.merge(&c);
        assert!(exact.is_exact());
        assert_eq!(exact.len(), 8);
        // One more value than that: the capacity's largest are kept, the largest dropped count
        // is the bound.
        c.add(b"r", 1);
        a.merge(&c);
        assert!(!a.is_exact());
        assert_eq!(a.bound(), 1);
        assert_eq!(a.len(), 4);
    }

    #[test]
    fn latency_is_exact_below_a_second_and_three_digits_above() {
        assert_eq!(Latency::quantise(999), 999);
        assert_eq!(Latency::quantise(1234), 1230);
        assert_eq!(Latency::quantise(98_765), 98_700);
        let mut l = Latency::default();
        for ms in 1..=100 {
            l.add(ms);
        }
        assert_eq!(
            l.percentiles([50.0, 99.0, 100.0]),
            [Some(50), Some(99), Some(100)]
        );
        assert_eq!(Latency::default().percentiles([50.0]), [None]);
    }
}
