//! Issue 25: hostile Parquet files end quickly, with an error that names the file, the row group
//! and the column, in flat memory, through `cflogs process`; and no mutation of a real Parquet
//! file (the corpus under tests/fixtures/parquet/) panics, runs long or takes much memory.
//!
//! The fixtures are written by `columnar::tests::parquet_fixtures_are_current_and_the_hostile_ones_refused`
//! (`CFLM_WRITE_FIXTURES=1` rewrites them).

use cloudfront_log_metrics::config::MetricsConfig;
use cloudfront_log_metrics::pipeline;
use proptest::prelude::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/parquet")
        .join(name)
}

const HOSTILE: [&str; 4] = [
    "snappy-page-declares-2gb.parquet",
    "snappy-preamble-declares-2gb.parquet",
    "gzip-bomb.parquet",
    "zstd-bomb.parquet",
];

/// The peak resident set of a `cflogs` child, from `/usr/bin/time -v`, in KiB (`None` where
/// that tool is missing).
fn max_rss_kib(stderr: &str) -> Option<u64> {
    stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
        .and_then(|v| v.trim().parse().ok())
}

#[test]
fn cflogs_process_report_and_export_refuse_hostile_parquet_quickly_in_flat_memory() {
    let time = Path::new("/usr/bin/time");
    let process = [
        "process",
        "--dry-run",
        "--now",
        "2023-11-15T00:00:00Z",
        "--distribution-id",
        "E2Q4ABCDEFGH",
    ];
    let commands: [&[&str]; 3] = [&process, &["report"], &["export"]];
    for (name, command) in HOSTILE
        .iter()
        .flat_map(|n| commands.iter().map(move |c| (*n, *c)))
    {
        let path = fixture(&format!("hostile/{name}"));
        let mut cmd = if time.exists() {
            let mut c = Command::new(time);
            c.arg("-v").arg(env!("CARGO_BIN_EXE_cflogs"));
            c
        } else {
            Command::new(env!("CARGO_BIN_EXE_cflogs"))
        };
        cmd.args(command)
            .arg(&path)
            .env_remove("MAX_PARQUET_PAGE_BYTES");
        let started = Instant::now();
        let out = cmd.output().expect("run cflogs");
        let took = started.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{command:?} {name}: {stderr}");
        let file = path.display().to_string();
        assert!(
            stderr.contains(&format!("{file}: Parquet: row group 0, column timestamp: ")),
            "{command:?} {name}: {stderr}"
        );
        assert!(
            took < Duration::from_secs(10),
            "{command:?} {name}: {took:?}"
        );
        if let Some(kib) = max_rss_kib(&stderr) {
            assert!(kib < 64 * 1024, "{command:?} {name}: peak RSS {kib} KiB");
        }
    }
}

#[test]
fn the_page_limit_is_a_setting() {
    // The 2 GB page is refused against the limit set, and the message names the variable.
    let out = Command::new(env!("CARGO_BIN_EXE_cflogs"))
        .args([
            "process",
            "--dry-run",
            "--now",
            "2023-11-15T00:00:00Z",
            "--distribution-id",
            "E2Q4ABCDEFGH",
        ])
        .arg(fixture("hostile/snappy-page-declares-2gb.parquet"))
        .env("MAX_PARQUET_PAGE_BYTES", "1000")
        .output()
        .expect("run cflogs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("a page declares 2000000000 bytes, more than the 1000-byte page limit (raise MAX_PARQUET_PAGE_BYTES"),
        "{stderr}"
    );
}

fn corpus() -> Vec<Vec<u8>> {
    let mut files = Vec::new();
    for dir in ["corpus", "hostile"] {
        let mut names: Vec<PathBuf> = std::fs::read_dir(fixture(dir))
            .expect("the Parquet fixtures")
            .map(|e| e.expect("a fixture").path())
            .collect();
        names.sort();
        files.extend(names.iter().map(|p| std::fs::read(p).expect("a fixture")));
    }
    files
}

/// The process's peak resident memory so far, in MiB (Linux; 0 elsewhere).
fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}

/// A mutation of a file: bytes overwritten, a run of bytes set to 0xff (sizes at their maximum),
/// or the file cut short.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Max(usize, usize),
    Cut(usize),
}

fn apply(file: &mut Vec<u8>, m: &Mutation) {
    let n = file.len();
    match *m {
        Mutation::Flip(at, x) => file[at % n] ^= x | 1,
        Mutation::Max(at, len) => {
            let at = at % n;
            let end = (at + len).min(n);
            file[at..end].fill(0xff);
        }
        Mutation::Cut(at) => file.truncate(at % n),
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        6 => (any::<usize>(), any::<u8>()).prop_map(|(a, x)| Mutation::Flip(a, x)),
        3 => (any::<usize>(), 1usize..6).prop_map(|(a, l)| Mutation::Max(a, l)),
        1 => any::<usize>().prop_map(Mutation::Cut),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Mutated real files: every read ends (records or an error), never panics, within seconds
    /// and without taking memory a file of this size could not justify.
    #[test]
    fn mutated_parquet_never_panics_nor_allocates_what_it_declares(
        which in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..8),
    ) {
        let files = corpus();
        let mut file = files[which.index(files.len())].clone();
        for m in &mutations {
            if !file.is_empty() {
                apply(&mut file, m);
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("E2Q4ABCDEFGH.2023-11-14-22.x.parquet");
        std::fs::write(&path, &file).unwrap();
        let f = std::fs::File::open(&path).unwrap();
        let name = path.display().to_string();
        let config = MetricsConfig::default();
        let started = Instant::now();
        let read = std::panic::catch_unwind(|| {
            pipeline::process_local(&name, &name, f, &config, 1_700_000_000_000i64, 1u64 << 30)
                .map(|p| p.report.parse.records)
                .map_err(|e| e.to_string())
        });
        prop_assert!(read.is_ok(), "panicked on {:?}", mutations);
        prop_assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
        prop_assert!(peak_rss_mib() < 512, "peak RSS {} MiB", peak_rss_mib());
    }
}
