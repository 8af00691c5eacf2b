"""nnref._files: the atomic replace and the zip member-name check shared by persistence and data."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

import nnref.data as data
from nnref import _files
from nnref import persistence as P

UNSAFE = {
    "../evil.txt": "'..' component",
    "train/../../evil.txt": "'..' component",
    "/etc/passwd": "absolute path",
    "train\\0\\a.png": "backslash",
    "C:/evil.txt": "drive prefix",
    "train/0\x00.png": "NUL byte",
}
SAFE = ["train/0/a.png", "model.json", "arrays/layer0_weights.npy", "a..b/c"]


@pytest.mark.parametrize("name", SAFE)
def test_safe_member_names_pass(name):
    """Plain relative names (even with '..' inside a component) are accepted."""
    assert _files.unsafe_member_name(name) is None


@pytest.mark.parametrize("name, why", UNSAFE.items())
def test_unsafe_member_names_say_why(name, why):
    """Each unsafe form of name is refused with its own reason."""
    assert _files.unsafe_member_name(name) == why


def _zip_with_member(name: str) -> bytes:
    """A zip archive holding one member stored under exactly ``name`` (NUL bytes patched in afterwards)."""
    placeholder = name.replace("\x00", "#")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(zipfile.ZipInfo(placeholder), b"x")
    return buf.getvalue().replace(placeholder.encode(), name.encode())


@pytest.mark.parametrize("name", list(UNSAFE))
def test_persistence_and_data_refuse_the_same_names(name, tmp_path):
    """A member name the model loader refuses is refused by the dataset extractor too, and the reverse."""
    payload = _zip_with_member(name)
    with pytest.raises(P.ModelFileError, match="unsafe member name"):
        P._open_zip(payload, "test", "archive.zip")
    archive = tmp_path / "archive.zip"
    archive.write_bytes(payload)
    with zipfile.ZipFile(archive) as zf:
        (info,) = zf.infolist()
    with pytest.raises(data.DatasetDownloadError, match="unsafe member name"):
        data._check_member_name(info, archive)


def test_one_helper_serves_both_modules():
    """persistence and data check member names and write files through the same functions of nnref._files."""
    assert P.unsafe_zip_member is data.unsafe_zip_member is _files.unsafe_zip_member
    assert P.write_bytes_atomically is _files.write_bytes_atomically
    assert data.replace_atomically is _files.replace_atomically


def test_replace_atomically_replaces_on_success(tmp_path):
    """A completed write replaces the target and leaves no temporary file."""
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")
    _files.write_bytes_atomically(target, b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


@pytest.mark.parametrize("exc", [ValueError, KeyboardInterrupt, SystemExit])
def test_interrupted_write_keeps_the_old_file(tmp_path, exc):
    """An exception mid-write (Ctrl-C and SystemExit included) keeps the old file and removes the temporary one."""
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")
    with pytest.raises(exc):
        with _files.replace_atomically(target) as tmp:
            tmp.write_bytes(b"half")
            assert tmp.parent == target.parent and tmp != target
            raise exc()
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_replace_atomically_folder(tmp_path):
    """The folder form swaps a whole folder in on success and removes its half-built copy on an interrupt."""
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with _files.replace_atomically(target, folder=True) as tmp:
            (tmp / "partial.txt").write_text("partial")
            raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert [p.name for p in target.iterdir()] == ["old.txt"]
    with _files.replace_atomically(target, folder=True) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert [p.name for p in target.iterdir()] == ["new.txt"]


def test_save_model_interrupted_keeps_previous_file(tmp_path, monkeypatch):
    """KeyboardInterrupt while save_model writes leaves the previous model file loadable and no stray file."""
    import numpy as np

    import nnref

    model = nnref.Model(log=None)
    model.add(nnref.Dense(3, 2, rng=0))
    model.add(nnref.Linear())
    model.set(loss=nnref.MeanSquaredError(), optimizer=nnref.SGD(), accuracy=nnref.RegressionAccuracy())
    model.finalize()
    path = tmp_path / "m.nnref"
    model.save(path)
    before = path.read_bytes()
    model.layers[0].weights[...] = 7.0
    real_open = open

    def interrupted_open(file, mode="r", *args, **kwargs):
        handle = real_open(file, mode, *args, **kwargs)
        if "w" in mode and Path(file).name.endswith(".tmp"):
            handle.write(b"PK partial")
            handle.close()
            raise KeyboardInterrupt
        return handle

    monkeypatch.setattr("builtins.open", interrupted_open)
    with pytest.raises(KeyboardInterrupt):
        model.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.nnref"]
    assert not np.any(nnref.load_model(path, log=None).layers[0].weights == 7.0)


def test_new_file_gets_the_permissions_open_gives(tmp_path):
    """An atomically written new file has the mode a plain open() gives (umask applied), not mkstemp's private 0600."""
    plain = tmp_path / "plain.bin"
    plain.write_bytes(b"x")
    _files.write_bytes_atomically(tmp_path / "atomic.bin", b"x")
    assert (tmp_path / "atomic.bin").stat().st_mode == plain.stat().st_mode


def test_replaced_file_keeps_its_permissions(tmp_path):
    """Replacing an existing file keeps that file's permission bits."""
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")
    target.chmod(0o640)
    _files.write_bytes_atomically(target, b"new")
    assert target.stat().st_mode & 0o7777 == 0o640
