#!/usr/bin/env bash
# Deployment checks, all offline (no AWS credentials, no network besides what the venv already has):
#
#   1. cfn-lint template.yml              no errors, warnings or informational findings
#   2. sam validate --lint                 SAM's own validation (AWS_DEFAULT_REGION=us-east-1)
#   3. pytest tests/deploy                 least privilege, triggers, alarms, env vars and dashboards
#                                          against `cflogs catalogue`
#   4. sam build                           the function for arm64 with cargo-lambda + zig (from the
#                                          venv); checks that bootstrap is an ARM aarch64 ELF
#
#   VENV=/some/dir bash scripts/check-deploy.sh   # default .venv (bash scripts/dev-venv.sh makes it)
#   SKIP_SAM_BUILD=1 bash scripts/check-deploy.sh # steps 1-3 only (sam build takes minutes)
#   CFLOGS=target/debug/cflogs ...                # cflogs binary for the pytest step
#                                                 # (default: cargo run -q --bin cflogs)
#
# sam build runs `cargo lambda build --release --arm64 --bin cloudfront-log-metrics` in the source
# tree (SAM's Rust builder only builds in source), so it reuses target/ (target/aarch64-unknown-
# linux-gnu and target/lambda) between runs: only the first build compiles every dependency.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

venv="$(cd "${VENV:-.venv}" 2>/dev/null && pwd)" || {
    echo "check-deploy.sh: no venv at ${VENV:-.venv}; run: bash scripts/dev-venv.sh" >&2
    exit 1
}
for tool in cfn-lint sam cargo-lambda python; do
    if [[ ! -x "$venv/bin/$tool" ]]; then
        echo "check-deploy.sh: $venv/bin/$tool missing; run: bash scripts/dev-venv.sh" >&2
        exit 1
    fi
done

# The venv's bin first: sam finds cargo-lambda there, and cargo-lambda (cargo-zigbuild) runs
# `python3 -m ziglang` for zig (the PyPI package ziglang); CARGO_ZIGBUILD_PYTHON_PATH makes that
# python explicit.
export PATH="$venv/bin:$PATH"
export CARGO_ZIGBUILD_PYTHON_PATH="$venv/bin/python"
export AWS_DEFAULT_REGION=us-east-1
export AWS_REGION=us-east-1
export SAM_CLI_TELEMETRY=0
export AWS_EC2_METADATA_DISABLED=true

summary=()
step() {
    local name="$1"
    shift
    echo "==> $name" >&2
    local start=$SECONDS
    "$@"
    local took=$((SECONDS - start))
    summary+=("$(printf '%-28s %4ss' "$name" "$took")")
    echo "<== $name: ok (${took}s)" >&2
}

# cfn-lint exits non-zero for errors (2), warnings (4) and, with I included, informational (8).
step "cfn-lint" cfn-lint --include-checks I -- template.yml
step "sam validate --lint" sam validate --lint --template template.yml
step "pytest tests/deploy" python -m pytest tests/deploy -q -p no:cacheprovider

if [[ "${SKIP_SAM_BUILD:-0}" == "1" && "${CI:-}" == "true" ]]; then
    echo "check-deploy.sh: SKIP_SAM_BUILD=1 under CI=true: CI never skips the sam build" >&2
    exit 1
fi
if [[ "${SKIP_SAM_BUILD:-0}" != "1" ]]; then
    if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
        step "rustup target add" rustup target add aarch64-unknown-linux-gnu
    fi
    step "sam build" sam build --template template.yml
    bootstrap=.aws-sam/build/Function/bootstrap
    description="$(file -b "$bootstrap")"
    echo "$bootstrap: $description" >&2
    if [[ "$description" != *"ARM aarch64"* ]]; then
        echo "check-deploy.sh: $bootstrap is not an ARM aarch64 executable" >&2
        exit 1
    fi
    summary+=("$(printf '%-28s %s' "bootstrap size" "$(du -h "$bootstrap" | cut -f1)")")
fi

echo "check-deploy.sh: all checks passed" >&2
printf '  %s\n' "${summary[@]}" >&2
