"""Training speed: DistillHash.fit against its floor and against an earlier commit.

Per data set, in one run:

* **stages** of a fit at ``--settings`` (default: the defaults), each timed by a wrapper around its
  method: distillation (``PairDistiller.fit``, the label table included),
  pair labels (``pair_labels``), backward, optimizer (``Adam.step``),
  forward (the rest of the training loop: network, loss, batching), the rest
  of the fit, and encoding the training set afterwards;
* **epoch** time of ``DistillHash.fit``, measured as the marginal cost of an
  epoch, (fit(E2) - fit(E1)) / (E2 - E1), so the one-off distillation cancels,
  against the **floor**: the same network on the same kind of batches (anchors
  plus one distilled neighbour each), the same loss and Adam, written plainly,
  with every batch's labels read from a dense matrix computed beforehand. The
  two alternate ``--repeats`` times; each keeps its best run;
* **whole fit** at default settings (``DistillHash(n_bits=32, random_state=0)``)
  in a fresh process each, ours and, with ``--reference COMMIT``, the same
  script's fit on that commit (checked out in a temporary git worktree):
  seconds, peak RSS of the process, and whether the codes are identical.

    python benchmarks/bench_train.py --reference 15b7c28
    python benchmarks/bench_train.py --datasets digits --device cuda
    python benchmarks/bench_train.py --datasets synthetic-100k --epochs 1 --repeats 1 --fit-epochs 2
    python benchmarks/bench_train.py --datasets none --images 2048 --device cuda   # resnet18 images/s

Goals (issue "DistillHash training"): epoch <= 1.3x the floor on the CPU; whole
fit >= 2x faster than 15b7c28 on fashion-5k and >= 3x on fashion-10k with
identical codes; peak RSS <= 2x 15b7c28's at 10k rows.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import skdistillhash.hashing as hashing_module
from skdistillhash import DistillHash, PairDistiller
from skdistillhash.benchmark import make_hasher

DATASETS = ("digits", "fashion-5k", "fashion-10k", "synthetic-100k")
#: The floor's dense label matrix may take this many bytes (n^2).
MAX_DENSE_LABELS = 2**30
#: What each stage of a fit times: (object, method name) wrapped by a timer.
STAGES = {
    "distillation": (PairDistiller, "fit"),
    "pair labels": (PairDistiller, "pair_labels"),
    "forward (network + loss)": None,  # the rest of each training step
    "backward": (torch.Tensor, "backward"),
    "optimizer": (torch.optim.Adam, "step"),
}


def load(name: str) -> np.ndarray:
    """The training features of a named data set (float32).

    "digits" and "fashion-Nk" (the first N thousand rows) are the training
    sets of :func:`skdistillhash.datasets.load`'s "digits" and
    "fashion-mnist". The worker loads them too, with the package of the
    ``--reference`` commit, which may predate ``datasets.load``: so both go
    through the loaders every commit has. Loading in the worker also keeps
    the cost of the data in its peak RSS, as in the reference's.
    """
    from skdistillhash.datasets import load_digits_split, load_fashion_mnist

    if name == "digits":
        return load_digits_split().X_train
    if name.startswith("fashion-"):
        return load_fashion_mnist().X_train[: int(name.split("-")[1].rstrip("k")) * 1000]
    # 100,000 x 128 clustered features: the scale where the label table is over budget.
    rng = np.random.RandomState(0)
    centres = rng.randn(100, 128).astype(np.float32)
    return centres[rng.randint(100, size=100_000)] + 0.5 * rng.randn(100_000, 128).astype(np.float32)


#: ``--settings 15b7c28``: 15b7c28's defaults spelled out for this package (an
#: MLP 784-1024-32 started at random, 50 epochs, pairs of the features as given),
#: so that its fits are the reference's fits, codes included; the reference
#: itself keeps its defaults. "distiller" holds PairDistiller parameters.
SETTINGS = {
    "defaults": {},
    # The linear hash layer, the default head before hidden_layer_sizes="auto":
    # compares fits with a commit of that time (a44887c) head for head.
    "linear": dict(hidden_layer_sizes=()),
    "15b7c28": dict(
        hidden_layer_sizes=(1024,), hash_layer_init="random", alpha=0.5,
        quantization_weight=0.1, quantization_warmup=0.0, batch_size=256, epochs=50,
        weight_decay=0.0, distiller={"whiten_components": None},
    ),
}


def hasher(device: str, settings: dict, **params) -> DistillHash:
    """DistillHash as the main job builds it (32 bits, seed 0), with ``settings``
    and then ``params`` set.

    The worker calls it with the ``--reference`` commit's package, whose
    ``make_hasher`` builds the same default DistillHash (since 321af00).
    """
    settings = dict(settings)
    if "distiller" in settings:
        # Built here, not in SETTINGS: the reference's package may not know the parameters.
        settings["distiller"] = PairDistiller(**settings["distiller"])
    return make_hasher("distillhash", 32, 0, device).set_params(**{**settings, **params})


# --------------------------------------------------------------------- floor


def floor_epoch_seconds(X, distiller, device, epochs, seed=0, batch_size=256, n_bits=32, hidden=1024):
    """The plainest loop over the same network and batch shapes, labels from a dense matrix."""
    n = len(X)
    idx = np.arange(n)
    labels = torch.as_tensor(distiller.pair_labels(idx, idx), device=device)
    torch.manual_seed(seed)
    rng = np.random.RandomState(seed)
    net = torch.nn.Sequential(
        torch.nn.Linear(X.shape[1], hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, n_bits), torch.nn.Tanh()
    ).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, foreach=True)
    inputs = torch.as_tensor(X, device=device)
    positive = (distiller.graph_ > 0).tocsr()
    neighbours = np.split(positive.indices, positive.indptr[1:-1])
    half = batch_size // 2
    tic = None
    for epoch in range(epochs + 1):
        if epoch == 1:  # epoch 0 warms up (allocations, kernels)
            _sync(device)
            tic = time.perf_counter()
        order = rng.permutation(n)
        for start in range(0, n, half):
            anchors = order[start : start + half]
            mates = [rng.choice(neighbours[a]) for a in anchors if len(neighbours[a])]
            batch = torch.as_tensor(np.unique(np.concatenate([anchors, mates]).astype(np.int64)), device=device)
            s = labels[batch][:, batch]
            h = net(inputs[batch])
            omega = 0.5 * h @ h.T
            pos, neg = (s > 0).to(h.dtype), (s < 0).to(h.dtype)
            weights = 0.5 * pos / pos.sum().clamp(min=1) + 0.5 * neg / neg.sum().clamp(min=1)
            loss = (weights * (F.softplus(omega) - pos * omega)).sum()
            loss = loss + 0.1 * (h - h.sign()).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    _sync(device)
    return (time.perf_counter() - tic) / epochs


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


# -------------------------------------------------------------------- ours


def epoch_seconds(X, distiller, device, e1, e2, settings):
    """Marginal seconds per epoch of DistillHash.fit (the distillation cancels)."""

    def fit_seconds(epochs):
        est = hasher(str(device), settings, distiller=distiller, epochs=epochs, tol=0.0,
                     n_iter_no_change=10**6)
        tic = time.perf_counter()
        est.fit(X)
        _sync(device)
        return time.perf_counter() - tic

    return (fit_seconds(e2) - fit_seconds(e1)) / (e2 - e1)


def stage_seconds(X, device, fit_epochs, settings) -> dict:
    """Seconds per stage of one fit at default settings.

    Each stage's method is wrapped by a timer for the fit (a profiler would
    charge the optimizer's many small Python calls several times over);
    "forward" is the training loop's time outside the other stages.
    """
    est = hasher(str(device), settings, **({"epochs": fit_epochs} if fit_epochs else {}))
    totals = {stage: 0.0 for stage in STAGES}
    originals = {}

    def timed(stage, method):
        def wrapper(*args, **kwargs):
            tic = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                _sync(device)
                totals[stage] += time.perf_counter() - tic

        return wrapper

    for stage, target in STAGES.items():
        if target is not None:
            owner, name = target
            originals[target] = getattr(owner, name)
            setattr(owner, name, timed(stage, originals[target]))
    loop = {"seconds": 0.0}
    train = hashing_module.train_hash_network

    def timed_loop(*args, **kwargs):
        tic = time.perf_counter()
        try:
            return train(*args, **kwargs)
        finally:
            loop["seconds"] = time.perf_counter() - tic

    hashing_module.train_hash_network = timed_loop
    try:
        tic = time.perf_counter()
        est.fit(X)
        total = time.perf_counter() - tic
    finally:
        hashing_module.train_hash_network = train
        for (owner, name), method in originals.items():
            setattr(owner, name, method)
    out = dict(totals)
    out["forward (network + loss)"] = loop["seconds"] - sum(
        totals[s] for s in ("pair labels", "backward", "optimizer")
    )
    out["rest of fit"] = total - loop["seconds"] - totals["distillation"]
    tic = time.perf_counter()
    est.decision_function(X)
    out["encode (after fit)"] = time.perf_counter() - tic
    out["fit total"] = total
    out["epochs"] = est.n_iter_
    return out


# ------------------------------------------------------------ whole fits


def whole_fit(dataset: str, device: str, fit_epochs: int | None, pythonpath: str | None,
              settings: str = "defaults") -> dict:
    """One fit at ``settings`` in a fresh process: seconds, peak RSS, codes."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "fit.npz"
        cmd = [sys.executable, __file__, "--worker", dataset, str(out), "--device", device,
               "--settings", settings]
        if fit_epochs:
            cmd += ["--fit-epochs", str(fit_epochs)]
        env = dict(os.environ)
        if pythonpath:
            env["PYTHONPATH"] = pythonpath
        subprocess.run(cmd, check=True, env=env)
        with np.load(out) as result:
            return {key: result[key] for key in result.files}


def _faster(best: dict | None, run: dict) -> dict:
    return run if best is None or run["seconds"] < best["seconds"] else best


def worker(dataset: str, out: str, device: str, fit_epochs: int | None, settings: dict) -> None:
    """Runs in the child: a default fit, timed; only public API that every commit
    since 321af00 (the first with ``skdistillhash.benchmark.make_hasher``) has."""
    X = load(dataset)
    params = {"epochs": fit_epochs} if fit_epochs else {}
    tic = time.perf_counter()
    est = hasher(device, settings, **params).fit(X)
    seconds = time.perf_counter() - tic
    np.savez(out, seconds=seconds, peak_bytes=peak_rss_bytes(), codes=est.predict(X), n_iter=est.n_iter_)


def peak_rss_bytes() -> int:
    """This process's peak resident memory.

    Linux's VmHWM belongs to the process image, so it starts afresh at exec;
    ``ru_maxrss`` does not (a child started by this benchmark would report
    the parent's peak), so it is only the fallback elsewhere.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class Worktree:
    """A commit checked out in a temporary git worktree, removed on exit."""

    def __init__(self, commit: str):
        self.commit = commit
        self.root = Path(__file__).resolve().parents[1]

    def __enter__(self) -> str:
        self.path = tempfile.mkdtemp(prefix="bench_train_ref_")
        subprocess.run(
            ["git", "-C", str(self.root), "worktree", "add", "--detach", self.path, self.commit],
            check=True, capture_output=True,
        )
        return self.path

    def __exit__(self, *exc):
        subprocess.run(
            ["git", "-C", str(self.root), "worktree", "remove", "--force", self.path],
            check=False, capture_output=True,
        )


# ------------------------------------------------------------------ images


def images_per_second(n_images, size, device, epochs=2):
    """End-to-end fine-tuning of resnet18 at ``size`` px: training images per second."""
    rng = np.random.RandomState(0)
    images = rng.randn(n_images, 3, size, size).astype(np.float32)
    est = DistillHash(
        n_bits=32,
        backbone="resnet18",
        finetune_backbone=True,
        distiller=PairDistiller(n_neighbors=5, random_state=0),
        batch_size=64,
        epochs=epochs,
        tol=0.0,
        device=str(device),
        random_state=0,
        verbose=1,
    )
    tic = time.perf_counter()
    est.fit(images)
    return n_images * est.n_iter_ / (time.perf_counter() - tic)


# -------------------------------------------------------------------- main


def run(args) -> dict:
    device = torch.device(args.device)
    settings = SETTINGS[args.settings]
    report = {"device": str(device), "threads": torch.get_num_threads(), "load_start": os.getloadavg()[0],
              "settings": args.settings}
    with Worktree(args.reference) if args.reference else contextlib.nullcontext() as ref_path:
        for name in args.datasets:
            X = load(name)
            row = {"shape": list(X.shape)}
            distiller = PairDistiller(random_state=0, device=args.device, **settings.get("distiller", {})).fit(X)
            ours, floor = np.inf, np.inf
            # The floor's dense label matrix is n^2 bytes: only where that is small.
            with_floor = len(X) ** 2 <= MAX_DENSE_LABELS
            for _ in range(args.repeats):
                ours = min(ours, epoch_seconds(X, distiller, device, 1, 1 + args.epochs, settings))
                if with_floor:
                    floor = min(floor, floor_epoch_seconds(X, distiller, device, args.epochs))
            row.update(epoch=ours, floor=floor)
            row["stages"] = stage_seconds(X, device, args.fit_epochs, settings)
            # Ours and the reference alternate; each keeps its fastest run.
            mine = theirs = None
            for _ in range(args.fit_repeats):
                mine = _faster(mine, whole_fit(name, args.device, args.fit_epochs, None, args.settings))
                if ref_path:
                    theirs = _faster(theirs, whole_fit(name, args.device, args.fit_epochs, ref_path))
            row["fit"] = {"seconds": float(mine["seconds"]), "peak_bytes": int(mine["peak_bytes"]), "epochs": int(mine["n_iter"])}
            if ref_path:
                row["reference"] = {
                    "seconds": float(theirs["seconds"]),
                    "peak_bytes": int(theirs["peak_bytes"]),
                    "epochs": int(theirs["n_iter"]),
                    "codes_identical": bool(np.array_equal(mine["codes"], theirs["codes"])),
                }
            report[name] = row
            print(f"{name}: done", file=sys.stderr, flush=True)
    report["load_end"] = os.getloadavg()[0]
    return report


def _or_na(value: float, fmt: str) -> str:
    """``value`` formatted; "n/a" where it was not measured (the floor of large sets)."""
    return fmt.format(value) if 0 < value < np.inf else "n/a"


def format_report(report: dict, reference: str | None) -> str:
    names = [name for name in DATASETS if name in report]
    lines = [
        f"device {report['device']}, {report['threads']} torch threads, "
        f"load average {report['load_start']:.2f} at start, {report['load_end']:.2f} at end",
        "",
        "| | " + " | ".join(f"{name} ({report[name]['shape'][0]} x {report[name]['shape'][1]})" for name in names) + " |",
        "|---|" + "---:|" * len(names),
    ]

    def row(label, values):
        lines.append(f"| {label} | " + " | ".join(values) + " |")

    stages = [s for s in report[names[0]]["stages"] if s not in ("fit total", "epochs")] if names else []
    for stage in stages:
        row(f"stage: {stage} (s)", [f"{report[n]['stages'][stage]:.2f}" for n in names])
    row("stage: whole fit (s, epochs)", [f"{report[n]['stages']['fit total']:.2f} ({report[n]['stages']['epochs']})" for n in names])
    row("epoch: DistillHash.fit (s)", [f"{report[n]['epoch']:.3f}" for n in names])
    row("epoch: floor, dense labels (s)", [_or_na(report[n]["floor"], "{:.3f}") for n in names])
    row("epoch ratio (goal <= 1.3x)", [_or_na(report[n]["epoch"] / report[n]["floor"], "{:.2f}x") for n in names])
    row("default fit, fresh process (s)", [f"{report[n]['fit']['seconds']:.1f}" for n in names])
    row("peak RSS (MiB)", [f"{report[n]['fit']['peak_bytes'] / 2**20:.0f}" for n in names])
    if reference:
        row(f"{reference}: default fit (s)", [f"{report[n]['reference']['seconds']:.1f}" for n in names])
        row(f"{reference}: peak RSS (MiB)", [f"{report[n]['reference']['peak_bytes'] / 2**20:.0f}" for n in names])
        row(f"speed-up over {reference}", [f"{report[n]['reference']['seconds'] / report[n]['fit']['seconds']:.2f}x" for n in names])
        row("RSS ratio (goal <= 2x)", [f"{report[n]['fit']['peak_bytes'] / report[n]['reference']['peak_bytes']:.2f}x" for n in names])
        row("codes identical", ["yes" if report[n]["reference"]["codes_identical"] else "NO" for n in names])
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS[:3]), choices=[*DATASETS, "none"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs (E2 - E1) and floor epochs")
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs; the minimum counts")
    parser.add_argument("--fit-epochs", type=int, default=None, help="cap the whole fits (default: DistillHash's)")
    parser.add_argument("--reference", default=None, help="a commit to compare whole fits with")
    parser.add_argument("--settings", choices=sorted(SETTINGS), default="defaults",
                        help="this package's DistillHash settings: its defaults, the linear head "
                             "(the default before hidden_layer_sizes='auto'), or 15b7c28's defaults "
                             "spelled out (same codes as --reference 15b7c28)")
    parser.add_argument("--fit-repeats", type=int, default=2, help="alternating whole fits; the fastest counts")
    parser.add_argument("--json", default=None, help="also write the report here")
    parser.add_argument("--images", type=int, default=0, help="also time resnet18 fine-tuning on N images")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--worker", nargs=2, metavar=("DATASET", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(*args.worker, args.device, args.fit_epochs, SETTINGS[args.settings])
        return
    args.datasets = [name for name in args.datasets if name != "none"]
    report = run(args)
    if args.images:
        report["resnet18_images_per_second"] = images_per_second(args.images, args.image_size, torch.device(args.device))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    if args.datasets:
        print(format_report(report, args.reference))
    if args.images:
        print(f"resnet18 end-to-end fine-tuning at {args.image_size}px: {report['resnet18_images_per_second']:.1f} images/s")


if __name__ == "__main__":
    main()
