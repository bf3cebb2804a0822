//! `cflogs report`: the traffic report of files, directories and S3 prefixes, as text, JSON or
//! HTML.

use crate::args::{ReportArgs, ReportFormat};
use crate::progress_bar;
use anyhow::{Context, Result};
use cloudfront_log_metrics::traffic::{self, Traffic, TrafficOptions};
use cloudfront_log_metrics::traffic_run;
use futures::StreamExt;
use std::io::Write;

pub(crate) async fn report(a: ReportArgs) -> Result<bool> {
    let settings = a.settings.settings()?;
    let (_, s3, inputs) = crate::inputs(&a.paths, a.since, a.until, &settings, false).await?;
    let since_ms = a.since.map(|h| h * 3_600_000);
    let until_ms = a.until.map(|h| (h + 1) * 3_600_000);
    let top = a.top as usize;
    let capacity = (a.sketch_capacity as usize).max(top);
    let opts = std::sync::Arc::new(TrafficOptions {
        capacity,
        keep_query: a.keep_query,
        since_ms,
        until_ms,
        realtime: settings.metrics.realtime.clone(),
        distribution_hosts: settings.metrics.distribution_hosts.clone(),
    });
    let progress = progress_bar(inputs.len());
    let mut run = Traffic::default();
    let mut results = std::pin::pin!(traffic_run::read_inputs(
        s3.as_ref(),
        &settings,
        opts,
        inputs
    ));
    while let Some((file, result)) = results.next().await {
        match result {
            Ok(t) => run.add_file(&file, &t),
            Err(e) => {
                eprintln!("error: {e}");
                let reason = e.to_string();
                let reason = reason
                    .strip_prefix(&format!("{file}: "))
                    .unwrap_or(&reason)
                    .to_owned();
                run.add_failure(&file, reason);
            }
        }
        if let Some(bar) = &progress {
            bar.inc(1);
        }
    }
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    let doc = traffic::Report::new(&run, top, capacity, since_ms, until_ms);
    let rendered = match a.format {
        ReportFormat::Text => traffic::text::render(&doc),
        ReportFormat::Json => doc.to_json() + "\n",
        ReportFormat::Html => traffic::html::render(&doc),
    };
    match &a.out {
        Some(path) => {
            std::fs::write(path, rendered).with_context(|| format!("writing {}", path.display()))?
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(rendered.as_bytes())?;
            out.flush()?;
        }
    }
    eprintln!(
        "{} files read, {} failed; {} records, {} lines rejected",
        run.counts.files_read,
        run.counts.files_failed,
        run.counts.records,
        run.counts.rejected_lines
    );
    Ok(run.counts.files_failed == 0)
}
