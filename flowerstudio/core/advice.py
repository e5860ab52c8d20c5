"""What a training result means, and the one next step worth taking — chosen from the data.

A newcomer sees "65 %" and cannot tell whether that is good or what to do. The advice
compares the result with guessing and with the previous stage, and picks a step from
what the run shows: is validation loss still falling, how many photos per class are
there, did fine-tuning help, which classes get mixed up. The thresholds come from
``benchmarks/advice.py`` (figures in ``benchmarks/README.md``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

from flowerstudio.core.events import EpochMetrics
from flowerstudio.core.vocab import TrainMode, Word

# Below this many training photos per class, more photos help more than anything else: the advice says so.
FEW_PHOTOS = 30
# From this many, fine-tuning every layer (at a tenth of the head's rate, pretrained BatchNorm statistics
# kept) beat or tied the last two stages in every row of benchmarks/advice.py (10, 40, ~150 per class, two
# sets); below it nothing was measured, and the cautious last stages stay the default.
ALL_LAYERS_FROM = 10
# From this many, fine-tune even while the head is still learning: with ~140 photos per class more head
# epochs gained nothing where fine-tuning gained 1.8 points (TrashNet); at 40 more head epochs gained.
FINE_TUNE_WHILE_LEARNING_FROM = 100
LAST_STAGES = 2  # how many backbone stages are unfrozen below ALL_LAYERS_FROM
MORE_HEAD_EPOCHS = 10
MORE_FINE_TUNE_EPOCHS = 5


class NextStep(Word):
    TRAIN_MORE = "train_more"  # the same stage again: it had not finished learning
    FINE_TUNE = "fine_tune"
    PREDICT = "predict"  # the model is as good as this data makes it: use it


@dataclass(frozen=True)
class Advice:
    result: str  # the number, against guessing and against the stage before
    next_step: str  # one concrete step, in words
    step: NextStep
    mode: TrainMode  # for TRAIN_MORE / FINE_TUNE: what the next stage trains
    stages: int = LAST_STAGES
    epochs: int = MORE_HEAD_EPOCHS


def fine_tune_depth(per_class: float) -> tuple[TrainMode, int]:
    """How deep to fine-tune for this many training photos per class (the app's default depth)."""
    if per_class >= ALL_LAYERS_FROM:
        return TrainMode.ALL, LAST_STAGES
    return TrainMode.LAST_STAGES, LAST_STAGES


def still_learning(stage_history: Sequence[EpochMetrics]) -> bool:
    """The validation loss was still falling at the end: one of the last two epochs is the best one
    and the last loss is the lowest of the stage."""
    if len(stage_history) < 2:
        return True
    last_two = {m.epoch for m in stage_history[-2:]}
    best_epoch = max(stage_history, key=lambda m: (m.val_acc, -m.val_loss)).epoch
    return best_epoch in last_two and stage_history[-1].val_loss <= min(m.val_loss for m in stage_history)


def advise(history: Sequence[EpochMetrics], num_classes: int, per_class: float,
           confused: Optional[tuple[str, str, int]] = None) -> Advice:
    """Advice after the last stage of ``history`` (every epoch of the run, all stages).

    ``confused``: the validation mix-up seen most, as (true class, taken for, photos), if known.
    """
    if not history:
        raise ValueError("advice needs at least one finished epoch")
    stage = history[-1].stage
    start = max((i + 1 for i, m in enumerate(history) if m.stage != stage), default=0)
    this, before = history[start:], history[:start]
    best_now = max(m.val_acc for m in this)
    best_before = max((m.val_acc for m in before), default=None)
    chance = 1.0 / max(num_classes, 1)
    result = (f"Validation accuracy {100 * best_now:.1f}%: guessing would get {100 * chance:.0f}% "
              f"with {num_classes} classes ({best_now / chance:.1f}× better).")
    mixup = ""
    if confused is not None:
        true, taken_for, n = confused
        mixup = (f" Most mix-ups: {true} taken for {taken_for} ({n} photo{'s' if n != 1 else ''}) — "
                 f"more photos of {true} would help.")
    if best_before is not None:
        if best_now <= best_before:
            return Advice(result + f" Before this stage: {100 * best_before:.1f}%.",
                          "Fine-tuning did not help; the earlier model is kept. Go to Predict to use it." + mixup,
                          NextStep.PREDICT, stage)
        result += f" Up from {100 * best_before:.1f}% before this stage."
    learning = still_learning(this)
    if stage == TrainMode.FROZEN:
        if learning and per_class < FINE_TUNE_WHILE_LEARNING_FROM:
            return Advice(result, f"Train {MORE_HEAD_EPOCHS} more epochs: the validation loss is still falling."
                          + mixup, NextStep.TRAIN_MORE, TrainMode.FROZEN, epochs=MORE_HEAD_EPOCHS)
        mode, stages = fine_tune_depth(per_class)
        where = "all layers" if mode == TrainMode.ALL else f"the last {stages} stages"
        few = (f" More photos would help most: about {per_class:.0f} per class is few (aim for 40 or more)."
               if per_class < FEW_PHOTOS else "")
        why = (f": the head is still learning, but with {per_class:.0f} photos per class fine-tuning (which trains "
               "the head too) gains more." if learning else f" ({per_class:.0f} photos per class).")
        return Advice(result, f"Fine-tune {where} for more accuracy{why}" + few
                      + mixup, NextStep.FINE_TUNE, mode, stages, MORE_FINE_TUNE_EPOCHS)
    if learning:
        return Advice(result, f"Fine-tune {MORE_FINE_TUNE_EPOCHS} more epochs: the validation loss is still "
                      "falling." + mixup, NextStep.TRAIN_MORE, stage, epochs=MORE_FINE_TUNE_EPOCHS)
    return Advice(result, "Done: go to Predict to label new photos." + mixup, NextStep.PREDICT, stage)


def most_confused(confusion: Sequence[Sequence[int]], names: Sequence[str]) -> Optional[tuple[str, str, int]]:
    """The off-diagonal cell with most photos, as (true, predicted, count); None when nothing is mixed up."""
    best = max(((n, t, p) for t, row in enumerate(confusion) for p, n in enumerate(row) if t != p and n),
               default=None)
    return None if best is None else (names[best[1]], names[best[2]], best[0])
