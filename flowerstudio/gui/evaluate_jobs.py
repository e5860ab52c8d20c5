"""Background jobs of the Evaluate page: they call the core, nothing more."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Optional

SPLITS = (("auto", "Test photos (or validation if there is no test folder)"), ("val", "Validation photos"),
          ("test", "Test photos"), ("all", "All photos"))


@dataclass
class Evaluation:
    """A core EvalReport plus which photos fall in each confusion cell (true, predicted)."""

    report: Any
    cells: dict[tuple[int, int], list[str]] = field(default_factory=dict)

    def photos(self, true: int, predicted: int) -> list[str]:
        return list(self.cells.get((true, predicted), ()))


def run_evaluation(model_path: str, data_dir: str, split: str = "auto", device: str = "auto",
                   callback=None, cancel=None) -> Evaluation:
    """Core ``evaluate``; then the same scan again (cheap, no image checks) to place every photo in its cell."""
    from flowerstudio.gui.worker import import_heavy

    import_heavy()
    from flowerstudio.core.dataset import scan_dataset
    from flowerstudio.core.evaluate import evaluate
    from flowerstudio.core.events import Cancelled, ignore

    report = evaluate(model_path, data_dir, split, device=device, callback=callback or ignore, cancel=cancel)
    if report.cancelled:
        # A partial confusion matrix would read as a finished one: report "stopped" instead.
        raise Cancelled()
    return Evaluation(report, cell_photos(report, scan_dataset(data_dir, check_images=False)))


def cell_photos(report, scan) -> dict[tuple[int, int], list[str]]:
    """Photos per (true, predicted) cell: mistakes in the report's order, the rest right on the diagonal."""
    split = report.split
    samples = scan.train + scan.val + scan.test if split == "all" else getattr(scan, split)
    to_model = {i: report.classes.index(c) for i, c in enumerate(scan.classes) if c in report.classes}
    name_index: dict[str, int] = {}
    for i, name in enumerate(report.display_names):
        name_index.setdefault(name, i)
    wrong = {m.path: m for m in report.mistakes}
    unreadable = {p for p, _ in report.unreadable}
    cells: dict[tuple[int, int], list[str]] = {}
    for m in report.mistakes:  # most confident mistake first, as the report sorts them
        cells.setdefault((name_index[m.true_name], name_index[m.predicted_name]), []).append(m.path)
    for s in samples:
        if s.label not in to_model or s.path in unreadable or s.path in wrong:
            continue
        t = to_model[s.label]
        cells.setdefault((t, t), []).append(s.path)
    return cells


def save_report(report, out_dir: str) -> list[str]:
    return [str(p) for p in report.save(out_dir)]


def model_details(path: str) -> tuple[str, Optional[str]]:
    """One line about a model file (its header only), and the folder it was trained on if it still exists."""
    from flowerstudio.core.checkpoints import read_model_info

    info = read_model_info(path)
    line = (f"{info.backbone} · {len(info.classes)} classes · {info.input_size}px · "
            f"validation accuracy {100 * info.best_val_acc:.1f}%")
    folder = (info.config or {}).get("data_dir") or ""
    return line, (folder if folder and os.path.isdir(folder) else None)
