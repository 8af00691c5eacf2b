"""Shared test set-up: one BLAS thread, and no leaked nnfs patch between tests."""
from __future__ import annotations

import os
import sys
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

try:  # limit BLAS threads even if numpy was imported before this file
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
except ImportError:  # pragma: no cover
    pass

def import_torch_or_skip():
    """Return the torch module, or skip with a reason that ``pytest -ra`` lists: "PyTorch not installed: ...".

    The reason carries run.py's note on why no CPU build was installed (which
    pins it tried), when there is one in the running environment.
    """
    try:
        import torch
    except ImportError as exc:
        note = Path(sys.prefix) / ".nnref-torch-note"
        why = note.read_text().strip() if note.is_file() else (
            "`python3 run.py test` installs the CPU build where the package index offers one, "
            "or install it yourself: pip install torch==2.13.0")
        pytest.skip(f"PyTorch not installed: {exc}. {why}", allow_module_level=True)
    return torch


_ORIGINALS = {"dot": np.dot, "zeros": np.zeros, "eye": np.eye, "randn": np.random.randn}


@pytest.fixture(autouse=True)
def _no_leaked_nnfs_patch():
    """Fail the test that leaves numpy patched (a global nnfs.init() without book_mode)."""
    yield
    leaked = [name for name, fn in (("dot", np.dot), ("zeros", np.zeros), ("eye", np.eye),
                                    ("randn", np.random.randn)) if fn is not _ORIGINALS[name]]
    if leaked:
        np.dot, np.zeros, np.eye, np.random.randn = (_ORIGINALS[k] for k in ("dot", "zeros", "eye", "randn"))
        pytest.fail(f"test left numpy patched by nnfs.init(): {leaked}; use nnref.book_mode()")


@pytest.fixture(scope="session")
def built_site(tmp_path_factory):
    """The documentation site, built once per session with `mkdocs build --strict` (see docs_site.py)."""
    from docs_site import build_site

    return build_site(tmp_path_factory.mktemp("site") / "site")
