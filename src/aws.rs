//! AWS clients, built once per process from aws-config's default chain. Every endpoint can be
//! redirected with the standard `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_S3` /
//! `AWS_ENDPOINT_URL_CLOUDWATCH`; S3 then uses path-style addressing, so the same binary runs
//! against moto, LocalStack or MinIO.

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

/// The CloudWatch client (request compression on, as the SDK defaults).
pub fn cloudwatch_client(sdk: &SdkConfig) -> aws_sdk_cloudwatch::Client {
    aws_sdk_cloudwatch::Client::new(sdk)
}
