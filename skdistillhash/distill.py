"""Distil confident similar and dissimilar pairs from the local structure of features.

:class:`PairDistiller` turns feature vectors into a sparse set of pairs with
confident labels, the supervision DistillHash learns its hash functions from.

Exact arithmetic
----------------
Rows are scaled to unit norm (slightly less, see ``_unit_rows``) and rounded
onto a grid of step 2**-12. Every product of two coordinates is then a
multiple of 2**-24 and, by Cauchy-Schwarz, every partial sum of a dot product
stays within [-1, 1], where float32 represents such multiples exactly: cosine
similarities come out bit-identical whatever the summation order, block size
or device (TF32 matmuls aside, which torch leaves off by default). Hence the
kNN is exact with deterministic ties, ``pair_labels`` agrees with ``graph_``
to the bit, and the graph is exactly symmetric. Rounding moves each
coordinate by at most 2**-13, hence a similarity by at most sqrt(d) * 2**-12
(typically about 1e-4) besides a factor common to all pairs, far below the
resolution of the rule; near-ties among neighbours may swap.
"""

from __future__ import annotations

import math
import warnings
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_consistent_length, check_is_fitted, validate_data

from ._torch._device import resolve_device
from ._torch._knn import inner_product_knn

#: Row chunks of a symmetric pair_labels(idx, idx) block: chunk i is labelled
#: against chunks i.. only, (c + 1) / (2c) of the products.
_SYMMETRIC_CHUNKS = 4
#: Rounding grid of the unit rows: 2**12 steps per unit (see module docstring).
_GRID = 4096.0
#: Bins of the distance histogram whose fullest bin is the mode, as in SSDH.
_N_BINS = 100
#: Default multiples of the half-Gaussian standard deviations, per strategy.
#: SSDH's published code uses 2 and 2; DistillHash's were chosen on a
#: validation split (docs/benchmarks.md, "Pair distillation").
# (alpha, beta) when left to None. beta=None: d_r = d_l, binary initial labels.
_STD_FACTORS = {"ssdh": (2.0, 2.0), "distillhash": (1.5, None)}
#: Floor of the floats per chunk of pair labelling (16 MiB).
_MIN_CHUNK_FLOATS = 1 << 22
#: Dissimilar candidates drawn per row are capped at this many per wanted pair.
_MAX_DRAWS_PER_PAIR = 128


class _Rule(NamedTuple):
    """The fitted labelling rule, in similarities and neighbour-pair counts."""

    similar_sim: float  # s~ = +1 when cosine similarity > this (distance < d_l)
    dissimilar_sim: float  # s~ = -1 when cosine similarity < this (distance > d_r)
    local: bool  # check the local posterior (DistillHash) or not (SSDH)
    similar_count: float  # distil +1 when more +1 neighbour pairs than this
    dissimilar_count: float  # distil -1 when more -1 neighbour pairs than this


# The output is a sparse graph, never a frame: no set_output wrapping (which
# would also make X a required argument of transform).
class PairDistiller(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """Distil confident similar and dissimilar pairs from unlabelled features.

    The first stage of DistillHash (Yang et al., CVPR 2019): from feature
    vectors alone, keep the pairs whose "same class" / "different class"
    label can be trusted, and drop the rest. Modelled on
    :class:`~sklearn.neighbors.KNeighborsTransformer`: :meth:`transform`
    returns a sparse graph with +1 for distilled similar pairs and -1 for
    distilled dissimilar pairs; :meth:`pair_labels` labels every pair of a
    training batch.

    **Initial noisy labels (SSDH, Yang et al., IJCAI 2018).** The cosine
    distances d of a random sample of ``n_pair_samples`` pairs are binned
    (100 bins); the left edge of the fullest bin is the mode m. Each side of
    the mode is mirrored about it and fitted by a Gaussian, giving standard
    deviations sigma_l and sigma_r. With d_l = m - alpha * sigma_l and
    d_r = m + beta * sigma_r, a pair is labelled s~ = +1 if d < d_l,
    s~ = -1 if d > d_r, and s~ = 0 (no label) otherwise.

    **Distillation (DistillHash).** Let s be the true label of a pair and
    s* its Bayes optimal label (+1 iff P(s = +1 | x_i, x_j) > 1/2). Model
    s~ as s corrupted by pair-dependent noise of rates
    rho_- = P(s~ = +1 | s = -1) and rho_+ = P(s~ = -1 | s = +1), bounded by
    rho_-^max and rho_+^max (the paper's mild assumption is that the noise
    leaves signal: rho_+ + rho_- < 1 pair by pair). Then, since
    P(s~ = +1 | x) = eta * P(s~ = +1 | s = +1, x) + (1 - eta) * rho_-(x)
    is at most (1 + rho_-)/2 whenever eta = P(s = +1 | x) <= 1/2:

    - P(s~ = +1 | x_i, x_j) > (1 + rho_-^max) / 2 implies s* = +1;
    - P(s~ = -1 | x_i, x_j) > (1 + rho_+^max) / 2 implies s* = -1.

    A pair is *distilled* when its initial label is the Bayes label so
    certified: s~_ij = +1 and the first condition holds, or s~_ij = -1 and
    the second holds. The posterior P(s~ | x_i, x_j) is estimated from local
    structure: the fraction of the (K+1)^2 pairs (a, b), a among x_i and its
    K nearest neighbours, b among x_j and its K nearest neighbours, whose
    initial label is +1 (respectively -1).

    ``strategy="ssdh"`` keeps the initial labels as they are (SSDH's rule);
    ``strategy="distillhash"`` keeps only the distilled ones.

    Read more in the user guide (docs, "Pair distillation").

    Parameters
    ----------
    strategy : {"distillhash", "ssdh"}, default="distillhash"
        The rule: DistillHash's distillation, or SSDH's thresholds alone.
    n_neighbors : int, default=20
        Each point's nearest neighbours examined as candidate similar pairs
        of ``graph_`` (as in ``KNeighborsTransformer``). Needs at least
        ``n_neighbors + 1`` samples.
    neighborhood_size : int, default=5
        K, the neighbours that form a point's local structure in the
        posterior estimate. Ignored when ``strategy="ssdh"``. Needs at least
        ``neighborhood_size + 1`` samples.
    similar_std_factor : float or None, default=None
        alpha: the similar threshold is d_l = mode - alpha * sigma_l. None
        means 2.0 for "ssdh" (SSDH's value) and 1.5 for "distillhash"
        (chosen on a validation split).
    dissimilar_std_factor : float or None, default=None
        beta: the dissimilar threshold is d_r = mode + beta * sigma_r (beta
        may be negative). None means 2.0 for "ssdh"; for "distillhash" it
        means d_r = d_l: every pair gets a binary initial label s~ in
        {+1, -1}, the setting of the noise model the distillation rests on,
        and distillation alone decides which pairs to keep. That choice won
        on validation splits by the retrieval MAP of the trained codes (see
        docs/benchmarks.md). The thresholds must satisfy d_l <= d_r.
    false_similar_rate : float in [0, 1), default=0.75
        rho_-^max, the bound on the rate at which truly dissimilar pairs get
        the initial label +1: a similar pair is distilled when more than
        (1 + rho_-^max) / 2 of its neighbour pairs are labelled +1.
    false_dissimilar_rate : float in [0, 1), default=0.75
        rho_+^max, the same bound for truly similar pairs labelled -1: a
        dissimilar pair is distilled when more than (1 + rho_+^max) / 2 of
        its neighbour pairs are labelled -1.
    n_dissimilar : int, default=5
        Dissimilar pairs sampled per row of ``graph_`` (most pairs are
        dissimilar, so the graph holds a sample). Candidates are drawn
        uniformly; a row keeps the first ``n_dissimilar`` that pass, drawing
        about twice as many as the measured pass rate requires (at most 128
        per wanted pair), so a row may hold fewer.
    n_pair_samples : int, default=100_000
        Random pairs sampled to estimate the distance distribution (and the
        pass rate of dissimilar candidates).
    metric : {"cosine"}, default="cosine"
        Similarity of features; the method is defined for cosine.
    device : str, default="auto"
        Where the neighbour search and the labelling run: "auto", "cpu",
        "cuda" or "cuda:N".
    batch_size : int, default=4096
        Query block size of the neighbour search (database blocks are 4
        times wider); peak memory is about ``4 * batch_size ** 2`` floats
        (256 MiB at the default) beyond the fitted state.
    random_state : int, RandomState instance or None, default=None
        Seeds the pair sample and the dissimilar candidates; an int gives
        identical output on every run.

    Attributes
    ----------
    graph_ : scipy.sparse.csr_matrix of shape (n_samples_fit_, n_samples_fit_), dtype int8
        The distilled pairs of the training data: +1 similar (among each
        point's ``n_neighbors`` nearest neighbours), -1 dissimilar (sampled);
        symmetric with an empty diagonal. Equal to ``transform()``.
    neighbors_ : ndarray of shape (n_samples_fit_, max(n_neighbors, neighborhood_size)), dtype int64
        Each training sample's nearest other samples, closest first; ties
        go to the smaller index.
    distance_mode_ : float
        m, the mode of the sampled cosine distances.
    left_std_ : float
        sigma_l, standard deviation of the half-Gaussian below the mode.
    right_std_ : float
        sigma_r, standard deviation of the half-Gaussian above the mode.
    similar_distance_ : float
        d_l: pairs closer than this get the initial label +1.
    dissimilar_distance_ : float
        d_r: pairs farther than this get the initial label -1.
    dissimilar_rate_ : float
        Fraction of the sampled random pairs that the rule distils
        dissimilar; sets how many candidates a row of ``graph_`` draws.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.
    n_samples_fit_ : int
        Number of training samples.
    similar_precision_ : float
        Set by :meth:`score`: fraction of distilled similar pairs that share
        a label.
    dissimilar_precision_ : float
        Set by :meth:`score`: fraction of distilled dissimilar pairs that
        share no label.
    coverage_ : float
        Set by :meth:`score`: fraction of samples with at least one
        distilled similar pair.

    See Also
    --------
    sklearn.neighbors.KNeighborsTransformer : The plain kNN graph.
    skdistillhash.DistillHash : Learns hash codes from the distilled pairs.

    Notes
    -----
    Only pairs are stored, never an n x n matrix: fitting keeps the rounded
    unit features, the neighbour lists and the graph, O(n * (d + k)), and
    the search uses O(batch_size ** 2) more. The initial-label rule is
    verified against SSDH's published code; DistillHash's distillation
    section was not available to us in full, so the posterior estimate and
    the criterion follow the paper's abstract, its theory's source (Cheng
    et al., "Learning with bounded instance- and label-dependent label
    noise", 2017) and survey descriptions; see the user guide.

    References
    ----------
    E. Yang, T. Liu, C. Deng, W. Liu, D. Tao. "DistillHash: Unsupervised Deep
    Hashing by Distilling Data Pairs". CVPR 2019. arXiv:1905.03465.

    E. Yang, C. Deng, T. Liu, W. Liu, D. Tao. "Semantic Structure-based
    Unsupervised Deep Hashing". IJCAI 2018.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skdistillhash.distill import PairDistiller
    >>> X, y = load_digits(return_X_y=True)
    >>> distiller = PairDistiller(random_state=0).fit(X)
    >>> graph = distiller.transform()
    >>> graph.shape, graph.dtype, sorted(set(graph.data.tolist()))
    ((1797, 1797), dtype('int8'), [-1, 1])
    >>> round(distiller.score(X, y), 3)
    0.972
    >>> round(distiller.similar_precision_, 3), round(distiller.dissimilar_precision_, 3)
    (0.97, 0.975)

    Labels of every pair of two batches, 0 where the pair is dropped:

    >>> y[[0, 1, 2]], y[[10, 11, 12]]
    (array([0, 1, 2]), array([0, 1, 2]))
    >>> distiller.pair_labels([0, 1, 2], [10, 11, 12])
    array([[ 1, -1, -1],
           [-1,  0, -1],
           [-1,  0, -1]], dtype=int8)
    """

    _parameter_constraints: dict = {
        "strategy": [StrOptions({"distillhash", "ssdh"})],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "neighborhood_size": [Interval(Integral, 1, None, closed="left")],
        "similar_std_factor": [Interval(Real, None, None, closed="neither"), None],
        "dissimilar_std_factor": [Interval(Real, None, None, closed="neither"), None],
        "false_similar_rate": [Interval(Real, 0, 1, closed="left")],
        "false_dissimilar_rate": [Interval(Real, 0, 1, closed="left")],
        "n_dissimilar": [Interval(Integral, 0, None, closed="left")],
        "n_pair_samples": [Interval(Integral, 100, None, closed="left")],
        "metric": [StrOptions({"cosine"})],
        "device": [str],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        strategy: str = "distillhash",
        n_neighbors: int = 20,
        neighborhood_size: int = 5,
        similar_std_factor: float | None = None,
        dissimilar_std_factor: float | None = None,
        false_similar_rate: float = 0.75,
        false_dissimilar_rate: float = 0.75,
        n_dissimilar: int = 5,
        n_pair_samples: int = 100_000,
        metric: str = "cosine",
        device: str = "auto",
        batch_size: int = 4096,
        random_state=None,
    ):
        self.strategy = strategy
        self.n_neighbors = n_neighbors
        self.neighborhood_size = neighborhood_size
        self.similar_std_factor = similar_std_factor
        self.dissimilar_std_factor = dissimilar_std_factor
        self.false_similar_rate = false_similar_rate
        self.false_dissimilar_rate = false_dissimilar_rate
        self.n_dissimilar = n_dissimilar
        self.n_pair_samples = n_pair_samples
        self.metric = metric
        self.device = device
        self.batch_size = batch_size
        self.random_state = random_state

    # ------------------------------------------------------------------ fit

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the thresholds and neighbour lists, and distil ``graph_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features. An all-zero row has cosine similarity 0 (distance 1)
            with every sample, the convention of
            :func:`sklearn.metrics.pairwise.cosine_similarity`, and is
            labelled by the same rule; it is never similar to anything
            unless d_l > 1.
        y : None
            Ignored: distillation is unsupervised.

        Returns
        -------
        self : PairDistiller
        """
        local = self.strategy == "distillhash"
        n_search = max(self.n_neighbors, self.neighborhood_size if local else 0)
        X = validate_data(
            self, X, dtype=[np.float64, np.float32], ensure_min_samples=n_search + 1
        )
        device = resolve_device(self.device)
        rng = check_random_state(self.random_state)
        features = _unit_rows(X, self.batch_size)
        n = features.shape[0]

        sims, neighbors = inner_product_knn(
            features, n_neighbors=n_search, block_size=self.batch_size, device=device
        )
        a, b = _random_pairs(n, self.n_pair_samples, rng)
        table = torch.from_numpy(features).to(device)
        distances = 1.0 - _pair_similarities(table, a, b, self._budget()).astype(np.float64)
        mode, left_std, right_std = _half_gaussians(distances)
        alpha, beta = _STD_FACTORS[self.strategy]
        alpha = alpha if self.similar_std_factor is None else self.similar_std_factor
        beta = beta if self.dissimilar_std_factor is None else self.dissimilar_std_factor
        d_l = mode - alpha * left_std
        d_r = d_l if beta is None else mode + beta * right_std
        if d_l > d_r:
            raise ValueError(
                f"The similar threshold d_l={d_l:.4g} lies above the dissimilar "
                f"threshold d_r={d_r:.4g} (mode {mode:.4g}, sigma_l {left_std:.4g}, "
                f"sigma_r {right_std:.4g}): raise similar_std_factor or "
                "dissimilar_std_factor so that d_l <= d_r."
            )

        self.neighbors_ = neighbors
        self.distance_mode_ = float(mode)
        self.left_std_ = float(left_std)
        self.right_std_ = float(right_std)
        self.similar_distance_ = float(d_l)
        self.dissimilar_distance_ = float(d_r)
        self.n_samples_fit_ = n
        self._fit_X = features
        self._hood = self._neighborhoods(np.arange(n), neighbors)
        self._seed = np.uint64(rng.randint(np.iinfo(np.int32).max))

        rule = self._rule()
        hood = torch.from_numpy(self._hood).to(device)
        self.dissimilar_rate_ = float(_distilled(table, hood, a, b, rule, -1, self._budget()).mean())
        self._n_draws = _n_draws(self.n_dissimilar, self.dissimilar_rate_, n - 1)
        if self.n_dissimilar and not self._n_draws:
            warnings.warn(
                f"None of {len(a)} sampled pairs is a distilled dissimilar pair: "
                "graph_ holds no -1 entry. Lower dissimilar_std_factor (or "
                "false_dissimilar_rate) to distil some.",
                UserWarning,
            )
        rows = np.arange(n)
        pairs = _distil_rows(
            table, hood, rule, rows, neighbors[:, : self.n_neighbors], sims[:, : self.n_neighbors],
            pool=(0, n), keys=rows.astype(np.uint64), exclude_self=True,
            n_dissimilar=self.n_dissimilar, n_draws=self._n_draws, seed=self._seed,
            budget=self._budget(),
        )
        self.graph_ = _to_csr(*pairs, shape=(n, n), symmetric=True)
        return self

    def fit_transform(self, X, y=None):
        """Fit, then return ``graph_`` (the distilled pairs of ``X``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        graph : scipy.sparse.csr_matrix of shape (n_samples, n_samples), dtype int8
        """
        return self.fit(X, y).graph_.copy()

    # ------------------------------------------------------------ transform

    def transform(self, X=None):
        """Distilled labels between samples and the training samples.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features) or None
            None, or the training data itself, gives ``graph_``. A row equal
            (after scaling to unit norm) to a training sample gets that
            sample's row of ``graph_``. Any other row is a new point: its +1
            entries are those of its ``n_neighbors`` nearest training
            samples that the rule distils similar, with its local structure
            taken among training samples; its -1 entries are up to
            ``n_dissimilar`` drawn training samples it distils dissimilar
            (drawn from a sequence seeded by its nearest training sample, so
            each row depends on nothing but the row).

        Returns
        -------
        graph : scipy.sparse.csr_matrix of shape (n_queries, n_samples_fit_), dtype int8
            +1 distilled similar, -1 distilled dissimilar, absent: dropped.
        """
        check_is_fitted(self)
        if X is None:
            return self.graph_.copy()
        features = self._validate_queries(X)
        if np.array_equal(features, self._fit_X):
            return self.graph_.copy()
        n_fit, n_q = self.n_samples_fit_, features.shape[0]
        device = resolve_device(self.device)
        match, sims, neighbors = self._match(features, device)
        known = np.flatnonzero(match >= 0)
        new = np.flatnonzero(match < 0)
        sub = self.graph_[match[known]].tocoo()
        rows, cols, labels = [known[sub.row]], [sub.col], [sub.data]
        if new.size:
            table = torch.from_numpy(np.concatenate([self._fit_X, features[new]])).to(device)
            table_rows = n_fit + np.arange(new.size)
            hood = np.concatenate([self._hood, self._neighborhoods(table_rows, neighbors[new])])
            r, c, lab = _distil_rows(
                table, torch.from_numpy(hood).to(device), self._rule(), table_rows,
                neighbors[new, : self.n_neighbors], sims[new, : self.n_neighbors], pool=(0, n_fit),
                keys=(n_fit + neighbors[new, 0]).astype(np.uint64), exclude_self=False,
                n_dissimilar=self.n_dissimilar, n_draws=self._n_draws, seed=self._seed,
                budget=self._budget(),
            )
            rows.append(new[r - n_fit])
            cols.append(c)
            labels.append(lab)
        return _to_csr(*map(np.concatenate, (rows, cols, labels)), shape=(n_q, n_fit))

    # ---------------------------------------------------------- pair labels

    def pair_labels(self, a_idx, b_idx) -> np.ndarray:
        """The distilled label of every pair between two sets of training rows.

        Unlike ``graph_``, which keeps the similar pairs among nearest
        neighbours and a sample of dissimilar pairs, this labels every pair
        of the block by the same rule, so it agrees with ``graph_`` on all of
        ``graph_``'s entries. A sample paired with itself gets 0.

        Parameters
        ----------
        a_idx : array-like of int of shape (n_a,)
            Row indices into the training data.
        b_idx : array-like of int of shape (n_b,)
            Row indices into the training data.

        Returns
        -------
        labels : ndarray of shape (n_a, n_b), dtype int8
            +1 distilled similar, -1 distilled dissimilar, 0 dropped. Costs
            one product of the two sets of neighbourhoods,
            O(n_a * n_b * (K+1)^2 * n_features) (K = 0 for SSDH).
        """
        check_is_fitted(self)
        a, b = (self._check_rows(idx, name) for idx, name in ((a_idx, "a_idx"), (b_idx, "b_idx")))
        table = torch.from_numpy(self._fit_X)
        rule = self._rule()
        labels = np.zeros((a.size, b.size), dtype=np.int8)
        if not (a.size and b.size):
            return labels
        # Bound the (n_a * (K+1)) x (n_b * (K+1)) neighbour-label block.
        width = self._hood.shape[1]
        step = max(1, self._budget() // (width**2 * b.size))
        # A training batch (a == b) gives a symmetric block (products are exact,
        # see the module docstring): label the upper triangle of row chunks and
        # mirror it. 4 chunks skip 3/8 of the products; more chunks make
        # products too small to run at full speed (measured on CPU).
        symmetric = a.size == b.size and np.array_equal(a, b)
        if symmetric:
            step = min(step, -(-a.size // _SYMMETRIC_CHUNKS))
        for start in range(0, a.size, step):
            rows, first = slice(start, start + step), start if symmetric else 0
            block = _label_block(table, self._hood, a[rows], b[first:], rule)
            labels[rows, first:] = block
            if symmetric:
                labels[first:, rows] = block.T
        labels[a[:, None] == b[None, :]] = 0
        return labels

    # ---------------------------------------------------------------- score

    def score(self, X, y, sample_weight=None) -> float:
        """Precision of the distilled pairs among the samples of ``X``.

        The pairs are ``graph_`` when ``X`` is the training data; otherwise
        the rule is applied to the pairs among the rows of ``X`` (similar
        candidates: each row's ``n_neighbors`` nearest rows of ``X``;
        dissimilar: drawn among the rows of ``X``), with local structure and
        thresholds from the training data. Sets ``similar_precision_``,
        ``dissimilar_precision_`` and ``coverage_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a multi-label indicator matrix (a pair is
            similar when it shares a label).
        sample_weight : None
            Not supported; present for the sklearn ``score`` signature.

        Returns
        -------
        score : float
            Mean of the similar and the dissimilar precision; a side with no
            pair counts as 0 (with an ``UndefinedMetricWarning``).
        """
        check_is_fitted(self)
        if sample_weight is not None:
            raise ValueError("sample_weight is not supported by score().")
        if y is None:
            raise ValueError("PairDistiller.score needs the true labels y.")
        features = self._validate_queries(X)
        y = np.asarray(y)
        check_consistent_length(features, y)
        if y.ndim not in (1, 2):
            raise ValueError(f"y must be 1-D labels or a 2-D indicator matrix; got ndim={y.ndim}.")
        if features.shape[0] < 2:
            raise ValueError("score needs at least 2 samples to form pairs.")
        if np.array_equal(features, self._fit_X):
            graph = self.graph_
        else:
            graph = self._graph_among(features)
        pairs = sp.triu(graph, k=1).tocoo()
        same = (y[pairs.row] == y[pairs.col]) if y.ndim == 1 else (
            (y[pairs.row] != 0) & (y[pairs.col] != 0)
        ).any(axis=1)
        similar = pairs.data > 0
        self.similar_precision_ = _precision(same[similar], "similar")
        self.dissimilar_precision_ = _precision(~same[~similar], "dissimilar")
        positive = sp.csr_matrix(graph > 0)
        self.coverage_ = float(np.mean(np.diff(positive.indptr) > 0))
        return (self.similar_precision_ + self.dissimilar_precision_) / 2

    # -------------------------------------------------------------- helpers

    def _budget(self) -> int:
        """Floats per chunk of pair labelling: the search block, but never tiny
        (per-call overhead dominates small chunks)."""
        return max(self.batch_size**2, _MIN_CHUNK_FLOATS)

    def _rule(self) -> _Rule:
        local = self.strategy == "distillhash"
        n_pairs = self._hood.shape[1] ** 2
        return _Rule(
            similar_sim=1.0 - self.similar_distance_,
            dissimilar_sim=1.0 - self.dissimilar_distance_,
            local=local,
            similar_count=(1 + self.false_similar_rate) / 2 * n_pairs,
            dissimilar_count=(1 + self.false_dissimilar_rate) / 2 * n_pairs,
        )

    def _neighborhoods(self, rows: np.ndarray, neighbors: np.ndarray) -> np.ndarray:
        """Each row followed by its K nearest neighbours (just the row for SSDH)."""
        k = self.neighborhood_size if self.strategy == "distillhash" else 0
        return np.concatenate([rows[:, None], neighbors[:, :k]], axis=1)

    def _validate_queries(self, X) -> np.ndarray:
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return _unit_rows(X, self.batch_size)

    def _check_rows(self, idx, name: str) -> np.ndarray:
        idx = np.asarray(idx)
        if idx.ndim != 1 or not (idx.size == 0 or np.issubdtype(idx.dtype, np.integer)):
            raise ValueError(f"{name} must be a 1-D array of integer row indices.")
        if idx.size and (idx.min() < 0 or idx.max() >= self.n_samples_fit_):
            raise ValueError(
                f"{name} holds indices outside [0, {self.n_samples_fit_}) "
                "(the training rows)."
            )
        return idx.astype(np.int64, copy=False)

    def _match(self, features: np.ndarray, device) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The training sample each row equals (or -1), and its nearest training samples."""
        sims, neighbors = inner_product_knn(
            features, self._fit_X, n_neighbors=self.neighbors_.shape[1],
            block_size=self.batch_size, device=device,
        )
        # Exact arithmetic: a row equal to a training sample has similarity
        # |q|^2 with it, so only those columns need an element-wise check.
        self_sim = _pair_similarities(
            torch.from_numpy(features), np.arange(len(features)), np.arange(len(features)),
            self._budget(),
        )
        rows, cols = np.nonzero(sims == self_sim[:, None])
        equal = np.all(features[rows] == self._fit_X[neighbors[rows, cols]], axis=1)
        rows, cols = rows[equal], cols[equal]
        # Several equal training samples: the first found is the nearest, then
        # the smallest index (the kNN order).
        rows, first = np.unique(rows, return_index=True)
        match = np.full(len(features), -1, dtype=np.int64)
        match[rows] = neighbors[rows, cols[first]]
        return match, sims, neighbors

    def _graph_among(self, features: np.ndarray) -> sp.csr_matrix:
        """The rule applied to the pairs among the rows of ``features``."""
        n_fit, n_q = self.n_samples_fit_, features.shape[0]
        device = resolve_device(self.device)
        match, _, neighbors = self._match(features, device)
        table_rows = n_fit + np.arange(n_q)
        hood_q = self._neighborhoods(table_rows, neighbors)
        hood_q[match >= 0] = self._hood[match[match >= 0]]
        within_sims, within = inner_product_knn(
            features, n_neighbors=min(self.n_neighbors, n_q - 1),
            block_size=self.batch_size, device=device,
        )
        table = torch.from_numpy(np.concatenate([self._fit_X, features])).to(device)
        hood = torch.from_numpy(np.concatenate([self._hood, hood_q])).to(device)
        r, c, lab = _distil_rows(
            table, hood, self._rule(), table_rows, n_fit + within, within_sims, pool=(n_fit, n_q),
            keys=table_rows.astype(np.uint64), exclude_self=True,
            n_dissimilar=self.n_dissimilar, n_draws=min(self._n_draws, n_q - 1),
            seed=self._seed, budget=self._budget(),
        )
        return _to_csr(r - n_fit, c - n_fit, lab, shape=(n_q, n_q), symmetric=True)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # The output is a graph of int8 labels, whatever the input dtype.
        tags.transformer_tags.preserves_dtype = []
        return tags


# ---------------------------------------------------------------------------
# Array helpers (no estimator state)


def _unit_rows(X: np.ndarray, block: int) -> np.ndarray:
    """Rows scaled to norm at most 1 and rounded onto the 2**-12 grid, float32.

    Scaling by ``1 - sqrt(d) / 2**13`` before rounding keeps every rounded
    norm at most 1 (rounding moves a row by at most ``sqrt(d) / 2**13``),
    which the exactness argument of the module docstring needs. All-zero
    rows stay zero: similarity 0 with every row, as in
    :func:`sklearn.metrics.pairwise.cosine_similarity`.
    """
    n, d = X.shape
    out = np.empty((n, d), dtype=np.float32)
    scale = (1.0 - math.sqrt(d) / (2 * _GRID)) * _GRID
    for start in range(0, n, block):
        chunk = np.asarray(X[start : start + block], dtype=np.float64)
        norms = np.linalg.norm(chunk, axis=1)
        norms[norms == 0] = 1.0
        out[start : start + block] = np.rint(chunk * (scale / norms)[:, None]) / _GRID
    return out


def _random_pairs(n: int, n_pairs: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """``n_pairs`` uniform pairs (a, b) of distinct rows."""
    a = rng.randint(n, size=n_pairs)
    b = rng.randint(n - 1, size=n_pairs)
    return a, b + (b >= a)


def _half_gaussians(distances: np.ndarray) -> tuple[float, float, float]:
    """SSDH's fit: the histogram's mode and the std of each side mirrored about it.

    The mode is the left edge of the fullest of 100 bins (as SSDH's code); a
    side mirrored about the mode has mean the mode, so the Gaussian's maximum
    likelihood std is the root mean square deviation of that side.
    """
    counts, edges = np.histogram(distances, bins=_N_BINS)
    mode = edges[np.argmax(counts)]
    left = distances[distances <= mode] - mode
    right = distances[distances > mode] - mode
    left_std = np.sqrt(np.mean(left**2)) if left.size else 0.0
    right_std = np.sqrt(np.mean(right**2)) if right.size else 0.0
    return float(mode), float(left_std), float(right_std)


def _n_draws(n_dissimilar: int, pass_rate: float, n_pool: int) -> int:
    """Candidates to draw per row so that ~n_dissimilar pass, twice over."""
    if not n_dissimilar or pass_rate <= 0:
        return 0
    wanted = math.ceil(2 * n_dissimilar / pass_rate)
    return int(min(wanted, _MAX_DRAWS_PER_PAIR * n_dissimilar, n_pool))


def _pair_similarities(table: torch.Tensor, a: np.ndarray, b: np.ndarray, budget: int) -> np.ndarray:
    """Cosine similarity of each pair of rows (a[t], b[t]) of ``table``."""
    out = np.empty(len(a), dtype=np.float32)
    step = max(1, budget // (2 * table.shape[1]))
    for start in range(0, len(a), step):
        ia = torch.from_numpy(a[start : start + step]).to(table.device)
        ib = torch.from_numpy(b[start : start + step]).to(table.device)
        out[start : start + step] = (table[ia] * table[ib]).sum(dim=1).cpu().numpy()
    return out


def _distilled(
    table: torch.Tensor,
    hood: torch.Tensor,
    a: np.ndarray,
    b: np.ndarray,
    rule: _Rule,
    sign: int,
    budget: int,
    own: np.ndarray | None = None,
) -> np.ndarray:
    """Whether each pair (a[t], b[t]) of table rows is distilled with label ``sign``.

    First the pair's own initial label, from its similarity ``own`` (computed
    when not given); then, for the DistillHash rule and only where that label
    is ``sign``, the count of neighbour pairs with the same initial label.
    """
    if own is None:
        own = _pair_similarities(table, a, b, budget)
    hit = own > rule.similar_sim if sign > 0 else own < rule.dissimilar_sim
    if not rule.local:
        return hit
    live = np.flatnonzero(hit)
    width = hood.shape[1]
    step = max(1, budget // (2 * width * table.shape[1]))
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


def _row_similarities(table: torch.Tensor, rows: np.ndarray, cols: np.ndarray, budget: int) -> np.ndarray:
    """Similarity of each row with each of its own columns: (len(rows), m) for cols (len(rows), m)."""
    out = np.empty(cols.shape, dtype=np.float32)
    step = max(1, budget // (cols.shape[1] * table.shape[1]))
    for start in range(0, len(rows), step):
        r = torch.from_numpy(rows[start : start + step]).to(table.device)
        c = torch.from_numpy(cols[start : start + step]).to(table.device)
        sim = torch.bmm(table[c], table[r].unsqueeze(2)).squeeze(2)
        out[start : start + step] = sim.cpu().numpy()
    return out


def _label_block(table: torch.Tensor, hood: np.ndarray, a: np.ndarray, b: np.ndarray, rule: _Rule) -> np.ndarray:
    """Labels of all pairs of a x b from one product of their neighbourhoods.

    Rows are laid out point by point, neighbourhood member by member, so the
    (|a| * (K+1)) x (|b| * (K+1)) similarity block reshapes to
    (|a|, K+1, |b|, K+1) and the neighbour-pair counts are plain sums over
    axes 1 and 3: no gathers.
    """
    width = hood.shape[1] if rule.local else 1
    rows_a = torch.from_numpy(np.ascontiguousarray(hood[a, :width]).ravel())
    rows_b = torch.from_numpy(np.ascontiguousarray(hood[b, :width]).ravel())
    sim = (table[rows_a] @ table[rows_b].T).view(len(a), width, len(b), width)
    # Member 0 of a neighbourhood is the point itself: its own initial label.
    own = sim[:, 0, :, 0]
    own_pos = own > rule.similar_sim
    own_neg = own < rule.dissimilar_sim
    if rule.local:
        own_pos &= (sim > rule.similar_sim).sum(dim=(1, 3)) > rule.similar_count
        own_neg &= (sim < rule.dissimilar_sim).sum(dim=(1, 3)) > rule.dissimilar_count
    return (own_pos.to(torch.int8) - own_neg.to(torch.int8)).numpy()


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


def _distil_rows(
    table: torch.Tensor,
    hood: torch.Tensor,
    rule: _Rule,
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
    budget: int,
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
    keep = _distilled(table, hood, sim_rows, sim_cols, rule, +1, budget, own=candidate_sims.ravel())
    out_rows, out_cols, out_labels = [sim_rows[keep]], [sim_cols[keep]], [np.ones(keep.sum(), np.int8)]
    if n_draws:
        start, size = pool
        step = max(1, budget // n_draws)
        for lo in range(0, rows.size, step):
            chunk = rows[lo : lo + step]
            drawn = _draws(keys[lo : lo + step], n_draws, size - exclude_self, seed)
            if exclude_self:
                # Draw among the others: skip over the row itself.
                drawn += drawn >= (chunk - start)[:, None]
            drawn += start
            own = _row_similarities(table, chunk, drawn, budget)
            hit = _distilled(
                table, hood, np.repeat(chunk, n_draws), drawn.ravel(), rule, -1, budget,
                own=own.ravel(),
            ).reshape(drawn.shape)
            hit &= np.cumsum(hit, axis=1) <= n_dissimilar
            r, c = np.nonzero(hit)
            out_rows.append(chunk[r])
            out_cols.append(drawn[r, c])
            out_labels.append(np.full(r.size, -1, np.int8))
    return tuple(map(np.concatenate, (out_rows, out_cols, out_labels)))


def _to_csr(rows, cols, labels, *, shape, symmetric=False) -> sp.csr_matrix:
    """CSR int8 matrix of the (deduplicated) entries; mirrored when ``symmetric``."""
    if symmetric:
        rows, cols = np.concatenate([rows, cols]), np.concatenate([cols, rows])
        labels = np.concatenate([labels, labels])
    keys, first = np.unique(rows.astype(np.int64) * shape[1] + cols, return_index=True)
    graph = sp.csr_matrix(
        (labels[first].astype(np.int8), (keys // shape[1], keys % shape[1])), shape=shape
    )
    graph.sort_indices()
    return graph


def _precision(correct: np.ndarray, side: str) -> float:
    if not correct.size:
        warnings.warn(
            f"No distilled {side} pair among the samples: its precision is set to 0.",
            UndefinedMetricWarning,
        )
        return 0.0
    return float(correct.mean())
