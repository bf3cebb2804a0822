//! Stage "batches": datums grouped into PutMetricData requests, at most [`MAX_DATUMS_PER_BATCH`]
//! datums and an estimated [`MAX_BATCH_BYTES`] each. Batching is deterministic (same datums, same
//! batches, same order), so a partially sent file can be resumed by batch number.

use crate::datum::Datum;

/// PutMetricData accepts at most 1000 datums per request.
pub const MAX_DATUMS_PER_BATCH: usize = 1000;
/// Estimated request size kept per batch: well under PutMetricData's 1 MB.
pub const MAX_BATCH_BYTES: usize = 512 * 1024;

/// One PutMetricData request's worth of datums.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Batch {
    /// 0-based position of the batch within its file.
    pub index: usize,
    /// The datums.
    pub datums: Vec<Datum>,
}

/// Splits datums into batches, keeping their order.
pub fn batches(datums: Vec<Datum>) -> Vec<Batch> {
    let mut out: Vec<Batch> = Vec::new();
    let mut current: Vec<Datum> = Vec::new();
    let mut bytes = 0usize;
    for d in datums {
        let size = d.estimated_size();
        if !current.is_empty()
            && (current.len() == MAX_DATUMS_PER_BATCH || bytes + size > MAX_BATCH_BYTES)
        {
            out.push(Batch {
                index: out.len(),
                datums: std::mem::take(&mut current),
            });
            bytes = 0;
        }
        bytes += size;
        current.push(d);
    }
    if !current.is_empty() {
        out.push(Batch {
            index: out.len(),
            datums: current,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Metric;
    use crate::config::DimensionKey;
    use crate::datum::DatumValue;
    use std::sync::Arc;

    fn datum(n: usize, values: usize) -> Datum {
        Datum {
            metric: Metric::TimeTaken,
            dimensions: Arc::from(vec![(
                DimensionKey::DistributionId,
                "E2Q4ABCDEFGH".to_owned(),
            )]),
            timestamp_ms: n as i64 * 60_000,
            value: DatumValue::Distribution {
                values: (0..values as u64).collect(),
                counts: vec![1; values],
            },
        }
    }

    #[test]
    fn at_most_1000_datums() {
        let b = batches((0..2500).map(|n| datum(n, 1)).collect());
        assert_eq!(
            b.iter().map(|b| b.datums.len()).collect::<Vec<_>>(),
            vec![1000, 1000, 500]
        );
        assert_eq!(b[2].index, 2);
        assert_eq!(b[1].datums[0].timestamp_ms, 1000 * 60_000);
    }

    #[test]
    fn large_datums_keep_requests_small() {
        let b = batches((0..1000).map(|n| datum(n, 150)).collect());
        assert!(b.len() > 1);
        for batch in &b {
            let size: usize = batch.datums.iter().map(Datum::estimated_size).sum();
            assert!(size <= MAX_BATCH_BYTES);
        }
        assert_eq!(b.iter().map(|b| b.datums.len()).sum::<usize>(), 1000);
    }

    #[test]
    fn empty_input_no_batches() {
        assert!(batches(Vec::new()).is_empty());
    }
}
