#!/usr/bin/env bash
# Sizing (README "Deploying to AWS" → "Sizing"): how large a log file the function's defaults
# (MemorySize 1024 MB, Timeout 300 s) process within the timeout.
#
# One generated CloudFront log file is put into a local S3 (moto, tests/support/moto_stack.py) and
# `cflogs process --dry-run s3://...` reads it with the same library path as the Lambda
# (handler::read_object: streamed GetObject → async gzip → parse → aggregate → datums → batches),
# in a CPU cgroup limited to the CPU share Lambda gives that memory size (1,769 MB = one vCPU, so
# 1024 MB ≈ 0.58 vCPU); moto runs outside it. That is the time a file costs before publishing.
# Publishing is a handful of PutMetricData requests per file (printed); one publishing run checks
# the path end to end, but its time is moto's (it stores every value of every distribution datum
# one by one), not CloudWatch's, so it is shown and not used for sizing.
#
#   scripts/sizing.sh                          # 1,000,000 records, 1024 MB, 300 s
#   RECORDS=300000 MEMORY_MB=512 scripts/sizing.sh
#
# Environment: RECORDS (1000000), MEMORY_MB (1024), TIMEOUT_S (300), RUNS (3).
# Needs root for the cgroup (/sys/fs/cgroup/cpu, cgroup v1, or cgroup v2's cpu.max); without it
# the run is not CPU-limited and the report says so.
# Output: a markdown report on stdout, also saved to target/bench/sizing-<size>-<memory>.md.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "${BASH_SOURCE[0]}")/.."

RECORDS=${RECORDS:-1000000}
MEMORY_MB=${MEMORY_MB:-1024}
TIMEOUT_S=${TIMEOUT_S:-300}
RUNS=${RUNS:-3}
LAMBDA_MB_PER_VCPU=1769
log() { echo "sizing: $*" >&2; }

VENV=$(bash scripts/dev-venv.sh)
PY=$VENV/bin/python
log "building release binaries"
cargo build --release --locked --bin cflogs --example gen_logs >&2
CFLOGS=target/release/cflogs
GEN=target/release/examples/gen_logs

OUT_DIR=target/bench
mkdir -p "$OUT_DIR"
FILE=$OUT_DIR/sizing-$RECORDS.log.gz
[[ -s $FILE ]] || "$GEN" --records "$RECORDS" --out "$FILE" 2>/dev/null
COMPRESSED=$(stat -c %s "$FILE")
DECOMPRESSED=$(gzip -dc "$FILE" | wc -c)

# --- local AWS -------------------------------------------------------------------------------
coproc MOTO { exec "$PY" tests/support/moto_stack.py; }
trap 'kill "$MOTO_PID" 2>/dev/null || true' EXIT
read -r -u "${MOTO[0]}" URLS
ADAPTER=$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["adapter"])' "$URLS")
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
export AWS_ENDPOINT_URL=$ADAPTER
BUCKET=cflm-sizing
KEY=cloudfront/EBENCHMARK1.2024-05-14-13.sizing.gz
"$PY" - "$ADAPTER" "$BUCKET" "$KEY" "$FILE" <<'EOF'
import sys, boto3
from botocore.config import Config
url, bucket, key, path = sys.argv[1:]
s3 = boto3.client("s3", endpoint_url=url, config=Config(s3={"addressing_style": "path"}))
s3.create_bucket(Bucket=bucket)
s3.upload_file(path, bucket, key)
EOF

# --- the CPU share of MEMORY_MB --------------------------------------------------------------
QUOTA_US=$((MEMORY_MB * 100000 / LAMBDA_MB_PER_VCPU))
VCPU=$(awk -v m="$MEMORY_MB" -v v="$LAMBDA_MB_PER_VCPU" 'BEGIN { printf "%.2f", m / v }')
CG=""
if [[ -w /sys/fs/cgroup/cpu ]]; then # cgroup v1
    CG=/sys/fs/cgroup/cpu/cflm-sizing
    mkdir -p "$CG"
    echo 100000 >"$CG/cpu.cfs_period_us"
    echo "$QUOTA_US" >"$CG/cpu.cfs_quota_us"
    PROCS=$CG/cgroup.procs
elif [[ -w /sys/fs/cgroup/cgroup.subtree_control ]]; then # cgroup v2
    CG=/sys/fs/cgroup/cflm-sizing
    echo +cpu >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
    mkdir -p "$CG"
    echo "$QUOTA_US 100000" >"$CG/cpu.max"
    PROCS=$CG/cgroup.procs
fi
if [[ -n $CG ]]; then
    LIMIT="cgroup quota ${QUOTA_US} µs per 100,000 µs ($VCPU vCPU, as Lambda gives ${MEMORY_MB} MB)"
    LIMITED=(sh -c 'echo $$ > "$0"; exec "$@"' "$PROCS")
else
    LIMIT="NOT CPU-limited (no writable cgroup): the figures overstate what Lambda does"
    LIMITED=()
fi

# --- runs ------------------------------------------------------------------------------------
ARGS=(process --output none --now 2024-05-14T15:00:00Z "s3://$BUCKET/cloudfront/")
times=()
for ((r = 1; r <= RUNS; r++)); do
    t0=$(date +%s.%N)
    /usr/bin/time -f '%M' -o "$OUT_DIR/sizing.rss" "${LIMITED[@]}" \
        "$CFLOGS" "${ARGS[@]}" --dry-run 2>"$OUT_DIR/sizing.err"
    t1=$(date +%s.%N)
    times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')")
    RSS_KIB=$(tail -n1 "$OUT_DIR/sizing.rss")
    log "run $r: ${times[-1]} s, peak RSS $((RSS_KIB / 1024)) MiB; $(tail -n1 "$OUT_DIR/sizing.err")"
done
log "publishing once (PutMetricData to moto, markers on)"
t0=$(date +%s.%N)
"${LIMITED[@]}" "$CFLOGS" "${ARGS[@]}" 2>"$OUT_DIR/sizing-publish.err"
t1=$(date +%s.%N)
PUBLISH_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
PUBLISH_LINE=$(tail -n1 "$OUT_DIR/sizing-publish.err")
log "published in $PUBLISH_S s: $PUBLISH_LINE"
[[ -n $CG ]] && rmdir "$CG" 2>/dev/null || true
MEDIAN=$(printf '%s\n' "${times[@]}" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')

calc() { awk "BEGIN { $1 }"; }
MBPS=$(calc "printf \"%.1f\", $COMPRESSED / 1e6 / $MEDIAN")
DMBPS=$(calc "printf \"%.1f\", $DECOMPRESSED / 1e6 / $MEDIAN")
# Half the timeout as the budget: Graviton (arm64) cores, a slower S3 and PutMetricData
# throttling are not in this measurement.
LARGEST=$(calc "printf \"%.0f\", $COMPRESSED / 1e6 / $MEDIAN * $TIMEOUT_S / 2")
LARGEST_RECORDS=$(calc "printf \"%.1f\", $RECORDS / 1e6 / $MEDIAN * $TIMEOUT_S / 2")
REPORT=$OUT_DIR/sizing-$RECORDS-$MEMORY_MB.md
{
    echo "## Sizing: MemorySize $MEMORY_MB MB, Timeout $TIMEOUT_S s"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); machine: $(nproc) CPUs ($(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')); git: $(git rev-parse --short HEAD)"
    echo "- input: $RECORDS generated 33-field records, $(calc "printf \"%.1f\", $COMPRESSED / 1e6") MB gzip'd, $(calc "printf \"%.1f\", $DECOMPRESSED / 1e6") MB decompressed, in moto's S3"
    echo "- run: \`cflogs process --dry-run s3://$BUCKET/cloudfront/\` (GetObject from moto, streamed), $LIMIT"
    echo "- wall time per run: ${times[*]} s (median $MEDIAN s); peak RSS $(calc "printf \"%.1f\", $RSS_KIB / 1024") MiB"
    echo "- publishing run (same limit, to moto, markers on): $PUBLISH_S s, moto-bound; it printed: $PUBLISH_LINE"
    echo
    echo "Throughput: $MBPS MB/s gzip'd ($DMBPS MB/s decompressed, $(calc "printf \"%.0f\", $RECORDS / $MEDIAN") records/s)."
    echo "Largest file within the timeout, at half of it as a margin: about $LARGEST MB gzip'd (~$LARGEST_RECORDS million records)."
} | tee "$REPORT"
