"""Bit matrices <-> packed codes: round trips, padding, accepted and rejected values."""

import numpy as np
import pytest
from _references import hamming_distances
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from skdistillhash._bits import (
    check_bits,
    check_packed,
    pack_bits,
    to_words,
    unpack_bits,
)

bit_matrices = st.tuples(st.integers(1, 20), st.integers(1, 70)).flatmap(
    lambda shape: arrays(np.uint8, shape, elements=st.integers(0, 1))
)


@settings(max_examples=60, deadline=None)
@given(bits=bit_matrices)
def test_round_trip(bits):
    codes = pack_bits(bits)
    assert codes.dtype == np.uint8
    assert codes.shape == (bits.shape[0], -(-bits.shape[1] // 8))
    np.testing.assert_array_equal(unpack_bits(codes, bits.shape[1]), bits)


@settings(max_examples=60, deadline=None)
@given(bits=bit_matrices)
def test_padding_never_changes_distances(bits):
    codes = pack_bits(bits)
    np.testing.assert_array_equal(hamming_distances(codes, codes), hamming_distances(bits, bits))
    # Word view pads to 8 bytes with zeros: popcounts unchanged too.
    words = to_words(codes)
    assert words.dtype == np.uint64
    np.testing.assert_array_equal(np.bitwise_count(words).sum(axis=1), bits.sum(axis=1))


def test_faiss_layout():
    # bit j is bit j % 8 of byte j // 8
    bits = np.zeros((1, 16), dtype=np.uint8)
    bits[0, [0, 9, 15]] = 1
    np.testing.assert_array_equal(pack_bits(bits), [[0b00000001, 0b10000010]])


@settings(max_examples=40, deadline=None)
@given(bits=bit_matrices)
def test_sign_bool_and_01_conventions_agree(bits):
    expected = pack_bits(bits)
    np.testing.assert_array_equal(pack_bits(bits.astype(bool)), expected)
    np.testing.assert_array_equal(pack_bits(2 * bits.astype(np.int8) - 1), expected)
    np.testing.assert_array_equal(pack_bits(bits.astype(np.float32)), expected)
    np.testing.assert_array_equal(pack_bits((2.0 * bits - 1).tolist()), expected)


@pytest.mark.parametrize(
    "bad, match",
    [
        ([[0, 2]], "must hold bits"),
        ([[0.5, 1.0]], "must hold bits"),
        ([[np.nan, 1.0]], "must hold bits"),
        ([[0, -1, 1]], "mixes 0 and -1"),
        ([0, 1, 1], "2-D bit matrix"),
        (np.zeros((2, 0)), "0 bits"),
        ([["0", "1"]], "numeric or bool"),
    ],
)
def test_bad_bits_rejected(bad, match):
    with pytest.raises(ValueError, match=match):
        check_bits(bad)


def test_packed_codes_checked():
    with pytest.raises(ValueError, match="dtype int64"):
        check_packed(np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(ValueError, match="ndim=1"):
        check_packed(np.zeros(2, dtype=np.uint8))
    with pytest.raises(ValueError, match="3 bytes per code, but 12 bits need 2"):
        check_packed(np.zeros((2, 3), dtype=np.uint8), n_bits=12)


def test_mixed_widths_rejected():
    """Codes of 12 bits padded to 2 bytes: a 16-bit code sets padding bits."""
    narrow = pack_bits(np.ones((1, 12), dtype=np.uint8))
    wide = pack_bits(np.ones((1, 16), dtype=np.uint8))
    check_packed(narrow, n_bits=12)
    with pytest.raises(ValueError, match="non-zero padding bits beyond bit 12"):
        check_packed(np.vstack([narrow, wide]), n_bits=12)
    with pytest.raises(ValueError, match="non-zero padding"):
        unpack_bits(wide, 12)
