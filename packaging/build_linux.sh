#!/usr/bin/env bash
# Build the Linux download: dist/FlowerStudio-linux-x86_64.tar.gz (one folder, CPU PyTorch, no Python needed).
#
#   bash packaging/build_linux.sh                          # release build (CI): torch + torchvision from
#                                                          #   PyTorch's CPU index
#   bash packaging/build_linux.sh --test-only-torchvision  # LOCAL TEST build where that index cannot be
#                                                          #   reached: NEVER SHIP IT (see below)
#   options: --zstd (also write a .tar.zst)   --clean (new build venv)
#   environment: PYTHON (3.10-3.12, default python3), BUILD_DIR (default build/bundle), DIST_DIR (default dist),
#                TORCH_INDEX (default https://download.pytorch.org/whl/cpu), TORCH_SPEC (default torch),
#                TORCHVISION_SPEC (default torchvision)
#
# Build on the oldest Linux you support: the bundle needs the glibc of the machine it was built on (or newer).
# The test-only build takes torch from pip's usual sources (it must be a +cpu build: TORCH_SPEC=torch==2.13.0
# where a local CPU wheel is on pip's find-links) and PyPI's torchvision, which is linked against CUDA torch;
# packaging/test_only_torchvision.py removes its compiled ops. The app works without them (it uses only
# torchvision.transforms.v2 and torchvision.models), but such a bundle is named ...-TEST-ONLY and must never
# be shipped.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
TEST_ONLY=0 ZSTD=0 CLEAN=0
for arg in "$@"; do
    case "$arg" in
        --test-only-torchvision) TEST_ONLY=1 ;;
        --zstd) ZSTD=1 ;;
        --clean) CLEAN=1 ;;
        *) echo "unknown option: $arg" >&2; exit 2 ;;
    esac
done
BUILD_DIR="$(mkdir -p "${BUILD_DIR:-build/bundle}" && cd "${BUILD_DIR:-build/bundle}" && pwd)"
DIST_DIR="$(mkdir -p "${DIST_DIR:-dist}" && cd "${DIST_DIR:-dist}" && pwd)"
TORCH_INDEX="${TORCH_INDEX:-https://download.pytorch.org/whl/cpu}"
VENV="$BUILD_DIR/venv"
PY="$VENV/bin/python"
NAME="FlowerStudio-linux-x86_64"
START=$(date +%s)
loud() { printf '\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n!!! %s\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\n' "$*" >&2; }

# 1. A build venv with CPU torch, torchvision, the app and PyInstaller.
[ "$CLEAN" = 1 ] && rm -rf "$VENV"
if [ "$TEST_ONLY" = 0 ] && ls "$VENV"/lib/python3*/site-packages/torchvision/FLOWERSTUDIO_TEST_ONLY_* >/dev/null 2>&1; then
    echo "The build venv holds the test-only torchvision: making a new one."
    rm -rf "$VENV"
fi
if [ ! -x "$PY" ]; then
    "${PYTHON:-python3}" -m venv "$VENV"
    "$PY" -m pip install --quiet --upgrade pip
fi
if [ "$TEST_ONLY" = 1 ]; then
    NAME="$NAME-TEST-ONLY"
    loud "TEST-ONLY BUILD: torchvision without its compiled ops. Do not ship $NAME.tar.gz."
    "$PY" -m pip install --quiet "${TORCH_SPEC:-torch}"
    TV_SPEC="${TORCHVISION_SPEC:-$("$PY" -c 'from importlib.metadata import version; v = version("torch").split("."); print(f"torchvision==0.{int(v[1]) + 15}.*")')}"
    "$PY" -m pip install --quiet --no-deps --force-reinstall "$TV_SPEC"
    "$PY" packaging/test_only_torchvision.py
else
    if ! "$PY" -m pip install --quiet --index-url "$TORCH_INDEX" "${TORCH_SPEC:-torch}" "${TORCHVISION_SPEC:-torchvision}"; then
        echo "Could not install torch and torchvision from $TORCH_INDEX. Where that index cannot be reached," \
             "a bundle for local tests only can be made with --test-only-torchvision." >&2
        exit 1
    fi
fi
"$PY" -m pip install --quiet "$REPO[bundle]"

# 2. Refuse what would make a wrong bundle: CUDA torch (4+ GB), or (release) torchvision without its ops.
"$PY" packaging/check_build_venv.py $([ "$TEST_ONLY" = 1 ] && echo --test-only-torchvision)

# 3. The one-folder bundle.
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN --distpath "$BUILD_DIR/dist" \
    --workpath "$BUILD_DIR/work" packaging/flowerstudio.spec
APP="$BUILD_DIR/dist/FlowerStudio"
ln -sf flowerstudio "$APP/flowerstudio-cli"
cp resources/flowerstudio.svg flowerstudio/gui/assets/flowerstudio.png "$APP/"
sed -e 's|^Exec=.*|Exec=flowerstudio %F|' -e 's|^Icon=.*|Icon=flowerstudio|' -e '/^# Replace/d' \
    resources/flowerstudio.desktop > "$APP/flowerstudio.desktop"
install -m 755 packaging/linux/add-to-menu.sh "$APP/add-to-menu.sh"
cp packaging/linux/README.txt "$APP/README.txt"
if [ "$TEST_ONLY" = 1 ]; then
    echo "TEST-ONLY build: torchvision without its compiled ops. Do not distribute." > "$APP/TEST-ONLY-DO-NOT-SHIP.txt"
fi
BUILT=$(date +%s)

# 4. The download (and, where appimagetool is on PATH, an AppImage).
rm -f "$DIST_DIR/$NAME".tar.*
tar -C "$BUILD_DIR/dist" -cf - FlowerStudio | gzip -6 > "$DIST_DIR/$NAME.tar.gz"
[ "$ZSTD" = 1 ] && tar -C "$BUILD_DIR/dist" -cf - FlowerStudio | zstd -q -19 -T0 -o "$DIST_DIR/$NAME.tar.zst"
if command -v appimagetool >/dev/null 2>&1; then
    APPDIR="$BUILD_DIR/FlowerStudio.AppDir"
    rm -rf "$APPDIR" && mkdir -p "$APPDIR/usr/lib"
    cp -a "$APP" "$APPDIR/usr/lib/FlowerStudio"
    cp "$APP/flowerstudio.desktop" resources/flowerstudio.svg "$APPDIR/"
    printf '#!/bin/sh\nexec "$(dirname "$(readlink -f "$0")")/usr/lib/FlowerStudio/flowerstudio" "$@"\n' > "$APPDIR/AppRun"
    chmod 755 "$APPDIR/AppRun"
    ARCH=x86_64 appimagetool --no-appstream "$APPDIR" "$DIST_DIR/$NAME.AppImage"
fi

echo
echo "bundle:   $APP  ($(du -sm "$APP" | cut -f1) MiB on disk)"
for f in "$DIST_DIR/$NAME".*; do echo "download: $f  ($(( $(stat -c %s "$f") / 1000000 )) MB)"; done
echo "built in $(( BUILT - START )) s (packing: $(( $(date +%s) - BUILT )) s); test it: bash packaging/smoke_test.sh $APP"
[ "$TEST_ONLY" = 1 ] && loud "TEST-ONLY BUILD: $NAME must never be shipped (torchvision without its compiled ops)."
exit 0
