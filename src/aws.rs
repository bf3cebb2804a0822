//! AWS clients, built once per process from aws-config's default chain. Every endpoint can be
//! redirected with the standard `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_S3` /
//! `AWS_ENDPOINT_URL_CLOUDWATCH`; S3 then uses path-style addressing, so the same binary runs
//! against moto, LocalStack or MinIO. `AWS_ENDPOINT_URL_S3_CONTROL` is used as it is written,
//! without the account ID that S3 Control puts in front of its host name, so that an emulator or
//! a loopback listener on `127.0.0.1` can answer it.

use aws_config::{BehaviorVersion, SdkConfig};

/// Loads the shared SDK configuration (credentials, region, retry from `AWS_MAX_ATTEMPTS`,
/// endpoints).
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

fn env_set(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.trim().is_empty())
}

/// The S3 client: path-style addressing when an endpoint is overridden.
pub fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    let path_style = env_set("AWS_ENDPOINT_URL_S3") || env_set("AWS_ENDPOINT_URL");
    let conf = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(path_style)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// The CloudWatch client (request compression on, as the SDK defaults). A request is always
/// awaited, never abandoned (it may have been accepted): the operation timeout bounds how long,
/// so that work stopped at an invocation's deadline ends within its margin.
pub fn cloudwatch_client(sdk: &SdkConfig) -> aws_sdk_cloudwatch::Client {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .operation_attempt_timeout(std::time::Duration::from_secs(5))
        .operation_timeout(std::time::Duration::from_secs(10))
        .build();
    let conf = aws_sdk_cloudwatch::config::Builder::from(sdk)
        .timeout_config(timeouts)
        .build();
    aws_sdk_cloudwatch::Client::from_conf(conf)
}

/// An S3 Control endpoint taken as written.
#[derive(Debug)]
struct VerbatimEndpoint(String);

impl aws_sdk_s3control::config::endpoint::ResolveEndpoint for VerbatimEndpoint {
    fn resolve_endpoint<'a>(
        &'a self,
        _: &'a aws_sdk_s3control::config::endpoint::Params,
    ) -> aws_sdk_s3control::config::endpoint::EndpointFuture<'a> {
        let endpoint = aws_sdk_s3control::config::endpoint::Endpoint::builder()
            .url(self.0.clone())
            .build();
        aws_sdk_s3control::config::endpoint::EndpointFuture::ready(Ok(endpoint))
    }
}

/// The S3 Control client (Batch Operations jobs); `AWS_ENDPOINT_URL_S3_CONTROL` as written.
pub fn s3control_client(sdk: &SdkConfig) -> aws_sdk_s3control::Client {
    let mut conf = aws_sdk_s3control::config::Builder::from(sdk);
    if let Ok(url) = std::env::var("AWS_ENDPOINT_URL_S3_CONTROL")
        && !url.trim().is_empty()
    {
        conf = conf.endpoint_resolver(VerbatimEndpoint(url.trim().to_owned()));
    }
    aws_sdk_s3control::Client::from_conf(conf.build())
}

/// The CloudFormation client (`cflogs backfill --stack` reads the stack's outputs).
pub fn cloudformation_client(sdk: &SdkConfig) -> aws_sdk_cloudformation::Client {
    aws_sdk_cloudformation::Client::new(sdk)
}
