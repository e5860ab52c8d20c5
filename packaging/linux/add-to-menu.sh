#!/bin/sh
# Add Flower Studio (this folder) to your applications menu; run it again after moving the folder.
set -e
HERE="$(cd "$(dirname "$0")" && pwd)"
APPS="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
mkdir -p "$APPS"
sed -e "s|^Exec=.*|Exec=\"$HERE/flowerstudio\" %F|" -e "s|^Icon=.*|Icon=$HERE/flowerstudio.png|" \
    "$HERE/flowerstudio.desktop" > "$APPS/flowerstudio.desktop"
echo "Flower Studio is now in your applications menu ($APPS/flowerstudio.desktop)."
