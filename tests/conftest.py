import os

import numpy as np
import pytest
from hypothesis import settings
from sklearn.datasets import load_digits

from skdistillhash._hamming import _faiss

# CI runs the same examples every time (HYPOTHESIS_PROFILE=ci in .ci/run), so
# a red build is reproducible; local runs keep exploring new examples.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(scope="session")
def digits():
    """sklearn's digits scaled to [0, 1]: the real data every machine has."""
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


@pytest.fixture
def no_faiss(monkeypatch):
    """The package as it is without the optional faiss extra installed."""
    # Every use of faiss goes through the one module that imports it.
    monkeypatch.setattr(_faiss, "faiss", None)
