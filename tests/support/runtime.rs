//! The Lambda binary through the Lambda runtime API: `cargo lambda watch` runs it (the protocol
//! AWS and `sam local invoke` speak) and `cargo lambda invoke` sends it events. Shared by
//! tests/lambda_runtime.rs and tests/batch_operations.rs.

use serde_json::Value;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The crate's root (the tests run `cargo lambda` there).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The venv's `cargo-lambda`; `None` (the test skips) when it is missing, a panic under CI=true.
pub fn cargo_lambda() -> Option<PathBuf> {
    let bin = super::venv_python().with_file_name("cargo-lambda");
    if bin.exists() {
        return Some(bin);
    }
    let msg = format!(
        "cargo-lambda not installed at {}: run scripts/dev-venv.sh",
        bin.display()
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{msg}");
    }
    eprintln!("SKIPPING: {msg}");
    None
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The function under `cargo lambda watch`, stopped when dropped.
pub struct Function {
    cl: PathBuf,
    port: u16,
    child: Child,
}

impl Function {
    /// Starts the function with `env` (`KEY=VALUE` each, passed in an env file: `--env-var`
    /// splits values at commas), its emulator's log in the temp dir under `log_name`. `None`
    /// when cargo-lambda is missing outside CI.
    pub fn watch(env: &[String], log_name: &str) -> Option<Function> {
        let cl = cargo_lambda()?;
        let port = free_port();
        let env_file = std::env::temp_dir().join(format!("cflm-lambda-env-{port}"));
        let lines: Vec<String> = env
            .iter()
            .map(|e| {
                let (k, v) = e.split_once('=').unwrap();
                format!("{k}=\"{v}\"\n")
            })
            .collect();
        std::fs::write(&env_file, lines.concat()).unwrap();
        let log = std::fs::File::create(std::env::temp_dir().join(log_name)).unwrap();
        let child = Command::new(&cl)
            .args(["lambda", "watch", "--ignore-changes", "--quiet"])
            .args(["--invoke-address", "127.0.0.1"])
            .args(["--invoke-port", &port.to_string()])
            .arg("--env-file")
            .arg(&env_file)
            .current_dir(root())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        Some(Function { cl, port, child })
    }

    /// Invokes the function with `data` (`--data-file PATH` or `--data-ascii JSON`).
    pub fn invoke(&self, data: &[&str]) -> Output {
        invoke(&self.cl, self.port, data)
    }

    /// Invokes the function with an event.
    pub fn invoke_event(&self, event: &Value) -> Output {
        self.invoke(&["--data-ascii", &event.to_string()])
    }

    /// Invokes `data` until the function answers: the first invocation waits for it to build
    /// and start (up to ten minutes). Returns the first successful answer, or the last failure.
    pub async fn warm_up(&self, data: &[&str]) -> Output {
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            let out = self.invoke(data);
            if out.status.success() || Instant::now() > deadline {
                return out;
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn invoke(cl: &Path, port: u16, data: &[&str]) -> Output {
    Command::new(cl)
        .args(["lambda", "invoke", "--invoke-address", "127.0.0.1"])
        .args(["--invoke-port", &port.to_string()])
        .args(data)
        .arg("cloudfront-log-metrics")
        .current_dir(root())
        .output()
        .unwrap()
}

/// The function's answer, after asserting the invocation succeeded.
pub fn response(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "invoke failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}
