"""File helpers shared by :mod:`nnref.persistence` and :mod:`nnref.data`.

Two things both modules need, written once:

* :func:`replace_atomically`: produce a file or a folder under a temporary
  name beside its target and rename it into place only when it is complete.
  A reader sees the old target or the new one, never half of one, and an
  interrupted write (an error, Ctrl-C, or SIGTERM once the program turns it
  into an exception as ``nnref train`` does) removes its temporary copy.
* :func:`unsafe_zip_member` (and :func:`unsafe_member_name` for a bare name):
  why a zip member's name could write or point outside the folder it belongs
  in (absolute paths, ``..``, backslashes, drive letters, NUL bytes), or
  ``None`` when the name is safe.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import secrets
import zipfile
from pathlib import Path, PurePosixPath
from typing import Iterator

__all__ = ["replace_atomically", "unsafe_member_name", "unsafe_zip_member", "write_bytes_atomically"]


@contextlib.contextmanager
def replace_atomically(target: str | os.PathLike, *, folder: bool = False) -> Iterator[Path]:
    """Yield a fresh temporary path beside ``target``; on success it replaces ``target``.

    Parameters
    ----------
    target : path
        The file (or, with ``folder=True``, the folder) to create or replace.
    folder : bool, default False
        Yield an empty temporary folder instead of an empty temporary file. An
        existing target folder is removed just before the new one is renamed
        into place.

    Yields
    ------
    Path
        Write the complete content there (same folder as ``target``, so the
        final rename stays on one file system and is atomic for a file).

    Notes
    -----
    Any exception raised inside the ``with`` block, ``KeyboardInterrupt`` and
    ``SystemExit`` included, deletes the temporary path and propagates.
    """
    target = Path(target)
    tmp: Path | None = None
    try:
        while tmp is None:
            # Name first, create second: an interrupt that lands just after the file or folder
            # appears (even inside os.open) finds `tmp` already set and removes it.
            tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
            try:
                if folder:
                    os.mkdir(tmp, 0o700)
                else:
                    # mode 0o666 less the umask: the permissions open() gives a new file
                    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            except FileExistsError:  # someone else's file: pick another name, never remove it
                tmp = None
        if not folder and target.exists():
            os.chmod(tmp, target.stat().st_mode & 0o7777)  # a replaced file keeps its permissions
        yield tmp
        if folder and target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        if tmp is not None:
            if folder:
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomically(target: str | os.PathLike, payload: bytes) -> None:
    """Write ``payload`` to ``target`` through :func:`replace_atomically`: never a half-written file."""
    with replace_atomically(target) as tmp:
        with open(tmp, "wb") as f:
            f.write(payload)


def unsafe_member_name(name: str) -> str | None:
    """Why the archive member name ``name`` is unsafe, or ``None`` when it is a plain relative path.

    Refused: a backslash or NUL byte, an absolute path, a ``..`` component, and
    a drive or scheme prefix (``C:``) in the first component.

    Examples
    --------
    >>> unsafe_member_name("train/0/a.png") is None
    True
    >>> unsafe_member_name("../evil.txt")
    "'..' component"
    """
    p = PurePosixPath(name)
    if "\\" in name:
        return "backslash"
    if "\x00" in name:
        return "NUL byte"
    if p.is_absolute():
        return "absolute path"
    if ".." in p.parts:
        return "'..' component"
    if p.parts and ":" in p.parts[0]:
        return "drive prefix"
    return None


def unsafe_zip_member(info: zipfile.ZipInfo) -> str | None:
    """Why the member ``info`` is unsafe to read or extract, or ``None``.

    Checks the name as stored in the archive (``orig_filename``) and as
    :mod:`zipfile` presents it (``filename``, cut at a NUL byte and with the
    platform's separator turned into ``/``); a name that zipfile had to
    rewrite is refused too.
    """
    why = unsafe_member_name(info.orig_filename) or unsafe_member_name(info.filename)
    if why is None and info.filename != info.orig_filename:
        why = "name rewritten by zipfile"
    return why
