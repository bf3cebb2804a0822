//! Bounded-memory summaries that merge: [`SpaceSaving`] heavy hitters (the report's top-N lists)
//! and, re-exported from `latency.rs`, [`Latency`] (a quantised, mergeable latency distribution).
//!
//! Space-Saving (Metwally, Agrawal, El Abbadi 2005) keeps at most `capacity` counters. While the
//! distinct values seen fit in it, every count is exact. Past that, a new value takes over the
//! smallest counter, inheriting its count as its possible over-count; every count then
//! over-estimates by at most the smallest count evicted so far ([`SpaceSaving::bound`]), which
//! is itself at most total / capacity, and any value missing from the summary has a true count
//! of at most that bound.

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;
use rustc_hash::FxHashMap;
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
    /// The value; its buffer is reused by the value that takes the counter over.
    key: Vec<u8>,
    /// [`hash_key`] of `key`.
    hash: u64,
    count: u64,
    /// What `count` may over-count by (the count it inherited on taking over a counter).
    error: u64,
    /// Its position in the min-heap.
    heap_pos: u32,
}

/// A Space-Saving summary of weighted values. See the module documentation.
#[derive(Debug, Clone)]
pub struct SpaceSaving {
    capacity: usize,
    /// Counter ids by their key's hash.
    ids: HashTable<u32>,
    counters: Vec<Counter>,
    /// Counter ids, a binary min-heap by count.
    heap: Vec<u32>,
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
    /// An empty summary of at most `capacity` (at least 1) counters.
    pub fn new(capacity: usize) -> Self {
        SpaceSaving {
            capacity: capacity.max(1),
            ids: HashTable::new(),
            counters: Vec::new(),
            heap: Vec::new(),
            bound: 0,
            overflowed: false,
        }
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
        let pos = c.heap_pos as usize;
        self.sift_down(pos);
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
        let Self {
            ids,
            counters,
            heap,
            ..
        } = self;
        if counters.len() < self.capacity {
            let id = counters.len() as u32;
            counters.push(Counter {
                key: key.to_vec(),
                hash,
                count: weight,
                error: 0,
                heap_pos: heap.len() as u32,
            });
            ids.insert_unique(hash, id, |&i| counters[i as usize].hash);
            heap.push(id);
            let last = heap.len() - 1;
            self.sift_up(last);
            return;
        }
        // Full: the smallest counter is taken over, its key buffer reused.
        let id = heap[0];
        let old = counters[id as usize].hash;
        if let Ok(e) = ids.find_entry(old, |&i| i == id) {
            e.remove();
        }
        let c = &mut counters[id as usize];
        self.overflowed = true;
        self.bound = self.bound.max(c.count);
        c.error = c.count;
        c.count = c.count.saturating_add(weight);
        c.key.clear();
        c.key.extend_from_slice(key);
        c.hash = hash;
        ids.insert_unique(hash, id, |&i| counters[i as usize].hash);
        self.sift_down(0);
    }

    fn swap(&mut self, a: usize, b: usize) {
        self.heap.swap(a, b);
        self.counters[self.heap[a] as usize].heap_pos = a as u32;
        self.counters[self.heap[b] as usize].heap_pos = b as u32;
    }

    fn count_at(&self, pos: usize) -> u64 {
        self.counters[self.heap[pos] as usize].count
    }

    fn sift_up(&mut self, mut pos: usize) {
        while pos > 0 {
            let parent = (pos - 1) / 2;
            if self.count_at(parent) <= self.count_at(pos) {
                break;
            }
            self.swap(parent, pos);
            pos = parent;
        }
    }

    fn sift_down(&mut self, mut pos: usize) {
        let n = self.heap.len();
        loop {
            let (l, r) = (2 * pos + 1, 2 * pos + 2);
            let mut least = pos;
            if l < n && self.count_at(l) < self.count_at(least) {
                least = l;
            }
            if r < n && self.count_at(r) < self.count_at(least) {
                least = r;
            }
            if least == pos {
                return;
            }
            self.swap(pos, least);
            pos = least;
        }
    }

    /// Adds another summary (of other records) into this one (the mergeable Space-Saving of
    /// Agarwal et al. 2012). Counts of values in both add up; a value in one only may have been
    /// counted up to the other's bound there, which is added to its count and its error. When more values than the capacity remain, the smallest are dropped and the
    /// bound rises to the largest dropped count. Exact summaries whose values fit stay exact.
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
        let mut entries: Vec<_> = all.into_iter().collect();
        entries.sort_unstable_by(|a, b| b.1.0.cmp(&a.1.0).then_with(|| a.0.cmp(b.0)));
        let mut bound = self.bound.saturating_add(other.bound);
        let mut overflowed = self.overflowed || other.overflowed;
        if entries.len() > self.capacity {
            overflowed = true;
            bound = bound.max(entries[self.capacity].1.0);
            entries.truncate(self.capacity);
        }
        let mut merged = SpaceSaving::new(self.capacity);
        for (key, (count, error)) in entries {
            let id = merged.counters.len() as u32;
            let hash = hash_key(key);
            merged.counters.push(Counter {
                key: key.to_vec(),
                hash,
                count,
                error,
                heap_pos: id,
            });
            let counters = &merged.counters;
            merged
                .ids
                .insert_unique(hash, id, |&i| counters[i as usize].hash);
            merged.heap.push(id);
        }
        for pos in (0..merged.heap.len() / 2).rev() {
            merged.sift_down(pos);
        }
        merged.bound = bound;
        merged.overflowed = overflowed;
        *self = merged;
    }

    /// Every monitored value, largest count first (ties by value), keeping those `keep` accepts.
    pub fn top(&self, n: usize, mut keep: impl FnMut(&[u8]) -> bool) -> Vec<Entry> {
        let mut v: Vec<&Counter> = self.counters.iter().filter(|c| keep(&c.key)).collect();
        v.sort_unstable_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
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
        // One more value than fits: approximate, with the dropped count as bound.
        let mut c = SpaceSaving::new(4);
        c.add(b"w", 1);
        c.add(b"v", 1);
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
