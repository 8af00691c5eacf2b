"""nnref benchmark: the chapter 19 epoch side by side with the book-style loop and PyTorch.

Run from the project root (see ``bench/README.md``)::

    .venv/bin/python bench/run.py            # everything, about two minutes
    .venv/bin/python bench/run.py epoch      # only the chapter 19 epoch
    .venv/bin/python bench/run.py quick      # a few seconds, reduced sizes

Everything runs in ONE process on ONE thread. The contenders take turns in
alternating rounds (the order rotates every round), so a neighbour who loads
the machine for a while slows all of them alike; medians are reported. The
single-thread float32 matmul throughput is measured in the same rounds and is
the yardstick for nnref's GFLOP/s.

Results go to ``bench/results/latest.json`` and ``latest.md`` (git-ignored);
the site's Performance page renders its table from the JSON file when there is
one, or runs :func:`quick` while it builds.
"""
from __future__ import annotations

import os
import sys

# One BLAS thread, set before numpy is first imported (on a shared 2-core
# machine two threads made batch-128 matmuls many times slower). When numpy is
# already loaded (the site build imports this module) threadpoolctl does it.
if "numpy" not in sys.modules:
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = "1"

import argparse  # noqa: E402
import contextlib  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a fresh clone: use this checkout's nnref
    sys.path.insert(0, str(ROOT))

import nnref  # noqa: E402
import nnref.engine  # noqa: E402
from nnref.model import Model  # noqa: E402

if __package__:  # imported as bench.run (the site build)
    from .bookstyle import BookMLP
else:  # python bench/run.py: this file's folder is sys.path[0]
    from bookstyle import BookMLP  # noqa: E402

try:
    from threadpoolctl import threadpool_info, threadpool_limits
except ImportError:  # pragma: no cover - threadpoolctl is in the test extras
    threadpool_info = threadpool_limits = None


def one_thread():
    """A context in which numpy's BLAS uses one thread (a no-op without threadpoolctl)."""
    return threadpool_limits(limits=1) if threadpool_limits is not None else contextlib.nullcontext()

RESULTS = ROOT / "bench" / "results"
SIZES = (784, 128, 128, 10)  # the chapter 19 model
BATCH = 128
N_SAMPLES = 60_000  # Fashion-MNIST's training set

# The targets of issue 6: (key, description, comparison, limit)
TARGETS = (
    ("vs_torch", "nnref epoch time / PyTorch CPU", "<=", 0.75),
    ("matmul_fraction", "the epoch's matrix products alone / nnref's epoch", ">=", 0.75),
    ("book_ch10", "chapter 10 loop after nnfs.init(): nnref.book / book-style classes", "<=", 1.1),
    ("book_ch16", "chapter 16 loop after nnfs.init(): nnref.book / book-style classes", "<=", 1.1),
    ("vs_book", "nnref epoch time / book-style numpy", "<=", 0.4),
    ("matmul_share", "nnref GFLOP/s (book's FLOP count) / float32 matmul GFLOP/s", ">=", 0.6),
    ("softmax_speedup_1024", "softmax backward at batch 1024: loop time / vectorised time", ">=", 100.0),
    ("memory_ratio", "peak traced memory of an epoch / (data + parameters)", "<=", 1.5),
)


# ---------------------------------------------------------------- helpers

def _median(values):
    return statistics.median(values)


def _timeit(fn, *, min_time=0.2, repeats=5):
    """Median seconds per call: each repeat loops until it lasts ``min_time``."""
    fn()
    number = 1
    while True:
        start = time.perf_counter()
        for _ in range(number):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= min_time / 4 or number >= 1 << 20:
            break
        number *= 4
    number = max(1, int(number * (min_time / max(elapsed, 1e-9))))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return _median(times)


def machine_info():
    """What the numbers depend on: CPU, versions, BLAS and the load average."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    blas = []
    if threadpool_info is not None:
        blas = [f"{p.get('internal_api')} {p.get('version')} ({p.get('num_threads')} thread)"
                for p in threadpool_info()]
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "nnref": nnref.__version__,
        "commit": commit,
        "blas": blas,
        "load_before": list(os.getloadavg()),
    }


def make_data(n_samples, seed=0):
    """Synthetic data of Fashion-MNIST's shape: float32 pixels in [-1, 1], learnable labels.

    The labels come from a random linear "teacher" so that every contender can
    be seen to learn the same thing; the timing does not depend on them.
    """
    rng = np.random.default_rng(seed)
    X = rng.random((n_samples, SIZES[0]), dtype=np.float32)
    X *= 2
    X -= 1  # the book scales pixels to [-1, 1]  — chapter 19
    teacher = rng.standard_normal((SIZES[0], SIZES[-1]), dtype=np.float32)
    y = np.argmax(X @ teacher, axis=1)
    return X, y


def epoch_flops(n_samples, sizes=SIZES, *, first_dinputs=True):
    """Multiply-adds ×2 of one epoch: forward, dW and (optionally the first) dX matmuls."""
    per_layer = [2 * n_in * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    forward = sum(per_layer)
    dweights = sum(per_layer)
    dinputs = sum(per_layer) if first_dinputs else sum(per_layer[1:])
    return n_samples * (forward + dweights + dinputs)


def sgemm_gflops(n=2048, repeats=3):
    """Single-thread float32 matmul throughput (n×n by n×n), best of ``repeats``."""
    rng = np.random.default_rng(1)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


# ---------------------------------------------------------------- parts of an epoch

class EpochParts:
    """The two costs no implementation of the epoch avoids: its matrix products and its optimizer.

    ``matmuls()`` runs only the products of one epoch at the model's shapes
    (every layer's forward product and weight gradient, every input gradient
    but the first layer's, as nnref and PyTorch do), with no bias, activation,
    loss or update. ``adam()`` runs only the engine's Adam, one
    :meth:`nnref.engine.Engine.update` per batch, over the model's parameter
    block with fixed gradients. Their sum bounds from
    below what any numpy implementation with this optimizer can reach.
    """

    def __init__(self, X, seed=3):
        rng = np.random.default_rng(seed)
        self.X = X
        self.weights = [rng.standard_normal((a, b), dtype=np.float32) * np.float32(0.01)
                        for a, b in zip(SIZES[:-1], SIZES[1:])]
        self.grads = [rng.standard_normal((BATCH, b), dtype=np.float32) * np.float32(1e-3) for b in SIZES[1:]]
        model = Model(log=None, dtype=np.float32)
        for i, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:])):
            model.add(nnref.Dense(a, b, rng=rng, dtype=np.float32))
            model.add(nnref.ReLU() if i < len(SIZES) - 2 else nnref.Softmax())
        model.set(loss=nnref.CategoricalCrossentropy(), optimizer=nnref.Adam(decay=1e-3))
        model.finalize()
        self.optimizer = model.optimizer
        self.block = nnref.engine.Engine(model, np.float32)
        self.block.grads[...] = rng.standard_normal(self.block.grads.shape, dtype=np.float32) * np.float32(1e-3)

    def matmuls(self):
        X, weights, grads = self.X, self.weights, self.grads
        for start in range(0, len(X), BATCH):
            activations = [X[start:start + BATCH]]
            for w in weights:
                activations.append(np.dot(activations[-1], w))
            for i in reversed(range(len(weights))):
                g = grads[i][:len(activations[i])]
                np.dot(activations[i].T, g)  # dL/dW
                if i:
                    np.dot(g, weights[i].T)  # dL/dX, skipped for the first layer

    def adam(self, steps):
        optimizer = self.optimizer
        for _ in range(steps):
            optimizer.pre_update_params()
            self.block.update()
            optimizer.post_update_params()


# ---------------------------------------------------------------- contenders

class NnrefContender:
    """nnref's chapter 19 Model: float32 because the data are float32."""

    name = "nnref"

    def __init__(self, X, y, seed=0):
        self.X, self.y = X, y
        model = Model(log=None)
        rng = np.random.default_rng(seed)
        model.add(nnref.Dense(SIZES[0], SIZES[1], rng=rng))
        model.add(nnref.ReLU())
        model.add(nnref.Dense(SIZES[1], SIZES[2], rng=rng))
        model.add(nnref.ReLU())
        model.add(nnref.Dense(SIZES[2], SIZES[3], rng=rng))
        model.add(nnref.Softmax())
        model.set(loss=nnref.CategoricalCrossentropy(), optimizer=nnref.Adam(decay=1e-3),
                  accuracy=nnref.CategoricalAccuracy())
        model.finalize()
        self.model = model

    def epoch(self):
        history = self.model.train(self.X, self.y, epochs=1, batch_size=BATCH, print_every=10**9)
        return float(history.as_dict()["accuracy"][-1])

    def parameter_bytes(self):
        return sum(w.nbytes + b.nbytes for w, b in (layer.get_parameters() for layer in self.model.trainable_layers))


class BookContender:
    """The book-style loop of ``bookstyle.py``: float64 parameters, as the book's."""

    name = "book-style"

    def __init__(self, X, y, seed=0):
        self.X, self.y = X, y
        self.net = BookMLP(SIZES, learning_rate=0.001, decay=1e-3, seed=seed)

    def epoch(self):
        return float(self.net.train_epoch(self.X, self.y, BATCH)[1])


class TorchContender:
    """PyTorch CPU eager mode, one thread; init N(0, 0.01²), Adam(eps=1e-7), the book's decay."""

    name = "PyTorch"

    def __init__(self, X, y, seed=0):
        import torch

        self.torch = torch
        torch.manual_seed(seed)
        layers = []
        for i, (n_in, n_out) in enumerate(zip(SIZES[:-1], SIZES[1:])):
            linear = torch.nn.Linear(n_in, n_out)
            with torch.no_grad():
                linear.weight.normal_(0.0, 0.01)
                linear.bias.zero_()
            layers.append(linear)
            if i < len(SIZES) - 2:
                layers.append(torch.nn.ReLU())
        self.net = torch.nn.Sequential(*layers)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=0.001, eps=1e-7)
        self.X = torch.from_numpy(X)  # shares memory with the numpy array
        self.y = torch.from_numpy(y.astype(np.int64))
        self.steps = 0

    def epoch(self):
        torch = self.torch
        correct = torch.zeros((), dtype=torch.int64)
        for start in range(0, len(self.X), BATCH):
            batch_X = self.X[start:start + BATCH]
            batch_y = self.y[start:start + BATCH]
            for group in self.optimizer.param_groups:  # η_t = η_0 / (1 + d t), per step as the book
                group["lr"] = 0.001 / (1.0 + 1e-3 * self.steps)
            logits = self.net(batch_X)
            loss = torch.nn.functional.cross_entropy(logits, batch_y)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.steps += 1
            with torch.no_grad():
                correct += (logits.argmax(dim=1) == batch_y).sum()
        return float(correct) / len(self.X)


def _torch_available():
    try:
        import torch
    except Exception as exc:  # noqa: BLE001 - any import failure means "skip"
        return f"PyTorch not importable ({type(exc).__name__}: {exc}); its column is skipped"
    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set in this process
        pass
    return None


# ---------------------------------------------------------------- sections

def bench_epoch(*, rounds=5, n_samples=N_SAMPLES, use_torch=True, log=print):
    """Median seconds per chapter 19 epoch for each contender, in alternating rounds."""
    X, y = make_data(n_samples)
    contenders = [NnrefContender(X, y), BookContender(X, y)]
    note = None
    if use_torch:
        note = _torch_available()
        if note is None:
            contenders.append(TorchContender(X, y))
        else:
            log(note)
    names = [c.name for c in contenders] + ["sgemm"]
    times = {name: [] for name in names}
    parts = EpochParts(X)
    part_times = {"matmuls": [], "adam": []}
    steps = -(-n_samples // BATCH)
    gemm = []
    accuracy = {}
    for r in range(rounds + 1):  # round 0 warms up (first-touch of pages, BLAS buffers) and is dropped
        k = r % len(contenders)
        for contender in contenders[k:] + contenders[:k]:
            start = time.perf_counter()
            accuracy[contender.name] = contender.epoch()
            elapsed = time.perf_counter() - start
            if r:
                times[contender.name].append(elapsed)
        start = time.perf_counter()
        parts.matmuls()
        matmul_seconds = time.perf_counter() - start
        start = time.perf_counter()
        parts.adam(steps)
        adam_seconds = time.perf_counter() - start
        throughput = sgemm_gflops()
        if r:
            gemm.append(throughput)
            part_times["matmuls"].append(matmul_seconds)
            part_times["adam"].append(adam_seconds)
            log(f"  round {r}/{rounds}: " + ", ".join(
                f"{c.name} {times[c.name][-1]:.3f} s" for c in contenders) + f", sgemm {throughput:.1f} GFLOP/s")
    seconds = {c.name: _median(times[c.name]) for c in contenders}
    flops_book = epoch_flops(n_samples)
    flops_done = epoch_flops(n_samples, first_dinputs=False)
    sgemm = _median(gemm)
    nnref_gflops = flops_book / seconds["nnref"] / 1e9
    result = {
        "n_samples": n_samples,
        "rounds": rounds,
        "seconds": seconds,
        "all_seconds": {c.name: times[c.name] for c in contenders},
        "accuracy_after_all_epochs": accuracy,
        "sgemm_gflops": sgemm,
        "sgemm_all": gemm,
        "flops_book_count": flops_book,
        "flops_nnref_does": flops_done,
        "nnref_gflops": nnref_gflops,
        "nnref_gflops_work_done": flops_done / seconds["nnref"] / 1e9,
        # per round, nnref's rate against the sgemm rate measured in that same round
        "matmul_share": _median([flops_book / t / 1e9 / g for t, g in zip(times["nnref"], gemm)]),
        # ratios are medians of the per-round ratios: both sides of a ratio ran in the same
        # round, under the same load, so these are steadier than ratios of medians
        "vs_book": _median([a / b for a, b in zip(times["nnref"], times["book-style"])]),
        "torch_note": note,
    }
    result["parts"] = {name: _median(values) for name, values in part_times.items()}
    result["parts_all"] = part_times
    if "PyTorch" in seconds:
        result["vs_torch"] = _median([a / b for a, b in zip(times["nnref"], times["PyTorch"])])
        # the best ratio an implementation with these products and nnref's Adam could reach
        result["floor_vs_torch"] = _median([(m + a) / t for m, a, t in
                                            zip(part_times["matmuls"], part_times["adam"], times["PyTorch"])])
    return result


def bench_softmax(*, batches=(128, 1024, 10_000), min_time=0.2, log=print):
    """Softmax backward: the book's per-sample Jacobian loop, the vectorised VJP, the combined gradient."""
    from nnref.activations import Softmax, softmax_backward_loop
    from nnref.losses import CategoricalCrossentropy, SoftmaxCategoricalCrossentropy

    rng = np.random.default_rng(2)
    rows = []
    for n in batches:
        logits = rng.standard_normal((n, 10))
        y = rng.integers(0, 10, n)
        softmax = Softmax()
        s = softmax.forward(logits)
        g = CategoricalCrossentropy().backward(s, y)  # dL/ds that the softmax backward receives
        combined = SoftmaxCategoricalCrossentropy()
        loop_s = _timeit(lambda: softmax_backward_loop(s, g), min_time=min_time, repeats=3)
        vec_s = _timeit(lambda: softmax.backward(g), min_time=min_time)
        comb_s = _timeit(lambda: combined.backward(s, y), min_time=min_time)
        agree = float(np.max(np.abs(softmax_backward_loop(s, g) - softmax.backward(g))))
        agree_comb = float(np.max(np.abs(combined.backward(s, y) - softmax.backward(g))))
        rows.append({"batch": n, "loop_s": loop_s, "vectorised_s": vec_s, "combined_s": comb_s,
                     "speedup": loop_s / vec_s, "max_diff_loop": agree, "max_diff_combined": agree_comb})
        log(f"  batch {n}: loop {loop_s * 1e6:.0f} µs, vectorised {vec_s * 1e6:.1f} µs, "
            f"combined {comb_s * 1e6:.1f} µs")
    return {"rows": rows, "dtype": "float64", "classes": 10}


def _spiral_nnref(X, y, epochs):
    """The chapter 10 script with nnref objects, as a learner writes it (float64 data)."""
    dense1 = nnref.Dense(2, 64, rng=0)
    activation1 = nnref.ReLU()
    dense2 = nnref.Dense(64, 3, rng=1)
    loss_activation = nnref.SoftmaxCategoricalCrossentropy()
    optimizer = nnref.Adam(learning_rate=0.05, decay=5e-7)
    for _ in range(epochs):
        dense1.forward(X)
        activation1.forward(dense1.output)
        dense2.forward(activation1.output)
        loss = loss_activation.forward(dense2.output, y)
        accuracy = np.mean(np.argmax(loss_activation.output, axis=1) == y)
        loss_activation.backward(loss_activation.output, y)
        dense2.backward(loss_activation.dinputs)
        activation1.backward(dense2.dinputs)
        dense1.backward(activation1.dinputs)
        optimizer.pre_update_params()
        optimizer.update_params(dense1)
        optimizer.update_params(dense2)
        optimizer.post_update_params()
    return float(accuracy), float(loss)


def _spiral_book(X, y, epochs):
    net = BookMLP((2, 64, 3), learning_rate=0.05, decay=5e-7, seed=0)
    for _ in range(epochs):
        loss, accuracy = net.step(X, y)
    return float(accuracy), float(loss)


def bench_spiral(*, epochs=10_001, rounds=2, log=print):
    """The chapter 10 run a learner waits for: 300 spiral points, Dense(2, 64), Adam(0.05, decay 5e-7)."""
    from nnref.data import spiral_data

    state = np.random.get_state()
    np.random.seed(0)
    X, y = spiral_data(samples=100, classes=3)
    np.random.set_state(state)
    runs = {"nnref": [], "book-style": []}
    final = {}
    for r in range(rounds):
        order = [("nnref", _spiral_nnref), ("book-style", _spiral_book)]
        for name, fn in (order if r % 2 == 0 else order[::-1]):
            start = time.perf_counter()
            final[name] = fn(X, y, epochs)
            runs[name].append(time.perf_counter() - start)
        log(f"  round {r + 1}/{rounds}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in runs.items()))
    seconds = {k: _median(v) for k, v in runs.items()}
    return {"epochs": epochs, "rounds": rounds, "seconds": seconds, "all_seconds": runs,
            "final_accuracy_loss": final,
            "vs_book": _median([a / b for a, b in zip(runs["nnref"], runs["book-style"])]),
            "dtype": str(X.dtype)}


def bench_memory(*, n_samples=N_SAMPLES, book=True, log=print):
    """Peak traced memory of one chapter 19 epoch, data creation included, against data + parameters.

    numpy reports its array allocations to ``tracemalloc``, so the peak counts
    the data, the parameters, the optimizer state and every temporary.
    """
    out = {}
    builders = [("nnref", NnrefContender)] + ([("book-style", BookContender)] if book else [])
    for name, build in builders:
        tracemalloc.start()
        try:
            X, y = make_data(n_samples)
            contender = build(X, y)
            contender.epoch()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        if name == "nnref":
            params = contender.parameter_bytes()
        else:
            params = sum(layer.weights.nbytes + layer.biases.nbytes for layer in contender.net.dense_layers)
        base = X.nbytes + y.nbytes + params
        out[name] = {"peak_bytes": peak, "data_bytes": X.nbytes + y.nbytes, "parameter_bytes": params,
                     "ratio": peak / base}
        log(f"  {name}: peak {peak / 2**20:.1f} MiB, data + parameters {base / 2**20:.1f} MiB, "
            f"ratio {peak / base:.3f}")
        del X, y, contender
    out["memory_ratio"] = out["nnref"]["ratio"]
    return out


# ---------------------------------------------------------------- report

def _matmul_fraction(epoch):
    """The epoch's matrix products timed alone, over nnref's epoch (medians of the same rounds)."""
    if not epoch or not epoch.get("parts"):
        return None
    return epoch["parts"]["matmuls"] / epoch["seconds"]["nnref"]


def check_targets(results):
    """One row per target: value, limit, PASS/FAIL (or SKIP when not measured)."""
    values = {
        "vs_torch": results.get("epoch", {}).get("vs_torch"),
        "vs_book": results.get("epoch", {}).get("vs_book"),
        "matmul_share": results.get("epoch", {}).get("matmul_share"),
        "softmax_speedup_1024": next((row["speedup"] for row in results.get("softmax", {}).get("rows", [])
                                      if row["batch"] == 1024), None),
        "memory_ratio": results.get("memory", {}).get("memory_ratio"),
        "matmul_fraction": _matmul_fraction(results.get("epoch")),
        "book_ch10": results.get("book", {}).get("chapter 10", {}).get("ratio"),
        "book_ch16": results.get("book", {}).get("chapter 16", {}).get("ratio"),
    }
    rows = []
    for key, text, op, limit in TARGETS:
        value = values[key]
        if value is None:
            verdict = "SKIP"
        else:
            verdict = "PASS" if (value <= limit if op == "<=" else value >= limit) else "FAIL"
        rows.append({"key": key, "target": text, "op": op, "limit": limit, "value": value, "verdict": verdict})
    return rows


def _fmt(x, digits=3):
    return "—" if x is None else f"{x:.{digits}g}" if abs(x) >= 1000 else f"{x:.{digits}f}"


def render_markdown(results):
    """The tables of a results dict as Markdown (used by the report file and the site)."""
    lines = []
    m = results.get("machine", {})
    quick = results.get("quick", False)
    lines.append(f"*{'QUICK reduced run' if quick else 'Full run'}: {m.get('date', '?')}, "
                 f"nnref {m.get('nnref', '?')} (commit {m.get('commit') or '?'}), numpy {m.get('numpy', '?')}, "
                 f"{m.get('cpu', '?')}, {m.get('cores', '?')} cores, one BLAS thread, "
                 f"load average {' / '.join(f'{v:.2f}' for v in m.get('load_before', []))} before the run.*")
    lines.append("")
    ep = results.get("epoch")
    if ep:
        lines.append(f"**One epoch of the chapter 19 model** ({ep['n_samples']:,} float32 samples, batch {BATCH}, "
                     f"median of {ep['rounds']} alternating rounds):")
        lines.append("")
        lines.append("| contender | median seconds per epoch | nnref's time / this one's (median over rounds) "
                     "| accuracy after the rounds |")
        lines.append("|---|---:|---:|---:|")
        all_seconds = ep["all_seconds"]
        for name, sec in ep["seconds"].items():
            ratio = _median([a / b for a, b in zip(all_seconds["nnref"], all_seconds[name])])
            lines.append(f"| {name} | {sec:.3f} | {ratio:.2f} | {ep['accuracy_after_all_epochs'][name]:.3f} |")
        if ep.get("torch_note"):
            lines.append("")
            lines.append(f"({ep['torch_note']}.)")
        lines.append("")
        parts = ep.get("parts")
        if parts:
            floor = parts["matmuls"] + parts["adam"]
            text = (f"Two parts of the epoch, timed alone in the same rounds: its matrix products "
                    f"{parts['matmuls']:.3f} s, nnref's Adam {parts['adam']:.3f} s; together {floor:.3f} s, "
                    f"{floor / ep['seconds']['nnref']:.0%} of nnref's epoch")
            if ep.get("floor_vs_torch") is not None:
                text += (f". An implementation that did nothing but these two would take "
                         f"{ep['floor_vs_torch']:.2f}× PyTorch's time (median over rounds)")
            lines.append(text + ".")
            lines.append("")
        lines.append(f"float32 matmul (2048 × 2048, one thread): **{ep['sgemm_gflops']:.1f} GFLOP/s**. "
                     f"nnref: {ep['nnref_gflops']:.1f} GFLOP/s counting the {ep['flops_book_count'] / 1e9:.1f} "
                     f"GFLOP the book's code does per epoch ({ep['matmul_share']:.0%} of the matmul rate, median over rounds); "
                     f"{ep['nnref_gflops_work_done']:.1f} GFLOP/s counting the "
                     f"{ep['flops_nnref_does'] / 1e9:.1f} GFLOP nnref actually does (it skips the first "
                     f"layer's input gradient).")
        lines.append("")
    sm = results.get("softmax")
    if sm:
        lines.append(f"**Softmax backward** ({sm['classes']} classes, {sm['dtype']}), microseconds per call:")
        lines.append("")
        lines.append("| batch | Jacobian loop | vectorised | combined softmax + CCE | loop / vectorised | "
                     "largest difference |")
        lines.append("|---:|---:|---:|---:|---:|---:|")
        for row in sm["rows"]:
            lines.append(f"| {row['batch']:,} | {row['loop_s'] * 1e6:,.0f} | {row['vectorised_s'] * 1e6:,.1f} | "
                         f"{row['combined_s'] * 1e6:,.1f} | {row['speedup']:,.0f}× | "
                         f"{max(row['max_diff_loop'], row['max_diff_combined']):.1e} |")
        lines.append("")
    sp = results.get("spiral")
    if sp:
        lines.append(f"**Chapter 10 spiral run** ({sp['epochs']:,} epochs, Adam, {sp['dtype']} data, "
                     f"median of {sp['rounds']} rounds):")
        lines.append("")
        lines.append("| code | seconds | final accuracy | final loss |")
        lines.append("|---|---:|---:|---:|")
        for name, sec in sp["seconds"].items():
            acc, loss = sp["final_accuracy_loss"][name]
            lines.append(f"| {name} | {sec:.2f} | {acc:.3f} | {loss:.3f} |")
        lines.append("")
    eng = results.get("engine")
    if eng:
        lines.append(f"**The engine's items** (chapter 19 shapes, {eng['n_samples']:,} float32 samples, "
                     f"median of {eng['rounds']} alternating rounds):")
        lines.append("")
        lines.append("| what | teaching classes | engine | ratio |")
        lines.append("|---|---:|---:|---:|")
        lines.append(f"| one epoch, Model.train | {eng['epoch_teaching_s']:.3f} s | {eng['epoch_engine_s']:.3f} s "
                     f"| {eng['epoch_teaching_s'] / eng['epoch_engine_s']:.2f}× |")
        lines.append(f"| one Adam step, 118,282 parameters | {eng['adam_step_textbook_ms']:.2f} ms "
                     f"| {eng['adam_step_engine_ms']:.2f} ms "
                     f"| {eng['adam_step_textbook_ms'] / eng['adam_step_engine_ms']:.2f}× |")
        lines.append(f"| Dense(784, 128) forward of a batch: input check / product | "
                     f"{eng['dense_check_us']:.0f} µs / {eng['dense_forward_us']:.0f} µs | no check | — |")
        lines.append("")
    book = results.get("book")
    if book:
        lines.append("**The book's set-up** (a bare `nnfs.init()`, then `from nnref.book import *`; "
                     "book-style classes in the same process, alternating rounds):")
        lines.append("")
        lines.append("| loop | epochs | nnref.book / book-style (median) | the same, input tests replaced by "
                     "pass-throughs | same final loss | same printed lines |")
        lines.append("|---|---:|---:|---:|---|---|")
        for name, row in book.items():
            final = row["final_loss_accuracy"]
            same_lines = row.get("same_printed_lines")
            without = row.get("ratio_without_input_tests")
            lines.append(f"| {name} | {row['epochs']:,} | {row['ratio']:.2f} | "
                         f"{'—' if without is None else f'{without:.2f}'} | "
                         f"{'yes' if final['nnref'] == final['book-style'] else 'no'} | "
                         f"{'—' if same_lines is None else ('yes' if same_lines else 'no')} |")
        lines.append("")
    mem = results.get("memory")
    if mem:
        lines.append("**Peak memory of one chapter 19 epoch** (tracemalloc, data creation included):")
        lines.append("")
        lines.append("| code | peak MiB | data MiB | parameters MiB | peak / (data + parameters) |")
        lines.append("|---|---:|---:|---:|---:|")
        for name in ("nnref", "book-style"):
            if name in mem:
                r = mem[name]
                lines.append(f"| {name} | {r['peak_bytes'] / 2**20:.1f} | {r['data_bytes'] / 2**20:.1f} | "
                             f"{r['parameter_bytes'] / 2**20:.2f} | {r['ratio']:.3f} |")
        lines.append("")
    targets = results.get("targets")
    if targets:
        lines.append("**Targets**" + (" (a quick run is too small to judge them; see the full run)" if quick else "")
                     + ":")
        lines.append("")
        lines.append("| target | measured | limit | verdict |")
        lines.append("|---|---:|---:|---|")
        for t in targets:
            lines.append(f"| {t['target']} | {_fmt(t['value'])} | {t['op']} {t['limit']:g} | {t['verdict']} |")
        lines.append("")
    return "\n".join(lines)


def save(results, out_dir=RESULTS, stem="latest"):
    """Write ``<stem>.json`` and ``<stem>.md`` into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{stem}.json").write_text(json.dumps(results, indent=2))
    (out_dir / f"{stem}.md").write_text(render_markdown(results) + "\n")
    return out_dir / f"{stem}.json"


def bench_engine_items(*, n_samples=3_840, rounds=3, log=print):
    """What each speed-up of :mod:`nnref.engine` buys, at the chapter 19 model's shapes.

    Times, side by side in alternating rounds: one epoch of the Model through
    the teaching classes and through the engine; one Adam step of the
    textbook (``update_params`` per layer) and of the engine (folded, over the
    block); and one batch's forward pass of each Dense layer with and without
    its input check. Returns seconds (medians) and ratios.
    """
    X, y = make_data(n_samples)
    times = {"epoch teaching": [], "epoch engine": [], "adam textbook": [], "adam engine": [],
             "dense checked": [], "dense bare": []}

    def model(fast):
        m = Model(log=None)
        rng = np.random.default_rng(0)
        for i, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:])):
            m.add(nnref.Dense(a, b, rng=rng, dtype=np.float32))
            m.add(nnref.ReLU() if i < len(SIZES) - 2 else nnref.Softmax())
        m.set(loss=nnref.CategoricalCrossentropy(), optimizer=nnref.Adam(decay=1e-3),
              accuracy=nnref.CategoricalAccuracy())
        m.finalize()
        if not fast:
            m._engine = lambda *args, **kwargs: None
        return m

    teaching, fast = model(False), model(True)
    teaching.train(X[:BATCH], y[:BATCH])  # gradients and memory exist for the Adam timings
    fast.train(X[:BATCH], y[:BATCH])
    block = nnref.engine.Engine(fast, np.float32)
    dense = teaching.trainable_layers[0]
    batch = X[:BATCH]

    def adam_textbook():
        opt = teaching.optimizer
        for _ in range(20):
            opt.pre_update_params()
            for layer in teaching.trainable_layers:
                opt.update_params(layer)
            opt.post_update_params()

    def adam_engine():
        opt = fast.optimizer
        for _ in range(20):
            opt.pre_update_params()
            block.update()
            opt.post_update_params()

    def dense_checked():
        for _ in range(50):
            dense.forward(batch)

    def dense_bare():
        for _ in range(50):
            np.dot(batch, dense.weights) + dense.biases

    jobs = [("epoch teaching", lambda: teaching.train(X, y, batch_size=BATCH)),
            ("epoch engine", lambda: fast.train(X, y, batch_size=BATCH)),
            ("adam textbook", adam_textbook), ("adam engine", adam_engine),
            ("dense checked", dense_checked), ("dense bare", dense_bare)]
    for r in range(rounds):
        for name, job in (jobs if r % 2 == 0 else jobs[::-1]):
            start = time.perf_counter()
            job()
            times[name].append(time.perf_counter() - start)
    med = {k: _median(v) for k, v in times.items()}
    result = {
        "n_samples": n_samples, "rounds": rounds,
        "epoch_teaching_s": med["epoch teaching"], "epoch_engine_s": med["epoch engine"],
        "adam_step_textbook_ms": med["adam textbook"] / 20 * 1e3, "adam_step_engine_ms": med["adam engine"] / 20 * 1e3,
        "dense_check_us": (med["dense checked"] - med["dense bare"]) / 50 * 1e6,
        "dense_forward_us": med["dense bare"] / 50 * 1e6,
    }
    log(f"  epoch ({n_samples} samples): teaching {result['epoch_teaching_s']:.3f} s, "
        f"engine {result['epoch_engine_s']:.3f} s; Adam step: textbook {result['adam_step_textbook_ms']:.2f} ms, "
        f"engine {result['adam_step_engine_ms']:.2f} ms")
    return result


def bench_book_setup(*, epochs=1001, rounds=9, log=print):
    """Chapters 10 and 16 after a bare nnfs.init(): nnref.book against book-style classes (bench/booksetup.py).

    A second process runs the same with nnref's input tests replaced by
    pass-throughs, to show what the tests cost (``ratio_without_input_tests``).
    """
    def run(*extra):
        done = subprocess.run([sys.executable, str(ROOT / "bench" / "booksetup.py"), "--epochs", str(epochs),
                               "--rounds", str(rounds), *extra], capture_output=True, text=True, check=True,
                              env=dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
                                       MKL_NUM_THREADS="1"))
        return json.loads(done.stdout)

    result = run()
    bare = run("--without-input-tests")
    for name, row in result.items():
        row["ratio_without_input_tests"] = bare[name]["ratio"]
        log(f"  {name}: nnref.book / book-style = {row['ratio']:.3f}, without nnref's input tests "
            f"{row['ratio_without_input_tests']:.3f} ({epochs} epochs, median of {rounds} rounds)")
    return result


def quick(log=lambda *_: None):
    """A reduced run that takes a few seconds (for the site build); too small to judge the targets."""
    results = {"quick": True, "machine": machine_info()}
    with one_thread():
        results["epoch"] = bench_epoch(rounds=1, n_samples=6_000, use_torch=False, log=log)
        results["softmax"] = bench_softmax(batches=(128, 1024), min_time=0.02, log=log)
        results["spiral"] = bench_spiral(epochs=501, rounds=1, log=log)
        results["engine"] = bench_engine_items(n_samples=1_280, rounds=1, log=log)
        results["book"] = bench_book_setup(epochs=201, rounds=1, log=log)
    results["machine"]["load_after"] = list(os.getloadavg())
    results["targets"] = check_targets(results)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", nargs="?", default="all",
                        choices=["all", "epoch", "softmax", "spiral", "memory", "quick", "engine", "book"])
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds of the epoch (default 5)")
    parser.add_argument("--spiral-rounds", type=int, default=2)
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--out", default=str(RESULTS), help="directory for latest.json / latest.md")
    parser.add_argument("--no-save", action="store_true", help="print only")
    args = parser.parse_args(argv)

    def log(msg):
        print(msg, flush=True)

    if args.what == "quick":
        results = quick(log=log)
        return _report(results, args)
    with one_thread():
        results = {"quick": False, "machine": machine_info()}
        log(f"nnref benchmark, one thread; load average {os.getloadavg()}")
        if args.what in ("all", "epoch"):
            log("chapter 19 epoch, alternating rounds:")
            results["epoch"] = bench_epoch(rounds=args.rounds, use_torch=not args.no_torch, log=log)
        if args.what in ("all", "softmax"):
            log("softmax backward:")
            results["softmax"] = bench_softmax(log=log)
        if args.what in ("all", "spiral"):
            log("chapter 10 spiral run:")
            results["spiral"] = bench_spiral(rounds=args.spiral_rounds, log=log)
        if args.what in ("all", "engine"):
            log("engine items:")
            results["engine"] = bench_engine_items(log=log)
        if args.what in ("all", "book"):
            log("the book's set-up (nnfs.init()):")
            results["book"] = bench_book_setup(log=log)
        if args.what in ("all", "memory"):
            log("peak memory:")
            results["memory"] = bench_memory(log=log)
        results["machine"]["load_after"] = list(os.getloadavg())
        results["targets"] = check_targets(results)
    return _report(results, args)


def _report(results, args):
    print()
    print(render_markdown(results))
    for t in results["targets"]:
        print(f"{t['verdict']}: {t['target']} = {_fmt(t['value'])} (target {t['op']} {t['limit']:g})")
    print(f"load average after: {results['machine']['load_after']}")
    if not args.no_save:
        path = save(results, args.out)
        print(f"wrote {path} and {path.with_suffix('.md')}")
    failed = [t for t in results["targets"] if t["verdict"] == "FAIL"]
    return 1 if failed and not results.get("quick") else 0


if __name__ == "__main__":
    sys.exit(main())
