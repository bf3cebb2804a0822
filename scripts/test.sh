#!/usr/bin/env bash
# The test command (README "Quick start", run by CI as .ci/run): installs what it needs, then
# format check, clippy with -D warnings, every Rust test (unit, integration against moto, the
# Lambda binary under cargo lambda watch), the aarch64 NEON scanner's tests under qemu-user, and
# the deployment checks (cfn-lint, sam validate, template tests, an offline arm64 sam build).
#
# Installs into a venv (.venv, or $VENV): the pinned Python tools of requirements-dev.txt
# (moto[server], cfn-lint, aws-sam-cli, cargo-lambda, ziglang, pytest), and Debian's chromium
# (apt-get, when root) for the `cflogs report` HTML test. Under CI=true a missing tool fails the
# run; the tests never skip there.
#
#   bash scripts/test.sh                   # everything
#   SKIP_SAM_BUILD=1 bash scripts/test.sh  # without the (minutes long) sam build
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
started=$SECONDS
phase() { echo "==> $* ($((SECONDS - started))s)" >&2; }

phase "Python tools (scripts/dev-venv.sh)"
VENV="$(bash scripts/dev-venv.sh)"
export VENV
export PATH="$VENV/bin:$PATH"

phase "headless Chromium for the HTML report test (Debian's chromium)"
if ! command -v chromium >/dev/null 2>&1; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    elif [[ ${CI:-} == true ]]; then
        echo "chromium is missing and cannot be installed (not root, or no apt-get)" >&2
        exit 1
    else
        echo "NOTICE: chromium missing (not root): the HTML report test will skip" >&2
    fi
fi

phase "rustfmt, clippy"
rustup component add rustfmt clippy >/dev/null 2>&1 || true
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings

phase "cargo test"
cargo test --locked

phase "the NEON tab scanner, for aarch64, under qemu (scripts/neon.sh)"
bash scripts/neon.sh

phase "deployment checks (scripts/check-deploy.sh)"
cargo build --locked --bin cflogs
CFLOGS="${CARGO_TARGET_DIR:-$root/target}/debug/cflogs" bash scripts/check-deploy.sh

phase "done"
