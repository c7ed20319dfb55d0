"""The main job, ``python -m skdistillhash``, at a small size."""

import subprocess
import sys

import pytest
import torch

from skdistillhash import benchmark, datasets


def test_main_job_prints_a_table_and_writes_a_plot(tmp_path, capsys):
    png = tmp_path / "out" / "map.png"
    argv = ["--bits", "8", "16", "--methods", "lsh", "itq", "distillhash", "--output", str(png)]
    assert benchmark.main(argv) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("method"))
    assert header.split() == ["method", "bits", "MAP@all", "P@r<=2", "fit", "s"]
    rows = [line for line in lines if line.startswith(("LSH", "ITQ", "DistillHash"))]
    assert len(rows) == 6
    for row in rows:
        map_all = float(row.split()[2])
        assert 0.1 < map_all <= 1.0
    assert png.stat().st_size > 10_000 and f"plot written to {png}" in out
    assert "[6/6]" in err  # progress lines


def test_table_reports_mean_and_std_over_seeds():
    results = benchmark.run("digits", bits=[8], methods=["lsh"], seeds=[0, 1], progress=False)
    table = benchmark.format_table(results)
    assert "±" in table.splitlines()[2]
    assert results[0].map_all != results[1].map_all


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA error")
def test_cuda_without_cuda_is_a_one_line_error(capsys):
    assert benchmark.main(["--device", "cuda", "--methods", "lsh"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "CUDA is not available" in err[0]


def test_missing_dataset_is_a_one_line_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(datasets, "FASHION_MNIST_ROOT", tmp_path / "nowhere")
    assert benchmark.main(["--dataset", "fashion-mnist", "--methods", "lsh"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "dataset-fashion-mnist" in err[0]


def test_module_entry_point_help():
    out = subprocess.run(
        [sys.executable, "-m", "skdistillhash", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for option in ("--dataset", "--bits", "--methods", "--device", "--seeds", "--output"):
        assert option in out


def test_distillhash_gets_the_settings_tuned_for_each_dataset():
    assert benchmark.tuned_params("digits", 32) == {}
    digits = benchmark.make_hasher("distillhash", 32, 0, "cpu", "digits")
    assert digits.get_params()["hidden_layer_sizes"] == (1024,)
    for n_bits in (16, 64):
        fashion = benchmark.make_hasher("ssdh", n_bits, 0, "cpu", "fashion-mnist")
        assert fashion.hidden_layer_sizes == () and fashion.hash_layer_init == "itq"
        assert fashion.alpha * n_bits == 8 and fashion.distiller.strategy == "ssdh"
