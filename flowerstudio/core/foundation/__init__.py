"""The foundation: the words, events, errors, settings and safe file writing every other package uses.

No torch, no Pillow (a contract in pyproject.toml): the GUI reads these before the engine loads.

    vocab       the vocabulary as enums (stages, phases, parts of a dataset, statuses, fix actions...)
    events      typed events, the cancel token, Cancelled (the one way a long call stops), Score
    errors      UserError and DiskError: what a user sees, in plain words with what to do
    config      TrainConfig and AugmentConfig: the one training configuration (CLI, GUI, config.json)
    notify      warnings the core logs, relayed to the running job and the GUI
    atomic      crash-safe writes (temporary file, fsync, rename), stale temporary files cleared
    filelock    locks between processes   csvfile  formula-safe CSVs   fsnames  exact odd file names
    cachedisk   the cache folder: its size cap and "Clear cache"
    lazy        package exports imported on first use
"""
from flowerstudio.core.foundation.lazy import lazy_exports

_EXPORTS = {
    "UserError": "errors",
    "DiskError": "errors",
    "describe": "errors",
    "ensure_writable": "errors",
    "Cancelled": "events",
    "CancelToken": "events",
    "Score": "events",
    "EpochMetrics": "events",
    "TrainConfig": "config",
    "AugmentConfig": "config",
    "ConfigError": "config",
    "Status": "vocab",
    "TrainMode": "vocab",
    "Part": "vocab",
    "Split": "vocab",
    "Layout": "vocab",
    "FixAction": "vocab",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
