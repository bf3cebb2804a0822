#!/usr/bin/env python3
"""Run a command and report its peak RSS (fallback for `/usr/bin/time -f %M`).

usage: peak_rss.py OUTFILE CMD [ARGS...]

Runs CMD with the inherited stdin/stdout/stderr, then writes the max resident set size of
the child in KiB (ru_maxrss of RUSAGE_CHILDREN, which Linux reports in KiB) to OUTFILE.
Exits with the command's exit status.
"""

import resource
import subprocess
import sys


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    out, cmd = sys.argv[1], sys.argv[2:]
    status = subprocess.call(cmd)
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    with open(out, "w", encoding="ascii") as f:
        f.write(f"{peak_kib}\n")
    return status if status >= 0 else 128 - status


if __name__ == "__main__":
    sys.exit(main())
