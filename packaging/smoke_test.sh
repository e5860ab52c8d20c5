#!/usr/bin/env bash
# Smoke test of a built bundle with no Python reachable: the CLI trains, predicts, exports to ONNX (checked
# with onnxruntime) and runs the doctor on a generated dataset; the GUI opens. On Linux it also prints the
# newest glibc the bundle needs, and takes a screenshot of the window (under Xvfb).
#
#   bash packaging/smoke_test.sh BUNDLE [WORK_DIR]
#     BUNDLE: Linux build/bundle/dist/FlowerStudio; Windows the same folder; macOS ".../Flower Studio.app"
#   environment: SMOKE_PYTHON  a Python with Pillow to make the photos (default: the build venv's, else python3)
#                SMOKE_HIDE    more folders to hide on Linux (space-separated), besides the usual places
#                SCREENSHOT    where to save the Linux screenshot (default WORK_DIR/bundle.png)
#
# Linux: the test runs in a private mount namespace (unshare -m) where Python, the venvs and CUDA are hidden
# under empty read-only folders, with an empty environment (env -i). Where namespaces are not permitted it
# says so and uses env -i alone. Needs: xvfb-run, xdotool, import (ImageMagick), objdump.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
BUNDLE="$(cd "$1" && pwd)"
WORK="${2:-$(mktemp -d)}"
mkdir -p "$WORK" && WORK="$(cd "$WORK" && pwd)"
SCREENSHOT="${SCREENSHOT:-$WORK/bundle.png}"
case "$(uname -s)" in
    Linux) OS=linux CLI="$BUNDLE/flowerstudio-cli" GUI="$BUNDLE/flowerstudio" ;;
    Darwin) OS=mac CLI="$BUNDLE/Contents/MacOS/flowerstudio" GUI="$CLI" ;;
    *) OS=windows CLI="$BUNDLE/flowerstudio-cli.exe" GUI="$BUNDLE/FlowerStudio.exe" ;;
esac
[ "$OS" = mac ] && CLI_ARGS=(cli) || CLI_ARGS=()

# 1. The photos, made with the host's Python before Python is hidden.
SMOKE_PYTHON="${SMOKE_PYTHON:-}"
if [ -z "$SMOKE_PYTHON" ]; then
    for p in "$HERE/../build/bundle/venv/bin/python" "$HERE/../build/bundle/venv/Scripts/python.exe" python3 python; do
        if command -v "$p" >/dev/null 2>&1 && "$p" -c "import PIL" 2>/dev/null; then SMOKE_PYTHON="$p"; break; fi
    done
fi
rm -rf "$WORK/data" "$WORK/runs" "$WORK/doctor" "$WORK/home" "$WORK/cache" "$WORK/predictions.csv"
mkdir -p "$WORK/home"
"${SMOKE_PYTHON:?no Python with Pillow found: set SMOKE_PYTHON}" "$HERE/make_smoke_data.py" "$WORK/data"

# 2. The checks, run with no Python reachable.
cat > "$WORK/inner.sh" <<'EOF'
#!/bin/sh
# Runs inside the empty environment. $1 CLI, $2 GUI, $3 WORK, $4 OS, $5 screenshot, $6 how Python is hidden
# (namespace, env-only); then the CLI's own args.
set -e
CLI="$1" GUI="$2" WORK="$3" OS="$4" SHOT="$5" MODE="$6"; shift 6
cli() { "$CLI" "$@"; }
if [ "$MODE" = namespace ]; then
    for py in python python3 python3.11; do
        if command -v $py >/dev/null 2>&1 && $py -c 1 2>/dev/null; then echo "FAIL: $py still runs here" >&2; exit 1; fi
    done
    echo "== no Python runs here (PATH=$PATH; /usr/bin/python3* and the Python folders are hidden)"
fi
echo "== train";   cli "$@" train "$WORK/data" --epochs 2 --output "$WORK/runs"
RUN="$(ls -d "$WORK"/runs/*/ | head -n 1)"
test -f "$RUN/best.safetensors"
echo "== predict"; cli "$@" predict "$RUN" "$WORK/data" --csv "$WORK/predictions.csv"
test "$(wc -l < "$WORK/predictions.csv")" -ge 37  # a header and 36 photos
echo "== export";  cli "$@" export "$RUN" --format onnx --verify "$WORK/data/red_circle"
test -f "$RUN/best.onnx"
echo "== doctor";  cli "$@" doctor "$WORK/data" --out "$WORK/doctor"
test -f "$WORK/doctor/summary.json"
echo "== GUI"
if [ "$OS" = linux ]; then
    "$GUI" "$WORK/data" > "$WORK/gui.log" 2>&1 &
    PID=$!
    START=$(date +%s%N)
    WID=""
    while [ -z "$WID" ] && [ $(( ($(date +%s%N) - START) / 1000000000 )) -lt 120 ]; do
        WID=$(xdotool search --onlyvisible --name "Flower Studio" 2>/dev/null | head -n 1) || sleep 0.02
    done
    [ -n "$WID" ] || { cat "$WORK/gui.log"; echo "FAIL: no Flower Studio window within 120 s" >&2; exit 1; }
    echo "window visible after $(( ($(date +%s%N) - START) / 1000000 )) ms: $(xdotool getwindowname "$WID")"
    xdotool windowmove "$WID" 0 0 windowsize "$WID" 100% 100%
    sleep 8  # let the dataset scan and the thumbnails finish
    import -window root "$SHOT"
    kill "$PID"; wait "$PID" || true
    echo "screenshot: $SHOT"
else  # the window stays up for 20 s without crashing
    "$GUI" > "$WORK/gui.log" 2>&1 &
    PID=$!
    sleep 20
    kill -0 "$PID" 2>/dev/null || { cat "$WORK/gui.log"; echo "FAIL: the GUI exited within 20 s" >&2; exit 1; }
    kill "$PID"
    echo "GUI ran for 20 s"
fi
EOF
chmod +x "$WORK/inner.sh"
ENV=("HOME=$WORK/home" "PATH=/usr/bin:/bin" "LANG=C.UTF-8" "FLOWERSTUDIO_CACHE_DIR=$WORK/cache")
[ "$OS" = windows ] && ENV+=("SYSTEMROOT=${SYSTEMROOT:-C:\\Windows}" "TEMP=$WORK" "TMP=$WORK")
MODE=env-only
INNER=(sh "$WORK/inner.sh" "$CLI" "$GUI" "$WORK" "$OS" "$SCREENSHOT")
if [ "$OS" = linux ]; then
    echo "== newest glibc the bundle needs:" \
        "$(find "$BUNDLE" -type f \( -name '*.so*' -o -perm -u+x \) -exec objdump -T {} + 2>/dev/null \
           | grep -o 'GLIBC_[0-9.]*' | sort -u -V | tail -n 1)"
    HIDE="/usr/lib/python3 /usr/lib/python3.* /usr/local/lib/python3.* $HOME/.pyenv /opt/hostedtoolcache"
    HIDE="$HIDE /usr/local/cuda* $HERE/../.venv $HERE/../build/bundle/venv ${SMOKE_HIDE:-}"
    if unshare -m true 2>/dev/null; then
        NS=(unshare -m) MODE=namespace
    else
        NS=() MODE=env-only
        echo "NOTE: private mount namespaces are not permitted here (unshare -m failed): Python stays on disk;" \
             "the test runs with an empty environment only (env -i, PATH=/usr/bin:/bin)."
    fi
    # In the namespace: empty read-only folders over every Python and venv, /dev/null over the python
    # executables; then the empty environment, with only the display that xvfb-run made.
    HIDE="$HIDE" MODE="$MODE" xvfb-run -a -s "-screen 0 1366x768x24 -noreset" "${NS[@]}" sh -c '
        if [ "$MODE" = namespace ]; then
            for d in $HIDE; do
                if [ -d "$d" ]; then mount -t tmpfs -o ro,size=4k,mode=755 none "$d" || exit 1; fi
            done
            for f in /usr/bin/python* /usr/local/bin/python*; do
                if [ -e "$f" ]; then mount --bind /dev/null "$f" || exit 1; fi
            done
        fi
        exec env -i DISPLAY="$DISPLAY" XAUTHORITY="$XAUTHORITY" "$@"' sh "${ENV[@]}" "${INNER[@]}" "$MODE" \
        "${CLI_ARGS[@]}"
else
    env -i "${ENV[@]}" "${INNER[@]}" "$MODE" "${CLI_ARGS[@]}"
fi
echo "SMOKE TEST PASSED ($BUNDLE)"
