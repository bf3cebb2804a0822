//! The `cflogs process` run: log files from local paths (walked recursively) and S3 prefixes
//! (`s3://bucket/prefix`), put through the same core and the same publishing path as the Lambda.
//! S3 objects are published with [`publish_object`] (exactly once per object version,
//! with the function's marker objects); local files have no version to mark and are published
//! every time. Generic over the object store and the metric sink, like the handler.

use crate::conditional::ConditionalStore;
use crate::distribution::key_info;
use crate::error::FileError;
use crate::event::{ObjectRef, ignore_reason};
use crate::object_store::ObjectStore;
use crate::pipeline::{self, ProcessedFile};
use crate::publish::{self, ObjectError, Published};
use crate::s3_object::{publish_object, read_object};
use crate::settings::Settings;
use crate::sink::MetricSink;
use crate::source::{LocalInput, LocalWalk};
use futures::Stream;
use std::io;
use std::path::PathBuf;

/// One file to process: a local file (or a path that cannot be read) or an S3 object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Local(LocalInput),
    S3(ObjectRef),
}

impl Input {
    /// The file's name in messages: its path, or `s3://bucket/key`.
    pub fn name(&self) -> String {
        match self {
            Input::Local(LocalInput::File(p)) | Input::Local(LocalInput::Unreadable(p, _)) => {
                p.display().to_string()
            }
            Input::S3(o) => o.url(),
        }
    }
}

/// The UTC hours (epoch hours, both ends included) a run is limited to (`--since`, `--until`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HourWindow {
    pub since: Option<i64>,
    pub until: Option<i64>,
}

impl HourWindow {
    /// Whether a file is in the window by the hour its name or path says it covers; a file that
    /// names no hour is always kept.
    pub fn contains(&self, name: &str) -> bool {
        key_info(name)
            .hour
            .is_none_or(|h| self.since.is_none_or(|s| h >= s) && self.until.is_none_or(|u| h <= u))
    }
}

/// Why the inputs could not be collected.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// Listing an S3 prefix failed (the cause is the error's source).
    #[error("listing {url}")]
    List {
        url: String,
        #[source]
        source: io::Error,
    },
}

/// Splits `s3://bucket/prefix` into bucket and prefix; `None` when it is not an S3 URL with a
/// bucket.
pub fn s3_url(path: &str) -> Option<(String, String)> {
    let rest = path.strip_prefix("s3://")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    (!bucket.is_empty()).then(|| (bucket.to_owned(), prefix.to_owned()))
}

/// Expands the paths named on the command line into the files to process, in order: S3
/// prefixes listed through `store` (without the objects the Lambda ignores: folder markers and
/// keys under `marker_prefix`), other paths walked locally; both limited to `hours`. Paths that
/// cannot be read are kept, to be reported as that file's error.
pub async fn collect_inputs<S: ObjectStore>(
    store: Option<&S>,
    paths: &[String],
    marker_prefix: &str,
    hours: HourWindow,
) -> Result<Vec<Input>, CollectError> {
    let mut inputs = Vec::new();
    // One walk over every local path: a file named twice, or reached through a link, is read once.
    let mut local = LocalWalk::default();
    for path in paths {
        if let (Some((bucket, prefix)), Some(store)) = (s3_url(path), store) {
            let listed =
                store
                    .list(&bucket, &prefix)
                    .await
                    .map_err(|source| CollectError::List {
                        url: path.clone(),
                        source,
                    })?;
            inputs.extend(
                listed
                    .into_iter()
                    .filter(|o| {
                        ignore_reason(&o.key, marker_prefix).is_none() && hours.contains(&o.key)
                    })
                    .map(|o| {
                        Input::S3(ObjectRef {
                            bucket: bucket.clone(),
                            key: o.key,
                            version_id: None,
                            etag: None,
                            size: o.size,
                        })
                    }),
            );
        } else {
            inputs.extend(
                local
                    .inputs(&PathBuf::from(path))
                    .into_iter()
                    .filter(|i| match i {
                        LocalInput::File(p) => hours.contains(&p.to_string_lossy()),
                        LocalInput::Unreadable(..) => true,
                    })
                    .map(Input::Local),
            );
        }
    }
    Ok(inputs)
}

/// Reads a local file (gzip or plain) on a blocking thread; publishes nothing.
pub async fn read_local(
    path: PathBuf,
    settings: &Settings,
    now_ms: i64,
) -> Result<ProcessedFile, FileError> {
    let name = path.display().to_string();
    let window = settings.window(now_ms);
    let config = settings.metrics.clone();
    let limits = pipeline::Limits {
        max_decompressed_bytes: settings.max_decompressed_bytes,
        max_parquet_page_bytes: settings.max_parquet_page_bytes,
    };
    let file = name.clone();
    tokio::task::spawn_blocking(move || {
        let reader = std::fs::File::open(&path).map_err(|source| FileError::Read {
            file: file.clone(),
            source,
        })?;
        pipeline::process_local(
            &file,
            &path.to_string_lossy(),
            reader,
            &config,
            window,
            limits,
        )
    })
    .await
    .unwrap_or_else(|e| {
        Err(FileError::Read {
            file: name,
            source: io::Error::other(e.to_string()),
        })
    })
}

/// Processes one input, publishing it when a sink is given (a dry run gives none): S3 objects
/// as the Lambda publishes them, local files every time. S3 inputs need `store`.
pub async fn process_input<S, M>(
    store: Option<&S>,
    sink: Option<&M>,
    settings: &Settings,
    input: Input,
    now_ms: i64,
) -> Result<Published, ObjectError>
where
    S: ObjectStore + ConditionalStore,
    M: MetricSink,
{
    let file = match input {
        Input::Local(LocalInput::Unreadable(path, e)) => {
            return Err(FileError::Read {
                file: path.display().to_string(),
                source: io::Error::other(e),
            }
            .into());
        }
        Input::Local(LocalInput::File(path)) => read_local(path, settings, now_ms).await?,
        Input::S3(obj) => {
            let Some(store) = store else {
                return Err(FileError::Read {
                    file: obj.url(),
                    source: io::Error::other("no S3 client to read it with"),
                }
                .into());
            };
            return match sink {
                None => Ok(Published::unmarked(
                    read_object(store, settings, &obj, now_ms).await?,
                    0,
                )),
                Some(sink) => publish_object(store, sink, settings, &obj, now_ms).await,
            };
        }
    };
    let (put_requests, rejected_batches) = match sink {
        Some(sink) => publish::publish_file(sink, settings, &file).await?,
        None => (0, Vec::new()),
    };
    Ok(Published {
        rejected_batches,
        ..Published::unmarked(file, put_requests)
    })
}

/// Processes inputs concurrently (bounded by `settings.file_concurrency`), results in input
/// order, as the Lambda's handler does.
pub fn process_inputs<'a, S, M>(
    store: Option<&'a S>,
    sink: Option<&'a M>,
    settings: &'a Settings,
    inputs: Vec<Input>,
    now_ms: i64,
) -> impl Stream<Item = Result<Published, ObjectError>> + 'a
where
    S: ObjectStore + ConditionalStore,
    M: MetricSink,
{
    publish::in_order(
        settings,
        inputs
            .into_iter()
            .map(move |i| process_input(store, sink, settings, i, now_ms)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object_store::{ListedObject, ObjectMeta};

    // 2019-12-04T21 and 2019-12-04T22, in epoch hours.
    const H21: i64 = 18_234 * 24 + 21;
    const H22: i64 = H21 + 1;

    /// Lists fixed keys; reads nothing.
    struct Listing(Vec<&'static str>);

    impl ObjectStore for Listing {
        type Body = &'static [u8];

        async fn get(
            &self,
            _: &str,
            _: &str,
            _: crate::object_store::Expected<'_>,
            _: u64,
        ) -> io::Result<(Self::Body, ObjectMeta)> {
            Err(io::Error::from(io::ErrorKind::NotFound))
        }

        async fn get_range(
            &self,
            _: &str,
            _: &str,
            _: crate::object_store::Expected<'_>,
            _: std::ops::Range<u64>,
        ) -> io::Result<(bytes::Bytes, ObjectMeta)> {
            Err(io::Error::from(io::ErrorKind::NotFound))
        }

        async fn list(&self, bucket: &str, prefix: &str) -> io::Result<Vec<ListedObject>> {
            if bucket != "logs" {
                return Err(io::Error::other("no such bucket"));
            }
            Ok(self
                .0
                .iter()
                .filter(|k| k.starts_with(prefix))
                .map(|k| ListedObject {
                    key: (*k).to_owned(),
                    size: Some(1),
                })
                .collect())
        }
    }

    #[test]
    fn the_hour_window_keeps_named_hours_inside_it_and_files_without_an_hour() {
        let name = |h| format!("cf/E2ABCDEF123456.2019-12-04-{h}.abcd1234.gz");
        let all = HourWindow::default();
        let only21 = HourWindow {
            since: Some(H21),
            until: Some(H21),
        };
        let from22 = HourWindow {
            since: Some(H22),
            until: None,
        };
        assert!(all.contains(&name(20)));
        assert!(only21.contains(&name(21)));
        assert!(!only21.contains(&name(20)));
        assert!(!only21.contains(&name(22)));
        assert!(from22.contains(&name(23)));
        assert!(!from22.contains(&name(21)));
        assert!(only21.contains("some/access.log"), "no hour: kept");
    }

    #[test]
    fn s3_urls_need_a_bucket() {
        assert_eq!(s3_url("s3://logs/cf/"), Some(("logs".into(), "cf/".into())));
        assert_eq!(s3_url("s3://logs"), Some(("logs".into(), "".into())));
        assert_eq!(s3_url("s3:///cf/"), None);
        assert_eq!(s3_url("logs/cf/"), None);
    }

    #[tokio::test]
    async fn listings_leave_out_ignored_keys_and_hours_outside_the_window() {
        let store = Listing(vec![
            "cf/",
            "cf/_cflm/processed/x.json",
            "cf/E2ABCDEF123456.2019-12-04-20.abcd1234.gz",
            "cf/E2ABCDEF123456.2019-12-04-21.abcd1234.gz",
            "cf/notes.txt",
        ]);
        let hours = HourWindow {
            since: Some(H21),
            until: None,
        };
        let paths = ["s3://logs/cf/".to_owned()];
        let got = collect_inputs(Some(&store), &paths, "cf/_cflm/", hours)
            .await
            .unwrap();
        let names: Vec<String> = got.iter().map(Input::name).collect();
        assert_eq!(
            names,
            [
                "s3://logs/cf/E2ABCDEF123456.2019-12-04-21.abcd1234.gz",
                "s3://logs/cf/notes.txt"
            ]
        );

        let err = collect_inputs(Some(&store), &["s3://other/".to_owned()], "", hours)
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "listing s3://other/");
    }

    #[test]
    fn notices_for_skipped_and_resumed_objects() {
        let mut file = pipeline::process_reader(
            "s3://logs/cf/E2ABCDEF123456.2019-12-04-21.abcd1234.gz",
            "cf/E2ABCDEF123456.2019-12-04-21.abcd1234.gz",
            &b""[..],
            &Settings::default().metrics,
            0,
            1 << 20,
        )
        .unwrap();
        file.batches = (0..3)
            .map(|index| crate::batch::Batch {
                index,
                datums: Vec::new(),
            })
            .collect();
        let mut o = Published::unmarked(file, 0);
        assert_eq!(o.notice(), None);
        o.already_sent = 2;
        assert_eq!(
            o.notice().as_deref(),
            Some(
                "s3://logs/cf/E2ABCDEF123456.2019-12-04-21.abcd1234.gz: resumed, 2 of 3 batches had been sent before"
            )
        );
        o.duplicate = true;
        o.marker = Some("s3://logs/m.json".into());
        assert_eq!(
            o.notice().as_deref(),
            Some(
                "s3://logs/cf/E2ABCDEF123456.2019-12-04-21.abcd1234.gz: already published (marker s3://logs/m.json), skipped"
            )
        );
    }

    #[tokio::test]
    async fn a_path_that_cannot_be_read_is_that_files_error() {
        let paths = ["/nonexistent/cflogs/x.log".to_owned()];
        let inputs = collect_inputs(None::<&Listing>, &paths, "", HourWindow::default())
            .await
            .unwrap();
        assert_eq!(inputs.len(), 1);
        let sink = None::<&crate::sink::emf::EmfSink<Vec<u8>>>;
        let err = process_input(
            None::<&aws_sdk_s3::Client>,
            sink,
            &Settings::default(),
            inputs.into_iter().next().unwrap(),
            0,
        )
        .await
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("/nonexistent/cflogs/x.log: cannot read: "),
            "{err}"
        );
    }
}
