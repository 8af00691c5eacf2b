"""Killing a process while it saves a model (SIGTERM, Ctrl-C) keeps the previous file and leaves no temporary file.

A child process saves a Dense(2000, 2000) model (16 MB of float32 weights; a
save takes a few seconds, most of it compressing) over the same file again and
again, under the SIGTERM handling of ``nnref train``. The test watches the folder and sends the signal
the moment a temporary file appears, that is while the archive is being
written.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import nnref

N = 2000
CHILD = f"""
import sys
import numpy as np
import nnref
from nnref.cli import terminate_as_interrupt

path = sys.argv[1]
model = nnref.Model(log=None)
model.add(nnref.Dense({N}, {N}, rng=0, dtype=np.float32))
model.add(nnref.Linear())
model.set(loss=nnref.MeanSquaredError(), optimizer=nnref.SGD(), accuracy=nnref.RegressionAccuracy())
model.finalize()
model.save(path)
print("ready", flush=True)
try:
    with terminate_as_interrupt():
        version = 0
        while True:
            version += 1
            model.layers[0].weights[0, 0] = version  # each save is told apart by this one number
            model.save(path)
except KeyboardInterrupt as exc:
    print("interrupted", type(exc).__name__, flush=True)
    sys.exit(3)
"""


def _start(path: Path) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_during_save_keeps_a_whole_model_and_no_temporary_file(tmp_path, sig):
    """A signal that arrives while the model file is being written leaves one loadable model and nothing else."""
    path = tmp_path / "model.nnref"
    proc = _start(path)
    try:
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        caught = None
        deadline = time.monotonic() + 240
        while caught is None and proc.poll() is None and time.monotonic() < deadline:
            temporary = [name for name in os.listdir(tmp_path) if name != path.name]
            if temporary:
                proc.send_signal(sig)
                caught = temporary
            else:
                time.sleep(0.0005)
        assert caught, "no save was caught while writing its file"
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # the child unwound through its exception handler (it was not killed outright)
    assert proc.returncode == 3, (proc.returncode, err)
    assert "interrupted" in out and "Traceback" not in err
    assert sorted(os.listdir(tmp_path)) == [path.name], f"left behind: {os.listdir(tmp_path)}"
    loaded = nnref.load_model(path, log=None).layers[0].weights
    reference = nnref.Dense(N, N, rng=0, dtype=np.float32).weights
    # the first save, or a later one whose marker is a whole number
    first = float(loaded[0, 0])
    assert loaded.dtype == np.float32 and (first == reference[0, 0] or (first == int(first) and first >= 1))
    loaded[0, 0] = reference[0, 0]
    np.testing.assert_array_equal(loaded, reference)
