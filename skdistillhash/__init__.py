"""skdistillhash: unsupervised deep hashing after DistillHash, the scikit-learn way."""

from ._show_versions import show_versions
from .baselines import BiHalfHash, GreedyHash, ITQHash, LSHHash
from .distill import PairDistiller
from .hashing import DistillHash
from .metrics import make_map_scorer, mean_average_precision
from .neighbors import HammingNeighbors

__version__ = "0.1.0"

__all__ = [
    "BiHalfHash",
    "DistillHash",
    "GreedyHash",
    "HammingNeighbors",
    "ITQHash",
    "LSHHash",
    "PairDistiller",
    "__version__",
    "make_map_scorer",
    "mean_average_precision",
    "show_versions",
]
