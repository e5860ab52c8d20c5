"""Reusable views: curves, galleries, thumbnails, charts, tables."""
