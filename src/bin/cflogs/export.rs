//! `cflogs export`: the inputs `process` would read, as privacy-safe JSON documents.

use crate::args::{ExportArgs, ExportFormat};
use anyhow::{Context, Result};
use std::io::IsTerminal;
use std::time::Instant;

/// `cflogs export`: the inputs `process` would read, streamed into one output.
pub(crate) async fn export(a: ExportArgs) -> Result<bool> {
    use cloudfront_log_metrics::export::{ExportConfig, OutputFormat};
    use cloudfront_log_metrics::export_run;
    let settings = a.settings.settings()?;
    let config = ExportConfig {
        format: match a.format {
            ExportFormat::Ndjson => OutputFormat::Ndjson,
            ExportFormat::OpensearchBulk => OutputFormat::OpenSearchBulk { index: a.index },
        },
        privacy: settings.privacy,
        realtime: settings.metrics.realtime.clone(),
        hosts: settings.metrics.distribution_hosts.clone(),
    };
    let (_, s3, inputs) = crate::inputs(&a.paths, a.since, a.until, &settings, false).await?;
    let mut out =
        export_run::Output::open(a.out.as_deref()).with_context(|| format!("--out {:?}", a.out))?;
    let progress = (inputs.len() > 1 && std::io::stderr().is_terminal())
        .then(|| indicatif::ProgressBar::new(inputs.len() as u64));
    let started = Instant::now();
    let t = export_run::export_all(
        s3.as_ref(),
        &settings,
        &config,
        &inputs,
        &mut out,
        |i, r| {
            match r {
                Ok(stats) => {
                    for (line, reason) in &stats.reject_samples {
                        eprintln!("{}: line {line}: rejected: {reason}", i.name());
                    }
                }
                Err(e) => eprintln!("error: {e}"),
            }
            if let Some(bar) = &progress {
                bar.inc(1);
            }
        },
    )
    .await;
    out.finish().context("writing the export")?;
    drop(progress);
    eprintln!(
        "files: {} ({} failed), documents: {}, rejected lines: {}, in {:.2} s",
        t.files,
        t.failed,
        t.documents,
        t.rejected,
        started.elapsed().as_secs_f64()
    );
    Ok(t.failed == 0)
}
