"""The dataset doctor: photos probably in the wrong class folder, duplicates (and leaks), outliers.

    diagnose        the report: one scan, the photos' features, three checks
    photo_features  every photo's features, from the training feature cache
    neighbours      exact nearest neighbours    label_issues  the cross-validated probe
    duplicates      copies, and leaks between the run's training and validation photos    outliers
"""
from flowerstudio.core.foundation.lazy import lazy_exports

_EXPORTS = {
    "diagnose": "diagnose",
    "DoctorReport": "diagnose",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
