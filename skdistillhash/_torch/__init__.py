"""Everything that touches torch.nn lives here; no scikit-learn API in this package."""
