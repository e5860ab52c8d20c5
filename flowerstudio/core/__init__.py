"""Qt-free engine: data, transforms, models, trainer, checkpoints, predict.

Importing this package is cheap (no torch): the GUI imports it before the window
is shown and loads the heavy modules later.
"""
