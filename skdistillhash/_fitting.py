"""All-or-nothing fits, shared by every estimator.

A fit that fails or is interrupted must leave the estimator as it was:
unfitted, or holding its last complete fit. So a fit validates its input on a
throwaway copy (``validate_data(reset=True)`` writes ``n_features_in_`` and
``feature_names_in_`` on the object it is given), computes everything into
locals, and only then publishes the fitted attributes, in one step that
cannot fail halfway.
"""

from __future__ import annotations

import copy
from typing import Any

#: Attributes ``validate_data(reset=True)`` sets on the estimator it validates for.
_INPUT_ATTRIBUTES = ("n_features_in_", "feature_names_in_")


def validation_probe(estimator):
    """A shallow copy to run ``validate_data(probe, X, reset=True)`` on."""
    return copy.copy(estimator)


def publish_fit(estimator, probe, **fitted: Any) -> None:
    """Give ``estimator`` the input attributes of ``probe`` and the ``fitted`` ones.

    Plain attribute assignments only, so nothing here raises once the fit's
    work is done. An input attribute the probe lacks (``feature_names_in_``
    after a fit on an array) is removed, so no stale name list survives.
    """
    for name in _INPUT_ATTRIBUTES:
        if name in vars(probe):
            setattr(estimator, name, getattr(probe, name))
        elif name in vars(estimator):
            delattr(estimator, name)
    for name, value in fitted.items():
        setattr(estimator, name, value)
