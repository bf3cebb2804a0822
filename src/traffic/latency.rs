//! The report's latency distributions: milliseconds, quantised so that memory stays bounded
//! whatever the input, and mergeable across files.

use crate::aggregate::Histogram;

/// Latencies below this many milliseconds are kept exactly; above, to three significant digits.
const EXACT_BELOW_MS: u32 = 1000;

/// A latency distribution in bounded memory: milliseconds exact below one second, rounded down
/// to three significant digits above (at most 0.1% low), so at most a few thousand distinct
/// values whatever the input; merging is exact.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Latency(Histogram);

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
        self.0.add(Self::quantise(ms), 1);
    }

    /// Adds every sample of another distribution.
    pub fn merge(&mut self, other: &Latency) {
        self.0.merge(&other.0);
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.0.count()
    }

    /// The nearest-rank percentiles `ps` (0 to 100), in milliseconds.
    pub fn percentiles<const N: usize>(&self, ps: [f64; N]) -> [Option<u32>; N] {
        let sorted = self.0.sorted();
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
