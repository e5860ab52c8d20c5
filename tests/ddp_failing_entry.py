"""torchrun entry point for tests: the CLI, except that rank 1 fails as a stage starts."""
import os
import sys

from flowerstudio.core.training import trainer

if os.environ.get("RANK") == "1":
    def _fail(*args, **kwargs):
        raise RuntimeError("simulated failure on rank 1")

    trainer.fit = _fail  # the epoch loop, as the trainer calls it

from flowerstudio.cli import main  # noqa: E402

sys.exit(main())
