"""Removing pyqtgraph items so that they die at once, on the GUI thread.

A removed item is still a live Python wrapper, often in a reference cycle (an
InfiniteLine and its label point at each other). Left to Python's collector it
could be freed on any thread; deleting the C++ object right after removing it
leaves only a harmless empty wrapper behind.
"""
from __future__ import annotations

import shiboken6


def remove_item(plot, item) -> None:
    """Remove ``item`` from a PlotItem/ViewBox and delete it now."""
    plot.removeItem(item)
    if shiboken6.isValid(item):
        shiboken6.delete(item)


def clear_plot(plot) -> None:
    """``PlotItem.clear()``, deleting every item it removes."""
    for item in list(plot.items):
        remove_item(plot, item)


def clear_legend(legend) -> None:
    """``LegendItem.clear()``, deleting the swatches and labels it removes."""
    entries = [part for pair in legend.items for part in pair]
    legend.clear()
    for part in entries:
        if shiboken6.isValid(part):
            shiboken6.delete(part)
