"""Bit matrices and packed codes: the one place that converts between them.

A *bit matrix* is ``(n, n_bits)`` with values in {0, 1}, bool, or {-1, +1}
(the sign convention of the hashing literature). A *packed code* is uint8
``(n, ceil(n_bits / 8))`` in the FAISS layout: bit ``j`` of a code is bit
``j % 8`` of byte ``j // 8`` (``np.packbits(..., bitorder="little")``), so our
codes go into ``faiss.IndexBinaryFlat`` unchanged. Padding bits are zero, so
they never change a Hamming distance.
"""

from __future__ import annotations

import numpy as np


def check_bits(B, *, name: str = "B") -> np.ndarray:
    """Validate a bit matrix and return it as uint8 in {0, 1}.

    Accepts bool, {0, 1} or {-1, +1} values of any numeric dtype. Anything
    else (other values, NaN, a mix of 0 and -1, wrong ndim) is a ValueError.
    """
    B = np.asarray(B)
    if B.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D bit matrix (n_samples, n_bits); got an array "
            f"with ndim={B.ndim}. Reshape a single code with B.reshape(1, -1)."
        )
    if B.shape[1] == 0:
        raise ValueError(f"{name} has 0 bits per code; at least 1 is required.")
    if B.dtype == bool:
        return B.astype(np.uint8)
    if not (np.issubdtype(B.dtype, np.integer) or np.issubdtype(B.dtype, np.floating)):
        raise ValueError(f"{name} must be numeric or bool; got dtype {B.dtype}.")
    if B.size == 0:
        return B.astype(np.uint8)
    is_one = B == 1
    is_zero = B == 0
    is_minus = B == -1
    if not np.all(is_one | is_zero | is_minus):
        bad = B[~(is_one | is_zero | is_minus)].ravel()[0]
        raise ValueError(
            f"{name} must hold bits: values in {{0, 1}}, bool, or {{-1, +1}}; "
            f"found {bad!r}. Packed uint8 codes need packed=True."
        )
    if is_zero.any() and is_minus.any():
        raise ValueError(mixed_bits_message(name))
    return is_one.astype(np.uint8)


def mixed_bits_message(name: str) -> str:
    """The error of a bit matrix that mixes the {0, 1} and {-1, +1} conventions."""
    return f"{name} mixes 0 and -1: use either {{0, 1}} or {{-1, +1}} bits, not both."


def pack_bits(B) -> np.ndarray:
    """Pack a bit matrix into uint8 codes in the FAISS layout.

    Parameters
    ----------
    B : array-like of shape (n_samples, n_bits)
        Bits as {0, 1}, bool or {-1, +1}.

    Returns
    -------
    codes : ndarray of shape (n_samples, ceil(n_bits / 8)), dtype uint8
        Bit ``j`` is bit ``j % 8`` of byte ``j // 8``; padding bits are 0.

    Examples
    --------
    >>> import numpy as np
    >>> pack_bits(np.array([[1, 0, 0, 0, 0, 0, 0, 0, 1]]))
    array([[1, 1]], dtype=uint8)
    """
    return np.packbits(check_bits(B), axis=1, bitorder="little")


def unpack_bits(codes, n_bits: int) -> np.ndarray:
    """Unpack uint8 codes (FAISS layout) into a {0, 1} uint8 bit matrix.

    Examples
    --------
    >>> import numpy as np
    >>> unpack_bits(np.array([[5]], dtype=np.uint8), 4)
    array([[1, 0, 1, 0]], dtype=uint8)
    """
    codes = check_packed(codes, n_bits=n_bits)
    return np.unpackbits(codes, axis=1, count=n_bits, bitorder="little")


def check_packed(codes, *, n_bits: int | None = None, name: str = "codes") -> np.ndarray:
    """Validate packed uint8 codes; with ``n_bits``, check width and zero padding."""
    codes = np.asarray(codes)
    if codes.dtype != np.uint8:
        raise ValueError(
            f"{name} must be packed uint8 codes (n, ceil(n_bits/8)); got dtype {codes.dtype}."
        )
    if codes.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_bytes); got ndim={codes.ndim}.")
    if codes.shape[1] == 0:
        raise ValueError(f"{name} has 0 bytes per code; at least 1 is required.")
    if n_bits is not None:
        n_bytes = -(-n_bits // 8)
        if codes.shape[1] != n_bytes:
            raise ValueError(
                f"{name} has {codes.shape[1]} bytes per code, but {n_bits} bits "
                f"need {n_bytes}."
            )
        pad = n_bytes * 8 - n_bits
        if pad and codes.size and np.any(codes[:, -1] >> (8 - pad)):
            raise ValueError(
                f"{name} has non-zero padding bits beyond bit {n_bits}: codes of a "
                "different width were mixed in."
            )
    return codes


def to_words(codes: np.ndarray) -> np.ndarray:
    """View packed codes as uint64 words (zero-padded to a multiple of 8 bytes).

    XOR + popcount on words is what the numpy search backend runs on.
    """
    n, n_bytes = codes.shape
    n_words = -(-n_bytes // 8)
    if n_bytes != n_words * 8:
        padded = np.zeros((n, n_words * 8), dtype=np.uint8)
        padded[:, :n_bytes] = codes
        codes = padded
    return np.ascontiguousarray(codes).view(np.uint64)
