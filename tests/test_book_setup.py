"""The book's own set-up: a bare ``nnfs.init()`` gives the bits of ``book_mode()``.

Every listing of the book starts with ``nnfs.init()``; a learner replaces the
listing's classes with ``from nnref.book import *`` and changes nothing else.
``nnfs.init()`` patches numpy for the whole process and cannot be undone, so
each run here is a fresh subprocess. Both runs print the same lines, or the
test shows the first that differs.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Chapter 10's Adam run, in our own form: the book's names and hyperparameters, the
# network as a list walked forward and back.
CHAPTER_10 = """
import numpy as np
from nnfs.datasets import spiral_data
from nnref.book import *

X, y = spiral_data(samples=100, classes=3)
hidden = [Layer_Dense(2, 64), Activation_ReLU(), Layer_Dense(64, 3)]
head = Activation_Softmax_Loss_CategoricalCrossentropy()
adam = Optimizer_Adam(learning_rate=0.05, decay=5e-7)
trainable = [layer for layer in hidden if isinstance(layer, Layer_Dense)]
for epoch in range(EPOCHS):
    signal = X
    for layer in hidden:
        layer.forward(signal)
        signal = layer.output
    mean_loss = head.forward(signal, y)
    if epoch % 100 == 0:
        hits = np.mean(np.argmax(head.output, axis=1) == y)
        print(f"epoch: {epoch}, acc: {hits:.3f}, loss: {mean_loss:.3f}, lr: {adam.current_learning_rate}")
    head.backward(head.output, y)
    grad = head.dinputs
    for layer in reversed(hidden):
        layer.backward(grad)
        grad = layer.dinputs
    adam.pre_update_params()
    for layer in trainable:
        adam.update_params(layer)
    adam.post_update_params()
print(repr(trainable[0].weights.sum()), trainable[0].weights.dtype)
"""

# Chapters 19-22 in small: a Model on float32 data with batches, validation, save, load, predict.
MODEL_RUN = """
import os, tempfile
import numpy as np
from nnfs.datasets import spiral_data
from nnref.book import *

X, y = spiral_data(samples=100, classes=3)
X_val, y_val = spiral_data(samples=30, classes=3)
X, X_val = X.astype(np.float32), X_val.astype(np.float32)
net = Model()
for piece in (Layer_Dense(2, 48, weight_regularizer_l2=1e-4, bias_regularizer_l2=1e-4), Activation_ReLU(),
              Layer_Dropout(0.2), Layer_Dense(48, 32), Activation_ReLU(), Layer_Dense(32, 3),
              Activation_Softmax()):
    net.add(piece)
net.set(optimizer=Optimizer_Adam(learning_rate=0.01, decay=1e-3), loss=Loss_CategoricalCrossentropy(),
        accuracy=Accuracy_Categorical())
net.finalize()
net.train(X, y, epochs=5, batch_size=32, print_every=4, validation_data=(X_val, y_val))
net.evaluate(X_val, y_val)
where = os.path.join(tempfile.mkdtemp(), "spiral.model")
net.save(where)
again = Model.load(where)
again.evaluate(X_val, y_val)
scores = again.predict(X_val[:5])
print(again.output_layer_activation.predictions(scores), repr(scores.sum()))
"""


def _run(code: str, *, bare: bool, epochs: int = 0) -> str:
    code = code.replace("EPOCHS", str(epochs))
    if bare:
        program = "import nnfs\nnnfs.init()\n" + code
    else:
        program = "import nnref\nwith nnref.book_mode():\n" + textwrap.indent(code, "    ")
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, env=env,
                          timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _assert_same_lines(bare: str, scoped: str) -> None:
    bare_lines, scoped_lines = bare.splitlines(), scoped.splitlines()
    for i, (a, b) in enumerate(zip(bare_lines, scoped_lines)):
        assert a == b, f"line {i}: nnfs.init() printed {a!r}, book_mode() printed {b!r}"
    assert len(bare_lines) == len(scoped_lines) and bare_lines


def test_numpy_patched_sees_nnfs_init_whatever_the_import_order():
    """numpy_patched() is False in a fresh process and True after nnfs.init(), before or after importing nnref."""
    check = "from nnref.repro import numpy_patched; print(numpy_patched())"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for program, expected in [
        (check, "False"),
        ("import nnfs; nnfs.init(); " + check, "True"),
        ("from nnref.repro import numpy_patched; import nnfs; nnfs.init(); print(numpy_patched())", "True"),
        ("import nnref, numpy as np\nwith nnref.book_mode(): pass\n" + check, "False"),
    ]:
        done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, env=env, timeout=120)
        assert done.stdout.strip() == expected, (program, done.stderr)


@pytest.mark.slow
def test_chapter_10_adam_listing_prints_the_same_under_nnfs_init_and_book_mode():
    """Chapter 10's Adam run, 10,001 epochs: every printed line equal, and the book's own epoch-0 and 100 lines."""
    bare = _run(CHAPTER_10, bare=True, epochs=10001)
    _assert_same_lines(bare, _run(CHAPTER_10, bare=False, epochs=10001))
    lines = bare.splitlines()
    assert lines[0] == "epoch: 0, acc: 0.360, loss: 1.099, lr: 0.05"  # the book's printed line
    assert lines[-1].endswith("float32")


def test_model_with_batches_validation_save_load_predict_under_nnfs_init():
    """A Model on float32 data (chapters 19-22 in small) runs after a bare nnfs.init() and prints book_mode's lines."""
    bare = _run(MODEL_RUN, bare=True)
    _assert_same_lines(bare, _run(MODEL_RUN, bare=False))
    assert any(line.startswith("validation, acc:") for line in bare.splitlines())
