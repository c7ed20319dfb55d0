"""skdistillhash: unsupervised deep hashing after DistillHash, the scikit-learn way."""

from .baselines import ITQHash, LSHHash
from .distill import PairDistiller
from .hashing import DistillHash
from .metrics import make_map_scorer, mean_average_precision
from .neighbors import HammingNeighbors

__version__ = "0.1.0"

__all__ = [
    "DistillHash",
    "HammingNeighbors",
    "ITQHash",
    "LSHHash",
    "PairDistiller",
    "__version__",
    "make_map_scorer",
    "mean_average_precision",
]
