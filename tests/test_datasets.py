"""Tests for skdistillhash.datasets on small files written here, and on the real
data where it is installed (sklearn digits always; Fashion-MNIST when the Debian
package is)."""

import gzip
import pickle
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.utils import Bunch

from skdistillhash import datasets
from skdistillhash._sklearn_compat import InvalidParameterError
from skdistillhash.datasets import (
    DATASETS,
    load,
    load_cifar10,
    load_digits_split,
    load_fashion_mnist,
    load_mirflickr,
    load_nus_wide,
    load_sample_photo_crops,
    read_idx,
    validation_split,
)
from skdistillhash.datasets import _fashion_mnist, _registry

FIELDS = ("X_query", "y_query", "X_db", "y_db", "X_train", "y_train")


def check_split(data, n_total, *, train_in_db=True):
    """Invariants every loader promises."""
    for name in ("query_idx", "db_idx", "train_idx"):
        idx = data[name]
        assert idx.dtype == np.int64
        assert np.all(np.diff(idx) > 0), f"{name} must be sorted and unique"
    assert len(np.intersect1d(data.query_idx, data.db_idx)) == 0
    assert len(data.query_idx) + len(data.db_idx) <= n_total
    if train_in_db:
        assert np.all(np.isin(data.train_idx, data.db_idx))
    for part in ("query", "db", "train"):
        X, y, idx = data[f"X_{part}"], data[f"y_{part}"], data[f"{part}_idx"]
        assert X.dtype == np.float32
        assert len(X) == len(y) == len(idx)


def same_split(a, b):
    return all(np.array_equal(a[k], b[k]) for k in ("query_idx", "db_idx", "train_idx"))


# --------------------------------------------------------------------------- #
# sklearn digits
# --------------------------------------------------------------------------- #


def test_digits_split():
    data = load_digits_split()
    check_split(data, 1797)
    assert data.X_query.shape == (300, 64) and data.X_db.shape == (1497, 64)
    assert len(data.query_idx) + len(data.db_idx) == 1797
    assert data.X_train is data.X_db and np.array_equal(data.train_idx, data.db_idx)
    assert data.X_db.min() == 0.0 and data.X_db.max() == 1.0
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    np.testing.assert_array_equal(data.X_query, (X[data.query_idx] / 16).astype(np.float32))
    np.testing.assert_array_equal(data.y_db, y[data.db_idx])


def test_digits_split_stable_and_seeded():
    a, b = load_digits_split(), load_digits_split()
    assert same_split(a, b)
    # Pin the seeded draw itself, so a change of protocol cannot go unnoticed.
    assert a.query_idx[:8].tolist() == [4, 5, 6, 9, 14, 17, 18, 19]
    assert not same_split(a, load_digits_split(random_state=1))


def test_digits_as_images():
    data = load_digits_split(n_queries=10, as_images=True)
    assert data.X_query.shape == (10, 1, 8, 8) and data.image_shape == (1, 8, 8)
    flat = load_digits_split(n_queries=10)
    np.testing.assert_array_equal(data.X_query.reshape(10, -1), flat.X_query)


@pytest.mark.parametrize("n_queries", [0, -1, 1797, 2000, 2.5, None, True])
def test_digits_bad_n_queries(n_queries):
    with pytest.raises(ValueError, match="n_queries"):
        load_digits_split(n_queries=n_queries)


# --------------------------------------------------------------------------- #
# IDX files and Fashion-MNIST
# --------------------------------------------------------------------------- #

IDX_CODES = {"u1": 0x08, "i1": 0x09, ">i2": 0x0B, ">i4": 0x0C, ">f4": 0x0D, ">f8": 0x0E}


def write_idx(path, array, *, gz=False, code=None):
    array = np.asarray(array)
    dtype = array.dtype.newbyteorder(">") if array.dtype.itemsize > 1 else array.dtype
    code = IDX_CODES[dtype.str.lstrip("|")] if code is None else code
    payload = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload += array.astype(dtype).tobytes()
    with (gzip.open if gz else open)(path, "wb") as f:
        f.write(payload)
    return path


@settings(max_examples=30, deadline=None)
@given(
    array=st.sampled_from(["u1", "i1", ">i2", ">i4", ">f4", ">f8"]).flatmap(
        lambda dt: arrays(
            np.dtype(dt),
            st.lists(st.integers(0, 4), min_size=1, max_size=3).map(tuple),
            elements={"allow_nan": False} if "f" in dt else None,
        )
    ),
    gz=st.booleans(),
)
def test_read_idx_roundtrip(tmp_path_factory, array, gz):
    path = write_idx(tmp_path_factory.mktemp("idx") / "a.idx", array, gz=gz)
    out = read_idx(path)
    assert out.shape == array.shape and out.dtype.isnative
    np.testing.assert_array_equal(out, array)


def test_read_idx_errors(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x01x")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "bad")
    write_idx(tmp_path / "unknown", np.zeros(3, np.uint8), code=0x07)
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "unknown")
    good = write_idx(tmp_path / "good", np.zeros((4, 3), np.uint8)).read_bytes()
    (tmp_path / "short").write_bytes(good[:-1])
    with pytest.raises(ValueError, match=r"shape \(4, 3\)"):
        read_idx(tmp_path / "short")
    (tmp_path / "broken.gz").write_bytes(gzip.compress(good)[:-10])
    with pytest.raises(ValueError, match="gzip"):
        read_idx(tmp_path / "broken.gz")


@pytest.mark.parametrize(
    "shape, n_bytes",
    [((65536,) * 4, 0), ((2**32 - 1,) * 3, 10), ((4, 3), 13)],
    ids=["product-wraps-to-file-size", "product-overflows", "too-long"],
)
def test_read_idx_shape_not_matching_data(tmp_path, shape, n_bytes):
    # 65536**4 = 2**64 wraps to 0 in int64, which an int64 product would
    # take for the size of an empty file.
    path = tmp_path / "crafted"
    header = bytes([0, 0, 0x08, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)
    path.write_bytes(header + bytes(n_bytes))
    with pytest.raises(ValueError, match="header's shape .* does not match the data") as info:
        read_idx(path)
    assert str(path) in str(info.value)
    assert f"file holds {n_bytes}" in str(info.value)


def fake_fashion(root, *, n_train_per_class=4, n_test_per_class=2, gz=True, shape=(6, 5)):
    """Write a tiny Fashion-MNIST: 10 classes, train then t10k."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(0)
    pools = {}
    for split, per_class in (("train", n_train_per_class), ("t10k", n_test_per_class)):
        labels = np.tile(np.arange(10, dtype=np.uint8), per_class)
        images = rng.randint(0, 256, (len(labels), *shape)).astype(np.uint8)
        suffix = ".gz" if gz else ""
        write_idx(root / f"{split}-images-idx3-ubyte{suffix}", images, gz=gz)
        write_idx(root / f"{split}-labels-idx1-ubyte{suffix}", labels, gz=gz)
        pools[split] = (images, labels)
    images = np.concatenate([pools["train"][0], pools["t10k"][0]])
    labels = np.concatenate([pools["train"][1], pools["t10k"][1]])
    return images, labels


@pytest.mark.parametrize("gz", [True, False])
def test_fashion_mnist_fake_files(tmp_path, gz):
    images, labels = fake_fashion(tmp_path, gz=gz)  # 60 samples, 6 per class
    data = load_fashion_mnist(tmp_path, n_queries_per_class=2, n_train=10)
    check_split(data, 60)
    assert len(data.query_idx) + len(data.db_idx) == 60
    assert data.X_query.shape == (20, 30) and data.X_db.shape == (40, 30)
    assert data.X_train.shape == (10, 30) and data.image_shape == (1, 6, 5)
    np.testing.assert_array_equal(np.bincount(data.y_query), [2] * 10)
    # Row numbers index train then t10k; pixels scaled to [0, 1].
    np.testing.assert_allclose(data.X_db, images[data.db_idx].reshape(40, -1) / 255, rtol=1e-6)
    np.testing.assert_array_equal(data.y_train, labels[data.train_idx])
    assert data.X_db.min() >= 0 and data.X_db.max() <= 1
    assert data.target_names[9] == "Ankle boot"


def test_fashion_mnist_stable_and_options(tmp_path):
    fake_fashion(tmp_path)
    a = load_fashion_mnist(tmp_path, n_queries_per_class=2, n_train=10)
    b = load_fashion_mnist(tmp_path, n_queries_per_class=2, n_train=10)
    assert same_split(a, b)
    other = load_fashion_mnist(tmp_path, n_queries_per_class=2, n_train=10, random_state=5)
    assert not same_split(a, other)
    images = load_fashion_mnist(tmp_path, n_queries_per_class=2, n_train=None, as_images=True)
    assert images.X_query.shape == (20, 1, 6, 5)
    assert np.array_equal(images.train_idx, images.db_idx)
    np.testing.assert_array_equal(images.X_query.reshape(20, -1), a.X_query)


def test_fashion_mnist_missing_default_root(tmp_path, monkeypatch):
    monkeypatch.setattr(_fashion_mnist, "FASHION_MNIST_ROOT", tmp_path / "nowhere")
    match = r"dataset-fashion-mnist.*apt-get install dataset-fashion-mnist"
    with pytest.raises(FileNotFoundError, match=match):
        load_fashion_mnist()


def test_fashion_mnist_missing_file(tmp_path):
    fake_fashion(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte.*dataset-fashion-mnist"):
        load_fashion_mnist(tmp_path)


def test_fashion_mnist_inconsistent_files(tmp_path):
    fake_fashion(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(3, np.uint8), gz=True)
    with pytest.raises(ValueError, match="expected 40 labels"):
        load_fashion_mnist(tmp_path)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_queries_per_class": 6}, "class 0 has 6 samples"),
        ({"n_queries_per_class": 0}, "n_queries_per_class"),
        ({"n_queries_per_class": 2, "n_train": 41}, "n_train=41 is larger than the database"),
        ({"n_queries_per_class": 2, "n_train": 0}, "n_train"),
    ],
)
def test_fashion_mnist_bad_sizes(tmp_path, kwargs, match):
    fake_fashion(tmp_path)
    with pytest.raises(ValueError, match=match):
        load_fashion_mnist(tmp_path, **kwargs)


@pytest.mark.skipif(
    not (datasets.FASHION_MNIST_ROOT / "train-images-idx3-ubyte.gz").exists()
    and not (datasets.FASHION_MNIST_ROOT / "train-images-idx3-ubyte").exists(),
    reason="Debian package dataset-fashion-mnist not installed",
)
def test_fashion_mnist_installed():
    data = load_fashion_mnist()
    check_split(data, 70000)
    assert data.X_query.shape == (1000, 784)
    assert data.X_db.shape == (69000, 784)
    assert data.X_train.shape == (10000, 784)
    np.testing.assert_array_equal(np.bincount(data.y_query), [100] * 10)
    assert data.X_db.max() == 1.0 and data.X_db.min() == 0.0


# --------------------------------------------------------------------------- #
# CIFAR-10 python batches
# --------------------------------------------------------------------------- #


def fake_cifar(root, *, per_batch=20, bytes_keys=True):
    """Six batches of random 32x32 colour images, labels cycling over 10 classes."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(0)
    all_data, all_labels = [], []
    for name in datasets.CIFAR10_FILES:
        data = rng.randint(0, 256, (per_batch, 3072)).astype(np.uint8)
        labels = [int(i % 10) for i in range(per_batch)]
        key = (lambda k: k.encode()) if bytes_keys else (lambda k: k)
        batch = {key("batch_label"): key(name), key("data"): data, key("labels"): labels}
        with open(root / name, "wb") as f:
            pickle.dump(batch, f, protocol=2)
        all_data.append(data)
        all_labels += labels
    return np.concatenate(all_data), np.array(all_labels)


@pytest.mark.parametrize("bytes_keys", [True, False])
def test_cifar10_fake_batches(tmp_path, bytes_keys):
    pixels, labels = fake_cifar(tmp_path, bytes_keys=bytes_keys)  # 120, 12 per class
    data = load_cifar10(tmp_path, n_queries_per_class=2, n_train=30)
    check_split(data, 120)
    assert len(data.query_idx) + len(data.db_idx) == 120
    assert data.X_query.shape == (20, 3072) and data.X_db.shape == (100, 3072)
    assert data.X_train.shape == (30, 3072) and data.image_shape == (3, 32, 32)
    np.testing.assert_array_equal(np.bincount(data.y_query), [2] * 10)
    np.testing.assert_allclose(data.X_query, pixels[data.query_idx] / 255, rtol=1e-6)
    np.testing.assert_array_equal(data.y_db, labels[data.db_idx])
    images = load_cifar10(tmp_path, n_queries_per_class=2, n_train=30, as_images=True)
    assert same_split(data, images)
    assert images.X_query.shape == (20, 3, 32, 32)
    # Channel-major rows: the first 1024 values are the red plane.
    red = images.X_query[:, 0].reshape(20, -1)
    np.testing.assert_allclose(red, pixels[data.query_idx, :1024] / 255, rtol=1e-6)


def test_cifar10_nested_folder_and_stability(tmp_path):
    fake_cifar(tmp_path / "cifar-10-batches-py")
    a = load_cifar10(tmp_path, n_queries_per_class=1, n_train=None)
    b = load_cifar10(tmp_path / "cifar-10-batches-py", n_queries_per_class=1, n_train=None)
    assert same_split(a, b)
    other = load_cifar10(tmp_path, n_queries_per_class=1, n_train=None, random_state=1)
    assert not same_split(a, other)


def test_cifar10_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a folder"):
        load_cifar10(tmp_path / "nowhere")
    fake_cifar(tmp_path)
    (tmp_path / "data_batch_3").unlink()
    (tmp_path / "test_batch").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_3, test_batch"):
        load_cifar10(tmp_path)


def python2_batch(data, labels):
    """A batch pickled the way the official files are: Python 2 str for bytes,
    numpy 1's ``numpy.core.multiarray._reconstruct``, protocol 2."""

    def string(b):  # BINSTRING: a Python 2 str
        return b"T" + struct.pack("<i", len(b)) + b

    def int_(i):  # BININT
        return b"J" + struct.pack("<i", i)

    out = b"\x80\x02}(" + string(b"data")
    out += b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n"
    out += int_(0) + b"\x85" + string(b"b") + b"\x87R"
    out += b"(" + int_(1) + int_(data.shape[0]) + int_(data.shape[1]) + b"\x86"
    out += b"cnumpy\ndtype\n" + string(b"u1") + int_(0) + int_(1) + b"\x87R"
    out += b"(" + int_(3) + string(b"|") + b"NNN" + int_(-1) + int_(-1) + int_(0) + b"tb"
    out += b"\x89" + string(data.tobytes()) + b"tb"
    out += string(b"labels") + b"](" + b"".join(int_(int(v)) for v in labels) + b"e"
    return out + b"u."


def test_cifar10_python2_pickles(tmp_path):
    # The official archive's format; numpy 2 must load it without warnings.
    rng = np.random.RandomState(0)
    pixels = rng.randint(0, 256, (60, 3072)).astype(np.uint8)
    labels = np.arange(60) % 10
    for i, name in enumerate(datasets.CIFAR10_FILES):
        rows = slice(10 * i, 10 * i + 10)
        (tmp_path / name).write_bytes(python2_batch(pixels[rows], labels[rows]))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = load_cifar10(tmp_path, n_queries_per_class=1, n_train=None, as_images=True)
    assert data.X_db.shape == (50, 3, 32, 32)
    flat = data.X_query.reshape(10, -1)
    np.testing.assert_allclose(flat, pixels[data.query_idx] / 255, rtol=1e-6)
    np.testing.assert_array_equal(data.y_query, labels[data.query_idx])


class _Sneaky:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_cifar10_refuses_foreign_pickles(tmp_path, capsys):
    fake_cifar(tmp_path)
    with open(tmp_path / "data_batch_2", "wb") as f:
        pickle.dump({"data": _Sneaky(), "labels": []}, f)
    with pytest.raises(ValueError, match="data_batch_2.*refusing to load global builtins.print"):
        load_cifar10(tmp_path)
    assert "must never run" not in capsys.readouterr().out


def test_cifar10_malformed_batch(tmp_path):
    fake_cifar(tmp_path)
    with open(tmp_path / "test_batch", "wb") as f:
        pickle.dump({"data": np.zeros((3, 100), np.uint8), "labels": [0, 1, 2]}, f)
    with pytest.raises(ValueError, match=r"test_batch: 'data' must be uint8 of shape \(n, 3072\)"):
        load_cifar10(tmp_path)
    with open(tmp_path / "test_batch", "wb") as f:
        pickle.dump({"images": 1}, f)
    with pytest.raises(ValueError, match="lack 'data' and 'labels'"):
        load_cifar10(tmp_path)


# --------------------------------------------------------------------------- #
# NUS-WIDE / MIRFlickr feature files
# --------------------------------------------------------------------------- #


def fake_features(root, *, n=80, d=7, n_labels=5, fmt="npy", n_unlabeled=10):
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(0)
    X = rng.standard_normal((n, d))
    Y = (rng.rand(n, n_labels) < 0.4).astype(np.uint8)
    Y[Y.sum(axis=1) == 0, 0] = 1
    Y[rng.choice(n, n_unlabeled, replace=False)] = 0
    if fmt == "npy":
        np.save(root / "features.npy", X)
        np.save(root / "labels.npy", Y)
    else:
        np.savetxt(root / "features.txt", X)
        np.savetxt(root / "labels.txt", Y, fmt="%d")
    return X, Y


@pytest.mark.parametrize("loader", [load_nus_wide, load_mirflickr])
@pytest.mark.parametrize("fmt", ["npy", "txt"])
def test_feature_loaders(tmp_path, loader, fmt):
    X, Y = fake_features(tmp_path, fmt=fmt)
    data = loader(tmp_path, n_queries=15, n_train=20)
    check_split(data, 80)
    labeled = np.flatnonzero(Y.any(axis=1))
    assert len(data.query_idx) + len(data.db_idx) == len(labeled) == 70
    assert np.all(np.isin(data.query_idx, labeled)) and np.all(np.isin(data.db_idx, labeled))
    assert data.X_query.shape == (15, 7) and data.y_query.shape == (15, 5)
    assert data.X_train.shape == (20, 7) and data.y_db.dtype == np.uint8
    # Row numbers index the files' rows.
    np.testing.assert_allclose(data.X_db, X[data.db_idx].astype(np.float32))
    np.testing.assert_array_equal(data.y_train, Y[data.train_idx])
    assert same_split(data, loader(tmp_path, n_queries=15, n_train=20))


@pytest.mark.parametrize("loader", [load_nus_wide, load_mirflickr])
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_queries": 0}, "'n_queries' parameter of load_.* must be an int in the range"),
        ({"n_train": 0}, "'n_train' parameter of load_.* must be an int .* or None"),
        ({"n_train": False}, "'n_train' parameter"),
    ],
)
def test_feature_loaders_bad_counts(tmp_path, loader, kwargs, match):
    fake_features(tmp_path)
    with pytest.raises(ValueError, match=match):
        loader(tmp_path, **kwargs)


def test_feature_loaders_have_their_own_docs():
    # Each loader documents its own defaults (no docstring glued from a template).
    assert "default=2100" in load_nus_wide.__doc__ and "default=10500" in load_nus_wide.__doc__
    assert "default=2000" in load_mirflickr.__doc__ and "default=10000" in load_mirflickr.__doc__
    assert load_mirflickr.__doc__.startswith("MIRFlickr-25K")


def test_feature_loader_keeps_unlabeled_on_request(tmp_path):
    fake_features(tmp_path)
    data = load_nus_wide(tmp_path, n_queries=15, n_train=None, drop_unlabeled=False)
    assert len(data.query_idx) + len(data.db_idx) == 80
    assert np.array_equal(data.train_idx, data.db_idx)


def test_feature_loader_npy_wins_over_txt(tmp_path):
    X, _ = fake_features(tmp_path, fmt="npy")
    np.savetxt(tmp_path / "features.txt", X + 1)
    data = load_mirflickr(tmp_path, n_queries=5, n_train=5)
    np.testing.assert_allclose(data.X_query, X[data.query_idx].astype(np.float32))


def test_feature_loader_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a folder"):
        load_nus_wide(tmp_path / "nowhere")
    np.save(tmp_path / "features.npy", np.zeros((4, 2)))
    with pytest.raises(FileNotFoundError, match="labels.npy.*labels.txt"):
        load_nus_wide(tmp_path)
    np.save(tmp_path / "labels.npy", np.zeros((3, 2)))
    with pytest.raises(ValueError, match="n_samples=4"):
        load_nus_wide(tmp_path)
    np.save(tmp_path / "labels.npy", np.full((4, 2), 2))
    with pytest.raises(ValueError, match="0/1"):
        load_nus_wide(tmp_path)
    np.save(tmp_path / "labels.npy", np.zeros((4, 2)))
    with pytest.raises(ValueError, match="no sample has a label"):
        load_nus_wide(tmp_path)
    np.save(tmp_path / "labels.npy", np.eye(4, 2))
    with pytest.raises(ValueError, match="n_queries=2100 leaves no database"):
        load_nus_wide(tmp_path)
    np.save(tmp_path / "features.npy", np.array([[0.0, np.nan]] * 4))
    with pytest.raises(ValueError, match="NaN"):
        load_mirflickr(tmp_path, n_queries=1)
    np.save(tmp_path / "features.npy", np.array([{"a": 1}] * 4, dtype=object))
    with pytest.raises(ValueError, match="not a plain numeric .npy"):
        load_mirflickr(tmp_path, n_queries=1)


def test_sample_photo_crops_are_labelled_by_photo():
    crops = load_sample_photo_crops(n_crops_per_photo=3, size=24, random_state=1)
    assert isinstance(crops, Bunch) and sorted(crops) == ["DESCR", "images", "target", "target_names"]
    images, photo, names = crops.images, crops.target, crops.target_names
    assert images.shape == (3 * len(names), 3, 24, 24) and images.dtype == np.float32
    assert photo.dtype == np.int64
    np.testing.assert_array_equal(photo, np.repeat(np.arange(len(names)), 3))
    assert names[:2] == ["china", "flower"] and "3 random crops" in crops.DESCR
    again = load_sample_photo_crops(n_crops_per_photo=3, size=24, random_state=1)
    np.testing.assert_array_equal(images, again.images)
    # ImageNet-normalised: roughly centred, not [0, 1] pixels.
    assert images.min() < -0.5 and images.max() > 1.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_crops_per_photo": 0}, "'n_crops_per_photo' parameter of load_sample_photo_crops"),
        ({"size": True}, "'size' parameter of load_sample_photo_crops must be an int"),
        ({"size": 2.5}, "'size' parameter"),
    ],
)
def test_sample_photo_crops_bad_counts(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_sample_photo_crops(**kwargs)


def test_validation_split_never_touches_the_queries():
    data = load_digits_split()
    val = validation_split(data)
    # The training set was the database: queries come from it, and leave it.
    assert val.X_query.shape == (300, 64) and val.X_db.shape == (1197, 64) and val.X_train is val.X_db
    assert not np.isin(val.query_idx, data.query_idx).any() and not np.isin(val.db_idx, data.query_idx).any()
    assert np.array_equal(np.sort(np.concatenate([val.query_idx, val.db_idx])), data.db_idx)
    np.testing.assert_array_equal(val.train_idx, val.db_idx)
    np.testing.assert_array_equal(val.X_query, data.X_db[np.searchsorted(data.db_idx, val.query_idx)])
    assert same_split(val, validation_split(data)) and not same_split(val, validation_split(data, random_state=1))


def test_validation_split_of_a_training_subset_mirrors_the_protocol(tmp_path):
    fake_fashion(tmp_path)  # 60 samples
    data = load_fashion_mnist(tmp_path, n_queries_per_class=2, n_train=10)
    val = validation_split(data, n_queries=5)
    # Queries from the database outside the training set; the training set stays whole.
    assert not np.isin(val.query_idx, data.train_idx).any()
    np.testing.assert_array_equal(val.train_idx, data.train_idx)
    np.testing.assert_array_equal(val.X_train, data.X_train)
    assert len(val.db_idx) == 35 and np.isin(data.train_idx, val.db_idx).all()
    with pytest.raises(ValueError, match="n_queries=30 is too many"):
        validation_split(data, n_queries=30)
    with pytest.raises(ValueError, match="'n_queries' parameter of validation_split"):
        validation_split(data, n_queries=0)
    with pytest.raises(ValueError, match="'data' parameter of validation_split"):
        validation_split(data.X_db)


# --------------------------------------------------------------------------- #
# random_state: what sklearn's check_random_state takes, validated
# --------------------------------------------------------------------------- #

#: Every split loader: the fake files it reads (None: none) and a call at a
#: size those files fit, given its random_state.
SPLIT_LOADERS = {
    "digits": (None, lambda root, seed: load_digits_split(random_state=seed)),
    "fashion-mnist": (
        fake_fashion,
        lambda root, seed: load_fashion_mnist(root, n_queries_per_class=2, n_train=10, random_state=seed),
    ),
    "cifar10": (
        fake_cifar,
        lambda root, seed: load_cifar10(root, n_queries_per_class=2, n_train=30, random_state=seed),
    ),
    "nus-wide": (fake_features, lambda root, seed: load_nus_wide(root, n_queries=15, n_train=20, random_state=seed)),
    "mirflickr": (fake_features, lambda root, seed: load_mirflickr(root, n_queries=15, n_train=20, random_state=seed)),
}


@pytest.mark.parametrize("name", SPLIT_LOADERS)
def test_a_random_state_instance_draws_the_split_of_its_seed(tmp_path, name):
    # RandomState(seed) of a RandomState instance was numpy's "Cannot cast
    # scalar from dtype('O')"; check_random_state draws from the instance.
    write, call = SPLIT_LOADERS[name]
    if write is not None:
        write(tmp_path)
    seeded, given = call(tmp_path, 3), call(tmp_path, np.random.RandomState(3))
    assert same_split(seeded, given)
    for field in FIELDS:
        np.testing.assert_array_equal(seeded[field], given[field])
    assert seeded.DESCR.endswith("; RandomState(3).")
    assert given.DESCR.endswith("; a RandomState instance.")


def test_a_random_state_instance_is_advanced_by_each_split():
    rng = np.random.RandomState(0)
    first, second = load_digits_split(random_state=rng), load_digits_split(random_state=rng)
    assert same_split(first, load_digits_split(random_state=0)) and not same_split(first, second)


def test_random_state_none_draws_from_numpys_global_random_state():
    state = np.random.get_state()
    try:
        np.random.seed(3)
        data = load_digits_split(random_state=None)
        val = validation_split(data, random_state=None)
    finally:
        np.random.set_state(state)
    assert same_split(data, load_digits_split(random_state=3))
    assert data.DESCR.endswith("; numpy's global RandomState.")
    assert "with numpy's global RandomState," in val.DESCR


def test_validation_split_takes_a_random_state_instance():
    data = load_digits_split()
    seeded = validation_split(data, random_state=0)
    given = validation_split(data, random_state=np.random.RandomState(0))
    assert same_split(seeded, given)
    np.testing.assert_array_equal(seeded.X_query, given.X_query)
    assert "queries drawn from its database with RandomState(0)," in seeded.DESCR
    assert "queries drawn from its database with a RandomState instance," in given.DESCR


def test_sample_photo_crops_take_a_random_state_instance():
    seeded = load_sample_photo_crops(n_crops_per_photo=2, size=16, random_state=1)
    given = load_sample_photo_crops(n_crops_per_photo=2, size=16, random_state=np.random.RandomState(1))
    np.testing.assert_array_equal(seeded.images, given.images)
    assert seeded.DESCR.endswith("RandomState(1).") and given.DESCR.endswith("a RandomState instance.")


@pytest.mark.skipif(
    not (datasets.FASHION_MNIST_ROOT / "train-images-idx3-ubyte.gz").exists()
    and not (datasets.FASHION_MNIST_ROOT / "train-images-idx3-ubyte").exists(),
    reason="Debian package dataset-fashion-mnist not installed",
)
def test_fashion_mnist_installed_takes_a_random_state_instance():
    seeded = load_fashion_mnist(random_state=0)
    assert same_split(seeded, load_fashion_mnist(random_state=np.random.RandomState(0)))


@pytest.mark.parametrize("random_state", [True, False, "0", 0.5, -1, 2**32], ids=repr)
@pytest.mark.parametrize(
    "loader, args",
    [
        pytest.param(loader, args, id=loader.__name__)
        for loader, args in [
            (load_digits_split, ()),
            (load_fashion_mnist, ("nowhere",)),
            (load_cifar10, ("nowhere",)),
            (load_nus_wide, ("nowhere",)),
            (load_mirflickr, ("nowhere",)),
            (load_sample_photo_crops, ()),
            (validation_split, (Bunch(),)),
        ]
    ],
)
def test_random_state_is_validated(loader, args, random_state):
    # A bool is no seed: sklearn's own "random_state" constraint takes True
    # as 1, the loaders refuse it, before reading any file.
    match = (
        rf"'random_state' parameter of {loader.__name__} must be an int in the range "
        r"\[0, 4294967295\] \(not a bool\), an instance of 'numpy.random.mtrand.RandomState' or None"
    )
    with pytest.raises(InvalidParameterError, match=match):
        loader(*args, random_state=random_state)


# --------------------------------------------------------------------------- #
# The named data sets: datasets.load
# --------------------------------------------------------------------------- #


def test_load_digits_is_the_digits_split():
    assert DATASETS == ("digits", "fashion-mnist", "fashion-mnist-lite0", "photos-lite0")
    data, direct = load("digits"), load_digits_split()
    assert data.name == "digits" and same_split(data, direct)
    for field in FIELDS:
        np.testing.assert_array_equal(data[field], direct[field])


def test_load_reads_fashion_mnist_from_root(tmp_path):
    # The registry's default split (100 queries per class) needs more than the
    # 6 images per class of the fake files: the error shows they were read.
    fake_fashion(tmp_path)
    with pytest.raises(ValueError, match="class 0 has 6 samples"):
        load("fashion-mnist", root=tmp_path)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load("fashion-mnist-lite0", root=tmp_path / "nowhere")


@pytest.mark.parametrize(
    "name, kwargs, match",
    [
        ("cifar10", {}, "'name' parameter of load must be a str among"),
        ("digits", {"root": "/tmp"}, "root is for the fashion-mnist data sets.*'digits'"),
        ("photos-lite0", {"root": "/tmp"}, "root is for the fashion-mnist data sets"),
    ],
)
def test_load_errors(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        load(name, **kwargs)


def test_fashion_mnist_through_lite0_keeps_the_split(monkeypatch):
    pytest.importorskip("efficientnet_lite_pytorch", reason="needs the 'pretrained' extra")
    grey = load_digits_split(n_queries=20, as_images=True)  # a small stand-in, 1 x 8 x 8
    monkeypatch.setattr(_registry, "load_fashion_mnist", lambda root=None, as_images=False: grey)
    data = load("fashion-mnist-lite0", device="cpu")
    assert data.X_query.shape == (20, 1280) and data.X_db.shape == (1777, 1280)
    assert data.name == "fashion-mnist-lite0" and data.image_shape is None
    np.testing.assert_array_equal(data.train_idx, grey.train_idx)
    np.testing.assert_array_equal(data.X_train, data.X_db[np.searchsorted(data.db_idx, data.train_idx)])
    # A row's features depend on its image only, not on the other rows of its
    # batch, to the bit: blocks of one shape (on one thread, convolutions of 3
    # and of 20 images rounded differently, by up to 1e-5).
    part = Bunch(**{**grey, "X_query": grey.X_query[:3], "X_db": grey.X_db[:5],
                    "db_idx": grey.db_idx[:5], "train_idx": grey.db_idx[:5]})
    monkeypatch.setattr(_registry, "load_fashion_mnist", lambda root=None, as_images=False: part)
    few = load("fashion-mnist-lite0", device="cpu")
    np.testing.assert_array_equal(few.X_query, data.X_query[:3])
    np.testing.assert_array_equal(few.X_db, data.X_db[:5])
