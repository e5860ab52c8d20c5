"""The desktop GUI (PySide6 + pyqtgraph). A thin layer: all logic lives in flowerstudio.core.

No module here imports torch at import time, so the window shows fast; the
heavy core modules load inside background tasks.
"""
