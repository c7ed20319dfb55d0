"""skdistillhash: unsupervised deep hashing after DistillHash, the scikit-learn way."""

__version__ = "0.1.0"
