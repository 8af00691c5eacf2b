#!/usr/bin/env python3
"""Set up nnref in a local virtual environment, then build the site or run the tests.

Usage (needs nothing but Python >= 3.10):

    python3 run.py serve   # install, build the site strictly, serve it on http://127.0.0.1:8000
    python3 run.py test    # install, then run every test

The first call creates ``.venv/`` and installs nnref with its test and docs
extras; later calls reinstall only when ``pyproject.toml`` changed.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".nnref-installed"
# The CPU build of PyTorch is an optional peer for parity tests and benchmarks.
# The "+cpu" local version never matches a multi-GB CUDA wheel: where no CPU
# wheel is reachable the install fails fast and the torch tests skip.
TORCH = "torch==2.13.0+cpu"


def single_thread_env() -> dict[str, str]:
    """Environment with BLAS limited to one thread (see bench/README.md for why)."""
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")
    env.setdefault("NO_MKDOCS_2_WARNING", "1")
    env.setdefault("MPLBACKEND", "Agg")
    return env


def sh(*args: str | os.PathLike, check: bool = True) -> int:
    print("+", " ".join(str(a) for a in args), flush=True)
    return subprocess.run([str(a) for a in args], cwd=ROOT, env=single_thread_env(), check=check).returncode


def ensure_installed() -> None:
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == digest and PY.exists():
        return
    if not PY.exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    sh(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    sh(PY, "-m", "pip", "install", "--quiet", "-e", ".[test,docs]")
    if sh(PY, "-m", "pip", "install", "--quiet", TORCH, check=False) != 0:
        print("note: no CPU build of PyTorch reachable; PyTorch parity tests will be skipped", flush=True)
    STAMP.write_text(digest)


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in {"serve", "test", "build", "setup"}:
        print(__doc__)
        return 2
    ensure_installed()
    task = argv[0]
    if task == "test":
        return sh(PY, "-m", "pytest", check=False)
    if task == "build":
        return sh(BIN / "mkdocs", "build", "--strict", check=False)
    if task == "serve":
        # serve builds the site once, strictly, before it starts listening
        return sh(BIN / "mkdocs", "serve", "--strict", "--no-livereload", "-a", "127.0.0.1:8000", check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
