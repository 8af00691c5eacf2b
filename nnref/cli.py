"""The ``nnref`` command: train, evaluate and predict from the terminal, run the
derivation checks, and list the chapter map.

Each subcommand has ``--help``. Exit codes: 0 success, 1 a check or run
failed (for example a derivation check, or training diverged), 2 bad usage or
bad input (argparse's own convention), 128 + the signal number when
interrupted (130 for Ctrl-C, 143 for SIGTERM); an interrupted run leaves the
files it was writing as they were before.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Iterator, Sequence

__all__ = ["main", "build_parser"]

DATASETS = ("spiral", "vertical", "sine", "digits", "fashion-mnist")
OPTIMIZERS = ("sgd", "adagrad", "rmsprop", "adam")
MODEL_FILE = "model.nnref"
RUN_FILE = "run.json"


class UsageError(Exception):
    """Bad input from the command line; reported without a traceback, exit code 2."""


class Interrupted(KeyboardInterrupt):
    """A termination signal turned into an exception, so that files being written are cleaned up."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Inside the block, SIGTERM raises :class:`Interrupted` (a ``KeyboardInterrupt``) as Ctrl-C does.

    Python's default for SIGTERM ends the process on the spot, so no ``finally``
    or ``except`` runs and a file being written stays behind half-done. As an
    exception it unwinds like Ctrl-C: the atomic writes of nnref remove their
    temporary file and the previous file stays intact. Only the main thread can
    install handlers; elsewhere the block runs unchanged.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise Interrupted(signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def tqdm_available() -> bool:
    """True when tqdm (the optional ``progress`` extra) can be imported."""
    try:
        import tqdm.auto  # noqa: F401
    except ImportError:
        return False
    return True


class _Lines:
    """The model's ``log``: prints the book's training lines while ``enabled``."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, line: str) -> None:
        if self.enabled:
            print(line, flush=True)


# --------------------------------------------------------------------------- data

def load_dataset(name: str, *, seed: int, samples: int, classes: int):
    """Return ``(X, y, X_test, y_test, task)`` for a dataset name.

    ``task`` is ``"classification"`` or ``"regression"``. The spiral and
    vertical test sets are fresh draws from the same generator, as the book
    makes them in chapter 11; sine data has no noise, so it is its own test set.
    """
    import numpy as np

    from . import data

    if name in ("spiral", "vertical"):
        make = data.spiral_data if name == "spiral" else data.vertical_data
        # nnfs's generators draw from numpy's global RNG: seed it for a repeatable run.
        state = np.random.get_state()
        try:
            np.random.seed(seed)
            X, y = make(samples=samples, classes=classes)
            X_test, y_test = make(samples=samples, classes=classes)
        finally:
            np.random.set_state(state)
        return X, y, X_test, y_test, "classification"
    if name == "sine":
        X, y = data.sine_data(samples=samples)
        return X, y, X, y, "regression"
    if name == "digits":
        X, y, X_test, y_test = data.load_digits(rng=seed)
        return X, y, X_test, y_test, "classification"
    if name == "fashion-mnist":
        X, y, X_test, y_test = data.load_fashion_mnist()
        return X, y, X_test, y_test, "classification"
    raise UsageError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")


def _hidden_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UsageError(f"--layers must be comma-separated positive integers such as 64,64, got {text!r}") from None
    if not sizes or any(s <= 0 for s in sizes):
        raise UsageError(f"--layers must be comma-separated positive integers such as 64,64, got {text!r}")
    return sizes


# --------------------------------------------------------------------------- model

def build_model(task: str, n_features: int, n_outputs: int, args: argparse.Namespace, *, log=None):
    """A Model of Dense+ReLU hidden layers with the head that fits the task; ``log`` is the Model's ``log``."""
    import nnref
    from .model import Model

    model = Model(log=log)
    sizes = [n_features, *_hidden_sizes(args.layers)]
    # Regression nets stall with the 0.01 init: chapter 17 switches to 0.1.
    scale = 0.1 if task == "regression" else 0.01
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        model.add(nnref.Dense(n_in, n_out, weight_scale=scale, rng=args.seed + i,
                              weight_regularizer_l2=args.l2, bias_regularizer_l2=args.l2))
        model.add(nnref.ReLU())
        if args.dropout:
            model.add(nnref.Dropout(args.dropout, rng=args.seed + 100 + i))
    model.add(nnref.Dense(sizes[-1], n_outputs, weight_scale=scale, rng=args.seed + len(sizes)))
    if task == "regression":
        model.add(nnref.Linear())
        loss, accuracy = nnref.MeanSquaredError(), nnref.RegressionAccuracy()
    else:
        model.add(nnref.Softmax())
        loss, accuracy = nnref.CategoricalCrossentropy(), nnref.CategoricalAccuracy()
    model.set(loss=loss, optimizer=make_optimizer(args), accuracy=accuracy)
    model.finalize()
    return model


def make_optimizer(args: argparse.Namespace):
    """The optimizer named on the command line, with the book's defaults where unset."""
    import nnref

    kwargs: dict[str, Any] = {"decay": args.decay}
    if args.learning_rate is not None:
        kwargs["learning_rate"] = args.learning_rate
    if args.optimizer == "sgd":
        return nnref.SGD(momentum=args.momentum, **kwargs)
    if args.momentum:
        raise UsageError("--momentum applies to --optimizer sgd only")
    return {"adagrad": nnref.Adagrad, "rmsprop": nnref.RMSprop, "adam": nnref.Adam}[args.optimizer](**kwargs)


# --------------------------------------------------------------------------- plots

def save_plots(history, out: Path, model=None, X=None, y=None) -> list[Path]:
    """Loss/accuracy curves, and the decision boundary for 2-D classification data."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("note: matplotlib is not installed; no plots written (pip install nnref[plot])", file=sys.stderr)
        return []
    import numpy as np

    from ._files import replace_atomically

    written = []
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(history.epoch, history.loss, label="training")
    ax_acc.plot(history.epoch, history.accuracy, label="training")
    if history.val_epoch:
        ax_loss.plot(history.val_epoch, history.val_loss, label="validation")
        ax_acc.plot(history.val_epoch, history.val_accuracy, label="validation")
    ax_loss.set(xlabel="epoch", ylabel="loss", title="Loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="Accuracy")
    for ax in (ax_loss, ax_acc):
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path = out / "curves.png"
    with replace_atomically(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    written.append(path)

    if model is not None and X is not None and X.shape[1] == 2 and y is not None and y.ndim == 1:
        pad = 0.1
        xs = np.linspace(X[:, 0].min() - pad, X[:, 0].max() + pad, 200)
        ys = np.linspace(X[:, 1].min() - pad, X[:, 1].max() + pad, 200)
        gx, gy = np.meshgrid(xs, ys)
        grid = np.column_stack([gx.ravel(), gy.ravel()]).astype(X.dtype)
        classes = model.predict(grid, batch_size=10_000)
        classes = np.asarray(model.output_layer_activation.predictions(classes)).reshape(gx.shape)
        fig, ax = plt.subplots(figsize=(5, 5))
        ax.contourf(gx, gy, classes, alpha=0.3, cmap="brg")
        ax.scatter(X[:, 0], X[:, 1], c=y, s=8, cmap="brg")
        ax.set(title="Decision boundary", xlabel="x1", ylabel="x2")
        fig.tight_layout()
        path = out / "decision_boundary.png"
        with replace_atomically(path) as tmp:
            fig.savefig(tmp, dpi=100, format="png")
        plt.close(fig)
        written.append(path)
    return written


# --------------------------------------------------------------------------- commands

def cmd_train(args: argparse.Namespace) -> int:
    """Train a model, save it with its history and plots, print the final metrics."""
    # SIGTERM unwinds like Ctrl-C, so an interrupted save leaves the previous files intact.
    with terminate_as_interrupt():
        return _train(args)


def _train(args: argparse.Namespace) -> int:
    from ._files import write_bytes_atomically
    from .model import TrainingDivergedError

    X, y, X_test, y_test, task = load_dataset(args.dataset, seed=args.seed, samples=args.samples,
                                              classes=args.classes)
    n_outputs = 1 if task == "regression" else int(max(y.max(), y_test.max())) + 1
    progress = not args.no_progress
    if progress and not tqdm_available():
        print("note: tqdm is not installed, so training prints its lines instead of a progress bar; "
              "`pip install nnref[progress]` gives the bar", file=sys.stderr)
        progress = False
    lines = _Lines(enabled=not progress)
    model = build_model(task, X.shape[1], n_outputs, args, log=lines)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        history = model.train(X, y, epochs=args.epochs, batch_size=args.batch_size,
                              validation_data=(X_test, y_test), progress=progress,
                              print_every=max(1, args.epochs // 10))
    except TrainingDivergedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    lines.enabled = False  # the summary below replaces the model's own validation line
    metrics = model.evaluate(X_test, y_test)
    model.save(out / MODEL_FILE)
    write_bytes_atomically(out / "history.json", json.dumps(history.as_dict()).encode("utf-8"))
    run = {"dataset": args.dataset, "task": task, "seed": args.seed, "samples": args.samples,
           "classes": args.classes, "epochs": args.epochs, "batch_size": args.batch_size,
           "layers": args.layers, "optimizer": args.optimizer,
           "test_loss": float(metrics.loss), "test_accuracy": float(metrics.accuracy)}
    write_bytes_atomically(out / RUN_FILE, json.dumps(run, indent=2).encode("utf-8"))
    plots = save_plots(history, out, model, X, y)
    print(f"training: acc {history.accuracy[-1]:.3f}, loss {history.loss[-1]:.3f}")
    print(f"test:     acc {metrics.accuracy:.3f}, loss {metrics.loss:.3f}")
    print(f"saved {out / MODEL_FILE}, {out / 'history.json'}" + "".join(f", {p}" for p in plots))
    return 0


def _load_model(path: str):
    from .model import Model

    p = Path(path)
    if p.is_dir():
        p = p / MODEL_FILE
    if not p.exists():
        raise UsageError(f"no model file at {p}")
    model = Model.load(p, log=None)  # the command prints its own summary lines
    return model, p


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Evaluate a saved model on a dataset's test split (or on .npy arrays)."""
    import numpy as np

    model, path = _load_model(args.model)
    if args.inputs:
        if not args.labels:
            raise UsageError("--inputs needs --labels")
        X_test = np.load(args.inputs, allow_pickle=False)
        y_test = np.load(args.labels, allow_pickle=False)
    else:
        run_file = path.parent / RUN_FILE
        run = json.loads(run_file.read_text()) if run_file.exists() else {}
        settings = _evaluation_settings(args, run, run_file)
        if settings["dataset"] is None:
            raise UsageError("say which data to evaluate on: --dataset NAME, or --inputs X.npy --labels y.npy")
        _, _, X_test, y_test, _ = load_dataset(settings["dataset"], seed=settings["seed"],
                                               samples=settings["samples"], classes=settings["classes"])
    metrics = model.evaluate(X_test, y_test, batch_size=args.batch_size)
    print(f"acc {metrics.accuracy:.4f}, loss {metrics.loss:.4f} on {len(X_test)} samples")
    return 0


#: evaluate's data settings: their flags and the value used when neither a flag nor run.json gives one.
EVALUATE_DEFAULTS = {"dataset": None, "seed": 0, "samples": 100, "classes": 3}


def _evaluation_settings(args: argparse.Namespace, run: dict, run_file: Path) -> dict[str, Any]:
    """The dataset, seed, samples and classes to evaluate on: a flag given on the command line wins,
    then the value recorded in run.json, then the default. A flag that contradicts run.json is reported."""
    settings = {}
    for name, default in EVALUATE_DEFAULTS.items():
        explicit = getattr(args, name)
        recorded = run.get(name)
        if explicit is not None and recorded is not None and explicit != recorded:
            print(f"warning: --{name} {explicit} overrides {name} {recorded} recorded in {run_file}",
                  file=sys.stderr)
        settings[name] = next((v for v in (explicit, recorded) if v is not None), default)
    return settings


def cmd_predict(args: argparse.Namespace) -> int:
    """Predict for an image file (prepared as in chapter 22) or a .npy array."""
    import numpy as np

    from . import data

    model, _ = _load_model(args.model)
    source = Path(args.input)
    if not source.exists():
        raise UsageError(f"no input file at {source}")
    if source.suffix == ".npy":
        X = np.load(source, allow_pickle=False)
        if X.ndim == 1:
            X = X.reshape(1, -1)
    else:
        n_features = model.layers[0].weights.shape[0]
        side = int(round(n_features ** 0.5))
        if side * side != n_features:
            raise UsageError(f"the model takes {n_features} features, not a square image; pass a .npy array")
        X = data.prepare_image(source, size=(side, side), invert=not args.no_invert)
    outputs = model.predict(X)
    predictions = model.output_layer_activation.predictions(outputs)
    labels = data.FASHION_MNIST_LABELS if args.labels == "fashion-mnist" else None
    for row, pred in zip(outputs, np.atleast_1d(predictions)):
        if np.ndim(pred) == 0 and row.shape[-1] > 1:
            name = f" ({labels[int(pred)]})" if labels else ""
            print(f"class {int(pred)}{name}, confidence {row[int(pred)]:.3f}")
        else:
            print(" ".join(f"{v:.6g}" for v in np.ravel(pred)))
    return 0


def cmd_derive(args: argparse.Namespace) -> int:
    """Run the SymPy derivation checks (all, or one by name)."""
    try:
        from derivations.__main__ import main as derive_main
    except ImportError as exc:
        print(f"error: the derivation checks need sympy and the derivations package: {exc}", file=sys.stderr)
        return 1
    return int(derive_main([args.name] if args.name else []) or 0)


def cmd_chapters(args: argparse.Namespace) -> int:
    """Print the chapter → objects → page map."""
    from .chapters import CHAPTERS

    if args.json:
        print(json.dumps([{"number": c.number, "title": c.title, "objects": list(c.objects), "page": c.page}
                          for c in CHAPTERS], indent=2))
        return 0
    for c in CHAPTERS:
        objects = ", ".join(c.objects) if c.objects else "-"
        print(f"{c.number:>2}  {c.title}\n    objects: {objects}\n    page:    docs/{c.page}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write a saved model for PyTorch (a state_dict) or as an ONNX graph."""
    from . import torch_bridge

    model, _ = _load_model(args.model)
    out = Path(args.out)
    try:
        if args.to == "torch":
            module = torch_bridge.save_state_dict(model, out)
            print(f"wrote {out}: the state_dict of\n{module}")
            print("load it with torch.load(path, weights_only=True) into that Sequential "
                  "(nnref.to_torch builds it)")
        else:
            proto = torch_bridge.save_onnx(model, out)
            ops = ", ".join(node.op_type for node in proto.graph.node)
            print(f"wrote {out}: an ONNX graph ({ops}), checked with onnx.checker; "
                  "input 'inputs', output 'outputs', any batch size")
    except ImportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_check_book(args: argparse.Namespace) -> int:
    """Run the verdicts of the book's printed outputs (one chapter or all) and print the table."""
    from . import bookcheck

    chapters = None if args.chapter is None else [args.chapter]
    try:
        results = bookcheck.check_all(chapters=chapters, include_slow=not args.quick)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        print(bookcheck.verdicts_table(results))
    # A block that reproduced when the verdicts were stored and no longer does is a failure.
    stored = bookcheck.stored_verdicts()
    moved = [r["id"] for r in results if r["id"] in stored and not r.get("stored")
             and r["verdict"] != stored[r["id"]]["verdict"]]
    if moved:
        print(f"verdicts changed since they were stored: {', '.join(moved)}", file=sys.stderr)
        return 1
    return 0


# --------------------------------------------------------------------------- notebook

def cmd_notebook(args: argparse.Namespace) -> int:
    """Write chapter N's notebook, generated from its page (``nnref.notebooks``)."""
    from . import notebooks

    try:
        path = notebooks.write_notebook(args.chapter, args.out, run=args.run)
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from None
    print(path)
    return 0


def add_notebook_parser(sub) -> None:
    """The ``notebook`` subcommand."""
    notebook = sub.add_parser("notebook", help="write a chapter as a Jupyter notebook",
                              description="Generate chapter N's Jupyter notebook from its page in docs/chapters "
                                          "(needs a checkout and the notebooks extra).")
    notebook.add_argument("chapter", type=int, metavar="N", help="chapter number, 1-22")
    notebook.add_argument("--out", default=".", help="output folder (default: the current folder)")
    notebook.add_argument("--run", action="store_true",
                          help="run it in a fresh kernel first, so it holds outputs (needs nbclient, ipykernel)")
    notebook.set_defaults(func=cmd_notebook)


# --------------------------------------------------------------------------- parser

def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``nnref`` command."""
    parser = argparse.ArgumentParser(prog="nnref", description=__doc__.split("\n\n")[0].replace("\n", " "))
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = sub.add_parser("train", help="train a model on a dataset and save it",
                           description="Train a Dense/ReLU network, save the model, its history and plots.")
    train.add_argument("--dataset", choices=DATASETS, default="spiral")
    train.add_argument("--layers", default="64", help="hidden layer sizes, comma separated (default 64)")
    train.add_argument("--optimizer", choices=OPTIMIZERS, default="adam")
    train.add_argument("--learning-rate", type=float, default=None, help="default: the optimizer's book default")
    train.add_argument("--decay", type=float, default=0.0)
    train.add_argument("--momentum", type=float, default=0.0, help="SGD only")
    train.add_argument("--l2", type=float, default=0.0, help="L2 penalty on weights and biases of hidden layers")
    train.add_argument("--dropout", type=float, default=0.0, help="dropout rate after each hidden layer")
    train.add_argument("--epochs", type=int, default=1000)
    train.add_argument("--batch-size", type=int, default=None)
    train.add_argument("--samples", type=int, default=100, help="samples per class (spiral, vertical) or in all (sine)")
    train.add_argument("--classes", type=int, default=3, help="classes (spiral, vertical)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", default="nnref-run", help="output folder (default ./nnref-run)")
    train.add_argument("--no-progress", action="store_true", help="print the book's lines instead of a progress bar")
    train.set_defaults(func=cmd_train)

    evaluate = sub.add_parser("evaluate", help="evaluate a saved model",
                              description="Loss and accuracy of a saved model on a test set.")
    evaluate.add_argument("model", help=f"a saved model file or the folder of a train run (holding {MODEL_FILE})")
    evaluate.add_argument("--dataset", choices=DATASETS, default=None,
                          help="default: the dataset recorded by `nnref train`")
    evaluate.add_argument("--inputs", help="a .npy array of inputs instead of a dataset")
    evaluate.add_argument("--labels", help="a .npy array of targets for --inputs")
    evaluate.add_argument("--batch-size", type=int, default=None)
    for name, what in (("seed", "seed of the generated data"), ("samples", "samples per class (or in all for sine)"),
                       ("classes", "classes")):
        evaluate.add_argument(f"--{name}", type=int, default=None,
                              help=f"{what}; default: the value recorded by `nnref train`, else "
                                   f"{EVALUATE_DEFAULTS[name]}. Given, it wins over the record (with a warning "
                                   f"when they differ)")
    evaluate.set_defaults(func=cmd_evaluate)

    predict = sub.add_parser("predict", help="predict for an image or a .npy array",
                             description="Predict with a saved model. An image is prepared as in chapter 22 "
                                         "(grayscale, resized, inverted, scaled to [-1, 1]).")
    predict.add_argument("model", help=f"a saved model file or the folder of a train run (holding {MODEL_FILE})")
    predict.add_argument("input", help="an image file (PNG, JPEG, ...) or a .npy array, one row per sample")
    predict.add_argument("--labels", choices=("fashion-mnist",), default=None, help="print class names")
    predict.add_argument("--no-invert", action="store_true", help="do not invert an image's brightness")
    predict.set_defaults(func=cmd_predict)

    derive = sub.add_parser("derive", help="run the SymPy derivation checks",
                            description="Prove each gradient with SymPy and check nnref's backward against it.")
    derive.add_argument("name", nargs="?", default=None, help="one derivation (default: all)")
    derive.set_defaults(func=cmd_derive)

    chapters = sub.add_parser("chapters", help="list chapter → objects → page",
                              description="The book's chapters, the nnref objects each introduces, and its page.")
    chapters.add_argument("--json", action="store_true", help="machine-readable output")
    chapters.set_defaults(func=cmd_chapters)

    export = sub.add_parser("export", help="write a saved model for PyTorch or ONNX",
                            description="Write a saved model as a PyTorch state_dict (load it with "
                                        "torch.load(path, weights_only=True) into nnref.to_torch's Sequential) "
                                        "or as an ONNX graph checked with onnx.checker. Needs nnref[torch]; "
                                        "ONNX also nnref[onnx].")
    export.add_argument("model", help=f"a saved model file or the folder of a train run (holding {MODEL_FILE})")
    export.add_argument("--to", choices=("torch", "onnx"), required=True, help="the format to write")
    export.add_argument("out", help="the file to write (e.g. model.pt or model.onnx)")
    export.set_defaults(func=cmd_export)
    add_notebook_parser(sub)
    check_book = sub.add_parser("check-book", help="check nnref against every printed output of the book",
                                description="Recompute the book's printed outputs (one chapter or all) in the "
                                            "book's set-up and print each block's verdict: exact, drift or "
                                            "not reproducible.")
    check_book.add_argument("chapter", nargs="?", type=int, default=None, help="a chapter number (default: all)")
    check_book.add_argument("--quick", action="store_true",
                            help="skip the long training runs (their stored verdicts are shown)")
    check_book.add_argument("--json", action="store_true", help="machine-readable output")
    check_book.set_defaults(func=cmd_check_book)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``nnref`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        print(f"interrupted ({signal.Signals(signum).name}); files being written were left as they were",
              file=sys.stderr)
        return 128 + int(signum)
    except (ValueError, TypeError, OSError) as exc:
        # nnref's own errors name what was wrong; show them without a traceback.
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
