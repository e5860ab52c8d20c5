#!/usr/bin/env bash
# Set up a virtual environment (first run only), check the import contracts and dead code, then run the
# whole test suite, GUI included (offscreen).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# Installs torch/torchvision and the rest on first run; later runs only check.
# (This machine's pip config names local mirrors that may be absent; drop those warnings, keep errors.)
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]' 2>&1 \
  | { grep -v "^WARNING: Location 'file:" || true; }
echo "== import contracts (pyproject.toml [tool.importlinter])"
.venv/bin/lint-imports --no-cache | grep -E "KEPT|BROKEN|Contracts:" || { .venv/bin/lint-imports --no-cache; exit 1; }
echo "== dead code (vulture; framework overrides in tests/vulture_whitelist.py)"
.venv/bin/vulture  # the product alone (pyproject.toml): what only tests call is dead code there
.venv/bin/vulture flowerstudio tests benchmarks --min-confidence 60  # and the tests and benchmarks themselves
export QT_QPA_PLATFORM=offscreen
exec .venv/bin/python -m pytest -q "$@"
