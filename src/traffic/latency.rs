//! The report's latency distributions: milliseconds, quantised so that memory stays bounded
//! whatever the input, and mergeable across files.

use crate::aggregate::Histogram;

/// Latencies below this many milliseconds are kept exactly; above, to three significant digits.
const EXACT_BELOW_MS: u32 = 1000;

/// A latency distribution in bounded memory: milliseconds exact below one second, rounded down
/// to three significant digits above (at most 0.1% low), so at most a few thousand distinct
/// values whatever the input; merging is exact. Values below one second, most of them, are
/// counted in a flat array (allocated at the first one), the rest in a histogram.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Latency {
    /// Count per millisecond below [`EXACT_BELOW_MS`].
    below: Option<Box<[u64; EXACT_BELOW_MS as usize]>>,
    /// The quantised values from [`EXACT_BELOW_MS`] up.
    above: Histogram,
}

impl Latency {
    /// The value `ms` is kept as.
    pub fn quantise(ms: u32) -> u32 {
        if ms < EXACT_BELOW_MS {
            return ms;
        }
        let mut scale = 1;
        while ms / scale >= 1000 {
            scale *= 10;
        }
        ms / scale * scale
    }

    /// Adds one sample.
    #[inline]
    pub fn add(&mut self, ms: u32) {
        self.add_n(ms, 1);
    }

    #[inline]
    fn add_n(&mut self, ms: u32, n: u64) {
        if ms < EXACT_BELOW_MS {
            let below = self
                .below
                .get_or_insert_with(|| Box::new([0; EXACT_BELOW_MS as usize]));
            let c = &mut below[ms as usize];
            *c = c.saturating_add(n);
        } else {
            self.above.add(Self::quantise(ms), n);
        }
    }

    /// Adds every sample of another distribution.
    pub fn merge(&mut self, other: &Latency) {
        for (v, c) in other.sorted() {
            self.add_n(v, c);
        }
    }

    /// (value, count) pairs sorted by value.
    fn sorted(&self) -> Vec<(u32, u64)> {
        let mut v: Vec<(u32, u64)> = self
            .below
            .iter()
            .flat_map(|b| b.iter().enumerate())
            .filter(|&(_, &c)| c > 0)
            .map(|(ms, &c)| (ms as u32, c))
            .collect();
        v.extend(self.above.sorted());
        v
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        let below = self.below.iter().flat_map(|b| b.iter());
        below.fold(self.above.count(), |a, &c| a.saturating_add(c))
    }

    /// The nearest-rank percentiles `ps` (0 to 100), in milliseconds.
    pub fn percentiles<const N: usize>(&self, ps: [f64; N]) -> [Option<u32>; N] {
        let sorted = self.sorted();
        let total = sorted.iter().fold(0u64, |a, &(_, c)| a.saturating_add(c));
        ps.map(|p| {
            if total == 0 {
                return None;
            }
            let rank = ((p / 100.0) * total as f64).ceil().max(1.0) as u64;
            let mut seen = 0u64;
            sorted.iter().find_map(|&(v, c)| {
                seen = seen.saturating_add(c);
                (seen >= rank).then_some(v)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_adds_both_ranges_and_equality_sees_counts_not_layout() {
        let (mut a, mut b) = (Latency::default(), Latency::default());
        for ms in [0, 5, 999, 1000, 1234, 98_765] {
            a.add(ms);
        }
        b.add(5);
        b.add(1239);
        a.merge(&b);
        assert_eq!(a.count(), 8);
        assert_eq!(
            a.sorted(),
            [(0, 1), (5, 2), (999, 1), (1000, 1), (1230, 2), (98_700, 1)]
        );
        // One sample at 1 s and up only: equal to the same sample added to an empty one.
        let mut c = Latency::default();
        c.add(2000);
        let mut d = Latency::default();
        d.merge(&c);
        assert_eq!(c, d);
        assert_eq!(c.percentiles([50.0]), [Some(2000)]);
    }
}
