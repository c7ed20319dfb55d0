"""Every GPU measurement of the project in one run, with targets, as JSON and markdown.

One script for a device machine (one NVIDIA H200, 16 cores, torch with CUDA,
no faiss, no Fashion-MNIST data): it runs seven items, each in about a minute
or less, in at most 7 minutes together, and writes ``gpu_check.json`` and
``gpu_check.md`` (a table: item, measurement, value, target, pass/fail) to
``OUT_DIR``. The files are rewritten after every item, so a run stopped from
outside still leaves the items it finished.

Usage
-----
On the device machine, from the repository root::

    pip install --no-deps --no-build-isolation -e . && python benchmarks/gpu_check.py /tmp/gpu_out

or, without installing::

    PYTHONPATH=. python benchmarks/gpu_check.py /tmp/gpu_out

Options: ``--device cuda`` (the default; ``cpu`` with ``--smoke``),
``--items 2 4`` to run only some items (the others are listed as skipped),
``--smoke`` for tiny sizes on the CPU: the same code paths in seconds, run by
``tests/test_gpu_check.py`` so that this script cannot rot unnoticed.

Items
-----
1. the tests marked ``cuda``, in a pytest subprocess: all pass;
2. DistillHash (default parameters) on sklearn digits at 16/32/64 bits:
   seconds per fit on the device, MAP@all of the queries against the
   database, device fit against a CPU fit of the same seed: |difference| <= 0.01;
3. ``bench_train``: marginal seconds per epoch of ``DistillHash.fit`` against
   the plain floor loop over the same network: ratio <= 1.15x;
4. ``PairDistiller`` on 1,000,000 x 128 clustered features (k = 20): fit
   seconds, peak GPU memory, agreement of its exact kNN graph with a plain
   blocked matmul + top-k written here (>= 0.99 of the neighbours), and fit
   time over that reference's time: <= 2x;
5. ``HammingNeighbors(backend="torch")``: 1,000,000 64-bit codes, 1,000
   queries, k = 100: seconds, and the same distances and indices as the
   numpy backend (timed too);
6. resnet18 fine-tuned end to end at 224 px: training images per second
   (reported, no target);
7. persistence: a DistillHash fitted on the device, saved with joblib, loaded
   in a process that sees no GPU (``CUDA_VISIBLE_DEVICES=""``): identical
   packed codes.

Exit status: 1 if an item raised (status "error") or, outside ``--smoke``,
missed a target (status "fail"); 0 otherwise. In ``--smoke`` the targets are
computed and reported but not enforced.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import re
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# bench_train and bench_distill live beside this script: reused, not copied.
sys.path.insert(0, str(HERE))
# Appended, not inserted: an installed skdistillhash (pip install -e .) wins,
# and a bare checkout still works without PYTHONPATH.
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

import bench_distill
import bench_train
import joblib
import numpy as np
import torch

import skdistillhash
from skdistillhash import (
    DistillHash,
    HammingNeighbors,
    PairDistiller,
    mean_average_precision,
)
from skdistillhash.datasets import load_digits_split

JSON_NAME = "gpu_check.json"
MD_NAME = "gpu_check.md"


# ------------------------------------------------------------------ sizes


@dataclass(frozen=True)
class Sizes:
    """Everything that differs between a full run and ``--smoke``."""

    pytest_timeout_s: int
    bits: tuple[int, ...]  # item 2
    fit_epochs: int | None  # item 2; None: DistillHash's default
    bench_rows: int | None  # item 3: rows of digits X_train (None: all)
    bench_epochs: int  # item 3: E2 - E1 and the floor's epochs
    bench_repeats: int  # item 3: alternating runs, the minimum counts
    bench_hidden: int  # item 3: hidden width of the floor's network (and ours, matched)
    knn_rows: int  # item 4
    knn_dims: int
    knn_centres: int
    knn_sample: int  # rows whose neighbours are compared
    knn_block: int  # queries per block of the reference
    n_codes: int  # item 5
    n_queries: int
    k: int
    images: int  # item 6
    image_size: int
    image_epochs: int
    persist_epochs: int  # item 7
    persist_rows: int
    worker_timeout_s: int


FULL = Sizes(
    pytest_timeout_s=300,
    bits=(16, 32, 64),
    fit_epochs=None,
    bench_rows=None,
    # Digits is small: an epoch on the GPU is some tens of milliseconds, so the
    # marginal cost needs many epochs to rise above the timer's noise.
    bench_epochs=20,
    bench_repeats=3,
    bench_hidden=1024,  # bench_train's floor default, as in docs/benchmarks.md
    knn_rows=1_000_000,
    knn_dims=128,
    knn_centres=1000,
    knn_sample=10_000,
    knn_block=8192,
    n_codes=1_000_000,
    n_queries=1000,
    k=100,
    images=2048,
    image_size=224,
    image_epochs=2,
    persist_epochs=5,
    persist_rows=50,
    worker_timeout_s=300,
)

SMOKE = Sizes(
    pytest_timeout_s=180,
    bits=(8,),
    fit_epochs=2,
    bench_rows=200,
    bench_epochs=2,
    bench_repeats=1,
    bench_hidden=32,
    knn_rows=3000,
    knn_dims=16,
    knn_centres=30,
    knn_sample=500,
    knn_block=1024,  # several blocks, as at full size
    n_codes=5000,
    n_queries=20,
    k=10,
    images=16,
    image_size=32,
    image_epochs=1,
    persist_epochs=2,
    persist_rows=50,
    worker_timeout_s=180,
)


@dataclass
class Context:
    """What every item gets: the device, the sizes and where files go."""

    device: torch.device
    sizes: Sizes
    out_dir: Path
    smoke: bool


# ----------------------------------------------------------- measurements


@dataclass
class Measurement:
    """One row of the table; ``passed`` is None where there is no target."""

    name: str
    value: Any
    target: str | None = None
    passed: bool | None = None


@dataclass
class Outcome:
    """What an item returns; ``status`` overrides the one its targets give."""

    measurements: list[Measurement]
    status: str | None = None


@dataclass
class ItemResult:
    number: int
    title: str
    status: str
    seconds: float
    measurements: list[dict] = field(default_factory=list)
    error: str | None = None
    traceback: str | None = None


def status_of(outcome: Outcome) -> str:
    if outcome.status is not None:
        return outcome.status
    verdicts = [m.passed for m in outcome.measurements if m.passed is not None]
    if not verdicts:
        return "reported"
    return "pass" if all(verdicts) else "fail"


def at_most(name: str, value: float, limit: float, unit: str = "") -> Measurement:
    return Measurement(name, value, f"<= {limit:g}{unit}", bool(value <= limit))


def at_least(name: str, value: float, limit: float) -> Measurement:
    return Measurement(name, value, f">= {limit:g}", bool(value >= limit))


def equal(name: str, value: bool) -> Measurement:
    return Measurement(name, bool(value), "identical", bool(value))


# ------------------------------------------------------------------ timing


def sync(device: torch.device) -> None:
    """Wait for the device: CUDA kernels run asynchronously, the clock does not."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Timer:
    """``with Timer(device) as t: ...`` then ``t.seconds``; synchronises CUDA at both ends."""

    def __init__(self, device: torch.device):
        self.device = device
        self.seconds = float("nan")

    def __enter__(self) -> Timer:
        sync(self.device)
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        sync(self.device)
        self.seconds = time.perf_counter() - self._start


def progress(message: str) -> None:
    print(f"[gpu_check {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_device_memory(device: torch.device) -> None:
    """Between items: one item's cached blocks must not count against the next."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def warm_up(device: torch.device) -> float:
    """Create the CUDA context and cuBLAS handle once, so no item's first timing pays for them."""
    with Timer(device) as t:
        a = torch.randn(256, 256, device=device)
        (a @ a).sum().item()
    return t.seconds


# ------------------------------------------------------------------- items


def item_cuda_tests(ctx: Context) -> Outcome:
    """1. ``pytest -m cuda`` in a subprocess from the repository root."""
    cmd = [sys.executable, "-m", "pytest", "-m", "cuda", "-q", "-p", "no:cacheprovider", "tests"]
    with Timer(torch.device("cpu")) as t:
        done = subprocess.run(
            cmd, cwd=ROOT, capture_output=True, text=True, timeout=ctx.sizes.pytest_timeout_s, check=False
        )
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    summary = lines[-1].strip("= ") if lines else ""
    counts = dict.fromkeys(("passed", "failed", "skipped", "deselected", "error"), 0)
    for n, word in re.findall(r"(\d+) (passed|failed|skipped|deselected|errors?)\b", summary):
        counts[word.rstrip("s") if word.startswith("error") else word] += int(n)
    rows = [
        Measurement("return code", done.returncode),
        Measurement("summary", summary),
        Measurement("seconds", t.seconds),
    ]
    if done.returncode == 5:  # pytest's "no tests collected"
        rows.append(Measurement("collected", "no test marked cuda was collected"))
    all_passed = done.returncode == 0 and counts["passed"] > 0 and not (
        counts["failed"] or counts["skipped"] or counts["error"]
    )
    verdict = Measurement("passed / failed / skipped / errors",
                          f"{counts['passed']} / {counts['failed']} / {counts['skipped']} / {counts['error']}",
                          "all pass", all_passed)
    rows.append(verdict)
    if done.returncode not in (0, 1, 5):  # 2-4: interrupted, internal or usage error
        raise RuntimeError(f"pytest exited {done.returncode}: {(done.stdout + done.stderr)[-2000:]}")
    if not all_passed and not counts["failed"] and not counts["error"] and not torch.cuda.is_available():
        # No CUDA here (the smoke run): the cuda tests skip themselves, or there
        # are none; that says nothing about them, so no verdict either.
        verdict.passed = None
        return Outcome(rows, status="skipped")
    return Outcome(rows)


def item_digits_fit(ctx: Context) -> Outcome:
    """2. DistillHash on digits: device fit against CPU fit of the same seed."""
    data = load_digits_split()
    params = {} if ctx.sizes.fit_epochs is None else {"epochs": ctx.sizes.fit_epochs}
    rows: list[Measurement] = []
    for n_bits in ctx.sizes.bits:
        scores = {}
        for label, where in (("device", str(ctx.device)), ("cpu", "cpu")):
            est = DistillHash(n_bits=n_bits, device=where, random_state=0, **params)
            with Timer(torch.device(where)) as t:
                est.fit(data.X_train)
            scores[label] = mean_average_precision(
                est.transform(data.X_query), est.transform(data.X_db), data.y_query, data.y_db
            )
            rows.append(Measurement(f"{n_bits} bits: fit seconds ({label}: {where}, {est.n_iter_} epochs)", t.seconds))
            rows.append(Measurement(f"{n_bits} bits: MAP@all ({label})", float(scores[label])))
            progress(f"  digits {n_bits} bits on {where}: {t.seconds:.1f} s, MAP {scores[label]:.4f}")
        rows.append(at_most(f"{n_bits} bits: |MAP device - MAP cpu|", abs(scores["device"] - scores["cpu"]), 0.01))
    return Outcome(rows)


def item_bench_train(ctx: Context) -> Outcome:
    """3. Marginal epoch of DistillHash.fit against bench_train's floor."""
    X = load_digits_split().X_train[: ctx.sizes.bench_rows]
    device = ctx.device
    distiller = PairDistiller(random_state=0, device=str(device)).fit(X)
    epochs, hidden, batch_size = ctx.sizes.bench_epochs, ctx.sizes.bench_hidden, 256
    ours = floor = default_head = float("inf")
    # The floor trains Linear(d, hidden) + ReLU + Linear(hidden, 32) + tanh on
    # batches of batch_size // 2 anchors plus a neighbour each: DistillHash is
    # set to the same network and batches (the losses differ only in
    # constants, which cost nothing). Ours and the floor alternate, each
    # keeping its best run, as bench_train does.
    matched = {"hidden_layer_sizes": (hidden,), "batch_size": batch_size}
    for _ in range(ctx.sizes.bench_repeats):
        ours = min(ours, bench_train.epoch_seconds(X, distiller, device, 1, 1 + epochs, matched))
        floor = min(floor, bench_train.floor_epoch_seconds(
            X, distiller, device, epochs, batch_size=batch_size, hidden=hidden))
    # What users get by default (linear head, batch 128): no floor exists for
    # it in bench_train, so it is reported for information only.
    default_head = bench_train.epoch_seconds(X, distiller, device, 1, 1 + epochs, {})
    progress(f"  epoch {ours:.4f} s, floor {floor:.4f} s")
    return Outcome([
        Measurement(f"data: digits X_train {X.shape[0]} x {X.shape[1]}, {epochs} timed epochs, "
                    f"best of {ctx.sizes.bench_repeats}", f"MLP d-{hidden}-32, batch {batch_size}"),
        Measurement("epoch seconds, DistillHash.fit", ours),
        Measurement("epoch seconds, floor", floor),
        at_most("epoch ratio DistillHash / floor", ours / floor, 1.15, "x"),
        Measurement("epoch seconds, DistillHash defaults (linear head, batch 128)", default_head),
    ])


def reference_knn(X: np.ndarray, k: int, device: torch.device, block: int) -> np.ndarray:
    """The plainest exact cosine kNN: blocked matmul + top-k, self excluded.

    Each block of ``block`` queries is multiplied against all rows at once
    (8192 x 1M floats = 33 GB on an H200: nothing is clever here on purpose).
    The copy to the device and the result's copy back are part of it, as
    they are part of ``PairDistiller.fit``.
    """
    data = torch.nn.functional.normalize(torch.from_numpy(X).to(device), dim=1)
    n = data.shape[0]
    found = torch.empty((n, k), dtype=torch.int64, device=device)
    for start in range(0, n, block):
        stop = min(n, start + block)
        sims = data[start:stop] @ data.T
        rows = torch.arange(stop - start, device=device)
        sims[rows, rows + start] = -float("inf")
        found[start:stop] = sims.topk(k, dim=1).indices
        del sims
    return found.cpu().numpy()


def item_pair_distiller(ctx: Context) -> Outcome:
    """4. PairDistiller at a million rows against a plain kNN reference."""
    s, device, k = ctx.sizes, ctx.device, 20
    X = bench_distill.clustered_features(s.knn_rows, s.knn_dims, s.knn_centres, seed=0)
    # The features as given (no whitening): the reference searches the same ones.
    est = PairDistiller(n_neighbors=k, whiten_components=None, random_state=0, device=str(device), label_cache_bytes=0)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    with Timer(device) as fit:
        est.fit(X)
    peak_fit = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    progress(f"  PairDistiller.fit {fit.seconds:.1f} s")
    free_device_memory(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    with Timer(device) as ref:
        reference = reference_knn(X, k, device, s.knn_block)
    peak_ref = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    progress(f"  reference kNN {ref.seconds:.1f} s")
    sample = np.sort(np.random.default_rng(0).choice(s.knn_rows, size=min(s.knn_sample, s.knn_rows), replace=False))
    ours = est.neighbors_[sample, :k]
    # Sets, not orders: the reference breaks ties as top-k likes, and ours rounds
    # features onto a grid (see skdistillhash.distill), so near-ties may swap.
    agreement = float((ours[:, :, None] == reference[sample][:, None, :]).any(axis=2).mean())
    return Outcome([
        Measurement("data", f"{s.knn_rows} x {s.knn_dims}, {s.knn_centres} centres, k={k}"),
        Measurement("fit seconds", fit.seconds),
        Measurement("peak GPU memory during fit (GiB)", peak_fit),
        Measurement("graph: similar / dissimilar entries", f"{(est.graph_ > 0).nnz} / {(est.graph_ < 0).nnz}"),
        Measurement(f"reference kNN seconds (blocks of {s.knn_block})", ref.seconds),
        Measurement("peak GPU memory of the reference (GiB)", peak_ref),
        at_least(f"neighbours found in the reference's top-{k} ({len(sample)} rows)", agreement, 0.99),
        at_most("time ratio fit / reference", fit.seconds / ref.seconds, 2, "x"),
        Measurement("float32 matmul precision", torch.get_float32_matmul_precision()),
    ])


def item_hamming(ctx: Context) -> Outcome:
    """5. Hamming kNN: torch backend on the device against numpy on all cores."""
    s = ctx.sizes
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 2, size=(s.n_codes, 64), dtype=np.uint8)
    queries = rng.integers(0, 2, size=(s.n_queries, 64), dtype=np.uint8)
    # The torch backend picks its device itself ("auto": CUDA when there is one).
    on_device = HammingNeighbors(n_neighbors=s.k, backend="torch").fit(codes)
    on_device.kneighbors(queries)  # warm-up: kernels, the codes' first use
    with Timer(ctx.device) as t_torch:
        dist_t, idx_t = on_device.kneighbors(queries)
    on_cpu = HammingNeighbors(n_neighbors=s.k, backend="numpy", n_jobs=-1).fit(codes)
    with Timer(torch.device("cpu")) as t_numpy:
        dist_n, idx_n = on_cpu.kneighbors(queries)
    progress(f"  torch {t_torch.seconds:.3f} s, numpy {t_numpy.seconds:.3f} s")
    return Outcome([
        Measurement("data", f"{s.n_codes} codes x 64 bits, {s.n_queries} queries, k={s.k}"),
        Measurement("kneighbors seconds, torch backend (after a warm-up)", t_torch.seconds),
        Measurement(f"kneighbors seconds, numpy backend (n_jobs=-1, {os.cpu_count()} cores)", t_numpy.seconds),
        Measurement("speed-up torch / numpy", t_numpy.seconds / t_torch.seconds),
        equal("distances identical to numpy's", np.array_equal(dist_t, dist_n)),
        equal("indices identical to numpy's", np.array_equal(idx_t, idx_n)),
    ])


def item_resnet(ctx: Context) -> Outcome:
    """6. resnet18 fine-tuning throughput (bench_train.images_per_second, random images)."""
    s = ctx.sizes
    rate = bench_train.images_per_second(s.images, s.image_size, ctx.device, epochs=s.image_epochs)
    return Outcome([
        Measurement("data", f"{s.images} random images, 3 x {s.image_size} x {s.image_size}, "
                            f"{s.image_epochs} epoch(s), batch 64"),
        Measurement("training images per second (fit, distillation included)", rate),
    ])


def item_persistence(ctx: Context) -> Outcome:
    """7. A device-fitted DistillHash, pickled, predicts the same codes in a GPU-less process."""
    s = ctx.sizes
    data = load_digits_split()
    rows = data.X_query[: s.persist_rows]
    est = DistillHash(n_bits=16, device=str(ctx.device), random_state=0, epochs=s.persist_epochs)
    est.fit(data.X_train)
    device_codes = est.predict(rows)
    folder = ctx.out_dir / "persistence"
    folder.mkdir(parents=True, exist_ok=True)
    model, rows_path, codes_path = folder / "model.joblib", folder / "rows.npy", folder / "codes_cpu_process.npy"
    joblib.dump(est, model)
    np.save(rows_path, rows)
    # In-process reference, after saving: the pickle holds the device-fitted state.
    cpu_codes = est.set_params(device="cpu").predict(rows)
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--predict-worker", str(model), str(rows_path), str(codes_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=s.worker_timeout_s, check=False,
    )
    if done.returncode:
        raise RuntimeError(f"the loading process exited {done.returncode}: {done.stderr[-2000:]}")
    loaded_codes = np.load(codes_path)
    sees_cuda = "cuda_available=True" in done.stdout
    return Outcome([
        Measurement("model", f"DistillHash(n_bits=16, device={str(ctx.device)!r}, epochs={s.persist_epochs}), "
                             f"{model.stat().st_size} bytes"),
        Measurement("loading process saw a CUDA device", sees_cuda, "no", not sees_cuda),
        equal(f"codes of {len(rows)} rows, loaded process vs in-process (device='cpu')",
              loaded_codes.shape == cpu_codes.shape and np.array_equal(loaded_codes, cpu_codes)),
        Measurement("codes predicted on the device equal the CPU's", bool(np.array_equal(device_codes, cpu_codes))),
    ])


ITEMS: dict[int, tuple[str, Callable[[Context], Outcome]]] = {
    1: ("CUDA-marked tests", item_cuda_tests),
    2: ("DistillHash on digits, device vs CPU", item_digits_fit),
    3: ("bench_train epoch vs floor", item_bench_train),
    4: ("PairDistiller at a million rows vs plain kNN", item_pair_distiller),
    5: ("HammingNeighbors torch vs numpy", item_hamming),
    6: ("resnet18 fine-tuning throughput", item_resnet),
    7: ("persistence to a GPU-less process", item_persistence),
}
#: Item 4 has the least known run time and the largest memory: it goes last,
#: so that an overrun (the caller's timeout) costs no other item.
RUN_ORDER = (1, 2, 3, 5, 6, 7, 4)


def run_item(number: int, ctx: Context) -> ItemResult:
    title, function = ITEMS[number]
    progress(f"item {number}: {title} ...")
    start = time.perf_counter()
    try:
        outcome = function(ctx)
        result = ItemResult(number, title, status_of(outcome), time.perf_counter() - start,
                            [asdict(m) for m in outcome.measurements])
    except Exception as exc:  # noqa: BLE001 - one item's failure must not stop the others
        result = ItemResult(number, title, "error", time.perf_counter() - start,
                            error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
        print(result.traceback, file=sys.stderr, flush=True)
    finally:
        free_device_memory(ctx.device)
    progress(f"item {number}: {result.status} ({result.seconds:.1f} s)")
    return result


# ------------------------------------------------------------------ report


def environment(device: torch.device, smoke: bool) -> dict:
    return {
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "cuda_available": torch.cuda.is_available(),
        "skdistillhash": skdistillhash.__version__,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "smoke": smoke,
        "targets_enforced": not smoke,
    }


def _cell(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    # A pipe or a newline would break the table's row.
    return str(value).replace("|", "\\|").replace("\n", " ")


def format_markdown(report: dict) -> str:
    env = report["environment"]
    lines = [
        f"# GPU check{' (smoke: targets not enforced)' if env['smoke'] else ''}",
        "",
        (
            f"{env['device_name']} ({env['device']}), torch {env['torch']} (CUDA {env['torch_cuda']}), "
            f"skdistillhash {env['skdistillhash']}, {env['cpu_count']} cores; "
            f"{report['total_seconds']:.0f} s in all."
        ),
        "",
        "| item | measurement | value | target | pass/fail |",
        "|---|---|---|---|---|",
    ]
    for item in report["items"]:
        name = f"{item['number']}. {item['title']} ({item['seconds']:.0f} s)"
        if item["status"] == "error":
            lines.append(f"| {name} | error | {_cell(item['error'])} | | error |")
            continue
        if not item["measurements"]:
            lines.append(f"| {name} | | | | {item['status']} |")
        for i, m in enumerate(item["measurements"]):
            verdict = "" if m["passed"] is None else ("pass" if m["passed"] else "fail")
            lines.append(f"| {name if i == 0 else ''} | {_cell(m['name'])} | {_cell(m['value'])} | "
                         f"{_cell(m['target']) if m['target'] else ''} | {verdict} |")
        lines.append(f"| | **item status** | | | **{item['status']}** |")
    return "\n".join(lines) + "\n"


def write_report(out_dir: Path, report: dict) -> None:
    (out_dir / JSON_NAME).write_text(json.dumps(report, indent=2, default=str))
    (out_dir / MD_NAME).write_text(format_markdown(report))


# -------------------------------------------------------------------- main


def predict_worker(model: str, rows: str, out: str) -> None:
    """Item 7's child, run with CUDA_VISIBLE_DEVICES="": load, move to the CPU, predict."""
    print(f"cuda_available={torch.cuda.is_available()}")
    est = joblib.load(model).set_params(device="cpu")
    np.save(out, est.predict(np.load(rows)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", nargs="?", type=Path, help="where gpu_check.json and gpu_check.md go")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, targets not enforced (CPU, seconds)")
    parser.add_argument("--device", default=None, help="default: cuda, or cpu with --smoke")
    parser.add_argument("--items", nargs="+", type=int, choices=sorted(ITEMS), default=sorted(ITEMS),
                        help="run only these items; the others are listed as skipped")
    parser.add_argument("--predict-worker", nargs=3, metavar=("MODEL", "ROWS", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.predict_worker:
        predict_worker(*args.predict_worker)
        return 0
    if args.out_dir is None:
        parser.error("the following arguments are required: out_dir")
    device = torch.device(args.device or ("cpu" if args.smoke else "cuda"))
    ctx = Context(device, SMOKE if args.smoke else FULL, args.out_dir, args.smoke)
    args.out_dir.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    report: dict = {"environment": environment(device, args.smoke), "sizes": asdict(ctx.sizes), "items": []}
    report["environment"]["warm_up_seconds"] = warm_up(device)
    progress(f"{report['environment']['device_name']} ({device}), torch {torch.__version__}, "
             f"smoke={args.smoke}, writing to {args.out_dir}")
    results: dict[int, ItemResult] = {
        n: ItemResult(n, ITEMS[n][0], "skipped", 0.0, error=None) for n in ITEMS if n not in args.items
    }
    for number in (n for n in RUN_ORDER if n in args.items):
        results[number] = run_item(number, ctx)
        report["items"] = [asdict(results[n]) for n in sorted(results)]
        report["total_seconds"] = time.perf_counter() - start
        write_report(args.out_dir, report)  # after every item: a run killed midway keeps its results
    report["items"] = [asdict(results[n]) for n in sorted(results)]
    report["total_seconds"] = time.perf_counter() - start
    bad = {"error"} if args.smoke else {"error", "fail"}
    report["exit_status"] = int(any(r.status in bad for r in results.values()))
    write_report(args.out_dir, report)
    statuses = ", ".join(f"{n}={results[n].status}" for n in sorted(results))
    progress(f"done in {report['total_seconds']:.0f} s: {statuses}; {args.out_dir / MD_NAME}")
    return report["exit_status"]


if __name__ == "__main__":
    sys.exit(main())
