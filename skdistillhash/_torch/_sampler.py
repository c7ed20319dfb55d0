"""Batches of anchors plus distilled neighbours."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp


class AnchorNeighborSampler:
    """Yield index batches that always hold confident similar pairs.

    Each epoch visits every sample once as an anchor, in a random order;
    each anchor brings one of its distilled similar neighbours (chosen at
    random) into the batch. Uniform batches would hold almost no similar pair:
    with ten balanced classes and a few distilled neighbours per point, a
    random pair is distilled-similar with probability ~1e-3.
    """

    def __init__(self, graph: sp.csr_matrix, batch_size: int, rng: np.random.RandomState):
        positive = (graph > 0).tocsr()
        positive.sort_indices()
        self._indptr = positive.indptr
        self._indices = positive.indices
        self._degree = np.diff(positive.indptr)
        self._n_anchors = max(1, batch_size // 2)
        self._rng = rng

    @property
    def n_samples(self) -> int:
        return self._degree.shape[0]

    def __len__(self) -> int:
        return -(-self.n_samples // self._n_anchors)

    def __iter__(self) -> Iterator[np.ndarray]:
        order = self._rng.permutation(self.n_samples)
        draws = self._rng.random_sample(self.n_samples)
        for start in range(0, self.n_samples, self._n_anchors):
            anchors = order[start : start + self._n_anchors]
            degree = self._degree[anchors]
            has = degree > 0
            offsets = self._indptr[anchors[has]] + (draws[start : start + len(anchors)][has] * degree[has]).astype(np.int64)
            batch = np.concatenate([anchors, self._indices[offsets]])
            # Sorted unique rows: a sample never appears twice in a batch.
            yield np.unique(batch)
