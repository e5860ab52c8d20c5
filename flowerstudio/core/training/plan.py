"""What a training result means, and the next stage worth its minutes: decided here, run by the GUI's
second button and by ``flowerstudio continue RUN`` alike.

A newcomer sees "65 %" and cannot tell whether that is good or what to do. The advice compares the
result with guessing and with the stage before, and picks one step from what the run shows — is the
model still getting better by a margin that matters, how many photos per class are there, did
fine-tuning help, which classes get mixed up — with what it costs on this computer (speeds.py). Where
nothing is likely to help, it says so and points at the photos. The thresholds come from
``benchmarks/advice.py`` (figures in ``benchmarks/README.md``).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Optional, Sequence

from flowerstudio.core.foundation.events import EpochMetrics, Score
from flowerstudio.core.foundation.vocab import TrainMode, Word

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
FINE_TUNE_EPOCHS = 5
FINE_TUNE_LR_FACTOR = 0.1  # a fine-tune's head rate: a tenth of the first stage's (the backbone gets 0.1x that)
# "Still learning" means by a margin that matters: over the last LATE share of the stage's epochs the
# validation result improved, or the validation loss fell by at least MIN_LOSS_DROP (relative). A loss
# going 0.916 -> 0.911 while the accuracy stood still is not learning.
LATE = 1 / 3
MIN_LOSS_DROP = 0.02
# What fine-tuning gained on validation photos in benchmarks/advice.py (points), quoted with its cost.
FINE_TUNE_GAIN = "0.5 to 1.2 points on similar photo sets"


class NextStep(Word):
    TRAIN_MORE = "train_more"  # the same stage again: it had not finished learning
    FINE_TUNE = "fine_tune"
    PREDICT = "predict"  # the model is as good as this data makes it: use it
    IMPROVE_DATA = "improve_data"  # training more will not help; better photos will
    FINISH = "finish"  # the last stage ended early (stopped): run its remaining rounds


@dataclass(frozen=True)
class StagePlan:
    """What the next stage trains: run by the second button and ``flowerstudio continue``."""

    mode: TrainMode
    stages: int
    epochs: int
    lr: float
    seconds: Optional[float] = None  # the expected duration on this computer, when known
    finish: bool = False  # the stopped stage's remaining rounds, resumed where it stopped (trainer.resume)

    def words(self) -> str:
        """'fine-tune all layers for 5 rounds' in the newcomer's words."""
        what = {TrainMode.FROZEN: "train the new layer", TrainMode.ALL: "fine-tune the whole network",
                TrainMode.LAST_STAGES: f"fine-tune the last {self.stages} parts of the network"}[self.mode]
        if self.finish:
            return f"finish the stopped step ({what}): its last {self.epochs} rounds"
        return f"{what} for {self.epochs} more rounds"


@dataclass(frozen=True)
class Advice:
    result: str  # the number, against guessing and against the stage before
    next_step: str  # one concrete step, in words, with its cost
    step: NextStep
    plan: Optional[StagePlan] = None  # for TRAIN_MORE / FINE_TUNE: what the next stage trains


def fine_tune_depth(per_class: float) -> tuple[TrainMode, int]:
    """How deep to fine-tune for this many training photos per class (the app's default depth)."""
    if per_class >= ALL_LAYERS_FROM:
        return TrainMode.ALL, LAST_STAGES
    return TrainMode.LAST_STAGES, LAST_STAGES


def still_learning(stage: Sequence[EpochMetrics]) -> bool:
    """Whether the stage was still getting better at its end, by a margin that matters (see LATE)."""
    if len(stage) < 3:
        return True
    cut = max(1, round(len(stage) * (1 - LATE)))
    early, late = stage[:cut], stage[cut:]
    best_early = max((m.score for m in early), key=lambda s: (s.accuracy, -s.loss))
    more_right = any(m.score.correct * best_early.total > best_early.correct * m.score.total for m in late)
    loss_before = min(m.val_loss for m in early)
    return more_right or late[-1].val_loss <= loss_before * (1 - MIN_LOSS_DROP)


def duration(seconds: Optional[float]) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return "under a minute"
    minutes = round(seconds / 60)
    return f"about {minutes} minute{'s' if minutes != 1 else ''}" if minutes < 90 else f"about {seconds / 3600:.1f} hours"


def stage_seconds(epochs: int, train_photos: int, val_photos: int, speed: Optional[float]) -> Optional[float]:
    """How long a stage of ``epochs`` takes at ``speed`` training photos a second (validation costs about a
    third of a training photo each: a forward pass only)."""
    if not speed:
        return None
    return epochs * (train_photos + 0.35 * val_photos) / speed


def most_confused(confusion: Optional[Sequence[Sequence[int]]], names: Sequence[str]
                  ) -> Optional[tuple[str, str, int]]:
    """The off-diagonal cell with most photos, as (true, predicted, count); None when nothing is mixed up."""
    if not confusion:
        return None
    best = max(((n, t, p) for t, row in enumerate(confusion) for p, n in enumerate(row) if t != p and n),
               default=None)
    return None if best is None else (names[best[1]], names[best[2]], best[0])


def _data_hint(confused: Optional[tuple[str, str, int]], per_class: float) -> str:
    hint = ""
    if confused is not None:
        true, taken_for, n = confused
        hint = (f" Most mix-ups: {true} taken for {taken_for} ({n} photo{'s' if n != 1 else ''}): more photos of "
                f"{true} would help.")
    if per_class < FEW_PHOTOS:
        hint += f" About {per_class:.0f} photos per class is few: 40 or more would help most."
    return hint


def _gain_words(now: Score, before: Score) -> str:
    """What this stage's kept model gained: more photos right, or (a tie on accuracy) a lower validation loss,
    the tie-break Score.beats uses; never "up from" the same figure."""
    if now.correct * before.total > before.correct * now.total:
        return f" Up from {before.words()} before this stage."
    return (f" As many right as before this stage ({before.words()}), with a lower validation error (loss "
            f"{now.loss:.3f}, was {before.loss:.3f}): this stage's model is kept.")


def advise(history: Sequence[EpochMetrics], num_classes: int, per_class: float, lr: float,
           unfreeze_stages: int = LAST_STAGES, confused: Optional[tuple[str, str, int]] = None,
           seconds=lambda mode, epochs: None) -> Advice:
    """Advice after the last stage of ``history`` (every epoch of the run, all stages).

    ``lr``, ``unfreeze_stages``: the last stage's; ``confused``: the validation mix-up seen most;
    ``seconds(mode, epochs)``: how long a stage would take here (None: unknown).
    """
    if not history:
        raise ValueError("advice needs at least one finished epoch")
    stage = history[-1].stage
    start = max((i + 1 for i, m in enumerate(history) if m.stage != stage), default=0)
    this, before = history[start:], history[:start]
    best_now = _best(this)
    chance = 1.0 / max(num_classes, 1)
    result = (f"Validation accuracy {best_now.words()}: guessing would get {100 * chance:.0f} % "
              f"with {num_classes} classes ({best_now.accuracy / chance:.1f}× better).")
    hint = _data_hint(confused, per_class)
    if before:
        best_before = _best(before)
        if not best_now.beats(best_before):
            return Advice(result + f" Before this stage: {best_before.words()}.",
                          "No gain from this stage: the model from the earlier stage is kept. Training longer is "
                          "unlikely to help now; better photos will." + (hint or " The Review page lists photos "
                                                                          "that may be in the wrong folder."),
                          NextStep.IMPROVE_DATA)
        result += _gain_words(best_now, best_before)
    learning = still_learning(this)
    if stage == TrainMode.FROZEN and learning and per_class < FINE_TUNE_WHILE_LEARNING_FROM:
        plan = StagePlan(TrainMode.FROZEN, unfreeze_stages, MORE_HEAD_EPOCHS, lr)
        return Advice(result, f"Train the new layer {MORE_HEAD_EPOCHS} more rounds (a few seconds): it was still "
                      "getting better." + hint, NextStep.TRAIN_MORE, plan)
    if stage == TrainMode.FROZEN:
        mode, stages = fine_tune_depth(per_class)
        plan = StagePlan(mode, stages, FINE_TUNE_EPOCHS, lr * FINE_TUNE_LR_FACTOR, seconds(mode, FINE_TUNE_EPOCHS))
        cost = f" ({duration(plan.seconds)} on this computer)" if plan.seconds is not None else ""
        return Advice(result, f"For a little more accuracy, {plan.words()}{cost}: on similar photo sets it gained "
                      f"{FINE_TUNE_GAIN}. Or use the model as it is on the Predict page." + hint,
                      NextStep.FINE_TUNE, plan)
    if learning:
        plan = StagePlan(stage, unfreeze_stages, FINE_TUNE_EPOCHS, lr, seconds(stage, FINE_TUNE_EPOCHS))
        cost = f" ({duration(plan.seconds)})" if plan.seconds is not None else ""
        return Advice(result, f"It was still getting better: {plan.words()}{cost}, or use it as it is on the "
                      "Predict page." + hint, NextStep.TRAIN_MORE, plan)
    return Advice(result, "Done: go to Predict to label new photos." + hint, NextStep.PREDICT)


def _best(stage: Sequence[EpochMetrics]) -> Score:
    best = None
    for m in stage:
        if m.score.beats(best):
            best = m.score
    return best


def stage_config(base, plan: StagePlan, start: str):
    """The TrainConfig of the planned stage: ``base``'s data and settings, starting from the model ``start``
    (a model file, a run folder, or "best"), with the plan's depth, rate and length."""
    cfg = copy.deepcopy(base)
    cfg.train_mode, cfg.unfreeze_stages, cfg.epochs, cfg.lr = plan.mode, plan.stages, plan.epochs, plan.lr
    cfg.step_size = None  # the stage's default schedule for its length
    cfg.resume_from = start
    return cfg.validate()


def finish_stopped(advice: Advice, mode: TrainMode, stages: int, lr: float, left: int, total: int,
                   seconds: Optional[float]) -> Advice:
    """The advice after a stage that ended early: finish it first. What it reached so far is no verdict on
    training longer (``advice``'s "no gain" or "still learning" judged a stage cut short)."""
    plan = StagePlan(mode, stages, left, lr, seconds, finish=True)
    cost = f" ({duration(seconds)} on this computer)" if seconds is not None else ""
    return Advice(advice.result, f"This step stopped with {left} of its {total} rounds still to run: "
                  f"{plan.words()}{cost}, or use the model as it is on the Predict page.", NextStep.FINISH, plan)


def next_config(record, plan: StagePlan):
    """The config of the planned stage of a run (a RunRecord): from its best model."""
    return stage_config(record.config, plan, str(record.best_path))


def first_fine_tune(per_class: float, lr: float) -> StagePlan:
    """The fine-tune a run of this many photos per class would usually get, before any result says more
    (what a server export writes as its second step)."""
    mode, stages = fine_tune_depth(per_class)
    return StagePlan(mode, stages, FINE_TUNE_EPOCHS, lr * FINE_TUNE_LR_FACTOR)
