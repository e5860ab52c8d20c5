"""The four pages of the main window, in work order: Dataset, Train, Predict, Check."""
