"""The Qt-free engine, in layers (checked by import-linter, pyproject.toml); each package's __init__ maps it:

    training | labelling | doctor     three independent workflows
    runs                              a run folder: its config, split, history and model files (the run's truth)
    runtime                           transforms, loaders, the inference engine, the feature cache, torchrun
    model                             networks, the model file format, preprocessing, calibration
    photos                            reading and scanning photos, the split, sorting, reviews (no torch)
    foundation                        vocabulary, events, errors, config, safe writes (no torch)

Importing this package, or any of them, is cheap: their names are imported from their modules on first use.
"""
