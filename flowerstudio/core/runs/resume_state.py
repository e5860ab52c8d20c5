"""What resuming an interrupted stage needs besides its weights: written beside last.safetensors."""
from __future__ import annotations

import io
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from flowerstudio.core.foundation.atomic import atomic_write_bytes
from flowerstudio.core.runs.history import RunError


@dataclass(frozen=True)
class ResumeState:
    """The optimizer, scheduler and RNG state at the end of ``epoch``; the stage began at ``stage_first_epoch``."""

    epoch: int
    stage_first_epoch: int
    optimizer: dict[str, Any]
    scheduler: dict[str, Any]
    torch_rng: Any  # a uint8 tensor

    def epochs_left(self, epochs: int) -> int:
        """Epochs a stage of ``epochs`` still has to run after this state."""
        return max(0, epochs - (self.epoch - self.stage_first_epoch + 1))

    def save(self, path: str | Path) -> None:
        """Plain tensors and numbers only (torch.save; loaded back with weights_only)."""
        import torch

        buf = io.BytesIO()
        torch.save(asdict(self), buf)
        atomic_write_bytes(path, buf.getvalue())

    @classmethod
    def load(cls, path: str | Path) -> "ResumeState":
        import torch

        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
            return cls(**data)
        except FileNotFoundError as exc:
            raise RunError(f"{path} is missing: this stage cannot be resumed. Train a new stage from the "
                           "run's best model instead.") from exc
        except Exception as exc:  # a damaged pickle-free file: torch's own error types vary
            raise RunError(f"{path} is damaged ({type(exc).__name__}): this stage cannot be resumed. Train a "
                           "new stage from the run's best model instead.") from exc
