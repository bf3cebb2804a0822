//! `cflogs export`: log files (local paths and S3 objects, the inputs `cflogs process` selects)
//! through the exporter ([`crate::export`]) into one output, streaming: each file is
//! decompressed and exported chunk by chunk, so memory stays constant whatever its size. A file
//! that cannot be read counts as failed and the run goes on.

use crate::backfill::Input;
use crate::decompress;
use crate::decompress_async;
use crate::distribution::key_info;
use crate::error::FileError;
use crate::export::{ExportConfig, ExportStats, Exporter};
use crate::object_store::{Expected, ObjectStore};
use crate::parse::{FieldSet, MAX_RECORD_BYTES, NotALog};
use crate::pipeline;
use crate::s3_object;
use crate::settings::Settings;
use crate::source::LocalInput;
use std::io::{self, Write};

/// Feeds decompressed chunks to an exporter, writing documents to `out` as they come.
struct Feeder<'a, 'c, W: Write> {
    exporter: Exporter<'c>,
    carry: Vec<u8>,
    buf: Vec<u8>,
    out: &'a mut W,
    /// The content passed [`crate::parse::check_log`].
    checked: bool,
}

/// Why feeding stopped.
enum FeedError {
    Write(io::Error),
    NotALog(NotALog),
}

impl<W: Write> Feeder<'_, '_, W> {
    fn chunk(&mut self, chunk: &[u8], eof: bool) -> Result<(), FeedError> {
        self.carry.extend_from_slice(chunk);
        if !self.checked {
            // The check `process` and `report` make, on the same first bytes.
            if self.carry.len() < 1024 && !eof {
                return Ok(());
            }
            crate::parse::check_log(&self.carry).map_err(FeedError::NotALog)?;
            self.checked = true;
        }
        let used = self.exporter.feed(&self.carry, eof, &mut self.buf);
        self.carry.drain(..used);
        if self.carry.len() > MAX_RECORD_BYTES {
            // An overlong partial line: counted as one rejected line, skipped.
            self.exporter.reject_overlong();
            self.carry.clear();
        }
        self.out.write_all(&self.buf).map_err(FeedError::Write)?;
        self.buf.clear();
        Ok(())
    }
}

/// What one input gave.
pub type FileOutcome = Result<ExportStats, FileError>;

/// Exports one input to `out`.
pub async fn export_input<S: ObjectStore, W: Write>(
    store: Option<&S>,
    settings: &Settings,
    config: &ExportConfig,
    input: &Input,
    out: &mut W,
) -> FileOutcome {
    let name = input.name();
    let key = match input {
        Input::Local(LocalInput::File(p)) => p.to_string_lossy().into_owned(),
        Input::Local(LocalInput::Unreadable(_, e)) => {
            return Err(FileError::Read {
                file: name,
                source: io::Error::other(e.clone()),
            });
        }
        Input::S3(o) => o.key.clone(),
    };
    let distribution = key_info(&key)
        .distribution_id
        .or_else(|| settings.metrics.distribution_id.clone())
        .unwrap_or_default();
    let mut feeder = Feeder {
        exporter: Exporter::new(config, &name, &distribution),
        carry: Vec::new(),
        buf: Vec::with_capacity(1 << 16),
        out,
        checked: false,
    };
    let limit = settings.max_decompressed_bytes;
    let write_error = |source| FileError::Read {
        file: name.clone(),
        source,
    };
    let feed_error = |e| match e {
        FeedError::Write(source) => write_error(source),
        FeedError::NotALog(source) => FileError::NotALog {
            file: name.clone(),
            source,
        },
    };
    match input {
        Input::Local(LocalInput::File(path)) => {
            let mut file = std::fs::File::open(path).map_err(write_error)?;
            // Parquet as `cflogs process` reads it: every column the export knows.
            if pipeline::is_parquet_file(&mut file).map_err(write_error)? {
                let Feeder {
                    exporter, buf, out, ..
                } = &mut feeder;
                let mut failed = None;
                let (parse, _) = pipeline::read_parquet_local(
                    &name,
                    &mut file,
                    FieldSet::ALL,
                    settings.max_parquet_page_bytes,
                    |r| {
                        exporter.record(r, buf);
                        if buf.len() >= 1 << 16 {
                            if failed.is_none() {
                                failed = out.write_all(buf).err();
                            }
                            buf.clear();
                        }
                    },
                )?;
                return finish_parquet(exporter, buf, out, failed, parse.rejected)
                    .map_err(write_error);
            }
            decompress::stream(&name, file, limit, |c| feeder.chunk(c, false))?
                .map_err(feed_error)?;
        }
        Input::S3(obj) => {
            let Some(store) = store else {
                return Err(FileError::Read {
                    file: name,
                    source: io::Error::other("no S3 client to read it with"),
                });
            };
            let expected = Expected {
                etag: obj.etag.as_deref(),
                version_id: obj.version_id.as_deref(),
            };
            let body = match s3_object::open(store, obj, expected)
                .await
                .map_err(write_error)?
            {
                s3_object::Opened::Stream(body) => body,
                s3_object::Opened::Parquet { size, etag } => {
                    let Feeder {
                        exporter, buf, out, ..
                    } = &mut feeder;
                    let mut failed = None;
                    let parse = s3_object::read_parquet(
                        store,
                        obj,
                        expected.version_id,
                        etag.as_deref().or(expected.etag),
                        size,
                        FieldSet::ALL,
                        settings.max_parquet_page_bytes,
                        |r| {
                            exporter.record(r, buf);
                            if buf.len() >= 1 << 16 {
                                if failed.is_none() {
                                    failed = out.write_all(buf).err();
                                }
                                buf.clear();
                            }
                        },
                    )
                    .await?;
                    return finish_parquet(exporter, buf, out, failed, parse.rejected)
                        .map_err(write_error);
                }
            };
            decompress_async::stream_async(&name, body, limit, |c| feeder.chunk(c, false))
                .await?
                .map_err(feed_error)?;
        }
        Input::Local(LocalInput::Unreadable(..)) => {}
    }
    feeder.chunk(b"", true).map_err(feed_error)?;
    Ok(feeder.exporter.stats().clone())
}

/// Ends a Parquet file's export: what is left written, the rows the reader rejected counted.
fn finish_parquet<W: Write>(
    exporter: &mut Exporter<'_>,
    buf: &mut Vec<u8>,
    out: &mut W,
    failed: Option<io::Error>,
    rejected: u64,
) -> io::Result<ExportStats> {
    if let Some(e) = failed {
        return Err(e);
    }
    out.write_all(buf)?;
    buf.clear();
    exporter.count_rejected(rejected);
    Ok(exporter.stats().clone())
}

/// Where `cflogs export` writes: stdout, a file, or a gzip'd file (`.gz`).
pub enum Output {
    Stdout(io::BufWriter<io::Stdout>),
    File(io::BufWriter<std::fs::File>),
    Gzip(Box<flate2::write::GzEncoder<io::BufWriter<std::fs::File>>>),
}

impl Output {
    /// Stdout for `None` or `-`, else the file (gzip'd when its name ends in `.gz`).
    pub fn open(path: Option<&std::path::Path>) -> io::Result<Output> {
        let Some(path) = path.filter(|p| p.as_os_str() != "-") else {
            return Ok(Output::Stdout(io::BufWriter::with_capacity(
                1 << 16,
                io::stdout(),
            )));
        };
        let file = io::BufWriter::with_capacity(1 << 16, std::fs::File::create(path)?);
        Ok(if path.extension().is_some_and(|e| e == "gz") {
            Output::Gzip(Box::new(flate2::write::GzEncoder::new(
                file,
                flate2::Compression::default(),
            )))
        } else {
            Output::File(file)
        })
    }

    /// Flushes everything (and writes the gzip trailer), reporting any error.
    pub fn finish(self) -> io::Result<()> {
        match self {
            Output::Stdout(mut w) => w.flush(),
            Output::File(mut w) => w.flush(),
            Output::Gzip(gz) => gz.finish()?.flush(),
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::Stdout(w) => w.write(buf),
            Output::File(w) => w.write(buf),
            Output::Gzip(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Stdout(w) => w.flush(),
            Output::File(w) => w.flush(),
            Output::Gzip(w) => w.flush(),
        }
    }
}

/// Totals of an export run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    pub files: u64,
    pub failed: u64,
    pub documents: u64,
    pub rejected: u64,
}

/// Exports every input in turn to `out`; `on_file` hears of each (its rejections, its error).
pub async fn export_all<S: ObjectStore, W: Write>(
    store: Option<&S>,
    settings: &Settings,
    config: &ExportConfig,
    inputs: &[Input],
    out: &mut W,
    mut on_file: impl FnMut(&Input, &FileOutcome),
) -> Totals {
    let mut t = Totals::default();
    for input in inputs {
        t.files += 1;
        let r = export_input(store, settings, config, input, out).await;
        match &r {
            Ok(stats) => {
                t.documents += stats.documents;
                t.rejected += stats.rejected;
            }
            Err(_) => t.failed += 1,
        }
        on_file(input, &r);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::OutputFormat;
    use crate::export::privacy::Privacy;
    use crate::memory::MemoryStore;

    /// Issue 25: a Parquet object on S3 exports the documents the same local file does.
    #[tokio::test]
    async fn parquet_on_s3_exports_as_the_local_file_does() {
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/parquet/corpus/gzip.parquet"
        ))
        .unwrap();
        let name = "E2Q4ABCDEFGH.2023-11-14-22.abcd1234.parquet";
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let store = MemoryStore::default();
        store.put("logs", name, bytes);
        let settings = Settings::default();
        let config = ExportConfig {
            format: OutputFormat::Ndjson,
            privacy: Privacy::default(),
            realtime: None,
            hosts: Default::default(),
        };
        let mut docs = Vec::new();
        for input in [
            Input::Local(LocalInput::File(path)),
            Input::S3(crate::event::ObjectRef {
                bucket: "logs".into(),
                key: name.into(),
                version_id: None,
                etag: None,
                size: None,
            }),
        ] {
            let mut out = Vec::new();
            let stats = export_input(Some(&store), &settings, &config, &input, &mut out)
                .await
                .unwrap();
            assert_eq!((stats.documents, stats.rejected), (100, 0));
            let text = String::from_utf8(out).unwrap();
            let without_source: Vec<serde_json::Value> = text
                .lines()
                .map(|l| {
                    let mut d: serde_json::Value = serde_json::from_str(l).unwrap();
                    d.as_object_mut().unwrap().remove("source");
                    d
                })
                .collect();
            docs.push(without_source);
        }
        assert_eq!(docs[0], docs[1]);
        // The private defaults hold for Parquet too: client IPs truncated.
        for d in &docs[0] {
            assert_eq!(d["c-ip"], "192.0.2.0", "{d}");
        }
    }
}
