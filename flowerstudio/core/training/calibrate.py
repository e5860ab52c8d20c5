"""After a stage's last step: fit the temperature of the run's best model on its validation photos.

Usually the best epoch ran in this stage and its validation logits are at hand (fit.py keeps them). When
the run's best model came from an earlier stage it was calibrated then; only a best model that never was
(a stage stopped before its end, a resume) gets its validation photos run again.
"""
from __future__ import annotations

from typing import Callable, Optional

import torch

from flowerstudio.core.foundation.events import Cancelled
from flowerstudio.core.foundation.vocab import LogLevel
from flowerstudio.core.model.calibration import TemperatureFit, fit_temperature
from flowerstudio.core.model.model_file import load_model, read_model_info
from flowerstudio.core.training.report import Reporter
from flowerstudio.core.training.setup import Setup

Logits = tuple[torch.Tensor, torch.Tensor]


def calibrate(setup: Setup, report: Reporter, best_val: Optional[Logits],
              validate: Optional[Callable[[], Logits]]) -> Optional[TemperatureFit]:
    """Fit T for the best model and store it in best.safetensors; None when there was nothing to fit.

    ``validate``: runs the validation photos through the model (None when the stage stopped before its
    photos were ready)."""
    best = report.writer.best_path
    if best_val is None:
        # Every process decides alike: the validation pass below is collective under torchrun.
        need = setup.dist.broadcast(best.is_file() and not read_model_info(best).calibrated)
        if not need:
            return None
        if validate is None:
            report.say("Calibration skipped: stopped before the validation photos were ready; T = 1", LogLevel.WARNING)
            return None
        setup.model.load_state_dict(load_model(best)[0].state_dict())
        try:
            best_val = validate()
        except Cancelled:
            report.say("Calibration skipped: stopped before the validation pass; T = 1", LogLevel.WARNING)
            return None
    fit = fit_temperature(*best_val)
    report.say(fit.message, LogLevel.INFO if fit.calibrated else LogLevel.WARNING)
    report.writer.update_best(temperature=fit.temperature, calibrated=fit.calibrated, calibration=fit.message)
    return fit
