//! `cflogs process`: the metric pipeline over files, directories and S3 prefixes, publishing or
//! (a dry run) printing the datums or a table.

use crate::args::{Output, ProcessArgs};
use crate::{progress_bar, wall_clock_ms};
use anyhow::{Result, bail};
use cloudfront_log_metrics::aws;
use cloudfront_log_metrics::backfill::{self, Input};
use cloudfront_log_metrics::report::RunSummary;
use cloudfront_log_metrics::settings::Settings;
use cloudfront_log_metrics::sink::emf::EmfSink;
use cloudfront_log_metrics::sink::{MetricSink, SinkKind, jsonl};
use futures::StreamExt;
use std::io::{IsTerminal, Write};
use std::time::Instant;

pub(crate) async fn process(a: ProcessArgs) -> Result<bool> {
    let mut settings = a.settings.settings()?;
    // Only CloudWatch's window clips CloudWatch's data: a dry run keeps every record.
    settings.cloudwatch_window = !a.dry_run;
    let now_ms = settings.window_now(wall_clock_ms()?);
    let emf = !a.dry_run && settings.sink == SinkKind::Emf;
    if emf && a.output.is_some_and(|o| o != Output::None) {
        bail!("--output: stdout carries the EMF lines when publishing with METRICS_SINK=emf");
    }
    let output = a.output.unwrap_or(if emf {
        Output::None
    } else if std::io::stdout().is_terminal() {
        Output::Table
    } else {
        Output::Jsonl
    });
    // Publishing to CloudWatch needs the SDK whatever the paths.
    let publishing = !a.dry_run && !emf;
    let (sdk, s3, inputs) =
        crate::inputs(&a.paths, a.since, a.until, &settings, publishing).await?;
    let run = Run {
        s3: s3.as_ref(),
        settings: &settings,
        now_ms,
        output,
    };
    let started = Instant::now();
    let cloudwatch = sdk
        .as_ref()
        .filter(|_| !a.dry_run && !emf)
        .map(aws::cloudwatch_client);
    let summary = if emf {
        run.go(Some(&EmfSink::new(std::io::stdout())), inputs)
            .await?
    } else {
        // None in a dry run.
        run.go(cloudwatch.as_ref(), inputs).await?
    };
    eprintln!("{}", summary.closing(started.elapsed(), a.dry_run));
    Ok(summary.failed_files == 0)
}

/// One `cflogs process` run over its inputs.
struct Run<'a> {
    s3: Option<&'a aws_sdk_s3::Client>,
    settings: &'a Settings,
    now_ms: i64,
    output: Output,
}

impl Run<'_> {
    /// Processes the inputs, publishing to `sink` unless it is `None` (a dry run); prints the
    /// datums or the table as asked, and per-file errors on stderr.
    async fn go<M: MetricSink>(&self, sink: Option<&M>, inputs: Vec<Input>) -> Result<RunSummary> {
        let settings = self.settings;
        let progress = progress_bar(inputs.len());
        let mut summary = RunSummary::default();
        let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout());
        let mut results = std::pin::pin!(backfill::process_inputs(
            self.s3,
            sink,
            settings,
            inputs,
            self.now_ms,
        ));
        while let Some(result) = results.next().await {
            match result {
                Ok(outcome) => {
                    if let Some(notice) = outcome.notice() {
                        eprintln!("{notice}");
                    }
                    for refused in &outcome.rejected_batches {
                        eprintln!("error: {refused}");
                    }
                    let f = &outcome.file;
                    for r in &f.report.parse.reject_samples {
                        eprintln!("{}: line {}: rejected: {}", f.report.file, r.line, r.reason);
                    }
                    if f.report.parse.rejected > f.report.parse.reject_samples.len() as u64 {
                        eprintln!(
                            "{}: {} lines rejected in all",
                            f.report.file, f.report.parse.rejected
                        );
                    }
                    if self.output == Output::Jsonl {
                        let datums: Vec<_> = f.datums().cloned().collect();
                        jsonl::write(&mut out, &settings.metrics.namespace, &datums)?;
                    }
                    summary.add(f);
                    if outcome.duplicate {
                        summary.add_duplicate(f);
                    }
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    summary.add_failure();
                }
            }
            if let Some(bar) = &progress {
                bar.inc(1);
            }
        }
        if let Some(bar) = progress {
            bar.finish_and_clear();
        }
        if self.output == Output::Table {
            out.write_all(summary.table().as_bytes())?;
        }
        out.flush()?;
        Ok(summary)
    }
}
