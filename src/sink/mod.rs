//! Stage "sink": where batches of datums go. `jsonl` prints them for dry runs; the CloudWatch and
//! EMF sinks (the Lambda's) publish them.

pub mod jsonl;
