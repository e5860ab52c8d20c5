"""The shape of the code, checked: small core modules and functions, small GUI modules (README: "Modules
small"). import-linter checks the layers and vulture the dead code, in the test command (tests/run.sh)."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "flowerstudio"
CORE_MODULE_LINES, CORE_FUNCTION_LINES, GUI_MODULE_LINES = 300, 60, 300


def _modules(folder: Path):
    return sorted(folder.rglob("*.py"))


@pytest.mark.parametrize("folder, limit", [(PACKAGE / "core", CORE_MODULE_LINES), (PACKAGE / "gui", GUI_MODULE_LINES)])
def test_modules_are_small(folder, limit):
    long = {str(p.relative_to(PACKAGE)): n for p in _modules(folder) if (n := len(p.read_text().splitlines())) > limit}
    assert long == {}, f"split these by responsibility (over {limit} lines)"


def test_core_functions_are_short():
    long = {}
    for path in _modules(PACKAGE / "core"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > CORE_FUNCTION_LINES:
                    long[f"{path.relative_to(PACKAGE)}:{node.name}"] = n
    assert long == {}, f"over {CORE_FUNCTION_LINES} lines"


def test_every_core_package_says_what_it_holds():
    for init in sorted((PACKAGE / "core").glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        modules = {p.stem for p in init.parent.glob("*.py")} - {"__init__"}
        missing = sorted(m for m in modules if m not in doc)
        assert not missing, f"{init.parent.name}/__init__.py does not name {missing}"
