"""The errors that mean "the input is wrong": shown as a message, never as a traceback."""
from __future__ import annotations


def user_errors() -> tuple[type[BaseException], ...]:
    """Imported on demand: the modules that define them pull in torch."""
    from flowerstudio.core.checkpoints import CheckpointError
    from flowerstudio.core.config import ConfigError
    from flowerstudio.core.dataset import DatasetError
    from flowerstudio.core.dataset_lists import EditError
    from flowerstudio.core.export import ExportError
    from flowerstudio.core.weights import WeightsUnavailableError

    return (ConfigError, DatasetError, EditError, CheckpointError, WeightsUnavailableError, ExportError,
            FileNotFoundError)
