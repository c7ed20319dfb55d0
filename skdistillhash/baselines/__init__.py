"""Hashing baselines with the same estimator API as DistillHash.

* :class:`LSHHash`: random Gaussian hyperplanes through the data mean
  (sign random projections, Charikar 2002).
* :class:`ITQHash`: PCA to ``n_bits`` dimensions followed by iterative
  quantization (Gong & Lazebnik, CVPR 2011; TPAMI 2013).
* :class:`BiHalfHash`: a hash layer trained on frozen features to keep their
  cosine similarities, with balanced bits (Li & van Gemert, AAAI 2021).
* :class:`GreedyHash`: the same with sign codes and a straight-through
  gradient (Su et al., NeurIPS 2018).

All are unsupervised: ``fit`` ignores ``y``. Bits are the signs of
``decision_function`` (bit 1 where it is ``> 0``), ``predict`` packs them in
the FAISS layout, and ``score`` is the leave-one-out MAP of every hasher.
"""

from ._bihalf import BiHalfHash
from ._greedy import GreedyHash
from ._itq import ITQHash
from ._lsh import LSHHash

__all__ = ["BiHalfHash", "GreedyHash", "ITQHash", "LSHHash"]
