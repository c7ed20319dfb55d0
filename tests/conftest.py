import numpy as np
import pytest
from sklearn.datasets import load_digits


@pytest.fixture(scope="session")
def digits():
    """sklearn's digits scaled to [0, 1]: the real data every machine has."""
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y

