#!/usr/bin/env python3
"""Set up nnref in a local virtual environment, then build the site or run the tests.

Usage (needs nothing but Python >= 3.10):

    python3 run.py serve   # install, build the site strictly, serve it on http://127.0.0.1:8000
    python3 run.py test    # install, then run every test

The first call creates ``.venv/`` and installs what the task needs: ``serve``
and ``build`` the docs extra only; ``test`` (and ``setup``) the test and docs
extras and the CPU build of PyTorch for the parity tests. Each set has its own
stamp in ``.venv/``; a later call reinstalls only when ``pyproject.toml``
changed or the task needs a set not installed yet.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")

#: What each task needs. The site needs the docs extra only; the tests need
#: every extra, and PyTorch for the parity tests and benchmarks.
TASK_SETS = {"serve": "docs", "build": "docs", "test": "test", "setup": "test"}
EXTRAS = {"docs": "docs", "test": "test,docs"}
WITH_TORCH = {"docs": False, "test": True}
#: A set whose install also satisfies another (the test set holds the docs extra).
SUPERSETS = {"docs": ("docs", "test"), "test": ("test",)}

# The CPU build of PyTorch, as the index in use offers it: PyTorch's CPU index
# (and this machine's wheel folder) call it 2.13.0+cpu, which never matches a
# CUDA wheel; another index may offer only 2.13.0. That plain pin is resolved
# with a dry run first and refused if it would bring CUDA packages (several
# GB). torch is never asked for unpinned.
TORCH_CANDIDATES = ("torch==2.13.0+cpu", "torch==2.13.0")


def requirements(task: str) -> dict[str, object]:
    """What ``python3 run.py TASK`` installs: the pip arguments for nnref and whether PyTorch is tried."""
    kind = TASK_SETS[task]
    return {"set": kind, "nnref": ["-e", f".[{EXTRAS[kind]}]"], "torch": TORCH_CANDIDATES if WITH_TORCH[kind] else ()}


def stamp_path(kind: str) -> Path:
    """The file recording that a task set was installed for the current pyproject.toml."""
    return VENV / f".nnref-installed-{kind}"


def torch_note_path() -> Path:
    """Where run.py says why PyTorch is missing; the parity tests put it in their skip reason."""
    return VENV / ".nnref-torch-note"


def stamp_text(kind: str, pyproject: bytes) -> str:
    """What the stamp of ``kind`` holds: a digest of pyproject.toml and of the set's requirements."""
    spec = f"{kind}|{EXTRAS[kind]}|{' '.join(TORCH_CANDIDATES) if WITH_TORCH[kind] else ''}|".encode()
    return hashlib.sha256(spec + pyproject).hexdigest()


def is_installed(kind: str, pyproject: bytes) -> bool:
    """True when ``kind``, or a set that contains it, was installed for this pyproject.toml."""
    return any(stamp_path(k).is_file() and stamp_path(k).read_text() == stamp_text(k, pyproject)
               for k in SUPERSETS[kind])


def cuda_packages(report: dict) -> list[str]:
    """Names of CUDA runtime packages in a ``pip install --dry-run --report`` result."""
    names = [item.get("metadata", {}).get("name", "") for item in report.get("install", [])]
    return sorted(n for n in names if n.lower().replace("_", "-").startswith(("nvidia-", "triton")))


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


def pip_report(spec: str) -> dict | None:
    """What ``pip install spec`` would install (a dry run), or None when it cannot be resolved."""
    print(f"+ pip install --dry-run {spec}", flush=True)
    proc = subprocess.run([str(PY), "-m", "pip", "install", "--dry-run", "--quiet", "--report", "-", spec],
                          cwd=ROOT, env=single_thread_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        return None
    try:
        return json.loads(proc.stdout)
    except ValueError:
        return None


def install_torch(candidates: tuple[str, ...]) -> str | None:
    """Install the first candidate that resolves to a CPU build; return it, or None with a note saved."""
    tried = []
    for spec in candidates:
        if not spec.endswith("+cpu"):
            # A plain version may be the CUDA build (PyPI's Linux wheels are): look before installing.
            report = pip_report(spec)
            if report is None:
                tried.append(f"{spec} (not offered by the index)")
                continue
            cuda = cuda_packages(report)
            if cuda:
                tried.append(f"{spec} (a CUDA build: it would bring {', '.join(cuda[:3])}, ...)")
                continue
        if sh(PY, "-m", "pip", "install", "--quiet", spec, check=False) == 0:
            torch_note_path().unlink(missing_ok=True)
            return spec
        tried.append(f"{spec} (not installable from the index in use)")
    note = "no CPU build of PyTorch installed; tried " + "; ".join(tried)
    torch_note_path().write_text(note + "\n")
    print(f"note: {note}. The PyTorch parity tests will be skipped (pytest -ra lists them).", flush=True)
    return None


def ensure_installed(task: str) -> None:
    """Install what ``task`` needs into .venv, unless its stamp says it is there already."""
    pyproject = (ROOT / "pyproject.toml").read_bytes()
    plan = requirements(task)
    kind = plan["set"]
    if PY.exists() and is_installed(kind, pyproject):
        return
    if not PY.exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    sh(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    sh(PY, "-m", "pip", "install", "--quiet", *plan["nnref"])
    if plan["torch"]:
        install_torch(plan["torch"])
    stamp_path(kind).write_text(stamp_text(kind, pyproject))


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in {"serve", "test", "build", "setup"}:
        print(__doc__)
        return 2
    task = argv[0]
    ensure_installed(task)
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
