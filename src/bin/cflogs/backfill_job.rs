//! `cflogs backfill`: an S3 Batch Operations job over a prefix, or a job's progress.

use crate::args::BackfillArgs;
use crate::wall_clock_ms;
use anyhow::{Result, bail};
use cloudfront_log_metrics::aws;
use cloudfront_log_metrics::backfill::HourWindow;
use cloudfront_log_metrics::settings::Settings;

/// `cflogs backfill`: creates a Batch Operations job, or shows one (`--status`).
pub(crate) async fn backfill_job(a: BackfillArgs) -> Result<bool> {
    use cloudfront_log_metrics::backfill_job::{self as job, Started};
    use cloudfront_log_metrics::settings::overrides::job_settings;
    let sdk = aws::sdk_config().await;
    let s3 = aws::s3_client(&sdk);
    let control = aws::s3control_client(&sdk);
    let mut a = a;
    if let Some(stack) = &a.stack {
        let cf = aws::cloudformation_client(&sdk);
        let mut out = job::stack_outputs(&cf, stack).await?;
        let mut take = |key: &str| out.remove(key);
        a.function_arn = a.function_arn.take().or(take(job::output::FUNCTION_ARN));
        a.role_arn = a.role_arn.take().or(take(job::output::ROLE_ARN));
        let bucket = take(job::output::BUCKET);
        a.manifest_bucket = a.manifest_bucket.take().or(bucket.clone());
        a.report_bucket = a.report_bucket.take().or(bucket);
        a.manifest_prefix = a
            .manifest_prefix
            .take()
            .or(take(job::output::MANIFEST_PREFIX));
        a.report_prefix = a.report_prefix.take().or(take(job::output::REPORT_PREFIX));
    }
    let manifest_prefix = a
        .manifest_prefix
        .clone()
        .unwrap_or_else(|| "_cflm/batch/manifests/".to_owned());
    let report_prefix = a
        .report_prefix
        .clone()
        .unwrap_or_else(|| "_cflm/batch/reports/".to_owned());
    if let Some(id) = &a.status {
        let arn = a.role_arn.as_deref().or(a.function_arn.as_deref());
        let account = match (&a.account_id, arn.and_then(job::account_of)) {
            (Some(account), _) => account.clone(),
            (None, Some(account)) => account.to_owned(),
            (None, None) => {
                bail!("--status needs --stack, --account-id, --role-arn or --function-arn")
            }
        };
        let st = job::describe_job(&control, &account, id).await?;
        println!(
            "job {id}: {}, {} of {} tasks succeeded, {} failed",
            st.status, st.succeeded, st.total, st.failed
        );
        for r in &st.reasons {
            println!("  {r}");
        }
        if let Some((bucket, prefix)) = &st.report {
            match job::report_totals(&s3, bucket, prefix, id).await? {
                None => println!("no completion report yet (s3://{bucket}/{prefix})"),
                Some(totals) => {
                    println!("completion report:");
                    for ((code, reason), n) in totals {
                        println!("  {code:<17} {n:>9}  {reason}");
                    }
                }
            }
        }
        return Ok(st.failed == 0);
    }
    let url = a.url.clone().unwrap_or_default();
    let mut user_arguments = std::collections::BTreeMap::new();
    for kv in &a.arguments {
        let Some((k, v)) = kv.split_once('=') else {
            bail!("--argument {kv:?}: expected KEY=VALUE");
        };
        user_arguments.insert(k.trim().to_owned(), v.to_owned());
    }
    // The values as the function reads them; whether the stack allows another namespace
    // (ALLOW_NAMESPACE_OVERRIDE) is the deployed function's to say, task by task.
    let deployed = Settings {
        allow_namespace_override: true,
        ..Settings::default()
    };
    job_settings(&deployed, &user_arguments)?;
    let (function_arn, role_arn) = match (&a.function_arn, &a.role_arn, a.dry_run) {
        (Some(f), Some(r), _) => (f.clone(), r.clone()),
        (f, r, true) => (f.clone().unwrap_or_default(), r.clone().unwrap_or_default()),
        _ => bail!(
            "creating a job needs --function-arn and --role-arn (the stack's outputs FunctionArn and BatchOperationsRoleArn)"
        ),
    };
    let plan = job::Plan {
        url: url.clone(),
        hours: HourWindow {
            since: a.since,
            until: a.until,
        },
        exclude: vec![
            a.marker_prefix.clone(),
            manifest_prefix.clone(),
            report_prefix.clone(),
        ],
        manifest_bucket: a.manifest_bucket.clone(),
        manifest_prefix,
        function_arn,
        role_arn,
        report_bucket: a.report_bucket.clone(),
        report_prefix,
        priority: a.priority,
        user_arguments,
        memory_mb: a.memory_mb,
        concurrency: a.concurrency,
        requests_per_object: a.requests_per_object,
        now_ms: wall_clock_ms()?,
    };
    match job::start(&s3, &control, &plan, a.dry_run, a.confirm).await? {
        Started::Empty => {
            eprintln!("{url}: no log files in the range; no job created");
            Ok(true)
        }
        Started::DryRun(e) => {
            println!("{e}");
            Ok(true)
        }
        Started::NeedsConfirm(e) => {
            println!("{e}");
            eprintln!(
                "error: {} objects is more than {}: run again with --confirm to start the job",
                e.objects,
                job::CONFIRM_ABOVE
            );
            Ok(false)
        }
        Started::Created {
            job_id,
            manifest,
            estimate,
        } => {
            println!("{estimate}");
            println!("manifest: {manifest}");
            println!("job: {job_id}");
            let region = sdk.region().map_or("us-east-1", |r| r.as_ref());
            println!("console: {}", job::console_url(region, &job_id));
            println!(
                "progress: cflogs backfill --status {job_id} --role-arn {}",
                plan.role_arn
            );
            Ok(true)
        }
    }
}
