//! The `cflogs report` run: the inputs of `cflogs process` (local paths walked, S3 prefixes
//! listed, by [`crate::backfill::collect_inputs`]), each read through the traffic core
//! ([`TrafficProcessor`]) instead of the metric path, files concurrently, results in input order.

use crate::backfill::Input;
use crate::decompress;
use crate::decompress_async;
use crate::distribution::key_info;
use crate::error::FileError;
use crate::object_store::{Expected, ObjectStore};
use crate::pipeline;
use crate::s3_object;
use crate::settings::Settings;
use crate::source::LocalInput;
use crate::traffic::collect::UNKNOWN_DISTRIBUTION;
use crate::traffic::{FileTraffic, TrafficOptions, TrafficProcessor};
use futures::{Stream, StreamExt};
use std::io;
use std::sync::Arc;

/// The distribution of a file's records: from its key, else the configured one; real-time
/// records name their own (those that cannot be resolved are reported as `unknown`), and other
/// files that name none are reported under `unknown` too rather than failing.
fn distribution(key: &str, settings: &Settings) -> String {
    key_info(key)
        .distribution_id
        .or_else(|| settings.metrics.distribution_id.clone())
        .unwrap_or_else(|| {
            if settings.metrics.realtime.is_some() {
                String::new()
            } else {
                UNKNOWN_DISTRIBUTION.to_owned()
            }
        })
}

/// Reads one local file (gzip, plain or Parquet) on a blocking thread.
async fn read_local(
    path: std::path::PathBuf,
    settings: &Settings,
    opts: Arc<TrafficOptions>,
) -> Result<FileTraffic, FileError> {
    let file = path.display().to_string();
    let id = distribution(&path.to_string_lossy(), settings);
    let max_bytes = settings.max_decompressed_bytes;
    let max_page = settings.max_parquet_page_bytes;
    let name = file.clone();
    tokio::task::spawn_blocking(move || {
        let read_error = |source| FileError::Read {
            file: file.clone(),
            source,
        };
        let mut reader = std::fs::File::open(&path).map_err(read_error)?;
        let mut p = TrafficProcessor::new(&opts, &id);
        // Parquet as `cflogs process` reads it.
        if pipeline::is_parquet_file(&mut reader).map_err(read_error)? {
            let fields = p.fields();
            let (parse, _) =
                pipeline::read_parquet_local(&file, &mut reader, fields, max_page, |r| p.add(r))?;
            return Ok(p.finish_parquet(parse));
        }
        let not_a_log = |source| FileError::NotALog {
            file: file.clone(),
            source,
        };
        decompress::stream(&file, reader, max_bytes, |chunk| p.feed(chunk))?.map_err(not_a_log)?;
        p.finish().map_err(not_a_log)
    })
    .await
    .unwrap_or_else(|e| {
        Err(FileError::Read {
            file: name,
            source: io::Error::other(e.to_string()),
        })
    })
}

/// Reads one input through the traffic core. S3 inputs need `store`.
pub async fn read_input<S: ObjectStore>(
    store: Option<&S>,
    settings: &Settings,
    opts: Arc<TrafficOptions>,
    input: Input,
) -> Result<FileTraffic, FileError> {
    match input {
        Input::Local(LocalInput::Unreadable(path, e)) => Err(FileError::Read {
            file: path.display().to_string(),
            source: io::Error::other(e),
        }),
        Input::Local(LocalInput::File(path)) => read_local(path, settings, opts).await,
        Input::S3(obj) => {
            let file = obj.url();
            let Some(store) = store else {
                return Err(FileError::Read {
                    file,
                    source: io::Error::other("no S3 client to read it with"),
                });
            };
            let expected = Expected {
                etag: None,
                version_id: None,
            };
            let opened = s3_object::open(store, &obj, expected)
                .await
                .map_err(|source| FileError::Read {
                    file: file.clone(),
                    source,
                })?;
            let id = distribution(&obj.key, settings);
            let mut p = TrafficProcessor::new(&opts, &id);
            let body = match opened {
                s3_object::Opened::Stream(body) => body,
                s3_object::Opened::Parquet { size, etag } => {
                    let fields = p.fields();
                    let max_page = settings.max_parquet_page_bytes;
                    let parse = s3_object::read_parquet(
                        store,
                        &obj,
                        None,
                        etag.as_deref(),
                        size,
                        fields,
                        max_page,
                        |r| p.add(r),
                    )
                    .await?;
                    return Ok(p.finish_parquet(parse));
                }
            };
            let not_a_log = |source| FileError::NotALog {
                file: file.clone(),
                source,
            };
            decompress_async::stream_async(&file, body, settings.max_decompressed_bytes, |chunk| {
                p.feed(chunk)
            })
            .await?
            .map_err(not_a_log)?;
            p.finish().map_err(not_a_log)
        }
    }
}

/// Reads inputs concurrently (bounded by `settings.file_concurrency`), each result with its
/// file's name, in input order.
pub fn read_inputs<'a, S: ObjectStore>(
    store: Option<&'a S>,
    settings: &'a Settings,
    opts: Arc<TrafficOptions>,
    inputs: Vec<Input>,
) -> impl Stream<Item = (String, Result<FileTraffic, FileError>)> + 'a {
    futures::stream::iter(inputs)
        .map(move |input| {
            let opts = opts.clone();
            async move {
                let name = input.name();
                (name, read_input(store, settings, opts, input).await)
            }
        })
        .buffered(settings.file_concurrency.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryStore;

    #[tokio::test]
    async fn local_and_s3_inputs_read_alike_and_a_missing_file_is_its_own_error() {
        let log = "#Version: 1.0\n#Fields: date time sc-bytes sc-status cs-uri-stem\n\
                   2024-05-14\t13:00:00\t100\t200\t/a\n2024-05-14\t13:00:01\t50\t404\t/b\n";
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("E2ABCDEF123456.2024-05-14-13.abcd1234");
        std::fs::write(&path, log).unwrap();
        let store = MemoryStore::default();
        store.put(
            "logs",
            "cf/E2ABCDEF123456.2024-05-14-13.abcd1234",
            log.as_bytes().to_vec(),
        );
        let settings = Settings::default();
        let opts = Arc::new(TrafficOptions::default());
        let inputs = vec![
            Input::Local(LocalInput::File(path)),
            Input::S3(crate::event::ObjectRef {
                bucket: "logs".into(),
                key: "cf/E2ABCDEF123456.2024-05-14-13.abcd1234".into(),
                version_id: None,
                etag: None,
                size: None,
            }),
            Input::Local(LocalInput::File(dir.path().join("missing.log"))),
        ];
        let got: Vec<_> = read_inputs(Some(&store), &settings, opts, inputs)
            .collect()
            .await;
        assert_eq!(got.len(), 3);
        for (_, r) in &got[..2] {
            let t = r.as_ref().unwrap();
            let d = &t.distributions["E2ABCDEF123456"];
            assert_eq!((d.requests, d.bytes_out, d.statuses[2]), (2, 150, 1));
        }
        assert!(
            got[2]
                .1
                .as_ref()
                .is_err_and(|e| e.to_string().contains("missing.log"))
        );
    }

    /// Issue 25: Parquet, local or on S3, read as `cflogs process` reads it.
    #[tokio::test]
    async fn parquet_local_and_on_s3_reads_alike() {
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/parquet/corpus/snappy.parquet"
        ))
        .unwrap();
        let name = "E2Q4ABCDEFGH.2023-11-14-22.abcd1234.parquet";
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let store = MemoryStore::default();
        store.put("logs", name, bytes);
        let settings = Settings::default();
        let opts = Arc::new(TrafficOptions::default());
        let inputs = vec![
            Input::Local(LocalInput::File(path)),
            Input::S3(crate::event::ObjectRef {
                bucket: "logs".into(),
                key: name.into(),
                version_id: None,
                etag: None,
                size: None,
            }),
        ];
        let got: Vec<_> = read_inputs(Some(&store), &settings, opts, inputs)
            .collect()
            .await;
        let local = got[0].1.as_ref().unwrap();
        let s3 = got[1].1.as_ref().unwrap();
        assert_eq!(local.parse.records, 100);
        assert_eq!(local.format, Some(crate::parse::Format::Parquet));
        assert_eq!(local.distributions["E2Q4ABCDEFGH"].requests, 100);
        let (a, b) = (
            &s3.distributions["E2Q4ABCDEFGH"],
            &local.distributions["E2Q4ABCDEFGH"],
        );
        assert_eq!(
            (a.requests, a.bytes_out, a.statuses),
            (b.requests, b.bytes_out, b.statuses)
        );
        assert_eq!(s3.parse, local.parse);
    }
}
