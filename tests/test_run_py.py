"""run.py's install logic, with pip replaced by a recorder: nothing is installed here."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import import_torch_or_skip

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def run_py(tmp_path, monkeypatch):
    """run.py loaded as a module, its .venv moved to a temporary folder and its commands recorded."""
    spec = importlib.util.spec_from_file_location("nnref_run_py", ROOT / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    venv = tmp_path / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("")  # an existing interpreter: no venv is created
    monkeypatch.setattr(module, "VENV", venv)
    monkeypatch.setattr(module, "PY", venv / "bin" / "python")
    module.calls = []

    def fake_sh(*args, check=True):
        module.calls.append([str(a) for a in args[1:]])
        return 0

    monkeypatch.setattr(module, "sh", fake_sh)
    monkeypatch.setattr(module, "pip_report", lambda spec: {"install": [{"metadata": {"name": "torch"}}]})
    return module


def _extras() -> dict[str, list[str]]:
    tomllib = pytest.importorskip("tomllib")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]


def _names(requirements: list[str]) -> set[str]:
    return {r.split(">")[0].split("=")[0].split("<")[0].split("[")[0].strip().lower() for r in requirements}


def _installed(calls) -> list[str]:
    """The packages (and the editable target) of the recorded `python -m pip install` calls, in order."""
    return [arg for call in calls if call[:3] == ["-m", "pip", "install"] for arg in call[3:]
            if not arg.startswith("-")]


@pytest.mark.parametrize("task", ["serve", "build"])
def test_site_tasks_install_the_docs_extra_only(run_py, task):
    """serve and build install nnref with the docs extra, and neither PyTorch nor the test extra."""
    plan = run_py.requirements(task)
    assert plan["nnref"] == ["-e", ".[docs]"] and plan["torch"] == ()
    run_py.ensure_installed(task)
    assert _installed(run_py.calls) == ["pip", ".[docs]"]
    assert not any("torch" in arg for call in run_py.calls for arg in call)


def test_docs_extra_holds_no_torch_and_no_test_tools():
    """The site's extra needs neither PyTorch nor pytest, hypothesis or playwright."""
    assert not _names(_extras()["docs"]) & {"torch", "pytest", "hypothesis", "playwright"}


def test_test_task_installs_every_extra_and_the_cpu_torch(run_py):
    """test installs the test and docs extras (which hold every other extra but torch) and the pinned CPU PyTorch."""
    extras = _extras()
    plan = run_py.requirements("test")
    assert plan["nnref"] == ["-e", ".[test,docs]"]
    covered = _names(extras["test"]) | _names(extras["docs"]) | {"torch"}  # torch: the pinned CPU build below
    for name, packages in extras.items():
        assert _names(packages) <= covered, name
    assert plan["torch"] == ("torch==2.13.0+cpu", "torch==2.13.0")
    run_py.ensure_installed("test")
    assert _installed(run_py.calls) == ["pip", ".[test,docs]", "torch==2.13.0+cpu"]


def test_torch_is_never_asked_for_unpinned(run_py):
    """Every PyTorch requirement run.py can install pins one exact version."""
    for spec in run_py.TORCH_CANDIDATES:
        name, _, version = spec.partition("==")
        assert name == "torch" and version.startswith("2.13.0") and "*" not in version


def test_plain_pin_is_tried_when_the_cpu_label_is_not_offered(run_py, monkeypatch):
    """Where the index has no 2.13.0+cpu, torch==2.13.0 is installed after a dry run shows no CUDA packages."""
    def fake_sh(*args, check=True):
        run_py.calls.append([str(a) for a in args[1:]])
        return 1 if "torch==2.13.0+cpu" in args else 0

    monkeypatch.setattr(run_py, "sh", fake_sh)
    assert run_py.install_torch(run_py.TORCH_CANDIDATES) == "torch==2.13.0"
    assert _installed(run_py.calls) == ["torch==2.13.0+cpu", "torch==2.13.0"]
    assert not run_py.torch_note_path().exists()


def test_cuda_build_is_refused_and_the_reason_kept(run_py, monkeypatch, capsys):
    """A plain pin that resolves to CUDA packages is not installed; the note names what was tried and why."""
    monkeypatch.setattr(run_py, "sh", lambda *args, check=True: run_py.calls.append([str(a) for a in args[1:]]) or 1)
    cuda = {"install": [{"metadata": {"name": "torch"}}, {"metadata": {"name": "nvidia-cublas-cu12"}},
                        {"metadata": {"name": "nvidia_cudnn_cu12"}}]}
    monkeypatch.setattr(run_py, "pip_report", lambda spec: cuda)
    assert run_py.install_torch(run_py.TORCH_CANDIDATES) is None
    assert _installed(run_py.calls) == ["torch==2.13.0+cpu"]  # the plain pin never reached pip install
    note = run_py.torch_note_path().read_text()
    assert "torch==2.13.0+cpu" in note and "torch==2.13.0 (a CUDA build" in note and "nvidia-cublas-cu12" in note
    assert "skipped" in capsys.readouterr().out


def test_cuda_packages_are_recognised(run_py):
    """The dry-run check flags NVIDIA runtime wheels (either spelling) and triton, and nothing else."""
    report = {"install": [{"metadata": {"name": n}} for n in
                          ("torch", "filelock", "nvidia-cuda-runtime-cu12", "nvidia_nccl_cu12", "triton")]}
    assert run_py.cuda_packages(report) == ["nvidia-cuda-runtime-cu12", "nvidia_nccl_cu12", "triton"]
    assert run_py.cuda_packages({"install": [{"metadata": {"name": "torch"}}]}) == []


def test_stamps_per_task_set(run_py):
    """Each set has its own stamp: serve after test installs nothing, test after serve installs its set, a changed pyproject reinstalls."""
    run_py.ensure_installed("serve")
    run_py.calls.clear()
    run_py.ensure_installed("build")
    assert run_py.calls == []  # same set
    run_py.ensure_installed("test")
    assert ".[test,docs]" in _installed(run_py.calls)
    run_py.calls.clear()
    run_py.stamp_path("docs").unlink()
    run_py.ensure_installed("serve")
    run_py.ensure_installed("test")
    assert run_py.calls == []  # the test set holds the docs extra
    pyproject = (ROOT / "pyproject.toml").read_bytes()
    assert run_py.is_installed("test", pyproject)
    assert not run_py.is_installed("test", pyproject + b"\n# changed\n")


def test_unknown_task_installs_nothing(run_py, capsys):
    """An unknown task prints the usage and exits 2 before any install."""
    assert run_py.main(["deploy"]) == 2
    assert run_py.calls == [] and "run.py serve" in capsys.readouterr().out


def test_missing_torch_is_a_visible_skip(monkeypatch, tmp_path):
    """Without PyTorch the parity tests skip with "PyTorch not installed: ..." and run.py's note in the reason."""
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(pytest.skip.Exception) as info:
        import_torch_or_skip()
    assert str(info.value.msg).startswith("PyTorch not installed:") and "run.py" in info.value.msg
    (tmp_path / ".nnref-torch-note").write_text("no CPU build of PyTorch installed; tried torch==2.13.0+cpu\n")
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    with pytest.raises(pytest.skip.Exception) as info:
        import_torch_or_skip()
    assert "tried torch==2.13.0+cpu" in info.value.msg


@pytest.mark.slow
def test_skip_reason_reaches_the_ra_summary(tmp_path):
    """In a pytest run where torch cannot be imported, -ra prints the skip with its "PyTorch not installed" reason."""
    (tmp_path / "conftest.py").write_text("import sys\nsys.modules['torch'] = None  # `import torch` fails\n")
    (tmp_path / "test_uses_torch.py").write_text(
        "import importlib.util\n"
        f"spec = importlib.util.spec_from_file_location('nnref_conftest', {str(ROOT / 'tests' / 'conftest.py')!r})\n"
        "helpers = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(helpers)\n"
        "torch = helpers.import_torch_or_skip()\n"
        "def test_x():\n    pass\n")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-ra", "-p", "no:cacheprovider", str(tmp_path)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    summary = proc.stdout.split("short test summary info")[-1]
    assert "SKIPPED" in summary and "PyTorch not installed:" in summary, proc.stdout
