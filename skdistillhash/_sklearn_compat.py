"""The private scikit-learn names this package uses, imported in one place.

scikit-learn exposes no public API for parameter validation
(``Interval``, ``StrOptions``, ``HasMethods``, ``validate_params``) or for the
``_fit_context`` decorator that runs it, yet every estimator in its ecosystem
uses them. Rather than copy several hundred lines of scikit-learn (as
imbalanced-learn does), the package bounds ``scikit-learn`` in
``pyproject.toml`` to the minor versions CI and the release checks test, and
imports those names only here: if a future version moves one, this file is
the one to change.
"""

from sklearn.base import _fit_context
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    InvalidParameterError,
    StrOptions,
    validate_parameter_constraints,
    validate_params,
)

__all__ = [
    "HasMethods",
    "Interval",
    "InvalidParameterError",
    "StrOptions",
    "_fit_context",
    "validate_parameter_constraints",
    "validate_params",
]
