#!/usr/bin/env sh
# Flower Studio launcher for macOS: Finder runs a .command file in Terminal when double-clicked
# (it opens a .sh file in a text editor instead). Everything else is FlowerStudio.sh's job.
exec "$(cd "$(dirname "$0")" && pwd)/FlowerStudio.sh" "$@"
