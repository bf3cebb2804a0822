//! The Lambda function: configuration (read by [`Settings::from_env`], the reader `cflogs` uses
//! too), clients built once per container, and the runtime loop.
//! Everything else lives in the library's [`cloudfront_log_metrics::handler`].

use cloudfront_log_metrics::aws;
use cloudfront_log_metrics::conditional::ConditionalStore;
use cloudfront_log_metrics::handler::Handler;
use cloudfront_log_metrics::object_store::ObjectStore;
use cloudfront_log_metrics::settings::Settings;
use cloudfront_log_metrics::sink::emf::EmfSink;
use cloudfront_log_metrics::sink::{MetricSink, SinkKind};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Time kept before the invocation's deadline: after it no PutMetricData request starts, those in
/// flight (each bounded by the CloudWatch client's operation timeout, 10 s) are awaited and
/// recorded, claims are released, and unfinished Batch Operations tasks are answered
/// TemporaryFailure for the job to retry.
const DEADLINE_MARGIN_MS: i64 = 15_000;
/// 2001-09-09 in epoch milliseconds: a smaller invocation deadline is not a time.
const EPOCH_2001_MS: i64 = 1_000_000_000_000;

async fn run<S: ObjectStore + ConditionalStore, M: MetricSink>(
    handler: Handler<S, M>,
) -> Result<(), Error> {
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let wall_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        // CloudWatch's window is evaluated at CFLM_NOW when set (tests, replays).
        let now_ms = handler.settings.window_now(wall_ms);
        // Past this deadline no further request starts: work still to do is left, recorded, for
        // a retry rather than lost to a timeout.
        tracing::debug!(deadline_ms = event.context.deadline, wall_ms, "invocation");
        // A deadline that is no epoch time (emulators such as `cargo lambda watch` send the
        // timeout itself, 600000) is no deadline.
        let deadline = i64::try_from(event.context.deadline)
            .ok()
            .filter(|&d| d > EPOCH_2001_MS)
            .map(|d| {
                let left_ms = d.saturating_sub(wall_ms).saturating_sub(DEADLINE_MARGIN_MS);
                Instant::now() + Duration::from_millis(u64::try_from(left_ms).unwrap_or(0))
            });
        handler
            .handle_until(&event.payload, now_ms, deadline)
            .await
            .map_err(Error::from)
    }))
    .await
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let settings = Settings::from_env()?;
    let sdk = aws::sdk_config().await;
    let store = aws::s3_client(&sdk);
    match settings.sink {
        SinkKind::CloudWatch => {
            let sink = aws::cloudwatch_client(&sdk);
            run(Handler {
                store,
                sink,
                settings,
            })
            .await
        }
        SinkKind::Emf => {
            let sink = EmfSink::new(std::io::stdout());
            run(Handler {
                store,
                sink,
                settings,
            })
            .await
        }
    }
}
