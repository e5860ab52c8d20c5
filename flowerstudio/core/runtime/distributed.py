"""Running the same training under torchrun: one process per GPU (or CPU share), PyTorch DDP.

``torchrun --nproc_per_node N -m flowerstudio train DATA`` sets RANK/WORLD_SIZE/LOCAL_RANK;
this module turns that into a process group (NCCL on CUDA, Gloo on CPU) and gives the
trainer the few collective operations it needs. Without those variables everything here
is a no-op, so single-process code pays nothing.
"""
from __future__ import annotations

import datetime
import os
from typing import Any, Optional

import torch
import torch.distributed as dist


class Distributed:
    """This process's place in the job: rank, world size, and collectives over the group."""

    def __init__(self, rank: int = 0, world: int = 1, local_rank: int = 0, owns_group: bool = False) -> None:
        self.rank, self.world, self.local_rank = rank, world, local_rank
        self._owns_group = owns_group
        # NCCL reduces only CUDA tensors; Gloo takes CPU ones.
        nccl = world > 1 and dist.is_initialized() and dist.get_backend() == "nccl"
        self._reduce_device = torch.device("cuda", local_rank) if nccl else torch.device("cpu")

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls, device: str = "auto", timeout_s: Optional[float] = None) -> "Distributed":
        """Join the job torchrun started, if any (a no-op otherwise)."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
        owns = False
        if not dist.is_initialized():
            cuda = device != "cpu" and torch.cuda.is_available()
            if cuda:
                torch.cuda.set_device(local)
            timeout = float(timeout_s or os.environ.get("FLOWERSTUDIO_DIST_TIMEOUT", 600))
            # A rank that dies makes the others fail at their next collective after this long,
            # instead of hanging; torchrun then ends the whole job.
            dist.init_process_group("nccl" if cuda else "gloo", timeout=datetime.timedelta(seconds=timeout))
            owns = True
        return cls(rank, world, local, owns)

    def device(self, choice: str) -> Optional[torch.device]:
        """Under torchrun on CUDA each process takes the GPU of its local rank."""
        if self.enabled and choice != "cpu" and torch.cuda.is_available():
            return torch.device("cuda", self.local_rank)
        return None

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank."""
        if not self.enabled:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, obj: Any) -> list[Any]:
        """Every rank's ``obj``, in rank order, on every rank."""
        if not self.enabled:
            return [obj]
        out: list[Any] = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def sum(self, *values: float) -> list[float]:
        """Element-wise sums over ranks (loss totals, correct counts, photos seen)."""
        if not self.enabled:
            return list(values)
        t = torch.tensor(values, dtype=torch.float64, device=self._reduce_device)
        dist.all_reduce(t)
        return t.tolist()

    def any(self, flag: bool) -> bool:
        """True when any rank says so: every rank stops at the same batch when one is cancelled."""
        if not self.enabled:
            return flag
        return self.sum(float(flag))[0] > 0

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def close(self) -> None:
        if self._owns_group and dist.is_initialized():
            dist.destroy_process_group()
            self._owns_group = False
