"""scikit-learn's common estimator checks, over every public estimator."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skdistillhash import DistillHash, HammingNeighbors, ITQHash, LSHHash, PairDistiller

# Small settings: the checks fit each estimator dozens of times on tiny data.
ESTIMATORS = [
    DistillHash(
        n_bits=8,
        hidden_layer_sizes=(16,),
        epochs=3,
        batch_size=32,
        distiller=PairDistiller(n_neighbors=3, neighborhood_size=2, n_pair_samples=500),
        device="cpu",
        random_state=0,
    ),
    # Default parameters too: fewer rows than neighbours shrink the neighbourhoods.
    DistillHash(n_bits=8, epochs=2),
    PairDistiller(),
    PairDistiller(n_neighbors=3, neighborhood_size=2, n_pair_samples=500, device="cpu"),
    PairDistiller(strategy="ssdh", n_neighbors=3, n_pair_samples=500, device="cpu"),
    HammingNeighbors(),
    LSHHash(n_bits=5),
    # ITQ codes are at most n_features long; sklearn's checks use 2-10 features.
    ITQHash(n_bits=2, n_iter=3),
]


def _expected_failed_checks(estimator) -> dict:
    # Each estimator documents its own expected failures, with a reason each.
    return getattr(estimator, "_expected_failed_checks", {})


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)
