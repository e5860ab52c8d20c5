"""The k most similar photos of every photo (cosine similarity of unit-length features), exactly.

Blocked matrix products: each block of rows is multiplied with every row and its top k taken
along the row. Computing only half the matrix (it is symmetric) was measured slower: the top k
of the other half runs along short, strided columns and costs more than the products it saves.
Memory stays at one block (``block`` x N floats). Past ``reduce_above`` rows the features are
first projected onto their top principal directions (an uncentred truncated SVD keeps dot
products best), which cuts the products 10x; the candidates are then re-ranked with the full
features, so every similarity returned is exact.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from flowerstudio.core.foundation.events import Callback, CancelToken, PhaseStarted, Progress, ignore
from flowerstudio.core.foundation.vocab import Phase

REDUCED_DIM = 128
REDUCE_ABOVE = 20_000  # rows: below this the full features are fast enough (measured: benchmarks/README.md)
_EXTRA = 12  # candidates kept beyond k on reduced features, so re-ranking can repair their order
_RERANK = 1024  # rows re-ranked at once: 1024 x (k + _EXTRA) full feature rows in memory
_DIRECTIONS_FROM = 20_000  # rows (about) that the principal directions are computed from


def nearest_neighbours(x: np.ndarray, k: int, callback: Callback = ignore, cancel: Optional[CancelToken] = None,
                       block: int = 256, reduce_above: int = REDUCE_ABOVE) -> tuple[np.ndarray, np.ndarray]:
    """Indices [N, k] and cosine similarities [N, k] of each row's k most similar other rows, best first.

    ``x``: float32 [N, D], rows of unit length. k is capped at N - 1.
    """
    n = x.shape[0]
    k = max(0, min(k, n - 1))
    if k == 0:
        return np.zeros((n, 0), np.int64), np.zeros((n, 0), np.float32)
    full = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    if n > reduce_above and full.shape[1] > REDUCED_DIM:
        idx, _ = _top_k(project(full, REDUCED_DIM), min(k + _EXTRA, n - 1), block, callback, cancel)
        sims = torch.cat([torch.einsum("nd,nkd->nk", full[i:i + _RERANK], full[idx[i:i + _RERANK]])
                          for i in range(0, n, _RERANK)])  # the exact similarity of every candidate
        sims, order = sims.topk(k, dim=1)
        return idx.gather(1, order).numpy(), sims.numpy()
    idx, sims = _top_k(full, k, block, callback, cancel)
    return idx.numpy(), sims.numpy()


def project(x: torch.Tensor, dim: int) -> torch.Tensor:
    """``x`` on its top ``dim`` right singular vectors: dot products are kept as well as ``dim`` numbers can."""
    from threadpoolctl import threadpool_limits

    sample = x[:: max(1, len(x) // _DIRECTIONS_FROM)]  # the directions need a sample, not every row
    gram = (sample.T @ sample).double().numpy()
    # One thread: LAPACK's eigensolver spins its second thread, and on a busy machine (or beside a
    # training job) took 12 s instead of 0.9 s for 1280 x 1280 (measured, benchmarks/README.md).
    with threadpool_limits(1, user_api="blas"):
        _, vectors = np.linalg.eigh(gram)  # eigenvalues ascending
    return x @ torch.from_numpy(vectors[:, -dim:]).float()


def _top_k(x: torch.Tensor, k: int, block: int, callback: Callback,
           cancel: Optional[CancelToken]) -> tuple[torch.Tensor, torch.Tensor]:
    n = x.shape[0]
    best_s = torch.empty((n, k))
    best_i = torch.empty((n, k), dtype=torch.long)
    blocks = range(0, n, block)
    callback(PhaseStarted(Phase.NEIGHBOURS, len(blocks)))
    for step, i0 in enumerate(blocks, 1):
        if cancel is not None:
            cancel.raise_if_cancelled()
        i1 = min(i0 + block, n)
        sims = x[i0:i1] @ x.T
        sims[:, i0:i1].fill_diagonal_(-torch.inf)  # a photo is not its own neighbour
        best_s[i0:i1], best_i[i0:i1] = sims.topk(k, dim=1)
        callback(Progress(Phase.NEIGHBOURS, step, len(blocks)))
    return best_i, best_s
