# Helpers shared by scripts/bench-report.sh and scripts/bench-parquet.sh (sourced, not run).

# Makes sure /usr/bin/time (GNU time, for peak RSS) is there: installed with apt-get as root.
need_gnu_time() {
    if [[ ! -x /usr/bin/time ]]; then
        if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
            apt-get update -qq >/dev/null 2>&1 || true
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null 2>&1
        fi
        [[ -x /usr/bin/time ]] || { echo "/usr/bin/time is required (apt-get install time)" >&2; exit 1; }
    fi
}

# The median of the numbers on stdin, one per line.
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# $1 / $2 with two decimals.
ratio() { awk "BEGIN { printf \"%.2f\", $1 / $2 }"; }
