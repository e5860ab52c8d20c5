"""Photos and datasets on disk: reading photos, scanning a folder, the split, and the user's edits.

No torch (a contract in pyproject.toml): the Dataset and Review pages use these before the engine loads.

    imageio     the one place photos are opened (any format, EXIF, huge and broken files)
    walk        which entries of a dataset folder are classes and photos (links, the app's own folders)
    names       class names and their order (cat_to_name.json)
    split       the split: drawn once, saved with the run, and the run's truth from then on
    scan        scan_dataset: a folder into classes, a split and what was left out (with why)
    lists       exclude.txt and keep.txt       edits    moving a photo to another class, with undo
    sorting     sorting photos into class folders       sort_log  what a sort wrote, and its undo
    review      reviewed labels of new photos, and adding them to the dataset once
"""
from flowerstudio.core.foundation.lazy import lazy_exports

_EXPORTS = {
    "scan_dataset": "scan",
    "DatasetScan": "scan",
    "DatasetError": "names",
    "SavedSplit": "split",
    "load_image": "imageio",
    "sort_into": "sorting",
    "undo_sort": "sort_log",
    "ReviewStore": "review",
    "add_to_dataset": "review",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
