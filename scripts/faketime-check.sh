#!/usr/bin/env bash
# Runs every Rust test with the clock moved ahead (libfaketime, default 60 days): no test may
# depend on today's date. Tests that need a date pin it (`--now`, `CFLM_NOW`) or generate their
# logs relative to now, and assert the same things either way.
#
# Builds first, with the real clock (`cargo test --no-run`, and the Lambda binary that the runtime
# test's `cargo lambda watch` runs), then runs each test executable under libfaketime. cargo,
# rustc and cargo-lambda are left on the real clock (FAKETIME_SKIP_CMDS), so builds are never
# confused by faked times; the Lambda binary, cflogs and moto's Python get the faked one.
#
# Installs faketime with apt-get when run as root without it; otherwise a missing libfaketime
# skips the check, except under CI=true, where it fails.
#
#   bash scripts/faketime-check.sh              # 60 days ahead
#   SHIFT=+400d bash scripts/faketime-check.sh  # any libfaketime offset
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
SHIFT="${SHIFT:-+60d}"

lib=""
find_lib() {
    lib="$(ls /usr/lib/*/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1 \
        2>/dev/null | head -n 1 || true)"
}
find_lib
if [[ -z "$lib" && "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    apt-get update -qq >&2 && apt-get install -y -qq faketime >&2 || true
    find_lib
fi
if [[ -z "$lib" ]]; then
    msg="libfaketime not found (apt-get install faketime)"
    if [[ "${CI:-}" == "true" ]]; then
        echo "error: $msg" >&2
        exit 1
    fi
    echo "SKIPPING the faketime check: $msg" >&2
    exit 0
fi

VENV="${VENV:-$(bash scripts/dev-venv.sh)}"
export VENV

echo "==> building with the real clock" >&2
cargo build --locked --bin cloudfront-log-metrics --bin cflogs
mapfile -t tests < <(cargo test --locked --no-run --message-format=json 2>/dev/null |
    python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("profile", {}).get("test") and m.get("executable"):
        print(m["executable"])
')
[[ ${#tests[@]} -gt 0 ]] || { echo "error: no test executables built" >&2; exit 1; }

echo "==> ${#tests[@]} test executables with the clock at $SHIFT" >&2
failed=()
for t in "${tests[@]}"; do
    echo "--> $(basename "$t")" >&2
    if ! env FAKETIME="$SHIFT" FAKETIME_DONT_FAKE_MONOTONIC=1 NO_FAKE_STAT=1 \
        FAKETIME_SKIP_CMDS=cargo,rustc,rustup,cargo-lambda LD_PRELOAD="$lib" "$t"; then
        failed+=("$(basename "$t")")
    fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "error: failed with the clock at $SHIFT: ${failed[*]}" >&2
    exit 1
fi
echo "==> every test passed with the clock at $SHIFT" >&2
