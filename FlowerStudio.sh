#!/usr/bin/env sh
# Flower Studio launcher (Linux / macOS; on macOS double-click FlowerStudio.command).
# First run: creates .venv next to this script, installs the app into it and (Linux) adds Flower Studio
# to the applications menu. Later runs: just start the app. Extra arguments go to the app (a dataset
# folder or model file).
set -e
HERE="$(cd "$(dirname "$0")" && pwd)"
VENV="$HERE/.venv"
PY="$VENV/bin/python"

if [ ! -x "$PY" ] || ! "$PY" -c "import flowerstudio.gui.app" >/dev/null 2>&1; then
    echo "Flower Studio: first start — setting up (this downloads the libraries once and takes a few minutes)…"
    SYS_PY="${PYTHON:-}"
    if [ -z "$SYS_PY" ]; then
        for cand in python3.13 python3.12 python3.11 python3.10 python3 python; do
            if command -v "$cand" >/dev/null 2>&1 && "$cand" -c "import sys; sys.exit(sys.version_info < (3, 10))" 2>/dev/null; then
                SYS_PY="$cand"
                break
            fi
        done
    fi
    if [ -z "$SYS_PY" ]; then
        echo "Python 3.10 or newer is needed. Install it from https://www.python.org/ and run this again." >&2
        exit 1
    fi
    [ -x "$PY" ] || "$SYS_PY" -m venv "$VENV"
    "$PY" -m pip install --upgrade pip
    # Linux without an NVIDIA GPU: PyTorch's CPU build first. PyPI's Linux torch brings 4.3 GB of CUDA
    # libraries that only an NVIDIA GPU can use (6.2 GB in all; 1.6 GB with the CPU build).
    if [ "$(uname -s)" = "Linux" ] && ! command -v nvidia-smi >/dev/null 2>&1 && [ ! -e /proc/driver/nvidia ]; then
        echo "No NVIDIA GPU found: installing PyTorch's CPU build (about 1.6 GB in all instead of 6.2 GB with the CUDA libraries)…"
        "$PY" -m pip install torch torchvision --index-url https://download.pytorch.org/whl/cpu \
            || echo "PyTorch's CPU download (download.pytorch.org) could not be reached: installing the default build instead (about 6.2 GB)." >&2
    fi
    "$PY" -m pip install -e "$HERE"
    # A CPU torch beside a torchvision built for another PyTorch (a mirror with the CPU torch but not its
    # torchvision) fails at import: then the default pair, which belong together.
    if ! "$PY" -c "from flowerstudio.core.runtime.torch_pair import import_torchvision; import_torchvision()"; then
        echo "PyTorch and torchvision did not match: installing the default build of both instead…" >&2
        "$PY" -m pip install --force-reinstall torch torchvision
    fi
fi

# Linux: an applications-menu entry with this folder's real paths, so double-click works from the menu.
# Written when missing or when it points at another copy; an entry the user wrote is left alone.
if [ "$(uname -s)" = "Linux" ]; then
    APPS="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
    ENTRY="$APPS/flowerstudio.desktop"
    if [ ! -e "$ENTRY" ] || { grep -q "^# Written by FlowerStudio.sh" "$ENTRY" && ! grep -q "^Exec=\"$HERE/FlowerStudio.sh\"" "$ENTRY"; }; then
        ICON="$HERE/flowerstudio/gui/assets/flowerstudio.png"
        mkdir -p "$APPS" && sed -e "s|^Exec=.*|Exec=\"$HERE/FlowerStudio.sh\" %F|" -e "s|^Icon=.*|Icon=$ICON|" \
            -e "s|^# Replace /path/to.*|# Written by FlowerStudio.sh for $HERE|" \
            "$HERE/resources/flowerstudio.desktop" > "$ENTRY.tmp" && mv "$ENTRY.tmp" "$ENTRY" \
            && echo "Flower Studio is now in your applications menu ($ENTRY)." || true
    fi
fi

cd "$HERE"
exec "$PY" "$HERE/main.py" "$@"
