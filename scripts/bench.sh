#!/usr/bin/env bash
# End-to-end benchmark (issue "Performance"): cflogs vs gzip -dc / pigz -dc / a peer built on
# the `cloudfront-logs` crate, all on the same generated gzip'd CloudFront log, in one run.
#
#   scripts/bench.sh                   # 1,000,000 records -> target/bench/cloudfront-1m.log.gz
#   RECORDS=100000 scripts/bench.sh    # other size (own file, e.g. cloudfront-100k.log.gz)
#
# Environment: RECORDS (1000000), SEED (42), MEMBERS (gzip members, 1), RUNS (5), WARMUP (1),
#   ALLOW_NO_CFLOGS=1 to exit 0 even when cflogs could not be measured,
#   CFLOGS_BIN (target/release/cflogs) to benchmark another cflogs build,
#   BASELINE_BIN: a second cflogs build (an earlier commit) timed in the same run, row
#   "cflogs (baseline)", to show a change's effect without the VM's drift between runs.
# Output: a markdown report on stdout, also saved to target/bench/report-<size>.md; raw
#   timings in target/bench/hyperfine-<size>.{json,csv}.
# Exit status: 0 whatever the targets say (it is a report); non-zero on errors, and 3 when
#   `cflogs process --dry-run --output jsonl` is not usable yet (unless ALLOW_NO_CFLOGS=1).
# Then scripts/bench-report.sh (issue 15): `cflogs report` vs `cflogs process --dry-run --output
#   none` on a 1.4 M-line log of about a million distinct URIs (SKIP_REPORT=1 skips it), and
#   scripts/bench-parquet.sh (issue 16): Parquet vs gzip'd W3C, 1.4 M records (SKIP_PARQUET=1).
set -euo pipefail
shopt -s inherit_errexit

cd "$(dirname "${BASH_SOURCE[0]}")/.."

RECORDS=${RECORDS:-1000000}
SEED=${SEED:-42}
MEMBERS=${MEMBERS:-1}
RUNS=${RUNS:-5}
WARMUP=${WARMUP:-1}
DIST_ID=EBENCHMARK1
RSS_TARGET_KIB=$((32 * 1024)) # 32 MiB
PEER_TARGET=1.25

[[ $RECORDS =~ ^[0-9]+$ && $RECORDS -gt 0 ]] || { echo "RECORDS must be a positive integer" >&2; exit 2; }

OUT_DIR=target/bench
mkdir -p "$OUT_DIR"

human_count() {
    local n=$1
    if ((n % 1000000 == 0)); then echo "$((n / 1000000))m"
    elif ((n % 1000 == 0)); then echo "$((n / 1000))k"
    else echo "$n"; fi
}
SIZE=$(human_count "$RECORDS")
FILE=$OUT_DIR/cloudfront-$SIZE.log.gz
META=$FILE.meta

log() { echo "bench: $*" >&2; }

# --- tools ---------------------------------------------------------------------------------
APT_UPDATED=0
apt_install() { # package...
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    command -v apt-get >/dev/null 2>&1 || return 1
    if ((APT_UPDATED == 0)); then
        "${sudo[@]}" apt-get update -qq >/dev/null 2>&1 || true
        APT_UPDATED=1
    fi
    log "installing $* with apt-get"
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "$@" >/dev/null 2>&1
}

command -v pigz >/dev/null 2>&1 || apt_install pigz || true
command -v pigz >/dev/null 2>&1 || { echo "pigz is required (apt-get install pigz)" >&2; exit 1; }
command -v hyperfine >/dev/null 2>&1 || apt_install hyperfine || log "hyperfine unavailable: using a date +%s.%N loop"
[[ -x /usr/bin/time ]] || apt_install time || log "/usr/bin/time unavailable: using scripts/peak_rss.py"

# --- build ---------------------------------------------------------------------------------
log "building release binaries"
cargo build --release --bin cflogs --example gen_logs --example peer_cloudfront_logs
CFLOGS=${CFLOGS_BIN:-target/release/cflogs} # CFLOGS_BIN: benchmark another build
GEN=target/release/examples/gen_logs
PEER=target/release/examples/peer_cloudfront_logs

# --- input ---------------------------------------------------------------------------------
WANT_META="records=$RECORDS seed=$SEED members=$MEMBERS"
if [[ -s $FILE && -s $META && $(head -n1 "$META") == "$WANT_META" ]]; then
    log "reusing $FILE ($WANT_META)"
else
    log "generating $FILE ($WANT_META)"
    rm -f "$META"
    "$GEN" --records "$RECORDS" --seed "$SEED" --members "$MEMBERS" --out "$OUT_DIR/tmp-$SIZE.log.gz" 2>"$META.tmp"
    mv "$OUT_DIR/tmp-$SIZE.log.gz" "$FILE"
    { echo "$WANT_META"; cat "$META.tmp"; } >"$META"
    rm -f "$META.tmp"
fi
GEN_TOTALS=$(sed -n 2p "$META")
DECOMPRESSED=$(sed -nE 's/.*"uncompressed_bytes":([0-9]+).*/\1/p' <<<"$GEN_TOTALS")
[[ -n $DECOMPRESSED ]] || { echo "cannot read uncompressed_bytes from $META" >&2; exit 1; }
COMPRESSED=$(stat -c %s "$FILE")

# --- sanity: the peer must see exactly what gen_logs generated ---------------------------------
PEER_TOTALS=$("$PEER" "$FILE" | sed -n 's/^totals: //p')
field() { sed -nE "s/.*\"$1\":(\\{[^}]*\\}|[0-9]+).*/\\1/p" <<<"$2"; }
for k in records sc_bytes time_taken_ms result_types status_classes; do
    if [[ $(field "$k" "$PEER_TOTALS") != "$(field "$k" "$GEN_TOTALS")" ]]; then
        echo "peer totals differ from gen_logs totals on '$k':" >&2
        echo "  gen_logs: $GEN_TOTALS" >&2
        echo "  peer:     $PEER_TOTALS" >&2
        exit 1
    fi
done

# --- is cflogs ready? (smoke test on a small file) ------------------------------------------
# gen_logs writes 2024-05-14 13:00-13:59 UTC: pin the clock so no record is skipped as stale.
CFLOGS_ARGS=(process --dry-run --output jsonl --distribution-id "$DIST_ID" --now 2024-05-14T15:00:00Z)
SMOKE=$OUT_DIR/smoke-1k.log.gz
[[ -s $SMOKE ]] || "$GEN" --records 1000 --out "$SMOKE" 2>/dev/null
CFLOGS_OK=1
if ! "$CFLOGS" "${CFLOGS_ARGS[@]}" "$SMOKE" >"$OUT_DIR/smoke.jsonl" 2>"$OUT_DIR/smoke.err"; then
    CFLOGS_OK=0
    log "WARNING: '$CFLOGS ${CFLOGS_ARGS[*]} FILE' failed; cflogs is NOT benchmarked. stderr:"
    head -n 5 "$OUT_DIR/smoke.err" >&2
elif [[ ! -s $OUT_DIR/smoke.jsonl ]]; then
    CFLOGS_OK=0
    log "WARNING: '$CFLOGS ${CFLOGS_ARGS[*]} FILE' printed no datums; cflogs is NOT benchmarked"
fi

# --- timings -------------------------------------------------------------------------------
NAMES=("gzip -dc" "pigz -dc" "peer (cloudfront-logs)")
CMDS=("gzip -dc '$FILE' > /dev/null"
      "pigz -dc '$FILE' > /dev/null"
      "'$PEER' '$FILE' > /dev/null")
if ((CFLOGS_OK)); then
    NAMES+=("cflogs")
    CMDS+=("'$CFLOGS' ${CFLOGS_ARGS[*]} '$FILE' > /dev/null")
    if [[ -n ${BASELINE_BIN:-} ]]; then
        NAMES+=("cflogs (baseline)")
        CMDS+=("'$BASELINE_BIN' ${CFLOGS_ARGS[*]} '$FILE' > /dev/null")
    fi
    # The export (issue 14): one JSON document per record, beside process on the same file.
    EXPORT_ARGS=(export --distribution-id "$DIST_ID")
    NAMES+=("cflogs export")
    CMDS+=("'$CFLOGS' ${EXPORT_ARGS[*]} '$FILE' > /dev/null")
fi

declare -A MEDIAN MIN
if command -v hyperfine >/dev/null 2>&1; then
    TIMER="hyperfine $(hyperfine --version | awk '{print $2}') (--warmup $WARMUP --runs $RUNS, median)"
    HF_ARGS=()
    for i in "${!NAMES[@]}"; do HF_ARGS+=(--command-name "${NAMES[$i]}" "${CMDS[$i]}"); done
    hyperfine --style basic --warmup "$WARMUP" --runs "$RUNS" \
        --export-json "$OUT_DIR/hyperfine-$SIZE.json" --export-csv "$OUT_DIR/hyperfine-$SIZE.csv" \
        "${HF_ARGS[@]}" >&2
    # command,mean,stddev,median,user,system,min,max
    while IFS=, read -r name _mean _sd median _user _sys min _max; do
        MEDIAN[$name]=$median
        MIN[$name]=$min
    done < <(tail -n +2 "$OUT_DIR/hyperfine-$SIZE.csv")
else
    TIMER="bash loop with date +%s.%N (warmup $WARMUP, $RUNS runs, median)"
    for i in "${!NAMES[@]}"; do
        log "timing ${NAMES[$i]}"
        for ((r = 0; r < WARMUP; r++)); do bash -c "${CMDS[$i]}"; done
        times=()
        for ((r = 0; r < RUNS; r++)); do
            t0=$(date +%s.%N)
            bash -c "${CMDS[$i]}"
            t1=$(date +%s.%N)
            times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')")
        done
        sorted=$(printf '%s\n' "${times[@]}" | sort -g)
        MEDIAN[${NAMES[$i]}]=$(awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.6f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }' <<<"$sorted")
        MIN[${NAMES[$i]}]=$(head -n1 <<<"$sorted")
    done
fi

# --- peak RSS ------------------------------------------------------------------------------
peak_rss_kib() { # outfile cmd... (stdout of cmd is discarded)
    local out=$1
    shift
    if [[ -x /usr/bin/time ]]; then
        /usr/bin/time -f '%M' -o "$out" "$@" >/dev/null
    else
        python3 scripts/peak_rss.py "$out" "$@" >/dev/null
    fi
    tail -n1 "$out"
}
declare -A RSS
RSS["gzip -dc"]=$(peak_rss_kib "$OUT_DIR/rss-gzip" gzip -dc "$FILE")
RSS["pigz -dc"]=$(peak_rss_kib "$OUT_DIR/rss-pigz" pigz -dc "$FILE")
RSS["peer (cloudfront-logs)"]=$(peak_rss_kib "$OUT_DIR/rss-peer" "$PEER" "$FILE")
if ((CFLOGS_OK)); then
    RSS["cflogs"]=$(peak_rss_kib "$OUT_DIR/rss-cflogs" "$CFLOGS" "${CFLOGS_ARGS[@]}" "$FILE")
    if [[ -n ${BASELINE_BIN:-} ]]; then
        RSS["cflogs (baseline)"]=$(peak_rss_kib "$OUT_DIR/rss-baseline" "$BASELINE_BIN" "${CFLOGS_ARGS[@]}" "$FILE")
    fi
    RSS["cflogs export"]=$(peak_rss_kib "$OUT_DIR/rss-export" "$CFLOGS" "${EXPORT_ARGS[@]}" "$FILE")
    DATUMS=$("$CFLOGS" "${CFLOGS_ARGS[@]}" "$FILE" | wc -l)
fi

# --- report --------------------------------------------------------------------------------
calc() { awk "BEGIN { $1 }"; }
ratio() { calc "printf \"%.2f\", $1 / $2"; }
yes_no() { if calc "exit !($1)"; then echo yes; else echo no; fi; }
CPU=$(grep -m1 -E '^(model name|Model Name|cpu model)' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || true)
[[ -n $CPU ]] || CPU=$(lscpu 2>/dev/null | sed -nE 's/^Model name: *//p' | head -n1)
[[ -n $CPU ]] || CPU=unknown
REV=$(git rev-parse --short HEAD 2>/dev/null || echo "no commit")
DIRTY=
if git status --porcelain 2>/dev/null | grep -qv '^??'; then DIRTY=" (+ uncommitted changes)"; fi

REPORT=$OUT_DIR/report-$SIZE.md
{
    echo "## cflogs end-to-end benchmark"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "- machine: $(nproc) CPUs ($CPU), $(uname -sr)"
    echo "- rustc: $(rustc --version 2>/dev/null || echo unknown); git: $REV$DIRTY"
    echo "- input: \`$FILE\`: $RECORDS records (seed $SEED, $MEMBERS gzip member(s)), $(calc "printf \"%.1f\", $COMPRESSED / 1e6") MB gzip'd, $(calc "printf \"%.1f\", $DECOMPRESSED / 1e6") MB decompressed (ratio $(ratio "$DECOMPRESSED" "$COMPRESSED"))"
    echo "- timer: $TIMER; MB/s = decompressed MB (10^6 bytes) / median"
    echo "- cflogs: \`$CFLOGS ${CFLOGS_ARGS[*]} FILE > /dev/null\`"
    echo
    echo "| command | median s | min s | MB/s | records/s | peak RSS MiB |"
    echo "|---|---:|---:|---:|---:|---:|"
    for name in "${NAMES[@]}"; do
        m=${MEDIAN[$name]}
        printf '| %s | %.3f | %.3f | %.0f | %.0f | %.1f |\n' "$name" "$m" "${MIN[$name]}" \
            "$(calc "printf \"%.6f\", $DECOMPRESSED / $m / 1e6")" \
            "$(calc "printf \"%.6f\", $RECORDS / $m")" "$(calc "printf \"%.6f\", ${RSS[$name]} / 1024")"
    done
    if ((!CFLOGS_OK)); then
        echo "| cflogs | n/a | n/a | n/a | n/a | n/a |"
    fi
    echo
    if ((CFLOGS_OK)); then
        C=${MEDIAN[cflogs]}
        G=${MEDIAN["gzip -dc"]}
        P=${MEDIAN["pigz -dc"]}
        E=${MEDIAN["peer (cloudfront-logs)"]}
        echo "cflogs printed $DATUMS datum lines. Ratios (other time / cflogs time, > 1 = cflogs faster):"
        echo
        echo "- cflogs vs gzip -dc: $(ratio "$G" "$C")×"
        echo "- cflogs vs pigz -dc: $(ratio "$P" "$C")×"
        echo "- cflogs vs peer: $(ratio "$E" "$C")×"
        if [[ -n ${BASELINE_BIN:-} ]]; then
            echo "- cflogs vs its baseline build ($BASELINE_BIN): $(ratio "${MEDIAN["cflogs (baseline)"]}" "$C")×"
        fi
        echo "- cflogs export time / cflogs process time: $(ratio "${MEDIAN["cflogs export"]}" "$C")× (documents per second per core: $(calc "printf \"%.0f\", $RECORDS / ${MEDIAN["cflogs export"]}"))"
        echo
        echo "Targets:"
        echo
        echo "- faster than gzip -dc: $(yes_no "$C < $G")"
        echo "- faster than pigz -dc (not a target, for information): $(yes_no "$C < $P")"
        echo "- ≥${PEER_TARGET}× faster than peer: $(yes_no "$E / $C >= $PEER_TARGET")"
        echo "- peak RSS ≤ 32 MiB: $(yes_no "${RSS[cflogs]} <= $RSS_TARGET_KIB") ($(calc "printf \"%.1f\", ${RSS[cflogs]} / 1024") MiB)"
    else
        echo "**cflogs not measured**: \`$CFLOGS ${CFLOGS_ARGS[*]} FILE\` is not usable yet (see $OUT_DIR/smoke.err)."
        echo
        echo "Targets: faster than gzip -dc: n/a; ≥${PEER_TARGET}× faster than peer: n/a; peak RSS ≤ 32 MiB: n/a"
        echo
        echo "For reference: peer vs gzip -dc: $(ratio "${MEDIAN["gzip -dc"]}" "${MEDIAN["peer (cloudfront-logs)"]}")×, peer vs pigz -dc: $(ratio "${MEDIAN["pigz -dc"]}" "${MEDIAN["peer (cloudfront-logs)"]}")×"
    fi
} | tee "$REPORT"

if ((!CFLOGS_OK)) && [[ ${ALLOW_NO_CFLOGS:-0} != 1 ]]; then
    exit 3
fi

# `cflogs report` vs the metric path on the issue's 1.4 M-line log (issue 15), its own table;
# SKIP_REPORT=1 skips it.
if [[ ${SKIP_REPORT:-0} != 1 ]]; then
    echo
    RUNS=$RUNS bash scripts/bench-report.sh
fi

# Parquet vs gzip'd W3C on the same 1.4 M records (issue 16), its own table; SKIP_PARQUET=1 skips.
if [[ ${SKIP_PARQUET:-0} != 1 ]]; then
    echo
    RUNS=$RUNS bash scripts/bench-parquet.sh
fi
exit 0
