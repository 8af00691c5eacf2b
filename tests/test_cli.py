"""The ``nnref`` console script, run in subprocesses as a user runs it."""
from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(sys.executable).parent / "nnref"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the installed console script (or ``python -m nnref.cli`` if it is not on disk)."""
    cmd = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "nnref.cli"]
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg")
    return subprocess.run(cmd + list(args), capture_output=True, text=True, cwd=cwd or ROOT, env=env, timeout=300)


@pytest.fixture(scope="module")
def spiral_run(tmp_path_factory) -> Path:
    """One short spiral training run shared by the evaluate/predict tests."""
    out = tmp_path_factory.mktemp("spiral")
    proc = run("train", "--dataset", "spiral", "--epochs", "200", "--learning-rate", "0.05",
               "--layers", "32", "--out", str(out), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.mark.parametrize("command", ["train", "evaluate", "predict", "derive", "chapters"])
def test_every_subcommand_has_help(command):
    """`nnref COMMAND --help` exits 0 and describes the command's usage."""
    proc = run(command, "--help")
    assert proc.returncode == 0
    assert proc.stdout.startswith(f"usage: nnref {command}")


def test_no_command_is_a_usage_error():
    """A bare `nnref` exits 2 (argparse's usage-error code) and says a command is needed."""
    proc = run()
    assert proc.returncode == 2
    assert "COMMAND" in proc.stderr


@pytest.mark.slow
def test_train_writes_model_history_and_plots(spiral_run):
    """`nnref train` saves the model, a JSON history, a run record and both PNG plots."""
    for name in ("model.nnref", "history.json", "run.json", "curves.png", "decision_boundary.png"):
        assert (spiral_run / name).stat().st_size > 0, name
    history = json.loads((spiral_run / "history.json").read_text())
    assert len(history["loss"]) == 200
    assert history["loss"][-1] < history["loss"][0]
    run_record = json.loads((spiral_run / "run.json").read_text())
    assert run_record["dataset"] == "spiral"
    assert (spiral_run / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_train_learns_the_spiral(spiral_run):
    """200 Adam epochs at lr 0.05 get clearly above chance (1/3) on fresh spiral test data."""
    record = json.loads((spiral_run / "run.json").read_text())
    assert record["test_accuracy"] > 0.5


@pytest.mark.slow
def test_train_shows_a_progress_bar(tmp_path):
    """By default training draws a tqdm bar with loss, accuracy and learning rate."""
    proc = run("train", "--dataset", "vertical", "--epochs", "20", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "20/20" in proc.stderr and "loss=" in proc.stderr and "lr=" in proc.stderr
    assert "test:" in proc.stdout


@pytest.mark.slow
def test_train_regression_on_sine(tmp_path):
    """The sine dataset trains a regression head (linear output, MSE) and saves it."""
    proc = run("train", "--dataset", "sine", "--epochs", "50", "--layers", "16,16", "--out", str(tmp_path),
               "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "run.json").read_text())["task"] == "regression"


def test_train_rejects_bad_layers(tmp_path):
    """A malformed --layers value is a usage error (exit 2) naming the option."""
    proc = run("train", "--layers", "64,zero", "--out", str(tmp_path))
    assert proc.returncode == 2
    assert "--layers" in proc.stderr


def test_train_rejects_negative_learning_rate(tmp_path):
    """An invalid hyperparameter is refused with nnref's message and exit code 2, no traceback."""
    proc = run("train", "--learning-rate", "-1", "--epochs", "1", "--out", str(tmp_path))
    assert proc.returncode == 2
    assert "learning_rate" in proc.stderr and "Traceback" not in proc.stderr


def test_evaluate_uses_the_recorded_dataset(spiral_run):
    """`nnref evaluate RUN_DIR` re-creates the test split recorded by train and matches its accuracy."""
    proc = run("evaluate", str(spiral_run))
    assert proc.returncode == 0, proc.stderr
    acc = float(proc.stdout.split("acc ")[1].split(",")[0])
    assert acc == pytest.approx(json.loads((spiral_run / "run.json").read_text())["test_accuracy"], abs=1e-4)


def test_evaluate_on_npy_arrays(spiral_run, tmp_path):
    """`--inputs/--labels` evaluate on arrays from .npy files."""
    X = np.random.default_rng(0).uniform(-1, 1, (30, 2)).astype(np.float32)
    y = np.zeros(30, dtype=np.int64)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    proc = run("evaluate", str(spiral_run / "model.nnref"), "--inputs", str(tmp_path / "X.npy"),
               "--labels", str(tmp_path / "y.npy"))
    assert proc.returncode == 0, proc.stderr
    assert "on 30 samples" in proc.stdout


def test_predict_npy(spiral_run, tmp_path):
    """`nnref predict MODEL X.npy` prints one class per row."""
    np.save(tmp_path / "x.npy", np.array([[0.1, 0.2], [-0.5, 0.3], [0.0, -0.7]]))
    proc = run("predict", str(spiral_run), str(tmp_path / "x.npy"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("class ") for line in lines)


def test_predict_image(tmp_path):
    """An image input is prepared as in chapter 22 for a model with a square number of inputs."""
    from PIL import Image

    import nnref
    from nnref.model import Model

    model = Model(log=None)
    model.add(nnref.Dense(784, 10, rng=0))
    model.add(nnref.Softmax())
    model.set(loss=nnref.CategoricalCrossentropy(), optimizer=nnref.Adam(), accuracy=nnref.CategoricalAccuracy())
    model.finalize()
    model.save(tmp_path / "m.nnref")
    Image.fromarray(np.full((40, 30, 3), 200, dtype=np.uint8)).save(tmp_path / "shirt.png")
    proc = run("predict", str(tmp_path / "m.nnref"), str(tmp_path / "shirt.png"), "--labels", "fashion-mnist")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("class ") and "(" in proc.stdout


def test_predict_missing_model_is_a_usage_error(tmp_path):
    """A model path that does not exist gives exit code 2 and names the path."""
    proc = run("predict", str(tmp_path / "nothing.nnref"), str(tmp_path / "x.npy"))
    assert proc.returncode == 2
    assert "nothing.nnref" in proc.stderr


def test_evaluate_refuses_a_pickle(tmp_path):
    """A pickle disguised as a model file is refused with exit code 2, and nothing in it runs."""
    import pickle

    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    (tmp_path / "evil.nnref").write_bytes(pickle.dumps(Payload()))
    proc = run("evaluate", str(tmp_path / "evil.nnref"), "--dataset", "spiral")
    assert proc.returncode == 2
    assert not marker.exists()


def test_chapters_lists_all_22():
    """`nnref chapters --json` gives the 22 chapters with their pages."""
    proc = run("chapters", "--json")
    assert proc.returncode == 0
    chapters = json.loads(proc.stdout)
    assert [c["number"] for c in chapters] == list(range(1, 23))
    assert all((ROOT / "docs" / c["page"]).exists() for c in chapters)


@pytest.mark.slow
def test_derive_one():
    """`nnref derive NAME` runs one derivation check and exits 0 when it passes."""
    pytest.importorskip("sympy")
    listing = run("derive", "--help")
    assert listing.returncode == 0
    proc = run("derive", "relu")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "relu" in proc.stdout.lower()


@pytest.mark.slow
def test_derive_unknown_name_fails():
    """An unknown derivation name is an error with a non-zero exit code."""
    pytest.importorskip("sympy")
    proc = run("derive", "no-such-derivation")
    assert proc.returncode != 0


# ---------------------------------------------------------------- issue 13: tqdm missing, evaluate flags, signals
def _book_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("epoch: ")]


@pytest.mark.slow
def test_train_without_tqdm_falls_back_to_the_book_lines(tmp_path, monkeypatch, capsys):
    """With tqdm not importable, `nnref train` still trains, prints the book's epoch lines and says once how to get the bar."""
    from nnref import cli

    monkeypatch.setitem(sys.modules, "tqdm", None)  # `import tqdm` now raises ImportError
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    assert not cli.tqdm_available()
    code = cli.main(["train", "--dataset", "vertical", "--epochs", "20", "--layers", "8", "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert err.count("pip install nnref[progress]") == 1
    # print_every = epochs // 10 = 2: the chapter 18 line every second epoch
    assert [line.split(",")[0] for line in _book_lines(out)] == [f"epoch: {e}" for e in range(2, 21, 2)]
    assert "test:" in out and (tmp_path / "model.nnref").is_file()


def test_train_no_progress_prints_the_book_lines(tmp_path, capsys):
    """`--no-progress` prints the book's epoch lines (acc, loss, lr) instead of a bar, and no tqdm note."""
    from nnref import cli

    code = cli.main(["train", "--dataset", "vertical", "--epochs", "10", "--layers", "8", "--out", str(tmp_path),
                     "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = _book_lines(out)
    assert len(lines) == 10 and all(" acc: " in line and " loss: " in line and " lr: " in line for line in lines)
    assert "nnref[progress]" not in err


def _acc_loss(stdout: str) -> tuple[float, float]:
    acc = float(stdout.split("acc ")[1].split(",")[0])
    loss = float(stdout.split("loss ")[1].split(" ")[0])
    return acc, loss


def test_evaluate_explicit_samples_win_over_run_json(spiral_run):
    """An explicit --samples is used (150 samples, not run.json's 300) and the conflict is named on stderr."""
    proc = run("evaluate", str(spiral_run), "--samples", "50")
    assert proc.returncode == 0, proc.stderr
    assert "on 150 samples" in proc.stdout
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "--samples 50" in warnings[0] and "samples 100" in warnings[0]
    assert "run.json" in warnings[0]


def test_evaluate_explicit_seed_draws_that_test_set(spiral_run):
    """--seed 7 evaluates on the spiral test set drawn with seed 7, as computed independently here."""
    from nnref.cli import load_dataset
    from nnref.model import Model

    proc = run("evaluate", str(spiral_run), "--seed", "7")
    assert proc.returncode == 0, proc.stderr
    assert "--seed 7" in proc.stderr and "seed 0" in proc.stderr
    model = Model.load(spiral_run / "model.nnref", log=None)
    expected = {}
    for seed in (0, 7):
        _, _, X_test, y_test, _ = load_dataset("spiral", seed=seed, samples=100, classes=3)
        expected[seed] = model.evaluate(X_test, y_test)
    assert abs(expected[7].loss - expected[0].loss) > 1e-3  # the two test sets really differ
    acc, loss = _acc_loss(proc.stdout)
    assert acc == pytest.approx(expected[7].accuracy, abs=1e-4)
    assert loss == pytest.approx(expected[7].loss, abs=1e-4)


def test_evaluate_flag_equal_to_the_record_is_silent(spiral_run):
    """A flag that repeats run.json's value gives the recorded result and no warning."""
    proc = run("evaluate", str(spiral_run), "--seed", "0", "--samples", "100", "--classes", "3",
               "--dataset", "spiral")
    assert proc.returncode == 0, proc.stderr
    assert "warning" not in proc.stderr and "on 300 samples" in proc.stdout
    record = json.loads((spiral_run / "run.json").read_text())
    assert _acc_loss(proc.stdout)[0] == pytest.approx(record["test_accuracy"], abs=1e-4)


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT"])
def test_train_interrupted_exits_cleanly_and_keeps_the_old_model(tmp_path, sig, code):
    """SIGTERM or Ctrl-C during `nnref train` ends it with 128 + signal, a one-line note, no traceback, and the previous run's files untouched."""
    old = {"model.nnref": b"previous model", "run.json": b"{}", "history.json": b"{}"}
    for name, payload in old.items():
        (tmp_path / name).write_bytes(payload)
    cmd = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "nnref.cli"]
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg")
    proc = subprocess.Popen(cmd + ["train", "--epochs", "100000", "--batch-size", "50", "--no-progress",
                                   "--out", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    try:
        # wait (at most 120 s) for the first line, so the signal lands during training
        ready, _, _ = select.select([proc.stdout], [], [], 120)
        assert ready and proc.stdout.readline().startswith("epoch: 1"), "train printed no epoch line"
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == code, err
    assert "interrupted" in err and signal.Signals(sig).name in err and "Traceback" not in err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == old
