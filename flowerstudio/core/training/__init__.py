"""Training: one call runs a stage; the advice plans the next.

    trainer      train() and resume(): setup -> sources -> step -> fit -> calibrate
    setup        everything a stage decides before its first step (photos and split, run folder, model)
    sources      where batches come from: cached features or decoded photos
    step         one training step, the same for every stage and the learning-rate finder (lean: cheaper on CPU)
    fit          the epoch loop          calibrate    the best model's temperature, when the stage ends
    stop_hooks   a stop inside a step (one process): the cancel token checked at every backbone stage
    plan         the advice and the next stage's plan     next_stage  the plan for a run folder
    retrain      the review loop's retrain, and whether its model replaces the one in use
    lr_finder    the learning-rate range test     speeds  this computer's measured speeds
    optim, report, server_run
"""
from flowerstudio.core.foundation.lazy import lazy_exports

_EXPORTS = {
    "train": "trainer",
    "resume": "trainer",
    "TrainResult": "trainer",
    "retrain_head": "retrain",
    "find_lr": "lr_finder",
    "advise": "plan",
    "Advice": "plan",
    "StagePlan": "plan",
    "advice_for_run": "next_stage",
    "next_config": "plan",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
