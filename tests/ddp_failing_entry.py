"""torchrun entry point for tests: the CLI, except that rank 1 fails as a stage starts."""
import os
import sys

from flowerstudio.core import trainer

if os.environ.get("RANK") == "1":
    def _fail(self):
        raise RuntimeError("simulated failure on rank 1")

    trainer._Run._fit_images = _fail

from flowerstudio.cli import main  # noqa: E402

sys.exit(main())
