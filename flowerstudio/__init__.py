"""Flower Studio: train image classifiers from folders of photos."""

__version__ = "0.1.0"
