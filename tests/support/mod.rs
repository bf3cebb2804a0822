//! Test support: a local AWS (moto) that the real aws-sdk-rust clients can talk to.
//!
//! Use from an integration test with `mod support;` and:
//!
//! ```ignore
//! let Some(stack) = support::MotoStack::start() else { return }; // skipped locally without the venv
//! let sdk = stack.sdk_config().await;
//! let s3 = stack.s3_client(&sdk); // straight to moto, path-style
//! let cw = stack.cloudwatch_client(&sdk); // through the adapter (CBOR <-> JSON)
//! stack.fault(r#"{"rules":[{"operation":"PutMetricData","action":"throttle","times":2}]}"#);
//! let stats = stack.stats(); // serde_json::Value, see moto_stack.py
//! ```
//!
//! `MotoStack::start` runs `tests/support/moto_stack.py` with the Python of the venv
//! made by `scripts/dev-venv.sh`: `$VENV/bin/python` when `VENV` is set (a relative
//! `VENV` is taken from the crate root), else `<crate root>/.venv/bin/python`.
//! When that Python or moto is missing, it panics if `CI=true`, and otherwise prints
//! a loud notice and returns `None` so that a plain local `cargo test` can skip.
//!
//! One process serves two URLs:
//! - `moto`: moto's server (S3 and everything else, in memory, per process);
//! - `adapter`: a proxy to moto that translates CloudWatch's Smithy RPC v2 CBOR
//!   (which moto does not speak) to AWS JSON 1.0 and back, forwards everything
//!   else unchanged, and injects faults on request (`fault`, `stats`).
//!
//! Each `MotoStack` is its own moto with its own empty state; the process is killed
//! when the `MotoStack` is dropped (and exits by itself when the test binary dies,
//! because it watches its stdin).
//!
//! The submodules hold the rest of the tests' shared helpers: [`logs`] (clock, civil time, gzip,
//! PRNG, sample and generated logs), [`events`] (Lambda event JSON), [`metrics`] (reading
//! CloudWatch back and comparing with expected totals) and [`view`] (the pipeline in-process and
//! a view over its datums).

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

pub mod events;
pub mod logs;
pub mod metrics;
pub mod parquet_logs;
pub mod parquet_writer;
pub mod runtime;
pub mod view;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long `start` waits for moto_stack.py to print its URLs.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Exit code of moto_stack.py when `import moto` / `import cbor2` fails.
const EXIT_NOT_INSTALLED: i32 = 3;

/// A running moto_stack.py: moto's server plus the CBOR adapter / fault injector.
pub struct MotoStack {
    /// moto's own endpoint, e.g. `http://127.0.0.1:41234` (use for S3, path-style).
    pub moto: String,
    /// The adapter's endpoint (use for CloudWatch; may be used for S3 to inject faults).
    pub adapter: String,
    child: Child,
    stdin: Option<ChildStdin>,
}

fn crate_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Python interpreter of the dev venv (see the module docs).
pub fn venv_python() -> PathBuf {
    let venv = match std::env::var_os("VENV") {
        Some(v) if !v.is_empty() => {
            let v = PathBuf::from(v);
            if v.is_absolute() {
                v
            } else {
                crate_root().join(v)
            }
        }
        _ => crate_root().join(".venv"),
    };
    venv.join("bin").join("python")
}

fn not_installed(why: &str) -> Option<MotoStack> {
    let msg = format!(
        "moto not installed: run scripts/dev-venv.sh ({why}; set VENV=... if the venv is elsewhere)"
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{msg}");
    }
    // Straight to the stderr handle: libtest captures `eprintln!` but not this,
    // so the notice shows in a plain `cargo test` run.
    let bar = "!".repeat(78);
    let _ = writeln!(
        std::io::stderr(),
        "\n{bar}\n!!! SKIPPING a moto test: {msg}\n{bar}"
    );
    None
}

impl MotoStack {
    /// Starts moto and the adapter; `None` (after a loud message) when the venv or
    /// moto is missing and `CI` is not `true`. Panics on any other failure.
    pub fn start() -> Option<MotoStack> {
        let python = venv_python();
        if !python.exists() {
            return not_installed(&format!("{} does not exist", python.display()));
        }
        let script = crate_root().join("tests/support/moto_stack.py");
        let mut child = Command::new(&python)
            .arg(&script)
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run {} {}: {e}", python.display(), script.display())
            });
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");

        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let res = BufReader::new(stdout).read_line(&mut line).map(|_| line);
            let _ = tx.send(res);
        });
        let line = match rx.recv_timeout(START_TIMEOUT) {
            Ok(Ok(line)) if !line.trim().is_empty() => line,
            Ok(_) => {
                // EOF: the script died before printing its URLs.
                let status = child.wait().expect("wait for moto_stack.py");
                if status.code() == Some(EXIT_NOT_INSTALLED) {
                    return not_installed(&format!(
                        "{} cannot import moto/cbor2",
                        python.display()
                    ));
                }
                panic!(
                    "moto_stack.py exited before printing its URLs: {status} (see its stderr above)"
                );
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("moto_stack.py printed nothing within {START_TIMEOUT:?}");
            }
        };
        let urls: serde_json::Value = serde_json::from_str(line.trim())
            .unwrap_or_else(|e| panic!("moto_stack.py printed {line:?}, not JSON: {e}"));
        let url = |k: &str| {
            urls[k]
                .as_str()
                .unwrap_or_else(|| panic!("moto_stack.py line {line:?} has no {k:?}"))
                .to_owned()
        };
        Some(MotoStack {
            moto: url("moto"),
            adapter: url("adapter"),
            child,
            stdin,
        })
    }

    /// SDK config with fixed test credentials (`testing`/`testing`), region us-east-1,
    /// and the standard retry mode (3 attempts). No endpoint: the client helpers set it.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "testing",
                "testing",
                None,
                None,
                "moto-stack",
            ))
            .retry_config(aws_config::retry::RetryConfig::standard())
            .load()
            .await
    }

    /// S3 config builder pointed at moto (path-style), to customise before `build()`.
    pub fn s3_config(&self, sdk: &aws_config::SdkConfig) -> aws_sdk_s3::config::Builder {
        aws_sdk_s3::config::Builder::from(sdk)
            .endpoint_url(&self.moto)
            .force_path_style(true)
    }

    /// S3 client talking to moto directly.
    pub fn s3_client(&self, sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(self.s3_config(sdk).build())
    }

    /// S3 client going through the adapter, so that `fault` rules apply to S3 too.
    pub fn s3_client_via_adapter(&self, sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
        let conf = self.s3_config(sdk).endpoint_url(&self.adapter).build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// A started stack with the SDK config, an S3 client straight to moto, a CloudWatch client
    /// and `bucket` created: the set-up of most moto tests.
    pub async fn with_bucket(
        bucket: &str,
    ) -> Option<(
        MotoStack,
        aws_config::SdkConfig,
        aws_sdk_s3::Client,
        aws_sdk_cloudwatch::Client,
    )> {
        let stack = MotoStack::start()?;
        let sdk = stack.sdk_config().await;
        let s3 = stack.s3_client(&sdk);
        let cw = stack.cloudwatch_client(&sdk);
        s3.create_bucket().bucket(bucket).send().await.unwrap();
        Some((stack, sdk, s3, cw))
    }

    /// CloudWatch config builder pointed at the adapter, to customise before `build()`.
    pub fn cloudwatch_config(
        &self,
        sdk: &aws_config::SdkConfig,
    ) -> aws_sdk_cloudwatch::config::Builder {
        aws_sdk_cloudwatch::config::Builder::from(sdk).endpoint_url(&self.adapter)
    }

    /// CloudWatch client talking to moto through the adapter.
    pub fn cloudwatch_client(&self, sdk: &aws_config::SdkConfig) -> aws_sdk_cloudwatch::Client {
        aws_sdk_cloudwatch::Client::from_conf(self.cloudwatch_config(sdk).build())
    }

    /// CloudWatch client through the adapter making `attempts` attempts per request with
    /// [`fast_retry`]: retries against injected faults without the SDK's long backoffs.
    pub fn cloudwatch_client_with_attempts(
        &self,
        sdk: &aws_config::SdkConfig,
        attempts: u32,
    ) -> aws_sdk_cloudwatch::Client {
        let conf = self
            .cloudwatch_config(sdk)
            .retry_config(fast_retry(attempts))
            .build();
        aws_sdk_cloudwatch::Client::from_conf(conf)
    }

    /// Replaces the adapter's fault rules: `rules_json` is `{"rules":[...]}` as described
    /// in moto_stack.py (operation, service, action throttle|error500|invalid|slow|drop, every,
    /// skip, times, delay_ms, phase). Panics when the adapter rejects them.
    pub fn fault(&self, rules_json: &str) {
        self.control_ok("POST", "/__faults", Some(rules_json));
    }

    /// Appends fault rules (same format as `fault`).
    pub fn add_fault(&self, rules_json: &str) {
        self.control_ok("PUT", "/__faults", Some(rules_json));
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.control_ok("DELETE", "/__faults", None);
    }

    /// The adapter's counters: `{"requests": {op: n}, "faults": {op: {action: n}},
    /// "faults_total": n, "gzip": {op: n}, "limit_rejections": {op: n}, "rules": [...]}`.
    pub fn stats(&self) -> serde_json::Value {
        let body = self.control_ok("GET", "/__stats", None);
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("/__stats sent {body:?}: {e}"))
    }

    /// Zeroes the adapter's counters (rules stay, with their counters zeroed).
    pub fn reset_stats(&self) {
        self.control_ok("DELETE", "/__stats", None);
    }

    /// Turns the adapter's PutMetricData limit checks (1000 datums, 150 values, ...) on or off.
    pub fn set_limits(&self, on: bool) {
        self.control_ok("POST", "/__config", Some(&format!(r#"{{"limits":{on}}}"#)));
    }

    fn control_ok(&self, method: &str, path: &str, body: Option<&str>) -> String {
        let (status, text) = self.control(method, path, body);
        assert_eq!(
            status, 200,
            "adapter {method} {path} answered {status}: {text}"
        );
        text
    }

    /// One blocking HTTP/1.1 request to the adapter's control endpoints (std only).
    pub fn control(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        let authority = self
            .adapter
            .strip_prefix("http://")
            .expect("adapter URL is http://");
        let mut stream = TcpStream::connect(authority).expect("connect to the adapter");
        stream.set_read_timeout(Some(Duration::from_secs(30))).ok();
        let body = body.unwrap_or("");
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream
            .write_all(request.as_bytes())
            .expect("write to the adapter");
        let mut response = Vec::new();
        stream
            .read_to_end(&mut response)
            .expect("read from the adapter");
        let response = String::from_utf8_lossy(&response);
        let (head, text) = response
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("bad HTTP response from the adapter: {response:?}"));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line from the adapter: {head:?}"));
        (status, text.to_owned())
    }
}

/// The SDK's standard retry strategy with `attempts` attempts and a 20 ms initial backoff, so
/// that tests retrying injected faults stay fast.
pub fn fast_retry(attempts: u32) -> aws_config::retry::RetryConfig {
    aws_config::retry::RetryConfig::standard()
        .with_max_attempts(attempts)
        .with_initial_backoff(Duration::from_millis(20))
}

/// Puts `body` at `bucket`/`key`.
pub async fn put_object(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: Vec<u8>) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(aws_sdk_s3::primitives::ByteStream::from(body))
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutObject {bucket}/{key}: {e}"));
}

impl Drop for MotoStack {
    fn drop(&mut self) {
        drop(self.stdin.take()); // EOF: the script's own way out
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
