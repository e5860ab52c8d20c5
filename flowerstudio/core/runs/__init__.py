"""Run folders: a run's truth on disk — its config, split, history and model files — and their writer.

    folders       where runs live; finding the latest; unfinished starts cleared
    record        RunRecord: what a run trained on and how good it is; scans with its own split
    history       the epochs (history.json/csv)       resume_state  what resuming needs
    writer        RunWriter: the best/last policy (Score.beats) and every file of the folder
"""
from flowerstudio.core.foundation.lazy import lazy_exports

_EXPORTS = {
    "RunRecord": "record",
    "RunError": "history",
    "RunWriter": "writer",
    "ResumeState": "resume_state",
    "resolve_model_path": "folders",
    "latest_run": "folders",
    "scan_as_trained": "record",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
