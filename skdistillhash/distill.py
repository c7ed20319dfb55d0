"""Distil confident similar and dissimilar pairs from the local structure of features.

:class:`PairDistiller` turns feature vectors into a sparse set of pairs with
confident labels, the supervision DistillHash learns its hash functions from.

Exact arithmetic
----------------
The rows compared are the features as given or whitened
(``whiten_components``; see ``_pca.Whitening``). They are scaled to unit
norm (slightly less, see ``_unit_rows``) and rounded
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
import sys
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
from sklearn import get_config
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.utils import check_random_state, check_scalar
from sklearn.utils.validation import check_array, check_consistent_length, check_is_fitted, validate_data

from ._base import N_JOBS_CONSTRAINT, IntInterval
from ._fitting import publish_fit, validation_probe
from ._pca import Whitening
from ._progress import progress
from ._sklearn_compat import Interval, StrOptions, _fit_context, validate_params
from ._torch._device import DEVICE_CONSTRAINT, resolve_device
from ._torch._knn import inner_product_knn
from ._torch._labels import PairLabeler, Rule, pair_similarities
from ._torch._threads import threads_for, torch_threads

#: Rounding grid of the unit rows: 2**12 steps per unit (see module docstring).
_GRID = 4096.0
#: Bins of the distance histogram whose fullest bin is the mode, as in SSDH.
_N_BINS = 100
#: Default multiples of the half-Gaussian standard deviations, per strategy.
#: SSDH's published code uses 2 and 2; DistillHash's were chosen on a
#: validation split (docs/design_notes.md, "The distiller's factors, chosen by pair precision").
#: (kappa_l, kappa_r) when left to None; kappa_r=None: d_r = d_l, binary initial labels.
_STD_FACTORS = {"ssdh": (2.0, 2.0), "distillhash": (1.5, None)}
#: whiten_components="auto" (strategy "distillhash"): whiten to this many axes
#: and keep the whitened pairs if they hold at least this share of the similar
#: pairs distilled from the features as given. Chosen on validation splits
#: (docs/design_notes.md, "Whitened distillation").
_AUTO_WHITEN_COMPONENTS = 32
_AUTO_WHITEN_AGREEMENT = 0.75
#: Above this many rows, "auto" compares the two candidates on a sample of
#: this many rows and distils all rows from the chosen one only.
_AUTO_DECIDE_ROWS = 10_000
#: Floor of the floats per chunk of pair labelling (16 MiB).
_MIN_CHUNK_FLOATS = 1 << 22
#: Dissimilar candidates drawn per row are capped at this many per wanted pair.
_MAX_DRAWS_PER_PAIR = 128


# The output is a sparse graph, never a frame: set_output is written out below
# instead of sklearn's wrapping (which would also make X a required argument
# of transform).
class PairDistiller(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """Distil confident similar and dissimilar pairs from unlabelled features.

    The first stage of DistillHash (Yang et al., CVPR 2019): from feature
    vectors alone, keep the pairs whose "same class" / "different class"
    label can be trusted, and drop the rest. Modelled on
    :class:`~sklearn.neighbors.KNeighborsTransformer`: :meth:`transform`
    returns a sparse graph with +1 for distilled similar pairs and -1 for
    distilled dissimilar pairs; :meth:`pair_labels` labels every pair of a
    training batch.

    Every pair gets an initial label from thresholds on its cosine distance,
    set from the distances of a random sample of pairs (SSDH's rule);
    a pair is then *distilled*, its label trusted, when the pairs between the
    two points' neighbourhoods agree with it often enough that, under
    bounded label noise, it is the Bayes optimal label.
    ``strategy="ssdh"`` keeps the initial labels as they are (SSDH's rule);
    ``strategy="distillhash"`` keeps only the distilled ones.

    Read more in the :ref:`User Guide <distillation>`.

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
        kappa_l: the similar threshold is ``d_l = mode - kappa_l * sigma_l``,
        sigma_l the spread of the distances below their mode. None means 2.0
        for "ssdh" (SSDH's value) and 1.5 for "distillhash".
    dissimilar_std_factor : float or None, default=None
        kappa_r: the dissimilar threshold is ``d_r = mode + kappa_r * sigma_r``
        (kappa_r may be negative). None means 2.0 for "ssdh"; for
        "distillhash" it means ``d_r = d_l``: every pair gets a binary initial
        label, and distillation alone decides which pairs to keep. The
        thresholds must satisfy ``d_l <= d_r``.
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
    whiten_components : int, "auto" or None, default="auto"
        Compare the features after PCA whitening: centred, projected on
        their first ``whiten_components`` principal axes, each axis scaled
        to unit variance (axes without variance are dropped), then compared
        by cosine. Whitening keeps a few directions of high variance from
        deciding every neighbourhood, a common step before cosine retrieval
        (Jegou & Chum, 2012); the paper compares the features as given
        (None). "auto" (not in the paper) distils both ways for
        "distillhash" and keeps the pairs of the features whitened to 32
        axes unless they hold fewer than 3/4 as many similar pairs as those
        of the features as given: whitening that breaks up the agreement
        of neighbourhoods removes structure the features had. Above 10,000
        rows the two are compared on a random sample of 10,000 rows (the
        size of the training sets "auto" was chosen on), and
        all rows are distilled from the chosen features only (distilling
        from the features as given searches all rows in all their
        dimensions: most of a fit's time on 69,000 deep features). For "ssdh",
        "auto" compares the features as given (SSDH's rule as published).
        Chosen on validation splits of four data sets
        (docs/design_notes.md, "Whitened distillation").
    device : str, default="auto"
        Where the neighbour search and the labelling run: "auto", "cpu",
        "cuda" or "cuda:N".
    n_jobs : int or None, default=None
        CPU threads of torch for the search and the labelling, set for each
        call and restored after. None decides from the work: one thread per
        2.5e8 floating-point operations of the neighbour search, at most the
        threads the process may use (its CPUs, the caller's torch setting,
        joblib's limit in a loky worker, a Dask worker's share); -1 means
        every CPU, in joblib's convention. The result is the same whatever
        the threads (see the notes on exact arithmetic).
    block_size : int, default=4096
        Query block size of the neighbour search (database blocks are 4
        times wider); peak memory is about ``4 * block_size ** 2`` floats
        (256 MiB at the default) beyond the fitted state.
    label_cache_bytes : int, default=2**29
        Memory budget of the label table: ``fit`` labels every pair of
        training rows once and keeps two bits per pair, n^2 / 4 bytes, as
        much again while building (50 MB at 10,000 rows; the default 512 MiB
        admits about 32,000 rows). The graph's pairs and every later
        :meth:`pair_labels` call are then lookups. Above the budget, or with
        0, labels come from products of features, pair by pair. The table is
        not pickled.
    random_state : int, RandomState instance or None, default=None
        Seeds the pair sample and the dissimilar candidates; an int gives
        identical output on every run.
    verbose : int, default=0
        1 shows the neighbour search of ``fit`` as a progress bar (a line at
        each tenth of the rows in a log file) and the pairs distilled.

    Attributes
    ----------
    graph_ : scipy.sparse.csr_matrix of shape (n_samples_fit_, n_samples_fit_), dtype int8
        The distilled pairs of the training data: +1 similar (among each
        point's ``n_neighbors`` nearest neighbours), -1 dissimilar (sampled);
        symmetric with an empty diagonal. Equal to ``transform()``.
    neighbors_ : ndarray of shape (n_samples_fit_, max(n_neighbors, neighborhood_size)), dtype int64
        Each training sample's nearest other samples, closest first; ties
        go to the smaller index.
    n_whitened_axes_ : int
        The axes the features are compared on after whitening, at most
        ``whiten_components``; 0 when they are compared as given (no
        whitening asked for, or training data without variance).
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
    Only pairs are stored, never an n x n matrix beyond the label table's
    budget: fitting keeps the rounded unit features, the neighbour lists and
    the graph, O(n * (d + k)), and the search uses O(block_size ** 2) more.
    Whitening works on a float64 copy of the features while it fits
    (``2 * n * d`` floats at its peak); the rows it keeps have at most
    ``whiten_components`` coordinates. ``"auto"`` distils twice, so its fit
    costs up to twice the time and label-table memory of one.

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

    Whitening broke up the digits' neighbourhoods, so ``"auto"`` kept the
    pairs of the features as given:

    >>> distiller.n_whitened_axes_
    0

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
        "n_neighbors": [IntInterval(1, None, closed="left")],
        "neighborhood_size": [IntInterval(1, None, closed="left")],
        "similar_std_factor": [Interval(Real, None, None, closed="neither"), None],
        "dissimilar_std_factor": [Interval(Real, None, None, closed="neither"), None],
        "false_similar_rate": [Interval(Real, 0, 1, closed="left")],
        "false_dissimilar_rate": [Interval(Real, 0, 1, closed="left")],
        "n_dissimilar": [IntInterval(0, None, closed="left")],
        "n_pair_samples": [IntInterval(100, None, closed="left")],
        "metric": [StrOptions({"cosine"})],
        "whiten_components": [IntInterval(1, None, closed="left"), StrOptions({"auto"}), None],
        "device": DEVICE_CONSTRAINT,
        "n_jobs": N_JOBS_CONSTRAINT,
        "block_size": [IntInterval(1, None, closed="left")],
        "label_cache_bytes": [IntInterval(0, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
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
        whiten_components: int | str | None = "auto",
        device: str = "auto",
        n_jobs: int | None = None,
        block_size: int = 4096,
        label_cache_bytes: int = 2**29,
        random_state=None,
        verbose: int = 0,
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
        self.whiten_components = whiten_components
        self.device = device
        self.n_jobs = n_jobs
        self.block_size = block_size
        self.label_cache_bytes = label_cache_bytes
        self.random_state = random_state
        self.verbose = verbose

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
        probe = validation_probe(self)
        X = validate_data(probe, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        n_neighbors, neighborhood_size = self._sizes_for(X.shape[0])
        device = resolve_device(self.device)
        rng = check_random_state(self.random_state)
        state = rng.get_state()
        fits = []
        with self._threads(X.shape[0], X.shape[0], X.shape[1]):
            whitenings = self._whitenings(X)
            if len(whitenings) > 1 and X.shape[0] > _AUTO_DECIDE_ROWS:
                whitenings = [self._decide_on_a_sample(X, whitenings, rng, device)]
                state = rng.get_state()
            for whitening in whitenings:
                # Every candidate draws the same random numbers: a fit with one
                # candidate is the fit that "auto" keeps.
                rng.set_state(state)
                fits.append(self._distil(X, whitening, rng, n_neighbors, neighborhood_size, device))
        kept = _agreeing(fits)
        if self.verbose and len(fits) > 1:
            print(
                f"whiten_components='auto' keeps the pairs of the features "
                f"{'whitened' if kept else 'as given'}", file=sys.stderr, flush=True,
            )
        publish_fit(self, probe, **fits[kept])
        return self

    def _decide_on_a_sample(self, X, whitenings: list, rng, device):
        """The features "auto" distils from, chosen on a sample of
        ``_AUTO_DECIDE_ROWS`` rows: distilling from the features as given costs
        a search of all rows in all their dimensions, which the whitened
        candidate avoids."""
        sample = np.sort(rng.choice(X.shape[0], _AUTO_DECIDE_ROWS, replace=False))
        state = rng.get_state()
        n_neighbors, neighborhood_size = self._sizes_for(_AUTO_DECIDE_ROWS)
        fits = []
        for whitening in whitenings:
            rng.set_state(state)
            fits.append(self._distil(X[sample], whitening, rng, n_neighbors, neighborhood_size, device))
        return whitenings[_agreeing(fits)]

    def _threads(self, n_queries: int, n_rows: int, n_features: int):
        """A block running on the threads ``n_jobs`` says, or that a search of
        ``n_queries`` rows against ``n_rows`` rows of ``n_features`` deserves."""
        return torch_threads(threads_for(2.0 * n_queries * n_rows * n_features, self.n_jobs))

    def _whitenings(self, X: np.ndarray) -> list[Whitening | None]:
        """The features to distil from: as given (None) and/or whitened."""
        if self.whiten_components != "auto":
            return [None if self.whiten_components is None else Whitening.fit(X, self.whiten_components)]
        if self.strategy == "ssdh":
            return [None]
        whitening = Whitening.fit(X, _AUTO_WHITEN_COMPONENTS)
        return [None] if whitening is None else [None, whitening]

    def _distil(self, X, whitening, rng, n_neighbors: int, neighborhood_size: int, device) -> dict:
        """The fitted attributes of distilling from ``X``, whitened by ``whitening`` if not None."""
        n = X.shape[0]
        features = _unit_rows(X if whitening is None else whitening.transform(X), self.block_size)
        # The search of cosine_kneighbors, run here on the rounded rows, which
        # the labeler keeps too, for similarities: the rule compares them in float32.
        which = "features as given" if whitening is None else f"whitened to {whitening.n_axes} axes"
        with progress(n, f"neighbours ({which})", "rows", enabled=bool(self.verbose)) as report:
            sims, neighbors = inner_product_knn(
                features, n_neighbors=max(n_neighbors, neighborhood_size), block_size=self.block_size,
                device=device, progress=report,
            )
        a, b = _random_pairs(n, self.n_pair_samples, rng)
        hood = _neighborhoods(np.arange(n), neighbors, neighborhood_size)
        table = torch.from_numpy(features).to(device)
        distances = 1.0 - pair_similarities(table, a, b, self._chunk_floats()).astype(np.float64)
        del table
        mode, left_std, right_std = _half_gaussians(distances)
        kappa_l, kappa_r = _STD_FACTORS[self.strategy]
        kappa_l = kappa_l if self.similar_std_factor is None else self.similar_std_factor
        kappa_r = kappa_r if self.dissimilar_std_factor is None else self.dissimilar_std_factor
        d_l = mode - kappa_l * left_std
        d_r = d_l if kappa_r is None else mode + kappa_r * right_std
        if d_l > d_r:
            raise ValueError(
                f"The similar threshold d_l={d_l:.4g} lies above the dissimilar "
                f"threshold d_r={d_r:.4g} (mode {mode:.4g}, sigma_l {left_std:.4g}, "
                f"sigma_r {right_std:.4g}): raise similar_std_factor or "
                "dissimilar_std_factor so that d_l <= d_r."
            )
        seed = np.uint64(rng.randint(np.iinfo(np.int32).max))
        labeler = PairLabeler(
            features, hood, self._rule(d_l, d_r, hood.shape[1]), device=device,
            chunk_floats=self._chunk_floats(), cache_bytes=self.label_cache_bytes,
        )
        if labeler.table_fits():
            # Every pair once, then lookups: cheaper than gathering neighbourhoods
            # for the graph's candidates, and what DistillHash's batches read.
            labeler.build_table()
        dissimilar_rate = float(labeler.distilled(a, b, -1).mean())
        n_draws = _n_draws(self.n_dissimilar, dissimilar_rate, n - 1)
        if self.n_dissimilar and not n_draws:
            warnings.warn(
                f"None of {len(a)} sampled pairs is a distilled dissimilar pair: "
                "graph_ holds no -1 entry. Lower dissimilar_std_factor (or "
                "false_dissimilar_rate) to distil some.",
                UserWarning,
            )
        rows = np.arange(n)
        pairs = labeler.distil_rows(
            rows, neighbors[:, :n_neighbors], sims[:, :n_neighbors],
            pool=(0, n), keys=rows.astype(np.uint64), exclude_self=True,
            n_dissimilar=self.n_dissimilar, n_draws=n_draws, seed=seed,
        )
        graph = _to_csr(*pairs, shape=(n, n), symmetric=True)
        if self.verbose:
            print(
                f"distilled {(graph.data > 0).sum() // 2} similar and {(graph.data < 0).sum() // 2} "
                f"dissimilar pairs over {n} samples ({which})",
                file=sys.stderr, flush=True,
            )
        return dict(
            neighbors_=neighbors,
            n_whitened_axes_=0 if whitening is None else whitening.n_axes,
            _whitening=whitening,
            distance_mode_=float(mode),
            left_std_=float(left_std),
            right_std_=float(right_std),
            similar_distance_=float(d_l),
            dissimilar_distance_=float(d_r),
            n_samples_fit_=n,
            dissimilar_rate_=dissimilar_rate,
            graph_=graph,
            _labeler=labeler,
            _seed=seed,
            _n_draws=n_draws,
        )

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
        self._check_output_container()
        return self.fit(X, y).graph_.copy()

    # ------------------------------------------------------------ transform

    def transform(self, X=None):
        """Distilled labels between samples and the training samples.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features) or None
            None, or the training data itself, gives ``graph_``. A row whose
            compared features (whitened as fitted, scaled to unit norm)
            equal a training sample's gets that sample's row of ``graph_``:
            the sample itself, or without whitening any positive multiple
            of it. Any other row is a new point: its +1
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
        self._check_output_container()
        if X is None:
            return self.graph_.copy()
        features = self._validate_queries(X)
        if np.array_equal(features, self._labeler.features):
            return self.graph_.copy()
        with self._threads(*features.shape[:1], *self._labeler.features.shape):
            return self._transform_new(features)

    def _transform_new(self, features: np.ndarray) -> sp.csr_matrix:
        """transform of rows other than the training rows."""
        n_fit, n_q = self.n_samples_fit_, features.shape[0]
        device = resolve_device(self.device)
        match, sims, neighbors = self._match(features, device)
        known = np.flatnonzero(match >= 0)
        new = np.flatnonzero(match < 0)
        sub = self.graph_[match[known]].tocoo()
        rows, cols, labels = [known[sub.row]], [sub.col], [sub.data]
        if new.size:
            table_rows = n_fit + np.arange(new.size)
            hood = _neighborhoods(table_rows, neighbors[new], self._labeler.hood.shape[1] - 1)
            r, c, lab = self._query_labeler(features[new], hood, device).distil_rows(
                table_rows, neighbors[new, : self.n_neighbors], sims[new, : self.n_neighbors],
                pool=(0, n_fit), keys=(n_fit + neighbors[new, 0]).astype(np.uint64),
                exclude_self=False, n_dissimilar=self.n_dissimilar, n_draws=self._n_draws,
                seed=self._seed,
            )
            rows.append(new[r - n_fit])
            cols.append(c)
            labels.append(lab)
        return _to_csr(*map(np.concatenate, (rows, cols, labels)), shape=(n_q, n_fit))

    def set_output(self, *, transform=None):
        """Set the output container of :meth:`transform` and :meth:`fit_transform`.

        The output is a sparse graph, which no dataframe holds: ``"default"``
        (or None, no change) is the one container; ``"pandas"`` and
        ``"polars"`` are accepted, as sklearn's ``set_output`` accepts them,
        and make :meth:`transform` raise a ValueError that says so, the
        behaviour of :class:`~sklearn.neighbors.KNeighborsTransformer`.

        Parameters
        ----------
        transform : {"default", "pandas", "polars"} or None, default=None

        Returns
        -------
        self : PairDistiller
        """
        if transform is None:
            return self
        if transform not in ("default", "pandas", "polars"):
            raise ValueError(f"transform must be 'default', 'pandas', 'polars' or None; got {transform!r}.")
        # sklearn's own attribute name, which clone carries over.
        self._sklearn_output_config = {"transform": transform}
        return self

    def _check_output_container(self) -> None:
        config = getattr(self, "_sklearn_output_config", {})
        container = config.get("transform", get_config()["transform_output"])
        if container != "default":
            raise ValueError(
                f"The transformer outputs a scipy sparse matrix (the pair graph); "
                f"{container.capitalize()} output does not support sparse data. Use "
                "set_output(transform='default')."
            )

    @property
    def _n_features_out(self) -> int:
        # One output column per training sample, as KNeighborsTransformer.
        return self.n_samples_fit_

    # ------------------------------------------------------------ neighbours

    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        """The nearest training samples of each row by cosine distance, exactly.

        The distance of the features the rule compares: whitened as fitted
        (``n_whitened_axes_`` > 0), else as given.

        The distiller's own search, the one that made ``neighbors_``: rows
        scaled to unit norm on the exact grid of the module's notes, products
        in blocks of ``block_size`` on ``device``; ties go to the smaller
        index. As :meth:`sklearn.neighbors.KNeighborsTransformer.kneighbors`.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            Query rows. None queries the training samples, each left out of
            its own neighbours (an exact duplicate of it is still found):
            the first ``n_neighbors`` columns of ``neighbors_``, searched
            again at the cost of the search in :meth:`fit`.
        n_neighbors : int, default=None
            Neighbours per row, at most ``n_samples_fit_`` (one less when
            ``X`` is None). None means the ``n_neighbors`` that :meth:`fit`
            used: the constructor's, at most ``n_samples_fit_ - 1``.
        return_distance : bool, default=True
            Whether to return the distances too.

        Returns
        -------
        neigh_dist : ndarray of shape (n_queries, n_neighbors), dtype float64
            Cosine distances ``1 - similarity`` of the rounded rows, ascending;
            only with ``return_distance=True``. They are within
            ``2 * sqrt(n_features) * 2**-12`` of the distances of the rows as
            given, half of it a shrinkage common to all pairs (a row lies
            about ``sqrt(n_features) * 2**-12`` from itself, not 0).
        neigh_ind : ndarray of shape (n_queries, n_neighbors), dtype int64
            Indices of the training samples, nearest first.

        Examples
        --------
        >>> import numpy as np
        >>> from skdistillhash.distill import PairDistiller
        >>> X = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-1.0, 0.0], [0.6, -0.8]])
        >>> distiller = PairDistiller(
        ...     n_neighbors=2, neighborhood_size=1, whiten_components=None, random_state=0
        ... ).fit(X)
        >>> dist, idx = distiller.kneighbors([[0.6, 0.8]])
        >>> idx, dist.round(3)
        (array([[1, 2]]), array([[0.04, 0.2 ]]))
        >>> distiller.kneighbors(n_neighbors=1, return_distance=False).ravel()
        array([1, 0, 1, 2, 0])
        """
        check_is_fitted(self)
        if n_neighbors is None:
            n_neighbors = min(self.n_neighbors, self.n_samples_fit_ - 1)
        check_scalar(n_neighbors, "n_neighbors", Integral, min_val=1)
        _check_n_neighbors(n_neighbors, self.n_samples_fit_, "training samples", "X" if X is None else None)
        # The training rows are kept by the labeler (and pickled with it),
        # already rounded: cosine_kneighbors would round them again, which
        # can move a coordinate by a grid step.
        queries = None if X is None else self._validate_queries(X)
        n_queries = self.n_samples_fit_ if queries is None else len(queries)
        with self._threads(n_queries, *self._labeler.features.shape):
            dist, idx = _grid_kneighbors(
                self._labeler.features, queries, n_neighbors=int(n_neighbors),
                block_size=self.block_size, device=resolve_device(self.device),
            )
        return (dist, idx) if return_distance else idx

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
            +1 distilled similar, -1 distilled dissimilar, 0 dropped.

        Notes
        -----
        With the label table that ``fit`` builds (within
        ``label_cache_bytes``), a call is a lookup, O(n_a * n_b): what makes
        DistillHash's training epochs cheap. Without it (over budget, or after
        unpickling), a call costs one product of the two sets of
        neighbourhoods, O(n_a * n_b * (K+1)^2 * n_features) (K = 0 for SSDH),
        and once the calls have cost about as much as labelling all n^2 pairs
        the table is built, if it fits. Same labels either way.
        """
        check_is_fitted(self)
        a, b = (self._check_rows(idx, name) for idx, name in ((a_idx, "a_idx"), (b_idx, "b_idx")))
        if self._labeler.has_table:  # a lookup in numpy: no torch threads to set
            return self._labeler.pair_labels(a, b)
        # Without the table, each pair compares two neighbourhoods.
        hood = self._labeler.hood.shape[1]
        with self._threads(len(a), len(b) * hood * hood, self._labeler.features.shape[1]):
            return self._labeler.pair_labels(a, b)

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
        if np.array_equal(features, self._labeler.features):
            graph = self.graph_
        else:
            with self._threads(len(features), len(features) + self.n_samples_fit_, features.shape[1]):
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

    def _chunk_floats(self) -> int:
        """Floats per chunk of pair labelling: the search block, but never tiny
        (per-call overhead dominates small chunks)."""
        return max(self.block_size**2, _MIN_CHUNK_FLOATS)

    def _sizes_for(self, n_samples: int) -> tuple[int, int]:
        """(n_neighbors, neighborhood_size) usable on ``n_samples`` rows; K = 0 for SSDH.

        With fewer than ``n + 1`` rows, a point has only ``n_samples - 1``
        others: use them all, with a warning, as UMAP does.
        """
        wanted = (self.n_neighbors, self.neighborhood_size if self.strategy == "distillhash" else 0)
        sizes = tuple(min(size, n_samples - 1) for size in wanted)
        if sizes != wanted:
            warnings.warn(
                f"{n_samples} samples give each point only {n_samples - 1} others: "
                f"using n_neighbors={sizes[0]} and neighborhood_size={sizes[1]} "
                f"instead of {wanted[0]} and {wanted[1]}.",
                UserWarning,
            )
        return sizes

    def _rule(self, d_l: float, d_r: float, width: int) -> Rule:
        return Rule(
            similar_sim=1.0 - d_l,
            dissimilar_sim=1.0 - d_r,
            local=self.strategy == "distillhash",
            similar_count=(1 + self.false_similar_rate) / 2 * width**2,
            dissimilar_count=(1 + self.false_dissimilar_rate) / 2 * width**2,
        )

    def _query_labeler(self, features: np.ndarray, hood: np.ndarray, device) -> PairLabeler:
        """The fitted rule over the training rows followed by ``features``."""
        fitted = self._labeler
        return PairLabeler(
            np.concatenate([fitted.features, features]), np.concatenate([fitted.hood, hood]),
            fitted.rule, device=device, chunk_floats=self._chunk_floats(),
        )

    def _validate_queries(self, X) -> np.ndarray:
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        if self._whitening is not None:
            X = self._whitening.transform(X)
        return _unit_rows(X, self.block_size)

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
            features, self._labeler.features, n_neighbors=self.neighbors_.shape[1],
            block_size=self.block_size, device=device,
        )
        # Exact arithmetic: a row equal to a training sample has similarity
        # |q|^2 with it, so only those columns need an element-wise check.
        self_sim = np.einsum("ij,ij->i", features, features)
        rows, cols = np.nonzero(sims == self_sim[:, None])
        equal = np.all(features[rows] == self._labeler.features[neighbors[rows, cols]], axis=1)
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
        hood_q = _neighborhoods(table_rows, neighbors, self._labeler.hood.shape[1] - 1)
        hood_q[match >= 0] = self._labeler.hood[match[match >= 0]]
        within_sims, within = inner_product_knn(
            features, n_neighbors=min(self.n_neighbors, n_q - 1),
            block_size=self.block_size, device=device,
        )
        r, c, lab = self._query_labeler(features, hood_q, device).distil_rows(
            table_rows, n_fit + within, within_sims, pool=(n_fit, n_q),
            keys=table_rows.astype(np.uint64), exclude_self=True,
            n_dissimilar=self.n_dissimilar, n_draws=min(self._n_draws, n_q - 1), seed=self._seed,
        )
        return _to_csr(r - n_fit, c - n_fit, lab, shape=(n_q, n_q), symmetric=True)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # The output is a graph of int8 labels, whatever the input dtype.
        tags.transformer_tags.preserves_dtype = []
        return tags


# ---------------------------------------------------------------------------
# The distiller's search as a function


@validate_params(
    {
        "X": ["array-like"],
        "queries": ["array-like", None],
        "n_neighbors": [IntInterval(1, None, closed="left")],
        "block_size": [IntInterval(1, None, closed="left")],
        "device": DEVICE_CONSTRAINT,
    },
    prefer_skip_nested_validation=True,
)
def cosine_kneighbors(
    X, queries=None, *, n_neighbors: int, block_size: int = 4096, device: str | torch.device = "auto"
) -> tuple[np.ndarray, np.ndarray]:
    """The nearest rows of ``X`` by cosine distance, exactly: the distiller's search.

    The search that :class:`~skdistillhash.PairDistiller` runs in ``fit``
    and :meth:`~skdistillhash.PairDistiller.kneighbors` (on the features it
    compares, whitened where it whitens), without fitting one: rows are
    scaled to unit norm and rounded onto the exact grid of the module's
    notes, then compared in blocks of matrix products. The result
    is the same for every ``block_size`` and ``device`` (TF32 products
    aside, which torch leaves off), and ties go to the smaller index.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The rows searched. An all-zero row has distance 1 to every row.
    queries : array-like of shape (n_queries, n_features), default=None
        The rows whose neighbours are wanted. None queries the rows of ``X``,
        each left out of its own neighbours (an exact duplicate of it is
        still found), as :meth:`sklearn.neighbors.NearestNeighbors.kneighbors`
        does with ``X=None``.
    n_neighbors : int
        Neighbours per query, at most ``n_samples`` (one less when
        ``queries`` is None).
    block_size : int, default=4096
        Query rows per block (database blocks are 4 times wider); peak
        memory is about ``4 * block_size ** 2`` floats beyond the rounded
        rows.
    device : str or torch.device, default="auto"
        Where the products run: "auto" (CUDA when present, else the CPU),
        "cpu", "cuda", "cuda:N", "mps" or a ``torch.device`` of those types.

    Returns
    -------
    neigh_dist : ndarray of shape (n_queries, n_neighbors), dtype float64
        Cosine distances ``1 - similarity`` of the rounded rows, ascending;
        within ``2 * sqrt(n_features) * 2**-12`` of the distances of the rows
        as given (see :meth:`~skdistillhash.PairDistiller.kneighbors`).
    neigh_ind : ndarray of shape (n_queries, n_neighbors), dtype int64
        Row indices into ``X``, nearest first.

    See Also
    --------
    skdistillhash.PairDistiller.kneighbors : The same search against a
        fitted distiller's training rows.
    sklearn.neighbors.NearestNeighbors : With ``metric="cosine"``, the same
        neighbours up to near-ties, which the rounding may swap.

    Examples
    --------
    >>> from skdistillhash.distill import cosine_kneighbors
    >>> X = [[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-1.0, 0.0], [0.6, -0.8]]
    >>> dist, idx = cosine_kneighbors(X, [[0.6, 0.8]], n_neighbors=2)
    >>> idx, dist.round(3)
    (array([[1, 2]]), array([[0.04, 0.2 ]]))

    Without queries, each row's nearest other rows:

    >>> cosine_kneighbors(X, n_neighbors=1)[1].ravel()
    array([1, 0, 1, 2, 0])
    """
    X = check_array(X, dtype=[np.float64, np.float32], input_name="X")
    if queries is not None:
        queries = check_array(queries, dtype=[np.float64, np.float32], input_name="queries")
        if queries.shape[1] != X.shape[1]:
            raise ValueError(
                f"queries has {queries.shape[1]} features, but X has {X.shape[1]}: "
                "both must be rows of the same features."
            )
    _check_n_neighbors(n_neighbors, X.shape[0], "rows of X", "queries" if queries is None else None)
    device = resolve_device(device)
    return _grid_kneighbors(
        _unit_rows(X, block_size), None if queries is None else _unit_rows(queries, block_size),
        n_neighbors=n_neighbors, block_size=block_size, device=device,
    )


def _check_n_neighbors(n_neighbors: int, n_rows: int, rows: str, self_search: str | None) -> None:
    """Raise unless ``n_neighbors`` fits the ``n_rows`` candidates, one less when
    the argument named ``self_search`` is None and each row is left out of its own."""
    n_candidates = n_rows if self_search is None else n_rows - 1
    if n_neighbors > n_candidates:
        others = "" if self_search is None else f" other than the query itself ({self_search} is None)"
        raise ValueError(
            f"Expected n_neighbors <= {n_candidates}, the number of {rows}{others}; "
            f"got n_neighbors={n_neighbors}."
        )


def _grid_kneighbors(
    features: np.ndarray, queries: np.ndarray | None, *, n_neighbors: int, block_size: int, device
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`cosine_kneighbors` of rows already on the grid (``_unit_rows``)."""
    # The kernel takes (queries, database); no database is its self-search.
    sims, idx = inner_product_knn(
        features if queries is None else queries, None if queries is None else features,
        n_neighbors=n_neighbors, block_size=block_size, device=device,
    )
    # float64: 1 - s is exact there for every similarity on the grid.
    return 1.0 - sims.astype(np.float64), idx


# ---------------------------------------------------------------------------
# Array helpers (no estimator state)


def _agreeing(fits: list[dict]) -> int:
    """Of a fit from the features as given and one from whitened features, the
    whitened one (1) unless whitening broke up the neighbourhoods' agreement: it
    distilled fewer than ``_AUTO_WHITEN_AGREEMENT`` times as many similar pairs."""
    if len(fits) == 1:
        return 0
    given, whitened = ((fit["graph_"].data > 0).sum() for fit in fits)
    return 1 if whitened >= _AUTO_WHITEN_AGREEMENT * given else 0


def _unit_rows(X: np.ndarray, block: int) -> np.ndarray:
    """Rows scaled to norm at most 1 and rounded onto the 2**-12 grid, float32.

    Scaling by ``1 - sqrt(d) / 2**13`` before rounding keeps every rounded
    norm at most 1 (rounding moves a row by at most ``sqrt(d) / 2**13``),
    which the exactness argument of the module docstring needs. All-zero
    rows stay zero: similarity 0 with every row, as in
    :func:`sklearn.metrics.pairwise.cosine_similarity`.

    Each row is first brought to a largest magnitude in [0.5, 1) by a power
    of two: exact, so ordinary rows come out as without it, while the squares
    of rows like 1e-200 or 1e300 neither underflow nor overflow.
    """
    n, d = X.shape
    out = np.empty((n, d), dtype=np.float32)
    scale = (1.0 - math.sqrt(d) / (2 * _GRID)) * _GRID
    for start in range(0, n, block):
        chunk = np.asarray(X[start : start + block], dtype=np.float64)
        _, exponent = np.frexp(np.abs(chunk).max(axis=1))
        chunk = np.ldexp(chunk, -exponent[:, None])
        norms = np.linalg.norm(chunk, axis=1)
        norms[norms == 0] = 1.0
        out[start : start + block] = np.rint(chunk * (scale / norms)[:, None]) / _GRID
    return out


def _neighborhoods(rows: np.ndarray, neighbors: np.ndarray, k: int) -> np.ndarray:
    """Each row followed by its ``k`` nearest neighbours (k = 0 for SSDH)."""
    return np.concatenate([rows[:, None], neighbors[:, :k]], axis=1)


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
