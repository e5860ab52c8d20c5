"""Package exports load their module on first use: short imports, cheap packages."""
import subprocess
import sys

import pytest


def test_package_names_are_the_modules_own():
    from flowerstudio.core.runs import RunRecord
    from flowerstudio.core.runs.record import RunRecord as direct

    assert RunRecord is direct
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        import flowerstudio.core.runs as runs

        runs.nothing


def test_importing_a_package_loads_only_what_is_used():
    code = "import sys, flowerstudio.core.training as t; print('torch' in sys.modules, 'train' in dir(t))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]
