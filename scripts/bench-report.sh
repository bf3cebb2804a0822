#!/usr/bin/env bash
# Benchmark of issue 15: `cflogs report` against `cflogs process --dry-run --output none` on the
# issue's input, a 1.4 M-line access log with about a million distinct URIs (gen_logs
# --hot-ids 400: 1,037,474 of them), in one run. The two commands (and, with BASELINE_BIN, the
# report of another build) alternate run by run, so that the VM's drift hits them alike.
# Targets: the report's median wall time at most 1.5x the metric path's, its peak RSS at most
# 64 MiB. Run by scripts/bench.sh too.
#
#   scripts/bench-report.sh
#   RUNS=9 BASELINE_BIN=/tmp/cflogs-before scripts/bench-report.sh
#
# Environment: RECORDS (1400000), HOT_IDS (400), SEED (42), RUNS (5), CFLOGS_BIN
#   (target/release/cflogs), BASELINE_BIN (a second cflogs build whose report is timed too).
# Output: a markdown report on stdout, also saved to target/bench/report-traffic-<records>.md.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "${BASH_SOURCE[0]}")/.."

RECORDS=${RECORDS:-1400000}
HOT_IDS=${HOT_IDS:-400}
SEED=${SEED:-42}
RUNS=${RUNS:-5}
TIME_TARGET=1.5
RSS_TARGET_MIB=64
OUT_DIR=target/bench
mkdir -p "$OUT_DIR"
log() { echo "bench-report: $*" >&2; }

# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh
need_gnu_time

log "building release binaries"
cargo build --release --bin cflogs --example gen_logs
CFLOGS=${CFLOGS_BIN:-target/release/cflogs}

FILE=$OUT_DIR/report-bench-$RECORDS-hot$HOT_IDS-seed$SEED.log.gz
if [[ ! -s $FILE ]]; then
    log "generating $FILE"
    rm -f "$FILE.distinct-uris"
    target/release/examples/gen_logs --records "$RECORDS" --seed "$SEED" --hot-ids "$HOT_IDS" \
        --out "$FILE.tmp.gz" 2>/dev/null
    mv "$FILE.tmp.gz" "$FILE"
fi
# Counted once per generated file (a sort of 1.4 M URIs), then reused.
[[ -s $FILE.distinct-uris ]] ||
    gzip -dc "$FILE" | awk -F'\t' '!/^#/ { print $8 }' | sort -u | wc -l >"$FILE.distinct-uris"
DISTINCT_URIS=$(<"$FILE.distinct-uris")

# gen_logs writes 2024-05-14 13:00-13:59 UTC: pin the clock so no record is skipped as stale.
PROCESS=(process --dry-run --output none --distribution-id EBENCHMARK1 --now 2024-05-14T15:00:00Z)
REPORT=(report --format json --distribution-id EBENCHMARK1)

# The report must have read every record, and say its URI list is approximate (more distinct
# URIs than counters), before its time means anything.
"$CFLOGS" "${REPORT[@]}" "$FILE" >"$OUT_DIR/report-bench.json"
python3 - "$OUT_DIR/report-bench.json" "$RECORDS" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
d = doc["distributions"][0]
assert d["totals"]["requests"] == int(sys.argv[2]), d["totals"]["requests"]
uris = d["top"]["uris"]["by_requests"]
assert uris["exact"] is False and uris["max_overcount"] > 0, uris["max_overcount"]
EOF

NAMES=(process report)
CMDS=("$CFLOGS ${PROCESS[*]} $FILE" "$CFLOGS ${REPORT[*]} $FILE")
if [[ -n ${BASELINE_BIN:-} ]]; then
    NAMES+=(baseline)
    CMDS+=("$BASELINE_BIN ${REPORT[*]} $FILE")
fi
for i in "${!NAMES[@]}"; do
    : >"$OUT_DIR/report-bench-${NAMES[$i]}.times"
    ${CMDS[$i]} >/dev/null 2>&1 # warm-up
done
for ((r = 0; r < RUNS; r++)); do
    for i in "${!NAMES[@]}"; do
        # shellcheck disable=SC2086 # the command is words on purpose
        /usr/bin/time -f '%e %U %S %M' -a -o "$OUT_DIR/report-bench-${NAMES[$i]}.times" ${CMDS[$i]} >/dev/null 2>&1
    done
done

declare -A WALL CPU RSS
for name in "${NAMES[@]}"; do
    t=$OUT_DIR/report-bench-$name.times
    WALL[$name]=$(awk '{ print $1 }' "$t" | median)
    CPU[$name]=$(awk '{ print $2 + $3 }' "$t" | median)
    RSS[$name]=$(awk '{ print $4 / 1024 }' "$t" | sort -g | tail -n1)
done
yes_no() { if awk "BEGIN { exit !($1) }"; then echo yes; else echo no; fi; }

OUT=$OUT_DIR/report-traffic-$RECORDS.md
REV=$(git rev-parse --short HEAD 2>/dev/null || echo none)
if git status --porcelain 2>/dev/null | grep -qv '^??'; then REV="$REV (+ uncommitted changes)"; fi
{
    echo "## \`cflogs report\` vs \`cflogs process --dry-run --output none\`, the same file"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); machine: $(nproc) CPUs; git: $REV"
    echo "- input: \`$FILE\`: $RECORDS records, $DISTINCT_URIS distinct URIs (gen_logs --seed $SEED --hot-ids $HOT_IDS), $(awk "BEGIN { printf \"%.1f\", $(stat -c %s "$FILE") / 1e6 }") MB gzip'd"
    echo "- medians of $RUNS runs after a warm-up, the commands alternating run by run (/usr/bin/time); peak RSS: the largest of the runs"
    echo
    echo "| command | wall s | CPU s (user+sys) | peak RSS MiB |"
    echo "|---|---:|---:|---:|"
    for i in "${!NAMES[@]}"; do
        printf '| `%s` | %.2f | %.2f | %.1f |\n' "${CMDS[$i]/#$CFLOGS /cflogs }" "${WALL[${NAMES[$i]}]}" \
            "${CPU[${NAMES[$i]}]}" "${RSS[${NAMES[$i]}]}"
    done
    echo
    echo "- report / process: wall $(ratio "${WALL[report]}" "${WALL[process]}")×, CPU $(ratio "${CPU[report]}" "${CPU[process]}")×"
    if [[ -n ${BASELINE_BIN:-} ]]; then
        echo "- report / baseline report ($BASELINE_BIN): wall $(ratio "${WALL[report]}" "${WALL[baseline]}")×, CPU $(ratio "${CPU[report]}" "${CPU[baseline]}")×"
    fi
    echo "- target, wall ≤ ${TIME_TARGET}× process: $(yes_no "${WALL[report]} <= ${WALL[process]} * $TIME_TARGET")"
    echo "- target, peak RSS ≤ $RSS_TARGET_MIB MiB: $(yes_no "${RSS[report]} <= $RSS_TARGET_MIB")"
} | tee "$OUT"
