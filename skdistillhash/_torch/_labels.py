"""The fitted pair rule: label pairs of table rows and distil a row's pairs.

Plain torch and numpy; :class:`skdistillhash.PairDistiller` builds one
:class:`PairLabeler` in ``fit`` (over the training rows) and keeps the
validation, thresholds and graph assembly. Every kernel here relies on the
exact arithmetic of the rounded unit rows (see :mod:`skdistillhash.distill`):
a similarity is the same float32 whatever computes it, so a cached label, a
blocked product and a per-pair product always agree.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

#: Row chunks of a symmetric pair_labels(idx, idx) block: chunk i is labelled
#: against chunks i.. only, (c + 1) / (2c) of the products.
_SYMMETRIC_CHUNKS = 2


class Rule(NamedTuple):
    """The fitted labelling rule, in similarities and neighbour-pair counts."""

    similar_sim: float  # s~ = +1 when cosine similarity > this (distance < d_l)
    dissimilar_sim: float  # s~ = -1 when cosine similarity < this (distance > d_r)
    local: bool  # check the local posterior (DistillHash) or not (SSDH)
    similar_count: float  # distil +1 when more +1 neighbour pairs than this
    dissimilar_count: float  # distil -1 when more -1 neighbour pairs than this


class PairLabeler:
    """Labels of pairs of rows of a table under a fitted :class:`Rule`.

    Parameters
    ----------
    features : ndarray of shape (n, d), dtype float32
        The rounded unit rows (the table).
    hood : ndarray of shape (n, K + 1), dtype int64
        Each row's neighbourhood: the row itself (member 0), then its K
        nearest neighbours; only member 0 is read when the rule is not local.
    rule : Rule
    device : torch.device
        Where products run; results come back as numpy.
    chunk_floats : int
        Floats per chunk of a product: bounds the working memory.
    cache_bytes : int
        Budget of the label table (0: never build it).

    Notes
    -----
    The label table holds every pair's label, two bits per pair: n^2 / 4
    bytes kept (25 MB at 10,000 rows), as much again while it is built
    (:meth:`table_nbytes`). With it, :meth:`distilled` and :meth:`pair_labels`
    are lookups; without it they gather the neighbourhoods' features and
    multiply them, which costs far more per pair (the gathers move
    2 (K+1) d floats a pair). :meth:`build_table` builds it (the distiller's
    fit does, within budget). The table is not pickled: an unpickled labeler
    labels by products, and rebuilds the table once those products would
    have paid for it (about n^2 neighbour-pair products; the ski-rental
    rule: at most twice the cost of the better choice, whatever the calls to
    come).
    """

    def __init__(
        self,
        features: np.ndarray,
        hood: np.ndarray,
        rule: Rule,
        *,
        device: torch.device,
        chunk_floats: int,
        cache_bytes: int = 0,
    ):
        self.features = features
        self.hood = hood
        self.rule = rule
        self.device = device
        self.chunk_floats = chunk_floats
        self.cache_bytes = cache_bytes
        self._width = hood.shape[1] if rule.local else 1
        self._products = 0  # neighbour-pair products run by pair_labels without a table
        self._table: tuple[np.ndarray, np.ndarray] | None = None
        self._tensors: tuple[torch.Tensor, torch.Tensor] | None = None

    def __getstate__(self):
        # Device tensors and the label table are rebuilt on demand, never pickled.
        state = self.__dict__.copy()
        state.update(_table=None, _tensors=None, _products=0)
        return state

    @property
    def has_table(self) -> bool:
        return self._table is not None

    def table_fits(self) -> bool:
        """Whether the label table may be built: within budget, and laid out as it
        assumes (member 0 of each neighbourhood is the row itself)."""
        rows_first = np.array_equal(self.hood[:, 0], np.arange(self.n_rows))
        return rows_first and self.table_nbytes() <= self.cache_bytes

    def build_table(self) -> None:
        """Label every pair once; later labels are lookups."""
        self._table = self._label_table()

    @property
    def n_rows(self) -> int:
        return self.features.shape[0]

    def _table_and_hood(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._tensors is None:
            self._tensors = (
                torch.from_numpy(self.features).to(self.device),
                torch.from_numpy(self.hood).to(self.device),
            )
        return self._tensors

    # -------------------------------------------------------- similarities

    def similarities(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Cosine similarity of each pair of rows (a[t], b[t])."""
        table, _ = self._table_and_hood()
        return pair_similarities(table, a, b, self.chunk_floats)

    def row_similarities(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Similarity of each row with each of its own columns: (len(rows), m) for cols (len(rows), m)."""
        table, _ = self._table_and_hood()
        out = np.empty(cols.shape, dtype=np.float32)
        step = max(1, self.chunk_floats // (cols.shape[1] * table.shape[1]))
        for start in range(0, len(rows), step):
            r = torch.from_numpy(rows[start : start + step]).to(table.device)
            c = torch.from_numpy(cols[start : start + step]).to(table.device)
            sim = torch.bmm(table[c], table[r].unsqueeze(2)).squeeze(2)
            out[start : start + step] = sim.cpu().numpy()
        return out

    # ------------------------------------------------------------- labels

    def distilled(self, a: np.ndarray, b: np.ndarray, sign: int, own: np.ndarray | None = None) -> np.ndarray:
        """Whether each pair (a[t], b[t]) is distilled with label ``sign``.

        First the pair's own initial label, from its similarity ``own``
        (computed when not given); then, for the DistillHash rule and only
        where that label is ``sign``, the count of neighbour pairs with the
        same initial label.
        """
        rule = self.rule
        if self._table is not None:
            # The table's diagonal is 0: callers never ask about a row with itself.
            return _lookup_pairs(self._table[0 if sign > 0 else 1], a, b).astype(bool)
        if own is None:
            own = self.similarities(a, b)
        hit = own > rule.similar_sim if sign > 0 else own < rule.dissimilar_sim
        if not rule.local:
            return hit
        table, hood = self._table_and_hood()
        live = np.flatnonzero(hit)
        step = max(1, self.chunk_floats // (2 * self._width * table.shape[1]))
        for start in range(0, live.size, step):
            pick = live[start : start + step]
            ia = hood[torch.from_numpy(a[pick]).to(hood.device)]
            ib = hood[torch.from_numpy(b[pick]).to(hood.device)]
            sim = torch.bmm(table[ia], table[ib].transpose(1, 2))
            if sign > 0:
                keep = (sim > rule.similar_sim).sum(dim=(1, 2)) > rule.similar_count
            else:
                keep = (sim < rule.dissimilar_sim).sum(dim=(1, 2)) > rule.dissimilar_count
            hit[pick] = keep.cpu().numpy()
        return hit

    def pair_labels(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Labels (+1, -1, 0) of all pairs of a x b; 0 where a row meets itself.

        ``a`` and ``b`` are valid int64 row indices (checked by the caller).
        """
        labels = np.zeros((a.size, b.size), dtype=np.int8)
        if not (a.size and b.size):
            return labels
        if self._table is None:
            self._products += a.size * b.size * self._width**2
            if self._products >= self.n_rows**2 and self.table_fits():
                self.build_table()
        if self._table is not None:
            positive, negative = self._table
            return _lookup_block(positive, a, b) - _lookup_block(negative, a, b)
        # Bound the (n_a * (K+1)) x (n_b * (K+1)) neighbour-label block.
        step = max(1, self.chunk_floats // (self._width**2 * b.size))
        # A training batch (a == b) gives a symmetric block (products are exact):
        # label the upper triangle of row chunks and mirror it. 2 chunks skip
        # a quarter of the work; more make the products and sums too small to
        # run at full speed (measured on CPU: 2 and 3 chunks of a 128-row batch
        # 0.2 ms faster than 4).
        symmetric = a.size == b.size and np.array_equal(a, b)
        if symmetric:
            step = min(step, -(-a.size // _SYMMETRIC_CHUNKS))
        for start in range(0, a.size, step):
            rows, first = slice(start, start + step), start if symmetric else 0
            block = self._label_block(a[rows], b[first:])
            labels[rows, first:] = block
            if symmetric:
                labels[first:, rows] = block.T
        labels[a[:, None] == b[None, :]] = 0
        return labels

    def distil_rows(
        self,
        rows: np.ndarray,
        candidates: np.ndarray,
        candidate_sims: np.ndarray,
        *,
        pool: tuple[int, int],
        keys: np.ndarray,
        exclude_self: bool,
        n_dissimilar: int,
        n_draws: int,
        seed: np.uint64,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Distilled pairs (row, column, label) of the given table rows.

        Similar: the candidates (nearest neighbours, with their similarities)
        that pass. Dissimilar: per row, the first ``n_dissimilar`` of
        ``n_draws`` candidates drawn from the pool of table rows
        ``[pool[0], pool[0] + pool[1])`` that pass.
        """
        n_cand = candidates.shape[1]
        sim_rows = np.repeat(rows, n_cand)
        sim_cols = candidates.ravel()
        keep = self.distilled(sim_rows, sim_cols, +1, own=candidate_sims.ravel())
        out_rows, out_cols, out_labels = [sim_rows[keep]], [sim_cols[keep]], [np.ones(keep.sum(), np.int8)]
        if n_draws:
            start, size = pool
            step = max(1, self.chunk_floats // n_draws)
            for lo in range(0, rows.size, step):
                chunk = rows[lo : lo + step]
                drawn = _draws(keys[lo : lo + step], n_draws, size - exclude_self, seed)
                if exclude_self:
                    # Draw among the others: skip over the row itself.
                    drawn += drawn >= (chunk - start)[:, None]
                drawn += start
                own = self.row_similarities(chunk, drawn)
                hit = self.distilled(
                    np.repeat(chunk, n_draws), drawn.ravel(), -1, own=own.ravel()
                ).reshape(drawn.shape)
                hit &= np.cumsum(hit, axis=1) <= n_dissimilar
                r, c = np.nonzero(hit)
                out_rows.append(chunk[r])
                out_cols.append(drawn[r, c])
                out_labels.append(np.full(r.size, -1, np.int8))
        return tuple(map(np.concatenate, (out_rows, out_cols, out_labels)))

    def table_nbytes(self) -> int:
        """Peak bytes of building the label table: two bits per pair kept, as
        many again for the initial labels while the local rule is applied."""
        n = self.n_rows
        kept = 2 * n * (-(-n // 8))
        return 2 * kept if self.rule.local else kept

    def _label_block(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Labels of all pairs of a x b from one product of their neighbourhoods.

        Rows are laid out point by point, neighbourhood member by member, so
        the (|a| * (K+1)) x (|b| * (K+1)) similarity block reshapes to
        (|a|, K+1, |b|, K+1) and the neighbour-pair counts are plain sums over
        axes 1 and 3: no gathers. Runs on the CPU copy of the table (batches
        are small, and the labels are wanted on the host).
        """
        rule, width = self.rule, self._width
        table = torch.from_numpy(self.features)
        rows_a = torch.from_numpy(np.ascontiguousarray(self.hood[a, :width]).ravel())
        rows_b = torch.from_numpy(np.ascontiguousarray(self.hood[b, :width]).ravel())
        sim = (table[rows_a] @ table[rows_b].T).view(len(a), width, len(b), width)
        # Member 0 of a neighbourhood is the point itself: its own initial label.
        own = sim[:, 0, :, 0]
        own_pos = own > rule.similar_sim
        own_neg = own < rule.dissimilar_sim
        if rule.local:
            own_pos &= _count_pairs(sim > rule.similar_sim) > rule.similar_count
            own_neg &= _count_pairs(sim < rule.dissimilar_sim) > rule.dissimilar_count
        return (own_pos.to(torch.int8) - own_neg.to(torch.int8)).numpy()

    def _label_table(self) -> tuple[np.ndarray, np.ndarray]:
        """Every pair's label as two packed bit matrices (similar, dissimilar), zero diagonal.

        The initial labels of all pairs are packed first, from one pass of
        products (on the device). The DistillHash rule then needs, for every
        pair (i, j), C[i, j] = #{(a, b) in hood(i) x hood(j): s~(a, b) = s}.
        Initial labels are symmetric (products are exact), so for a block J
        of rows, Q[j, a] = #{b in hood(j): s~(b, a) = s} adds unpacked rows,
        and C[i, J] = sum over a in hood(i) of Q[J, a] adds rows of Q's
        transpose: row gathers only, no product more (on the host, where
        numpy's row gathers and bit packing are fastest).
        """
        rule, n = self.rule, self.n_rows
        table, _ = self._table_and_hood()
        positive = np.empty((n, -(-n // 8)), dtype=np.uint8)
        negative = np.empty_like(positive)
        step = max(1, self.chunk_floats // max(n, 1))
        for start in range(0, n, step):
            sim = table[start : start + step] @ table.T
            positive[start : start + step] = _pack((sim > rule.similar_sim).cpu().numpy())
            negative[start : start + step] = _pack((sim < rule.dissimilar_sim).cpu().numpy())
        del sim
        if rule.local:
            positive = self._distil_table(positive, rule.similar_count)
            negative = self._distil_table(negative, rule.dissimilar_count)
        for bits in (positive, negative):
            diagonal = np.arange(n)
            bits[diagonal, diagonal >> 3] &= ~(np.uint8(1) << (diagonal & 7).astype(np.uint8))
        return positive, negative

    def _distil_table(self, initial: np.ndarray, count: float) -> np.ndarray:
        """Packed bits of the pairs whose own and neighbour-pair initial labels distil them."""
        n, hood = self.n_rows, self.hood
        dtype = np.min_scalar_type(self._width**2)
        step = max(1, self.chunk_floats // max(4 * n, 1))
        out = np.empty_like(initial)
        for start in range(0, n, step):
            block = hood[start : start + step]
            near = np.zeros((block.shape[0], n), dtype=dtype)
            for member in block.T:
                near += _unpack(initial[member], n)
            near = np.ascontiguousarray(near.T)
            pairs = np.zeros_like(near)
            for member in hood.T:
                pairs += near[member]
            # Member 0 of a neighbourhood is the row itself: its own initial label.
            own = initial[start : start + step]
            out[start : start + step] = own & _pack(pairs.T > count)
        return out


def pair_similarities(table: torch.Tensor, a: np.ndarray, b: np.ndarray, chunk_floats: int) -> np.ndarray:
    """Inner product of each pair of rows (a[t], b[t]) of ``table``, float32 numpy."""
    out = np.empty(len(a), dtype=np.float32)
    step = max(1, chunk_floats // (2 * table.shape[1]))
    for start in range(0, len(a), step):
        ia = torch.from_numpy(a[start : start + step]).to(table.device)
        ib = torch.from_numpy(b[start : start + step]).to(table.device)
        out[start : start + step] = (table[ia] * table[ib]).sum(dim=1).cpu().numpy()
    return out


def _draws(keys: np.ndarray, n_draws: int, n_pool: int, seed: np.uint64) -> np.ndarray:
    """``n_draws`` pseudo-random integers in [0, n_pool) per key, a function of (seed, key).

    Counter-based (splitmix64), so a row's candidates depend on its key only,
    not on which other rows are drawn with it or in what blocks.
    """
    base = _splitmix64(keys ^ seed)
    counters = np.arange(1, n_draws + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    return (_splitmix64(base[:, None] + counters[None, :]) % np.uint64(n_pool)).astype(np.int64)


def _splitmix64(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _count_pairs(hit: torch.Tensor) -> torch.Tensor:
    """Per (a, b), the neighbour pairs of a (|a|, K+1, |b|, K+1) block that hit.

    The innermost axis first, into small integers, then the other: a third
    less time than one sum over both axes into int64 (measured on CPU, a
    training batch of 128 rows), and the same counts.
    """
    width = hit.shape[3]
    dtype = torch.int16 if width * width <= torch.iinfo(torch.int16).max else torch.int32
    return hit.sum(dim=3, dtype=dtype).sum(dim=1, dtype=dtype)


def _pack(bits: np.ndarray) -> np.ndarray:
    """Pack a (r, n) bool array into (r, ceil(n / 8)) uint8, little-endian bits."""
    return np.packbits(bits, axis=1, bitorder="little")


def _unpack(packed: np.ndarray, n: int) -> np.ndarray:
    """The (r, n) uint8 0/1 matrix of packed rows."""
    return np.unpackbits(packed, axis=1, count=n, bitorder="little")


def _lookup_pairs(packed: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The uint8 0/1 bits at (a[t], b[t]) of a packed bit matrix."""
    return (packed[a, b >> 3] >> (b & 7).astype(np.uint8)) & 1


def _lookup_block(packed: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The (|a|, |b|) int8 0/1 block of a packed bit matrix, C-ordered."""
    shifts = (b & 7).astype(np.uint8)
    # packed[a][:, cols] comes out column-major; the labels' layout would
    # carry over into the loss's matrix products and change their rounding.
    return np.ascontiguousarray((packed[a][:, b >> 3] >> shifts) & 1).view(np.int8)
