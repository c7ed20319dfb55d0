"""Exact k-nearest neighbours by inner product, in blocks of matrix products.

For unit-normalized rows the inner product is the cosine similarity, so this is
the cosine kNN the pair distiller starts from. The caller normalizes: it also
decides how rows are rounded, which is what makes the results exact (see
``skdistillhash.distill``).

Queries and database are cut into blocks; each pair of blocks is one matrix
product followed by a top-k, and the running best k per query are merged with
the block's. Peak memory is one ``block_size x block_size`` similarity block
plus the ``n_queries x k`` results, whatever the number of samples.
"""

from __future__ import annotations

import numpy as np
import torch


def inner_product_knn(
    queries: np.ndarray,
    database: np.ndarray | None = None,
    *,
    n_neighbors: int,
    block_size: int,
    device: torch.device,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``n_neighbors`` database rows of largest inner product with each query.

    Parameters
    ----------
    queries : ndarray of shape (n_queries, n_features), dtype float32
    database : ndarray of shape (n_database, n_features), dtype float32, or None
        None searches ``queries`` against themselves and excludes each row
        from its own neighbours (an exact duplicate of a row is still found).
    n_neighbors : int
        At most the number of candidates per query (``n_database``, or
        ``n_queries - 1`` when ``database`` is None).
    block_size : int
        Rows per query block and per database block.
    device : torch.device
        Where the products run; inputs and results stay on the host.

    Returns
    -------
    similarities : ndarray of shape (n_queries, n_neighbors), dtype float32
        Sorted in decreasing order along each row.
    indices : ndarray of shape (n_queries, n_neighbors), dtype int64
        Database rows; among equal similarities the smaller index comes
        first, and ties at the k-th place keep the smaller indices, so the
        result is deterministic and matches a stable brute-force sort.
    """
    exclude_self = database is None
    db = torch.from_numpy(queries if exclude_self else database).to(device)
    n_queries, n_db = queries.shape[0], db.shape[0]
    n_candidates = n_db - 1 if exclude_self else n_db
    if not 1 <= n_neighbors <= n_candidates:
        raise ValueError(
            f"n_neighbors={n_neighbors} must be between 1 and the number of "
            f"candidates per query ({n_candidates})."
        )
    out_sim = np.empty((n_queries, n_neighbors), dtype=np.float32)
    out_idx = np.empty((n_queries, n_neighbors), dtype=np.int64)
    for q_start in range(0, n_queries, block_size):
        q = torch.from_numpy(queries[q_start : q_start + block_size]).to(device)
        best_sim = best_idx = None
        for d_start in range(0, n_db, block_size):
            sim = q @ db[d_start : d_start + block_size].T
            if exclude_self:
                _mask_self(sim, q_start, d_start)
            block_sim, block_idx = _block_topk(sim, n_neighbors)
            block_idx += d_start
            if best_sim is None:
                best_sim, best_idx = block_sim, block_idx
            else:
                # Blocks arrive in index order, so every running index is
                # smaller than every index of this block: a stable sort of the
                # concatenation breaks ties by index.
                cat_sim = torch.cat([best_sim, block_sim], dim=1)
                cat_idx = torch.cat([best_idx, block_idx], dim=1)
                order = torch.sort(cat_sim, dim=1, descending=True, stable=True).indices
                order = order[:, :n_neighbors]
                best_sim = cat_sim.gather(1, order)
                best_idx = cat_idx.gather(1, order)
        stop = q_start + q.shape[0]
        out_sim[q_start:stop] = best_sim.cpu().numpy()
        out_idx[q_start:stop] = best_idx.cpu().numpy()
    return out_sim, out_idx


def _mask_self(sim: torch.Tensor, q_start: int, d_start: int) -> None:
    """Set the similarity of each query with itself to -inf, in place."""
    lo = max(q_start, d_start)
    hi = min(q_start + sim.shape[0], d_start + sim.shape[1])
    if lo < hi:
        rows = torch.arange(lo, hi, device=sim.device)
        sim[rows - q_start, rows - d_start] = -torch.inf


def _block_topk(sim: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top ``min(k, n_columns)`` of each row, ordered by (-similarity, index)."""
    n_cols = sim.shape[1]
    if n_cols <= k:
        order = torch.sort(sim, dim=1, descending=True, stable=True).indices
        return sim.gather(1, order), order
    # torch.topk picks arbitrarily among equal values: take one extra to see
    # whether the k-th value is tied with values left out.
    values, indices = torch.topk(sim, k + 1, dim=1, sorted=True)
    tied_rows = torch.nonzero(values[:, k] == values[:, k - 1]).flatten()
    values, indices = values[:, :k], indices[:, :k]
    # Within the top k, order ties by index: sort by index, then stably by value.
    by_index = torch.sort(indices, dim=1).indices
    values, indices = values.gather(1, by_index), indices.gather(1, by_index)
    by_value = torch.sort(values, dim=1, descending=True, stable=True).indices
    values, indices = values.gather(1, by_value), indices.gather(1, by_value)
    if tied_rows.numel():
        # Rare on real features, common on small-integer data: a full stable
        # sort of those rows keeps the smallest indices among the tied.
        order = torch.sort(sim[tied_rows], dim=1, descending=True, stable=True).indices[:, :k]
        values[tied_rows] = sim[tied_rows].gather(1, order)
        indices[tied_rows] = order
    return values, indices
