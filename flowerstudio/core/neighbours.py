"""The k most similar photos of every photo (cosine similarity of unit-length features), exactly.

Blocked matrix products: each block of rows is multiplied with itself and every later row, so
each similarity is computed once (half of N x N), and the running top k of both the rows and
the columns of the block are updated. Memory stays at one block (``block`` x N floats). Past
``reduce_above`` rows the features are first projected onto their top principal directions (an
uncentred truncated SVD keeps dot products best), which makes 100,000 rows take seconds, not
minutes; the candidates are then re-ranked with the full features.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from flowerstudio.core.events import Callback, CancelToken, PhaseStarted, Progress, ignore
from flowerstudio.core.vocab import Phase

REDUCED_DIM = 256
REDUCE_ABOVE = 20_000  # rows: below this the full features are fast enough (measured: benchmarks/README.md)
_EXTRA = 8  # candidates kept beyond k on reduced features, so re-ranking can repair their order


def nearest_neighbours(x: np.ndarray, k: int, callback: Callback = ignore, cancel: Optional[CancelToken] = None,
                       block: int = 512, reduce_above: int = REDUCE_ABOVE) -> tuple[np.ndarray, np.ndarray]:
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
        sims = torch.einsum("nd,nkd->nk", full, full[idx])  # the exact similarity of every candidate
        sims, order = sims.topk(k, dim=1)
        return idx.gather(1, order).numpy(), sims.numpy()
    idx, sims = _top_k(full, k, block, callback, cancel)
    return idx.numpy(), sims.numpy()


def project(x: torch.Tensor, dim: int) -> torch.Tensor:
    """``x`` on its top ``dim`` right singular vectors: dot products are kept as well as ``dim`` numbers can."""
    gram = x.T @ x
    _, vectors = torch.linalg.eigh(gram.double())  # eigenvalues ascending
    return x @ vectors[:, -dim:].float()


def _top_k(x: torch.Tensor, k: int, block: int, callback: Callback,
           cancel: Optional[CancelToken]) -> tuple[torch.Tensor, torch.Tensor]:
    n = x.shape[0]
    best_s = torch.full((n, k), -torch.inf)
    best_i = torch.zeros((n, k), dtype=torch.long)
    blocks = range(0, n, block)
    callback(PhaseStarted(Phase.NEIGHBOURS, len(blocks)))
    for step, i0 in enumerate(blocks, 1):
        if cancel is not None:
            cancel.raise_if_cancelled()
        i1 = min(i0 + block, n)
        sims = x[i0:i1] @ x[i0:].T  # this block against itself and every later row
        sims[:, : i1 - i0].fill_diagonal_(-torch.inf)  # a photo is not its own neighbour
        # The block's rows: their best among themselves and every later row.
        s, j = sims.topk(min(k, sims.shape[1]), dim=1)
        _merge(best_s, best_i, torch.arange(i0, i1), s, j + i0)
        if i1 < n:  # the later rows (columns here): their best among this block's rows
            s, j = sims[:, i1 - i0:].T.topk(min(k, i1 - i0), dim=1)
            _merge(best_s, best_i, torch.arange(i1, n), s, j + i0)
        callback(Progress(Phase.NEIGHBOURS, step, len(blocks)))
    return best_i, best_s


def _merge(best_s: torch.Tensor, best_i: torch.Tensor, rows: torch.Tensor, s: torch.Tensor, j: torch.Tensor) -> None:
    """Fold candidates (s, j) for ``rows`` into the running top k."""
    k = best_s.shape[1]
    all_s = torch.cat([best_s[rows], s], dim=1)
    all_i = torch.cat([best_i[rows], j], dim=1)
    top_s, pos = all_s.topk(k, dim=1)
    best_s[rows] = top_s
    best_i[rows] = all_i.gather(1, pos)
