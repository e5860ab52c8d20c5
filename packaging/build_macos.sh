#!/usr/bin/env bash
# Build the macOS download (Apple silicon, macOS 14 or newer): dist/FlowerStudio-macos-arm64.dmg holding
# "Flower Studio.app" (CPU PyTorch; no Python needed). Run on an arm64 Mac with Python 3.11:
#
#   bash packaging/build_macos.sh
#
# Signing and notarization run only when these are set (else PyInstaller signs ad hoc, and a user opens
# the app the first time with right-click > Open):
#   MACOS_SIGN_IDENTITY    e.g. "Developer ID Application: Jane Doe (TEAMID)", a certificate in the keychain
#   MACOS_NOTARY_PROFILE   a notarytool keychain profile (xcrun notarytool store-credentials NAME ...)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=build/bundle/venv PY=build/bundle/venv/bin/python DMG=dist/FlowerStudio-macos-arm64.dmg
[ -x "$PY" ] || "${PYTHON:-python3}" -m venv "$VENV"
"$PY" -m pip install --quiet --upgrade pip
"$PY" -m pip install --quiet --index-url "${TORCH_INDEX:-https://download.pytorch.org/whl/cpu}" torch torchvision
"$PY" -m pip install --quiet ".[bundle]"
"$PY" packaging/check_build_venv.py
# The spec signs every binary and the .app with MACOS_SIGN_IDENTITY (hardened runtime) when it is set.
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN --distpath build/bundle/dist \
    --workpath build/bundle/work packaging/flowerstudio.spec
APP="build/bundle/dist/Flower Studio.app"

mkdir -p dist && rm -f "$DMG"
STAGE=build/bundle/dmg && rm -rf "$STAGE" && mkdir -p "$STAGE"
cp -R "$APP" "$STAGE/" && ln -s /Applications "$STAGE/Applications"   # drag the app onto Applications
hdiutil create -volname "Flower Studio" -srcfolder "$STAGE" -ov -format UDZO "$DMG"
if [ -n "${MACOS_SIGN_IDENTITY:-}" ]; then
    codesign --sign "$MACOS_SIGN_IDENTITY" --timestamp "$DMG"
fi
if [ -n "${MACOS_NOTARY_PROFILE:-}" ]; then
    xcrun notarytool submit "$DMG" --keychain-profile "$MACOS_NOTARY_PROFILE" --wait
    xcrun stapler staple "$DMG"
fi
echo "download: $DMG ($(( $(stat -f %z "$DMG") / 1000000 )) MB); test it: bash packaging/smoke_test.sh \"$APP\""
