"""Exact k-nearest neighbours by inner product, in blocks of matrix products.

For unit-normalized rows the inner product is the cosine similarity, so this is
the cosine kNN the pair distiller starts from. The caller normalizes: it also
decides how rows are rounded, which is what makes the results exact (see
``skdistillhash.distill``).

Queries and database are cut into blocks; each pair of blocks is one matrix
product, merged into the running best k of each query (a top-k only for the
rows it can change). Peak memory is one ``block_size x 4 * block_size``
similarity block plus the ``n_queries x k`` results, whatever the number of
samples.
"""

from __future__ import annotations

import numpy as np
import torch

#: Columns per chunk whose maxima let a block's top-k skip most columns.
_CHUNK = 32
#: Database block width, in query blocks.
_DB_BLOCKS = 4


def inner_product_knn(
    queries: np.ndarray,
    database: np.ndarray | None = None,
    *,
    n_neighbors: int,
    block_size: int,
    device: torch.device,
    progress=None,
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
        Rows per query block; database blocks are 4 times as many rows.
    device : torch.device
        Where the products run; inputs and results stay on the host.
    progress : progress report or None
        Told of each block of queries done (``update(rows)``).

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
    q_all = db if exclude_self else torch.from_numpy(queries).to(device)
    # Running best k per query; the fillers (-inf, index n_db) lose every tie.
    best_sim = torch.full((n_queries, n_neighbors), -torch.inf, device=device)
    best_idx = torch.full((n_queries, n_neighbors), n_db, dtype=torch.int64, device=device)
    # One reused buffer for the products: a fresh 4096^2 block per product
    # costs more in page faults than the product itself on CPU.
    # Database blocks are _DB_BLOCKS times wider than query blocks: as many
    # values per product, but fewer merges (each a dozen small operations).
    db_block = _DB_BLOCKS * block_size
    buffer = torch.empty(block_size * min(db_block, n_db), device=device)
    for q_start in range(0, n_queries, block_size):
        q = q_all[q_start : q_start + block_size]
        for d_start in range(0, n_db, db_block):
            d = db[d_start : d_start + db_block]
            sim = torch.mm(q, d.T, out=buffer[: q.shape[0] * d.shape[0]].view(q.shape[0], d.shape[0]))
            if exclude_self:
                _mask_self(sim, q_start, d_start)
            _merge(best_sim, best_idx, q_start, sim, d_start)
        if progress is not None:
            progress.update(q.shape[0])
    sims, idx = best_sim.cpu().numpy(), best_idx.cpu().numpy()
    # Ties inside the top k were left in any order: put them in index order.
    order = np.lexsort((idx, -sims), axis=1)
    return np.take_along_axis(sims, order, axis=1), np.take_along_axis(idx, order, axis=1)


def _mask_self(sim: torch.Tensor, q_start: int, d_start: int) -> None:
    """Set the similarity of each query with itself to -inf, in place."""
    lo = max(q_start, d_start)
    hi = min(q_start + sim.shape[0], d_start + sim.shape[1])
    if lo < hi:
        rows = torch.arange(lo, hi, device=sim.device)
        sim[rows - q_start, rows - d_start] = -torch.inf


def _merge(
    best_sim: torch.Tensor, best_idx: torch.Tensor, row_start: int, sim: torch.Tensor, col_start: int
) -> None:
    """Merge one block of similarities into the running best k of its rows, in place.

    Blocks must reach each row in increasing column order: then a value equal
    to a row's current k-th best has a larger index and loses the tie, so
    only rows with a strictly larger value can change. Checking that takes
    the maxima of the block, one pass, much cheaper than a top-k, and after
    the first blocks most rows are left alone.
    """
    k = best_sim.shape[1]
    rows = torch.arange(row_start, row_start + sim.shape[0], device=sim.device)
    chunked = sim.shape[1] % _CHUNK == 0 and sim.shape[1] >= 4 * (k + 1) * _CHUNK
    maxima = sim.view(sim.shape[0], -1, _CHUNK).amax(dim=2) if chunked else sim
    hit = torch.nonzero(maxima.amax(dim=1) > best_sim[rows, -1]).flatten()
    if not hit.numel():
        return
    if 2 * hit.numel() <= sim.shape[0]:
        rows, sim, maxima = rows[hit], sim.index_select(0, hit), maxima.index_select(0, hit)
    # else most rows can change: a top-k of all is cheaper than the gather.
    if chunked:
        block_sim, block_pos = _chunked_topk(sim, maxima, k)
    else:
        block_sim, block_pos = _topk(sim, k)
    cat_idx = torch.cat([best_idx[rows], block_pos + col_start], dim=1)
    new_sim, pos = _topk(torch.cat([best_sim[rows], block_sim], dim=1), k, cat_idx)
    best_sim[rows] = new_sim
    best_idx[rows] = cat_idx.gather(1, pos)


def _chunked_topk(sim: torch.Tensor, maxima: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``_topk(sim, k)`` looking only into the k + 1 chunks of largest maxima.

    Any value outside those chunks is at most their smallest maximum, and
    k + 1 values (their maxima) are at least that: it can only enter the top
    k through a tie at the k-th place, which the k + 1-th value shows, and
    such rows go to the full ``_topk``. The rest costs a top-k over
    (k + 1) * _CHUNK columns instead of all.
    """
    chunks = torch.topk(maxima, k + 1, dim=1).indices
    cols = (chunks[:, :, None] * _CHUNK + torch.arange(_CHUNK, device=sim.device)).flatten(1)
    top, pos = torch.topk(sim.gather(1, cols), k + 1, dim=1)
    tied = torch.nonzero(top[:, k] == top[:, k - 1]).flatten()
    top, pos = top[:, :k], cols.gather(1, pos[:, :k])
    if tied.numel():
        top[tied], pos[tied] = _topk(sim[tied], k)
    return top, pos


def _topk(
    values: torch.Tensor, k: int, index: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``min(k, n_columns)`` largest values of each row and their columns.

    Values come out in decreasing order. Among values tied at the k-th place,
    the smallest ``index`` wins (``index`` defaults to the column number).
    torch.topk picks arbitrarily among ties, so one extra value tells which
    rows have a tie at the boundary; only those (rare on real features,
    common on small integers) are sorted in full, lexicographically.
    """
    n_cols = values.shape[1]
    if n_cols > k:
        top, pos = torch.topk(values, k + 1, dim=1)
        tied = torch.nonzero(top[:, k] == top[:, k - 1]).flatten()
        top, pos = top[:, :k], pos[:, :k]
    else:
        top, pos = torch.topk(values, n_cols, dim=1)
        tied = torch.empty(0, dtype=torch.int64, device=values.device)
    if tied.numel():
        rows = values[tied]
        by_index = torch.sort(index[tied], dim=1).indices if index is not None else None
        if by_index is not None:
            rows = rows.gather(1, by_index)
        order = torch.sort(rows, dim=1, descending=True, stable=True).indices[:, :k]
        top[tied] = rows.gather(1, order)
        pos[tied] = by_index.gather(1, order) if by_index is not None else order
    return top, pos
