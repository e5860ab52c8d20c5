"""How the CLI shows what the engine reports: tqdm bars on a terminal, a line every few seconds otherwise
(a script's log gets progress, not carriage-return redraws), bad photos listed a few per reason."""
from __future__ import annotations

import sys
import time
from collections import Counter

from flowerstudio.core.foundation.events import BadImage, Log, PhaseStarted, Progress
from flowerstudio.core.foundation.vocab import LogLevel, Phase

LINE_EVERY_S = 5.0  # without a terminal: one progress line per phase at most this often


def _duration(seconds) -> str:
    if seconds is None:
        return ""
    seconds = int(seconds)
    return f", {seconds // 60} min {seconds % 60} s left" if seconds >= 60 else f", {seconds} s left"


class TqdmReporter:
    """Turns engine events into tqdm bars (or timed lines) and printed messages."""

    # Bad photos listed per reason before the rest are only counted: a folder of 2,000 iPhone photos
    # would otherwise print 2,000 identical lines. A training run's train.log still lists every one.
    BAD_LINES_PER_REASON = 3

    def __init__(self, quiet: bool = False, terminal: bool | None = None) -> None:
        self.bar = None
        self.quiet = quiet
        self.terminal = sys.stderr.isatty() if terminal is None else terminal
        self.reasons: Counter[str] = Counter()  # bad photos per reason
        self._phase = ""
        self._last_line = 0.0

    def __call__(self, event) -> None:
        if isinstance(event, PhaseStarted):
            self._start(event)
        elif isinstance(event, Progress):
            self._progress(event)
        elif isinstance(event, BadImage):
            self._bad(event)
        elif isinstance(event, Log) and not self.quiet:
            self._write(("" if event.level == LogLevel.INFO else f"{event.level}: ") + event.text, sys.stdout)

    def _start(self, event: PhaseStarted) -> None:
        self.close()
        self._phase = f"{event.phase} {event.epoch}" if event.epoch else str(event.phase)
        self._last_line = time.monotonic()
        if self.terminal and not self.quiet:
            from tqdm import tqdm

            download = event.phase == Phase.DOWNLOAD
            self.bar = tqdm(total=event.total or None, desc=self._phase, unit="B" if download else "it",
                            unit_scale=download, leave=False)

    def _progress(self, event: Progress) -> None:
        if self.bar is not None:
            self.bar.n = event.done
            if event.loss is not None:
                self.bar.set_postfix(loss=f"{event.loss:.3f}", refresh=False)
            self.bar.refresh()
            return
        now = time.monotonic()
        if self.quiet or now - self._last_line < LINE_EVERY_S:
            return
        self._last_line = now
        share = f" ({100 * event.done / event.total:.0f} %)" if event.total else ""
        loss = f", loss {event.loss:.3f}" if event.loss is not None else ""
        left = event.stage_eta if event.stage_eta is not None else event.eta
        print(f"{self._phase}: {event.done}/{event.total}{share}{loss}{_duration(left)}", file=sys.stderr,
              flush=True)

    def _bad(self, event: BadImage) -> None:
        self.reasons[event.reason] += 1
        seen = self.reasons[event.reason]
        if seen <= self.BAD_LINES_PER_REASON:
            self._write(f"skipped bad image {event.path}: {event.reason}", sys.stderr)
        if seen == self.BAD_LINES_PER_REASON:
            self._write("  (more photos skipped for this reason are counted, not listed)", sys.stderr)

    def _write(self, text: str, stream) -> None:
        if self.bar is not None:
            from tqdm import tqdm

            tqdm.write(text, file=stream)
        else:
            print(text, file=stream, flush=True)

    @property
    def bad(self) -> int:
        return sum(self.reasons.values())

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
