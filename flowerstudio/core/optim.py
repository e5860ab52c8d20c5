"""The optimizer and learning-rate schedule a config asks for (shared by the trainer and the LR finder)."""
from __future__ import annotations

import torch

from flowerstudio.core.config import TrainConfig
from flowerstudio.core.vocab import Optimizer


def make_optimizer(cfg: TrainConfig, groups: list[dict]) -> torch.optim.Optimizer:
    """Adam (default), AdamW or SGD with momentum over ``groups``, each carrying its own lr."""
    if cfg.optimizer == Optimizer.SGD:
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)
    kind = {Optimizer.ADAM: torch.optim.Adam, Optimizer.ADAMW: torch.optim.AdamW}[cfg.optimizer]
    return kind(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)


def make_scheduler(cfg: TrainConfig, opt: torch.optim.Optimizer) -> torch.optim.lr_scheduler.StepLR:
    """StepLR, as the tutorial: lr x gamma every step_size epochs."""
    return torch.optim.lr_scheduler.StepLR(opt, step_size=cfg.step_size, gamma=cfg.gamma)
