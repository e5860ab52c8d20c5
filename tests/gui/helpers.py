"""Shared steps for GUI tests."""

from PySide6.QtCore import QElapsedTimer, QObject, QTimer


def scan(qtbot, window, path):
    with qtbot.waitSignal(window.state.scan_changed, timeout=60000):
        window.dataset_page.open_folder(str(path))
    assert window.state.scan is not None


def tiny_setup(window, epochs=1):
    """Settings for a seconds-long run on CPU (lite0 works offline)."""
    opts = window.train_page.options
    i = opts.backbone.findData("efficientnet_lite0")
    if i >= 0:
        opts.backbone.setCurrentIndex(i)
    opts.input_size.setValue(64)
    opts.batch.setValue(8)
    opts.epochs.setValue(epochs)
    opts.ft_epochs.setValue(1)
    opts.device.setCurrentIndex(opts.device.findData("cpu"))
    opts.overrides = {"cache_views": 1}


class Heartbeat(QObject):
    """A GUI-thread timer; ``max_gap_ms`` is the longest the event loop went without serving it."""

    def __init__(self, interval_ms=20):
        super().__init__()
        self.clock = QElapsedTimer()
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._beat)
        self.max_gap_ms = 0
        self.beats = 0

    def start(self):
        self.clock.start()
        self.timer.start()
        return self

    def _beat(self):
        self.max_gap_ms = max(self.max_gap_ms, self.clock.restart())
        self.beats += 1

    def stop(self):
        self.timer.stop()
