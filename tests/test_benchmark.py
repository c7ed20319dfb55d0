"""The main job, ``python -m skdistillhash``, at a small size."""

import csv
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.utils import Bunch

from skdistillhash import DistillHash, PairDistiller, benchmark, datasets, mean_average_precision


def test_main_job_prints_a_table_and_writes_a_plot(tmp_path, capsys):
    png = tmp_path / "out" / "map.png"
    # Every method of the default set, and the features' own cosine ranking.
    assert list(benchmark.DEFAULT_METHODS) == ["lsh", "itq", "bihalf", "greedyhash", "distillhash"]
    argv = ["--bits", "8", "16", "--output", str(png)]
    assert benchmark.main(argv) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("method"))
    # The digits' database has 1,497 rows: MAP@1000 is reported too.
    assert header.split() == ["method", "bits", "MAP@all", "MAP@1000", "P@r<=2", "fit", "s"]
    rows = [line for line in lines if line.startswith(("LSH", "ITQ", "BiHalf", "GreedyHash", "DistillHash"))]
    assert len(rows) == 10
    for row in rows:
        map_all, map_at_1000 = map(float, row.split()[-4:-2])
        assert 0.1 < map_all <= 1.0 and 0.1 < map_at_1000 <= 1.0
    reference = benchmark.cosine_reference(datasets.load("digits"), True)
    line = next(line for line in lines if line.startswith(benchmark.COSINE_LABEL))
    assert line.split()[-5:] == ["-", f"{reference.map_all:.3f}", f"{reference.map_at_1000:.3f}", "-", "-"]
    assert png.stat().st_size > 10_000 and f"plot written to {png}" in out
    assert "[10/10]" in err  # progress lines
    table = png.with_suffix(".csv")
    rows = read_csv(table)
    assert f"results written to {table}" in out and len(rows) == 11
    assert rows[-1]["method"] == "cosine" and rows[-1]["n_bits"] == ""


def test_cosine_reference_against_a_plain_ranking():
    # The reference row is MAP@k of the database sorted by cosine similarity.
    rng = np.random.default_rng(0)
    X_db, X_query = rng.normal(size=(60, 5)), rng.normal(size=(7, 5))
    y_db, y_query = rng.integers(0, 3, 60), rng.integers(0, 3, 7)
    data = Bunch(X_db=X_db, X_query=X_query, y_db=y_db, y_query=y_query)
    ref = benchmark.cosine_reference(data, True)
    aps = []
    for q, yq in zip(X_query, y_query):
        sim = X_db @ q / np.linalg.norm(X_db, axis=1) / np.linalg.norm(q)
        rel = y_db[np.argsort(-sim, kind="stable")] == yq
        hits = np.cumsum(rel)
        aps.append((hits[rel] / (np.flatnonzero(rel) + 1)).mean() if rel.any() else 0.0)
    assert ref.map_all == pytest.approx(np.mean(aps), abs=1e-12)
    assert ref.map_at_1000 == pytest.approx(ref.map_all, abs=1e-12)  # 60 rows < 1000


def test_table_reports_mean_and_std_over_seeds():
    results = benchmark.run("digits", bits=[8], methods=["lsh"], seeds=[0, 1], progress=False)
    table = benchmark.format_table(results)
    assert "±" in table.splitlines()[2]
    assert results[0].map_all != results[1].map_all


def _database_by_label(data: Bunch, order: str) -> Bunch:
    """``data`` with its database sorted by label ("sorted") or shuffled."""
    if order == "sorted":
        rank = np.argsort(data.y_db, kind="stable")
    else:
        rank = np.random.RandomState(0).permutation(len(data.y_db))
    return Bunch(**{**data, "X_db": data.X_db[rank], "y_db": data.y_db[rank]})


def test_tie_averaged_map_does_not_depend_on_the_database_order():
    # 4-bit codes of 1,497 rows: every distance is a large tie group, so
    # ranking ties by index rewards a database sorted by label.
    data = datasets.load("digits")
    scores = {
        (ties, order): benchmark.run(
            bits=[4], methods=["lsh"], seeds=[0], progress=False, data=_database_by_label(data, order), ties=ties
        )[0]
        for ties in ("index", "average")
        for order in ("sorted", "shuffled")
    }
    sorted_, shuffled = scores["average", "sorted"], scores["average", "shuffled"]
    assert sorted_.map_all == pytest.approx(shuffled.map_all, abs=1e-12)
    assert sorted_.map_at_1000 == pytest.approx(shuffled.map_at_1000, abs=1e-12)
    assert abs(scores["index", "sorted"].map_all - scores["index", "shuffled"].map_all) > 0.01


def test_main_job_says_its_tie_policy(tmp_path, capsys):
    # The main job offers exactly the policies of mean_average_precision.
    codes = np.zeros((1, 1), np.uint8), np.zeros((2, 1), np.uint8), [0], [0, 1]
    with pytest.raises(ValueError, match="ties"):
        mean_average_precision(*codes, ties="first")
    for ties in benchmark.TIES:
        mean_average_precision(*codes, ties=ties)
    argv = ["--methods", "lsh", "--bits", "4", "--quiet", "--ties", "average", "--output", str(tmp_path)]
    assert benchmark.main(argv) == 0
    out = capsys.readouterr().out
    assert f"MAP {benchmark.TIES['average']}" in out
    expected = benchmark.run(bits=[4], methods=["lsh"], seeds=[0], progress=False, ties="average")[0]
    (row, _) = read_csv(tmp_path / "map_vs_bits.csv")
    assert float(row["map_all"]) == pytest.approx(expected.map_all, abs=1e-12)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA error")
def test_cuda_without_cuda_is_a_one_line_error(capsys):
    assert benchmark.main(["--device", "cuda", "--methods", "lsh"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "CUDA is not available" in err[0]


def test_missing_dataset_is_a_one_line_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(datasets._fashion_mnist, "FASHION_MNIST_ROOT", tmp_path / "nowhere")
    assert benchmark.main(["--dataset", "fashion-mnist", "--methods", "lsh"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "dataset-fashion-mnist" in err[0] and "--data-root DIR" in err[0]


# Small and fast: the two baselines at 8 bits on digits.
FAST = ["--methods", "lsh", "itq", "--bits", "8", "--quiet"]


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    return err[0]


@pytest.fixture
def no_fit(monkeypatch):
    """Fail the test if the main job starts a fit."""

    def refuse(*args, **kwargs):
        pytest.fail("a fit started")

    monkeypatch.setattr(benchmark, "make_hasher", refuse)


def test_data_root_reaches_the_loader(monkeypatch, tmp_path, capsys):
    roots = []

    def fake_fashion_mnist(root=None):
        roots.append(root)
        return datasets.load_digits_split()

    monkeypatch.setattr(datasets._registry, "load_fashion_mnist", fake_fashion_mnist)
    argv = ["--dataset", "fashion-mnist", "--data-root", str(tmp_path), "--output", str(tmp_path)]
    assert benchmark.main(argv + FAST) == 0
    assert roots == [str(tmp_path)]
    # Fashion-MNIST's protocol adds MAP@1000, to the table and to the CSV.
    assert "MAP@1000" in capsys.readouterr().out
    assert "map_at_1000" in read_csv(tmp_path / "map_vs_bits.csv")[0]


def test_data_root_is_for_fashion_mnist(tmp_path, capsys, no_fit):
    assert benchmark.main(["--data-root", str(tmp_path), *FAST]) == 2
    assert "--data-root" in one_line_error(capsys)


def test_output_folder_gets_the_plot_inside(tmp_path, capsys):
    assert benchmark.main([*FAST, "--output", str(tmp_path)]) == 0
    png = tmp_path / "map_vs_bits.png"
    assert png.stat().st_size > 10_000 and f"plot written to {png}\n" in capsys.readouterr().out
    assert (tmp_path / "map_vs_bits.csv").is_file()


def test_output_without_extension_gets_png(tmp_path, capsys):
    assert benchmark.main([*FAST, "--output", str(tmp_path / "run")]) == 0
    png = tmp_path / "run.png"
    assert png.is_file() and f"plot written to {png}\n" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.csv", "run.png"]


@pytest.mark.parametrize(
    "output, match",
    [
        ("", "--output must name a file or a folder"),
        ("plot.xyz", "cannot write '.xyz' files"),
        ("a-file/plot.png", "cannot write the results to .*plot.csv"),
        ("run", "cannot write the plot to run.png: a folder"),  # run.png is a folder
    ],
    ids=["empty", "unsupported-extension", "parent-is-a-file", "plot-is-a-folder"],
)
def test_bad_output_is_refused_before_any_fit(tmp_path, monkeypatch, capsys, no_fit, output, match):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "run.png").mkdir()
    assert benchmark.main([*FAST, "--output", output]) == 2
    assert re.search(match, one_line_error(capsys))


def test_itq_longer_than_the_features_is_refused_before_any_fit(tmp_path, capsys, no_fit):
    # digits have 64 features: ITQ codes live in at most 64 principal directions.
    argv = ["--methods", "lsh", "itq", "--bits", "8", "100", "--output", str(tmp_path)]
    assert benchmark.main(argv) == 2
    err = one_line_error(capsys)
    assert "--bits 100" in err and "itq" in err and "64" in err
    assert list(tmp_path.iterdir()) == []


def test_repeated_bits_and_methods_are_fitted_once(tmp_path, capsys):
    argv = ["--methods", "lsh", "itq", "lsh", "--bits", "8", "8", "--quiet", "--output", str(tmp_path)]
    assert benchmark.main(argv) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith(("LSH", "ITQ"))]
    assert len(rows) == 2 and "±" not in out  # one seed: no spread to show
    assert [(r["method"], r["n_bits"]) for r in read_csv(tmp_path / "map_vs_bits.csv")] == [
        ("lsh", "8"),
        ("itq", "8"),
        ("cosine", ""),  # the reference row, once
    ]


def test_csv_keeps_the_rows_finished_before_a_failure(monkeypatch, tmp_path, capsys):
    make_hasher, made = benchmark.make_hasher, []

    class BrokenHasher:
        def fit(self, X):
            raise ValueError("the third fit fails")

    def third_fails(*args, **kwargs):
        made.append(args)
        return BrokenHasher() if len(made) == 3 else make_hasher(*args, **kwargs)

    monkeypatch.setattr(benchmark, "make_hasher", third_fails)
    argv = ["--methods", "lsh", "itq", "--bits", "8", "4", "--quiet", "--output", str(tmp_path)]
    assert benchmark.main(argv) == 1
    table = tmp_path / "map_vs_bits.csv"
    err = one_line_error(capsys)
    assert "the third fit fails" in err and str(table) in err
    rows = read_csv(table)
    assert list(rows[0]) == ["method", "n_bits", "seed", "map_all", "map_at_1000", "precision_r2", "fit_seconds"]
    assert [(r["method"], r["n_bits"], r["seed"]) for r in rows] == [("lsh", "8", "0"), ("lsh", "4", "0")]
    assert all(0 < float(r["map_all"]) <= 1 and float(r["fit_seconds"]) >= 0 for r in rows)


def test_module_entry_point_help():
    out = subprocess.run(
        [sys.executable, "-m", "skdistillhash", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for option in ("--dataset", "--bits", "--methods", "--device", "--seeds", "--output"):
        assert option in out


def test_distillhash_runs_its_defaults():
    # The main job tunes nothing: the same settings on every data set.
    hasher = benchmark.make_hasher("distillhash", 32, 0, "cpu")
    assert hasher.get_params(deep=False) == {
        **DistillHash().get_params(deep=False), "n_bits": 32, "distiller": hasher.distiller,
        "device": "cpu", "random_state": 0,
    }
    assert benchmark.make_hasher("ssdh", 16, 0, "cpu").distiller.strategy == "ssdh"


def test_photo_crops_through_lite0_fit_every_method_on_the_same_features(tmp_path, capsys):
    pytest.importorskip("efficientnet_lite_pytorch", reason="needs the 'pretrained' extra")
    data = datasets.load("photos-lite0", device="cpu")
    assert data.X_db.shape[1] == 1280 and data.X_train is data.X_db
    n_photos = len(data.target_names)
    assert len(data.y_query) == datasets.PHOTO_QUERIES * n_photos
    assert len(data.y_db) == (datasets.PHOTO_CROPS - datasets.PHOTO_QUERIES) * n_photos
    argv = ["--dataset", "photos-lite0", "--methods", "itq", "--bits", "8", "--quiet", "--output", str(tmp_path)]
    assert benchmark.main(argv) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("ITQ"))
    assert float(row.split()[2]) > 0.5  # pretrained features separate the photos


# -- the anchors of distilled pairs -------------------------------------------


@pytest.fixture(scope="module")
def distilled_digits():
    X, y = load_digits(return_X_y=True)
    X, y = X[:200], y[:200]
    return PairDistiller(device="cpu", random_state=0).fit(X), y


def test_knn_pair_anchor_is_the_knn_graph_with_the_closest_pair_count(distilled_digits):
    distiller, y = distilled_digits
    n = len(y)
    k, pairs_per_sample, precision = benchmark.knn_pair_anchor(distiller, y)
    target = (distiller.graph_ > 0).sum() / 2
    # The unordered pairs of each symmetrized kNN graph, as plain sets.
    graphs = [
        {frozenset((i, int(j))) for i in range(n) for j in distiller.neighbors_[i, :kk]}
        for kk in range(1, distiller.neighbors_.shape[1] + 1)
    ]
    gaps = [abs(len(g) - target) for g in graphs]
    assert k == 1 + int(np.argmin(gaps))
    pairs = graphs[k - 1]
    assert pairs_per_sample == len(pairs) / n
    assert precision == pytest.approx(np.mean([y[min(p)] == y[max(p)] for p in pairs]))


def test_knn_pair_anchor_errors(distilled_digits):
    distiller, y = distilled_digits
    with pytest.raises(ValueError, match=r"one class label per training sample of the distiller \(200\)"):
        benchmark.knn_pair_anchor(distiller, y[:100])
    with pytest.raises(NotFittedError):
        benchmark.knn_pair_anchor(PairDistiller(), y)


def test_random_pair_anchor():
    y = np.array([0, 0, 0, 1, 2, 2])
    # Two independent uniform draws differ: 1 - (1/2)^2 - (1/6)^2 - (1/3)^2.
    assert benchmark.random_pair_anchor(y) == pytest.approx(1 - 1 / 4 - 1 / 36 - 1 / 9)
    assert benchmark.random_pair_anchor(["b", "a", "b", "a"]) == 0.5
    assert benchmark.random_pair_anchor([3, 3]) == 0.0
    for bad in ([], [[0, 1], [1, 0]]):
        with pytest.raises(ValueError, match="non-empty 1-D array of class labels"):
            benchmark.random_pair_anchor(bad)


def test_map_at_1000_where_the_database_exceeds_1000_rows():
    assert benchmark.reports_map_at_1000(datasets.load("digits"))  # 1,497 rows
    assert not benchmark.reports_map_at_1000(Bunch(y_db=np.zeros(1000)))
    assert benchmark.reports_map_at_1000(Bunch(y_db=np.zeros(1001)))
