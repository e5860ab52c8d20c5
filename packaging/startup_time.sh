#!/usr/bin/env bash
# Milliseconds from start until the Flower Studio window is visible, N runs (the first warms the disk cache and
# is not counted); needs a display: run it under xvfb-run (with -noreset: Xvfb otherwise resets
# whenever its last client goes, and the next start cannot connect). Examples:
#   xvfb-run -a -s "-screen 0 1366x768x24 -noreset" bash packaging/startup_time.sh 5 build/bundle/dist/FlowerStudio/flowerstudio
#   xvfb-run -a -s "-screen 0 1366x768x24 -noreset" bash packaging/startup_time.sh 5 .venv/bin/python main.py
set -euo pipefail
RUNS="$1"; shift
times=()
for i in $(seq 0 "$RUNS"); do
    start=$(date +%s%N)
    "$@" > "${TMPDIR:-/tmp}/startup_time.log" 2>&1 &
    pid=$!
    # Poll every 20 ms (xdotool's own --sync polls every 500 ms, too coarse for this).
    until xdotool search --onlyvisible --name "Flower Studio" >/dev/null 2>&1; do
        kill -0 "$pid" 2>/dev/null || { cat "${TMPDIR:-/tmp}/startup_time.log"; echo "the app exited" >&2; exit 1; }
        sleep 0.02
    done
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    kill "$pid"; wait "$pid" 2>/dev/null || true
    sleep 1
    if [ "$i" -gt 0 ]; then times+=("$ms"); echo "run $i: $ms ms"; else echo "warm-up: $ms ms"; fi
done
sorted=($(printf '%s\n' "${times[@]}" | sort -n))
echo "median of $RUNS: ${sorted[$(( RUNS / 2 ))]} ms (min ${sorted[0]}, max ${sorted[-1]}): $*"
