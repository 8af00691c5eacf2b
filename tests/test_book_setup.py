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

# Chapter 10's Adam listing (our own code, the book's names and hyperparameters).
CHAPTER_10 = """
import numpy as np
from nnfs.datasets import spiral_data
from nnref.book import *

X, y = spiral_data(samples=100, classes=3)
dense1 = Layer_Dense(2, 64)
activation1 = Activation_ReLU()
dense2 = Layer_Dense(64, 3)
loss_activation = Activation_Softmax_Loss_CategoricalCrossentropy()
optimizer = Optimizer_Adam(learning_rate=0.05, decay=5e-7)
for epoch in range(EPOCHS):
    dense1.forward(X)
    activation1.forward(dense1.output)
    dense2.forward(activation1.output)
    loss = loss_activation.forward(dense2.output, y)
    predictions = np.argmax(loss_activation.output, axis=1)
    accuracy = np.mean(predictions == y)
    if not epoch % 100:
        print(f"epoch: {epoch}, acc: {accuracy:.3f}, loss: {loss:.3f}, lr: {optimizer.current_learning_rate}")
    loss_activation.backward(loss_activation.output, y)
    dense2.backward(loss_activation.dinputs)
    activation1.backward(dense2.dinputs)
    dense1.backward(activation1.dinputs)
    optimizer.pre_update_params()
    optimizer.update_params(dense1)
    optimizer.update_params(dense2)
    optimizer.post_update_params()
print(repr(dense1.weights.sum()), dense1.weights.dtype)
"""

# Chapters 19-22 in small: a Model on float32 data with batches, validation, save, load, predict.
MODEL_RUN = """
import os, tempfile
import numpy as np
from nnfs.datasets import spiral_data
from nnref.book import *

X, y = spiral_data(samples=100, classes=3)
X_test, y_test = spiral_data(samples=30, classes=3)
X, X_test = X.astype(np.float32), X_test.astype(np.float32)
model = Model()
model.add(Layer_Dense(2, 64, weight_regularizer_l2=5e-4, bias_regularizer_l2=5e-4))
model.add(Activation_ReLU())
model.add(Layer_Dropout(0.1))
model.add(Layer_Dense(64, 64))
model.add(Activation_ReLU())
model.add(Layer_Dense(64, 3))
model.add(Activation_Softmax())
model.set(loss=Loss_CategoricalCrossentropy(), optimizer=Optimizer_Adam(decay=1e-3), accuracy=Accuracy_Categorical())
model.finalize()
model.train(X, y, validation_data=(X_test, y_test), epochs=5, batch_size=32, print_every=4)
model.evaluate(X_test, y_test)
path = os.path.join(tempfile.mkdtemp(), "spiral.model")
model.save(path)
loaded = Model.load(path)
loaded.evaluate(X_test, y_test)
confidences = loaded.predict(X_test[:5])
print(loaded.output_layer_activation.predictions(confidences), repr(confidences.sum()))
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
