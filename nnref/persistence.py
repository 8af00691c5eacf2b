"""Saving and loading models and parameters without pickle.

Introduced in chapter 21, where the book saves parameters and whole models
with :mod:`pickle`. Unpickling a file runs whatever code the file asks for, so
a model downloaded from someone else is a program you run. nnref stores only
data, and reads only data:

* :func:`save_parameters` / :func:`load_parameters`: the trainable layers'
  weights and biases in a standard numpy ``.npz`` archive (``weights_0``,
  ``biases_0``, ``weights_1``, ...), read without pickle and checked against
  the model's shapes.
* :func:`save_model` / :func:`load_model`: a zip archive holding
  ``model.json`` (format name and version, every layer with its type, sizes
  and hyperparameters, the loss, the accuracy, the optimizer with its
  hyperparameters, step count and learning rate) and the arrays as ``.npy``
  members (parameters and optimizer state). The archive's comment carries a
  SHA-256 of the rest of the file, so any damaged byte is detected.

Every ``.npy`` member is checked before any memory is allocated for it: its
header is parsed with numpy's own reader, object (pickled) dtypes are refused,
and the shape it claims must equal the shape the model description implies,
which is itself bounded by :data:`MAX_PARAMETERS`. Archive names with ``..``,
absolute paths or backslashes are refused (nothing is ever extracted to disk
anyway). A missing file raises ``FileNotFoundError`` naming the path; anything
wrong with a file's content raises :class:`ModelFileError`, a ``ValueError``; a
model is returned only when every check has passed.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import os
import pickletools
import zipfile
from pathlib import Path
from typing import Any, BinaryIO, Callable

import numpy as np
from numpy.lib import format as npy_format
from numpy.typing import NDArray

from ._files import unsafe_zip_member, write_bytes_atomically
from ._version import __version__
from .accuracy import CategoricalAccuracy, RegressionAccuracy
from .activations import Linear, ReLU, Sigmoid, Softmax
from .layers import Dense, Dropout
from .losses import BinaryCrossentropy, CategoricalCrossentropy, MeanAbsoluteError, MeanSquaredError
from .optimizers import SGD, Adagrad, Adam, RMSprop

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MAX_PARAMETERS",
    "ModelFileError",
    "load_model",
    "load_parameters",
    "save_model",
    "save_parameters",
]

#: Written into ``model.json``; a file with another name is not ours.
FORMAT_NAME = "nnref-model"
#: Bumped when the layout of ``model.json`` changes incompatibly.
FORMAT_VERSION = 1
#: Upper bound on the numbers (parameters plus optimizer state) a file may
#: claim: 2^27 float64 values are 1 GiB. Checked before anything is allocated.
MAX_PARAMETERS = 1 << 27

_JSON_NAME = "model.json"
_MAX_JSON_BYTES = 1 << 20
_MAX_MEMBERS = 4096
_MAX_LAYERS = 1000
_MAX_NPY_HEADER = 10_000
_SEAL_PREFIX = b"nnref-sha256:"
_SEAL_LEN = len(_SEAL_PREFIX) + 64
# Fixed member timestamps make saving the same model twice give identical bytes.
_EPOCH = (1980, 1, 1, 0, 0, 0)
_FLOAT_DTYPES = ("float16", "float32", "float64")

_ACTIVATIONS = {"ReLU": ReLU, "Softmax": Softmax, "Sigmoid": Sigmoid, "Linear": Linear}
_LOSSES = {
    "CategoricalCrossentropy": CategoricalCrossentropy,
    "BinaryCrossentropy": BinaryCrossentropy,
    "MeanSquaredError": MeanSquaredError,
    "MeanAbsoluteError": MeanAbsoluteError,
}
_DENSE_HYPER = ("weight_scale", "weight_regularizer_l1", "weight_regularizer_l2",
                "bias_regularizer_l1", "bias_regularizer_l2")
# Optimizer constructor arguments besides learning_rate and decay.
_OPTIMIZERS: dict[str, tuple[type, tuple[str, ...]]] = {
    "SGD": (SGD, ("momentum",)),
    "Adagrad": (Adagrad, ("epsilon",)),
    "RMSprop": (RMSprop, ("epsilon", "rho")),
    "Adam": (Adam, ("epsilon", "beta_1", "beta_2")),
}


# This module owns the file formats. nnref.model calls into it (Model.save, Model.load
# and the parameter methods) and it never imports nnref.model back, so the import graph
# has no cycle (tests/test_imports.py). The Model class that load_model builds is handed
# over once by the package, in nnref/__init__.py.
_model_class: type | None = None


def _register_model_class(cls: type) -> None:
    """Set the container class :func:`load_model` builds (``nnref.Model``; called by ``nnref/__init__.py``)."""
    global _model_class
    _model_class = cls


class ModelFileError(ValueError):
    """A model or parameter file is damaged, of an unknown version, or not safe to load.

    Introduced in chapter 21 (our addition: the book's pickle files have no
    such check). Raised for truncated or corrupted files, unknown layer types,
    shape mismatches, oversized shape claims, unsafe archive names and pickled
    content.
    """


# ======================================================================
# Low-level helpers: atomic writes, archive checks, .npy members
# ======================================================================
def _npy_bytes(array: NDArray) -> bytes:
    buf = io.BytesIO()
    npy_format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def _label(path: Any) -> str:
    """How error messages name the source: the path, or the name of an open file object."""
    if hasattr(path, "read"):
        return str(getattr(path, "name", f"<{type(path).__name__}>"))
    return str(path)


def _read_file(path: Any, owner: str, limit: int) -> bytes:
    """All bytes of ``path`` (a path or a binary file object), refusing more than ``limit``."""
    if hasattr(path, "read"):
        data = path.read(limit + 1)
        if not isinstance(data, bytes):
            raise TypeError(f"{owner}: the file object must be opened in binary mode, it returned "
                            f"{type(data).__name__}")
        if len(data) > limit:
            raise ModelFileError(f"{owner}: {_label(path)} holds more than the {limit} bytes a model of at "
                                 f"most {MAX_PARAMETERS} numbers can need")
        return data
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > limit:
            raise ModelFileError(f"{owner}: {p} is {size} bytes, more than the {limit} a model of at most "
                                 f"{MAX_PARAMETERS} numbers can need")
        return p.read_bytes()
    except FileNotFoundError:
        # A missing file is a FileNotFoundError everywhere in nnref (as in nnref.data);
        # ModelFileError is kept for files whose content is wrong.
        raise FileNotFoundError(f"{owner}: no such file: {p}") from None
    except OSError as exc:
        raise ModelFileError(f"{owner}: cannot read {p}: {exc}") from exc


def _byte_limit(max_parameters: int) -> int:
    # float64 parameters plus two optimizer state arrays each, plus headers and JSON
    return 3 * 8 * max_parameters + 64 * _MAX_MEMBERS + _MAX_JSON_BYTES


# --8<-- [start:is_pickle]
def _is_pickle(data: bytes) -> bool:
    """True if ``data`` parses as a complete pickle stream. pickletools only reads opcodes; it runs nothing."""
    try:
        ops = [op.name for op, _, _ in pickletools.genops(io.BytesIO(data))]
    except Exception:
        return False
    return bool(ops) and ops[-1] == "STOP"
# --8<-- [end:is_pickle]


def _not_a_zip_message(data: bytes, owner: str, path: Any) -> str:
    if _is_pickle(data):
        return (f"{owner}: {path} looks like a pickle file (perhaps saved by the book's code); nnref never "
                f"unpickles, because loading a pickle can run arbitrary code")
    return f"{owner}: {path} is not a zip archive (truncated, corrupted or not an nnref file)"


def _open_zip(data: bytes, owner: str, path: Any) -> tuple[zipfile.ZipFile, dict[str, zipfile.ZipInfo]]:
    """Open an in-memory zip and check every member name and flag before anything is read."""
    if not data.startswith(b"PK"):
        raise ModelFileError(_not_a_zip_message(data, owner, path))
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise ModelFileError(f"{owner}: {path} is not a readable zip archive ({exc})") from exc
    if len(infos) > _MAX_MEMBERS:
        raise ModelFileError(f"{owner}: {path} has {len(infos)} members, more than {_MAX_MEMBERS}")
    members: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        name = info.filename
        why = unsafe_zip_member(info)
        if why is not None:
            raise ModelFileError(f"{owner}: {path} holds an unsafe member name {info.orig_filename!r} ({why})")
        if name in members:
            raise ModelFileError(f"{owner}: {path} holds the member {name!r} twice")
        if info.flag_bits & 0x1:
            raise ModelFileError(f"{owner}: {path} has an encrypted member {name!r}")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ModelFileError(f"{owner}: member {name!r} of {path} uses an unsupported compression "
                                 f"(method {info.compress_type})")
        members[name] = info
    return zf, members


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, n_bytes: int, owner: str) -> bytes:
    """Read exactly ``n_bytes`` (the size the checks allow); the zip's CRC is verified at the end."""
    try:
        with zf.open(info) as f:
            data = f.read(n_bytes + 1)
    except Exception as exc:  # BadZipFile (CRC), zlib.error, EOFError: all mean damaged data
        raise ModelFileError(f"{owner}: member {info.filename!r} is corrupted ({type(exc).__name__}: {exc})") from exc
    if len(data) != n_bytes:
        raise ModelFileError(f"{owner}: member {info.filename!r} holds {len(data)} bytes, expected {n_bytes}")
    return data


def _read_npy(zf: zipfile.ZipFile, info: zipfile.ZipInfo, shape: tuple[int, ...], owner: str) -> NDArray:
    """Read one ``.npy`` member whose shape must be ``shape``; refuse pickles before allocating."""
    name = info.filename
    try:
        with zf.open(info) as f:
            version = npy_format.read_magic(f)
            if version == (1, 0):
                header_shape, fortran, dtype = npy_format.read_array_header_1_0(f, max_header_size=_MAX_NPY_HEADER)
            elif version == (2, 0):
                header_shape, fortran, dtype = npy_format.read_array_header_2_0(f, max_header_size=_MAX_NPY_HEADER)
            else:
                raise ModelFileError(f"{owner}: member {name!r} uses .npy format version {version}, "
                                     f"expected 1.0 or 2.0")
            header_len = f.tell()
    except ModelFileError:
        raise
    except Exception as exc:  # ValueError from the header parser, zlib/zip errors on damaged data
        raise ModelFileError(f"{owner}: member {name!r} is not a valid .npy array ({exc})") from exc
    if dtype.hasobject:
        raise ModelFileError(f"{owner}: member {name!r} holds Python objects (a pickle payload); refused")
    if dtype.names is not None or dtype.subdtype is not None or dtype.kind != "f" or dtype.itemsize not in (2, 4, 8):
        raise ModelFileError(f"{owner}: member {name!r} has dtype {dtype}, expected float16, float32 or float64")
    if tuple(header_shape) != tuple(shape):
        raise ModelFileError(f"{owner}: member {name!r} claims shape {tuple(header_shape)}, "
                             f"the model needs {tuple(shape)}")
    # shape was bounded by the model description, so this allocation is too
    n_bytes = header_len + math.prod(shape) * dtype.itemsize
    if info.file_size != n_bytes:
        raise ModelFileError(f"{owner}: member {name!r} is {info.file_size} bytes, a {dtype} array of shape "
                             f"{tuple(shape)} takes {n_bytes}")
    raw = _read_member(zf, info, n_bytes, owner)
    try:
        array = npy_format.read_array(io.BytesIO(raw), allow_pickle=False, max_header_size=_MAX_NPY_HEADER)
    except Exception as exc:  # pragma: no cover - the header was already validated
        raise ModelFileError(f"{owner}: member {name!r} could not be read ({exc})") from exc
    if not np.isfinite(array).all():
        raise ModelFileError(f"{owner}: member {name!r} contains NaN or inf")
    return np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("="))


def _trainable(model: Any, owner: str) -> list:
    layers = getattr(model, "layers", None)
    if not isinstance(layers, list):
        raise TypeError(f"{owner}: expected an nnref Model with a list of layers, got {type(model).__name__}")
    found = [layer for layer in layers if getattr(layer, "trainable", False)]
    if not found:
        raise ValueError(f"{owner}: the model has no trainable layers")
    return found


# ======================================================================
# Parameters only (.npz)
# ======================================================================
# --8<-- [start:parameters_io]
def save_parameters(model: Any, path: str | os.PathLike) -> None:
    """Write the weights and biases of every trainable layer to a ``.npz`` file.

    Introduced in chapter 21 (the book pickles the list from
    ``get_parameters``). The file is a standard numpy archive with arrays
    ``weights_0``, ``biases_0``, ``weights_1``, ... in layer order, so
    ``numpy.load(path)`` can read it too. ``path`` is used as given (no
    extension is appended) and is replaced atomically.

    Parameters
    ----------
    model : Model
    path : path
    """
    arrays: dict[str, NDArray] = {}
    for i, layer in enumerate(_trainable(model, "save_parameters")):
        arrays[f"weights_{i}"], arrays[f"biases_{i}"] = layer.get_parameters()
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    write_bytes_atomically(Path(path), buf.getvalue())


def load_parameters(model: Any, path: str | os.PathLike | BinaryIO) -> None:
    """Load weights and biases saved by :func:`save_parameters` into ``model``.

    Introduced in chapter 21. Every array is read without pickle and its shape
    checked against the model's layer before any layer is changed: on any
    error the model keeps its old parameters.

    Raises
    ------
    FileNotFoundError
        No file exists at ``path``.
    ModelFileError
        The file is not an ``.npz`` archive (for instance the book's pickle
        file), is damaged, lacks or adds arrays, or has wrong shapes.
    """
    owner = "load_parameters"
    layers = _trainable(model, owner)
    n_numbers = sum(layer.weights.size + layer.biases.size for layer in layers)
    data = _read_file(path, owner, 8 * n_numbers + 64 * _MAX_MEMBERS + 4096)
    path = _label(path)
    zf, members = _open_zip(data, owner, path)
    expected = {}
    for i, layer in enumerate(layers):
        expected[f"weights_{i}.npy"] = layer.weights.shape
        expected[f"biases_{i}.npy"] = layer.biases.shape
    if set(members) != set(expected):
        missing = sorted(set(expected) - set(members))
        extra = sorted(set(members) - set(expected))
        raise ModelFileError(f"{owner}: {path} does not fit this model of {len(layers)} trainable layers "
                             f"(missing {missing}, unexpected {extra})")
    loaded = {name: _read_npy(zf, members[name], shape, owner) for name, shape in expected.items()}
    for i, layer in enumerate(layers):
        layer.set_parameters(loaded[f"weights_{i}.npy"], loaded[f"biases_{i}.npy"])
# --8<-- [end:parameters_io]


# ======================================================================
# Whole models (versioned zip archive)
# ======================================================================
def _seal(zip_bytes: bytes) -> bytes:
    """Put the SHA-256 of an uncommented zip into its comment field (the last bytes of the file)."""
    if zip_bytes[-2:] != b"\x00\x00":
        raise ValueError("_seal: the archive must not have a comment yet")
    digest = hashlib.sha256(zip_bytes).hexdigest().encode("ascii")
    comment = _SEAL_PREFIX + digest
    return zip_bytes[:-2] + len(comment).to_bytes(2, "little") + comment


def _check_seal(data: bytes, owner: str, path: Any) -> None:
    if not data.startswith(b"PK"):
        raise ModelFileError(_not_a_zip_message(data, owner, path))
    tail = data[-_SEAL_LEN:]
    length = data[-_SEAL_LEN - 2:-_SEAL_LEN]
    if len(data) < _SEAL_LEN + 22 or not tail.startswith(_SEAL_PREFIX) or length != _SEAL_LEN.to_bytes(2, "little"):
        raise ModelFileError(f"{owner}: {path} is not a complete nnref model file (its checksum trailer is "
                             f"missing: truncated, damaged or not written by nnref)")
    body = data[:-_SEAL_LEN - 2] + b"\x00\x00"
    if hashlib.sha256(body).hexdigest().encode("ascii") != tail[len(_SEAL_PREFIX):]:
        raise ModelFileError(f"{owner}: {path} is corrupted (SHA-256 checksum mismatch)")


def _type_name(obj: Any) -> str:
    return type(obj).__name__


def _describe_model(model: Any) -> tuple[dict, dict[str, NDArray]]:
    """Build ``model.json``'s content and the arrays to store; refuse objects we could not load back."""
    owner = "save_model"
    if not isinstance(getattr(model, "layers", None), list) or not model.layers:
        raise TypeError(f"{owner}: expected an nnref Model with layers, got {type(model).__name__}")
    arrays: dict[str, NDArray] = {}
    layers_spec: list[dict] = []
    trainable: list = []
    for i, layer in enumerate(model.layers):
        kind = type(layer)
        if kind is Dense:
            w, b = layer.get_parameters()
            spec = {"type": "Dense", "n_inputs": layer.n_inputs, "n_neurons": layer.n_neurons,
                    "dtype": str(w.dtype), "weights": f"arrays/layer{i}_weights.npy",
                    "biases": f"arrays/layer{i}_biases.npy"}
            spec.update({name: float(getattr(layer, name)) for name in _DENSE_HYPER})
            arrays[spec["weights"]], arrays[spec["biases"]] = w, b
            trainable.append(layer)
        elif kind is Dropout:
            spec = {"type": "Dropout", "rate": float(layer.rate)}
        elif kind.__name__ in _ACTIVATIONS and _ACTIVATIONS[kind.__name__] is kind:
            spec = {"type": kind.__name__}
        else:
            raise TypeError(f"{owner}: cannot save layer {i} of type {kind.__name__}; nnref saves Dense, Dropout, "
                            f"{', '.join(_ACTIVATIONS)}")
        layers_spec.append(spec)

    loss = getattr(model, "loss", None)
    if loss is None:
        loss_spec = None
    elif _LOSSES.get(_type_name(loss)) is type(loss):
        loss_spec = {"type": _type_name(loss)}
    else:
        raise TypeError(f"{owner}: cannot save a loss of type {_type_name(loss)}; known: {', '.join(_LOSSES)}")

    acc = getattr(model, "accuracy", None)
    if acc is None:
        acc_spec = None
    elif type(acc) is CategoricalAccuracy:
        acc_spec = {"type": "CategoricalAccuracy", "binary": bool(acc.binary)}
    elif type(acc) is RegressionAccuracy:
        acc_spec = {"type": "RegressionAccuracy", "precision_divisor": float(acc.precision_divisor),
                    "precision": None if acc.precision is None else float(acc.precision)}
    else:
        raise TypeError(f"{owner}: cannot save an accuracy of type {_type_name(acc)}")

    opt = getattr(model, "optimizer", None)
    if opt is None:
        opt_spec = None
    elif _OPTIMIZERS.get(_type_name(opt), (None,))[0] is type(opt):
        _, extra = _OPTIMIZERS[_type_name(opt)]
        opt_spec = {"type": _type_name(opt), "learning_rate": float(opt.learning_rate), "decay": float(opt.decay),
                    "iterations": int(opt.iterations), "current_learning_rate": float(opt.current_learning_rate)}
        opt_spec.update({name: float(getattr(opt, name)) for name in extra})
        # The optimizer keeps its memory per layer; store it by trainable-layer index.
        memory = getattr(opt, "_state", {})
        state_spec: dict[str, dict[str, str]] = {}
        for j, layer in enumerate(trainable):
            if layer in memory:
                entry = {}
                for key, value in memory[layer].items():
                    entry[key] = f"arrays/optimizer_{j}_{key}.npy"
                    arrays[entry[key]] = value
                state_spec[str(j)] = entry
        opt_spec["state"] = state_spec
    else:
        raise TypeError(f"{owner}: cannot save an optimizer of type {_type_name(opt)}; known: "
                        f"{', '.join(_OPTIMIZERS)}")

    dtype = getattr(model, "dtype", None)

    spec = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "nnref_version": __version__,
            "dtype": None if dtype is None else str(np.dtype(dtype)),
            "layers": layers_spec, "loss": loss_spec, "accuracy": acc_spec, "optimizer": opt_spec}
    return spec, arrays


# --8<-- [start:save_model]
def save_model(model: Any, path: str | os.PathLike) -> None:
    """Save a whole model (architecture, parameters, loss, accuracy, optimizer state) to ``path``.

    Introduced in chapter 21 (the book pickles a deep copy of the model). The
    file is a zip archive with ``model.json`` and ``.npy`` arrays, sealed with
    a SHA-256 checksum; saving the same model twice gives identical bytes.
    ``path`` is replaced atomically; nothing else is written.

    Parameters
    ----------
    model : Model
        Built from nnref's own layers, losses, accuracies and optimizers.
    path : path
        Any name; ``.nnref`` is a good extension.
    """
    spec, arrays = _describe_model(model)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        members = [(_JSON_NAME, json.dumps(spec, indent=2, allow_nan=False).encode("utf-8"))]
        members += [(name, _npy_bytes(arr)) for name, arr in arrays.items()]
        for name, payload in members:
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, payload)
    write_bytes_atomically(Path(path), _seal(buf.getvalue()))
# --8<-- [end:save_model]


# ---------------------------------------------------------------------- loading
class _Spec:
    """Typed access to one JSON object, with errors that say where in model.json the problem is."""

    def __init__(self, obj: Any, where: str, owner: str) -> None:
        if not isinstance(obj, dict):
            raise ModelFileError(f"{owner}: {where} must be a JSON object, got {type(obj).__name__}")
        self.obj, self.where, self.owner = obj, where, owner

    def _fail(self, key: str, want: str, got: Any) -> ModelFileError:
        return ModelFileError(f"{self.owner}: {self.where}.{key} must be {want}, got {got!r:.80}")

    def get(self, key: str) -> Any:
        if key not in self.obj:
            raise ModelFileError(f"{self.owner}: {self.where} lacks the field {key!r}")
        return self.obj[key]

    def str(self, key: str) -> str:
        v = self.get(key)
        if not isinstance(v, str):
            raise self._fail(key, "a string", v)
        return v

    def int(self, key: str, *, low: int = 0) -> int:
        v = self.get(key)
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise self._fail(key, f"an integer >= {low}", v)
        return v

    def float(self, key: str, *, optional: bool = False) -> float | None:
        v = self.get(key)
        if v is None and optional:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise self._fail(key, "a finite number", v)
        return float(v)

    def bool(self, key: str) -> bool:
        v = self.get(key)
        if not isinstance(v, bool):
            raise self._fail(key, "true or false", v)
        return v

    def keys_only(self, allowed: set[str]) -> None:
        extra = set(self.obj) - allowed
        if extra:
            raise ModelFileError(f"{self.owner}: {self.where} has unknown fields {sorted(extra)}")


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed")


def _build(cls: type, owner: str, where: str, *args: Any, **kwargs: Any) -> Any:
    """Construct with the class's own validation, reporting its complaint as a ModelFileError."""
    try:
        return cls(*args, **kwargs)
    except (ValueError, TypeError) as exc:
        raise ModelFileError(f"{owner}: {where}: {exc}") from exc


def load_model(path: str | os.PathLike | BinaryIO, *, max_parameters: int = MAX_PARAMETERS,
               log: Callable[[str], Any] | None = print) -> Any:
    """Load a model saved by :func:`save_model`, ready to ``predict``, ``evaluate`` or train on.

    Introduced in chapter 21. Nothing in the file can run code: ``model.json``
    is parsed as JSON, arrays are read with ``allow_pickle=False`` after their
    headers are checked, and only nnref's own classes are ever constructed.

    Parameters
    ----------
    path : path or binary file object
    max_parameters : int, default MAX_PARAMETERS
        Refuse files that describe more numbers (parameters plus optimizer
        state) than this, before allocating anything.
    log : callable or None, default print
        Where the loaded model sends its training and validation lines, as
        for :class:`~nnref.model.Model`; ``None`` keeps it silent. It is not
        stored in the file.

    Returns
    -------
    Model
        Finalized, with the saved loss, accuracy and optimizer (including its
        step count, current learning rate and per-layer state).

    Raises
    ------
    FileNotFoundError
        No file exists at ``path``.
    ModelFileError
        The file is truncated or damaged, of another format version, names an
        unknown layer type, has inconsistent shapes or claims too many
        numbers, holds unsafe archive names or pickled content.
    """
    owner = "load_model"
    data = _read_file(path, owner, _byte_limit(max_parameters))
    path = _label(path)
    _check_seal(data, owner, path)
    zf, members = _open_zip(data, owner, path)
    if _JSON_NAME not in members:
        raise ModelFileError(f"{owner}: {path} has no {_JSON_NAME}")
    info = members[_JSON_NAME]
    if info.file_size > _MAX_JSON_BYTES:
        raise ModelFileError(f"{owner}: {_JSON_NAME} in {path} claims {info.file_size} bytes, "
                             f"more than {_MAX_JSON_BYTES}")
    raw = _read_member(zf, info, info.file_size, owner)
    try:
        doc = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ModelFileError(f"{owner}: {_JSON_NAME} in {path} is not valid JSON ({exc})") from exc
    root = _Spec(doc, _JSON_NAME, owner)
    if root.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{owner}: {path} is not an nnref model (format {root.get('format')!r:.40})")
    version = root.get("version")
    # type(...) is int: JSON's 1.0 and true compare equal to 1 in Python but are not our version number
    if type(version) is not int or version != FORMAT_VERSION:
        newer = isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION
        hint = " (written by a newer nnref; upgrade nnref)" if newer else ""
        raise ModelFileError(f"{owner}: {path} has format version {version!r:.20}; this nnref reads version "
                             f"{FORMAT_VERSION}{hint}")
    root.keys_only({"format", "version", "nnref_version", "dtype", "layers", "loss", "accuracy", "optimizer"})

    used: set[str] = {_JSON_NAME}
    budget = [max_parameters]

    def claim(spec: _Spec, key: str, shape: tuple[int, ...]) -> tuple[str, tuple[int, ...]]:
        """Reserve an array member: it must exist, be used once and fit the remaining budget."""
        name = spec.str(key)
        if name not in members:
            raise ModelFileError(f"{owner}: {spec.where}.{key} names {name!r:.80}, which is not in the archive")
        if name in used:
            raise ModelFileError(f"{owner}: the member {name!r} is used twice")
        used.add(name)
        return name, shape

    def spend(n: int, where: str) -> None:
        budget[0] -= n
        if budget[0] < 0:
            raise ModelFileError(f"{owner}: {where} takes the file past {max_parameters} numbers "
                                 f"(max_parameters); refused before allocating")

    # ---- pass 1: validate the whole description and array headers; build nothing big
    layer_list = root.get("layers")
    if not isinstance(layer_list, list) or not layer_list:
        raise ModelFileError(f"{owner}: {_JSON_NAME}.layers must be a non-empty list")
    if len(layer_list) > _MAX_LAYERS:
        raise ModelFileError(f"{owner}: {_JSON_NAME} lists {len(layer_list)} layers, more than {_MAX_LAYERS}")
    plan: list[tuple[str, _Spec, dict]] = []
    width: int | None = None
    for i, item in enumerate(layer_list):
        spec = _Spec(item, f"layers[{i}]", owner)
        kind = spec.str("type")
        if kind == "Dense":
            spec.keys_only({"type", "n_inputs", "n_neurons", "dtype", "weights", "biases", *_DENSE_HYPER})
            n_in, n_out = spec.int("n_inputs", low=1), spec.int("n_neurons", low=1)
            if width is not None and n_in != width:
                raise ModelFileError(f"{owner}: layers[{i}] takes {n_in} inputs but the layer before "
                                     f"gives {width}")
            width = n_out
            spend(n_in * n_out + n_out, f"layers[{i}] (Dense {n_in}x{n_out})")
            dtype = spec.str("dtype")
            if dtype not in _FLOAT_DTYPES:
                raise ModelFileError(f"{owner}: layers[{i}].dtype must be one of {_FLOAT_DTYPES}, got {dtype!r:.40}")
            extra = {"weights": claim(spec, "weights", (n_in, n_out)), "biases": claim(spec, "biases", (1, n_out)),
                     "hyper": {name: spec.float(name) for name in _DENSE_HYPER}, "dtype": dtype}
        elif kind == "Dropout":
            spec.keys_only({"type", "rate"})
            extra = {"rate": spec.float("rate")}
        elif kind in _ACTIVATIONS:
            spec.keys_only({"type"})
            extra = {}
        else:
            raise ModelFileError(f"{owner}: layers[{i}] has unknown type {kind!r:.40}; nnref loads Dense, Dropout, "
                                 f"{', '.join(_ACTIVATIONS)}")
        plan.append((kind, spec, extra))
    dense_plans = [extra for kind, _, extra in plan if kind == "Dense"]

    loss_doc = root.get("loss")
    loss_kind = None
    if loss_doc is not None:
        ls = _Spec(loss_doc, "loss", owner)
        ls.keys_only({"type"})
        loss_kind = ls.str("type")
        if loss_kind not in _LOSSES:
            raise ModelFileError(f"{owner}: unknown loss type {loss_kind!r:.40}; known: {', '.join(_LOSSES)}")

    acc_doc = root.get("accuracy")
    acc_plan = None
    if acc_doc is not None:
        acs = _Spec(acc_doc, "accuracy", owner)
        acc_kind = acs.str("type")
        if acc_kind == "CategoricalAccuracy":
            acs.keys_only({"type", "binary"})
            acc_plan = (acc_kind, {"binary": acs.bool("binary")})
        elif acc_kind == "RegressionAccuracy":
            acs.keys_only({"type", "precision_divisor", "precision"})
            acc_plan = (acc_kind, {"precision_divisor": acs.float("precision_divisor"),
                                   "precision": acs.float("precision", optional=True)})
        else:
            raise ModelFileError(f"{owner}: unknown accuracy type {acc_kind!r:.40}")

    opt_doc = root.get("optimizer")
    opt_plan = None
    if opt_doc is not None:
        ops = _Spec(opt_doc, "optimizer", owner)
        opt_kind = ops.str("type")
        if opt_kind not in _OPTIMIZERS:
            raise ModelFileError(f"{owner}: unknown optimizer type {opt_kind!r:.40}; known: {', '.join(_OPTIMIZERS)}")
        cls, extra_names = _OPTIMIZERS[opt_kind]
        ops.keys_only({"type", "learning_rate", "decay", "iterations", "current_learning_rate", "state",
                       *extra_names})
        kwargs = {name: ops.float(name) for name in ("learning_rate", "decay", *extra_names)}
        probe = _build(cls, owner, "optimizer", **kwargs)  # validates hyperparameters; holds no arrays
        state_doc = _Spec(ops.get("state"), "optimizer.state", owner)
        state_plan: dict[int, dict[str, tuple[str, tuple[int, ...]]]] = {}
        for key, entry in state_doc.obj.items():
            if not key.isdigit() or int(key) >= len(dense_plans):
                raise ModelFileError(f"{owner}: optimizer.state has an entry {key!r:.20} for a layer that does "
                                     f"not exist")
            j = int(key)
            es = _Spec(entry, f"optimizer.state[{key}]", owner)
            wanted = {f"{p}_{n}" for p in ("weight", "bias") for n in probe.state_names}
            if set(es.obj) != wanted:
                raise ModelFileError(f"{owner}: optimizer.state[{key}] must hold {sorted(wanted)}, got "
                                     f"{sorted(es.obj)[:8]}")
            shapes = {"weight": dense_plans[j]["weights"][1], "bias": dense_plans[j]["biases"][1]}
            state_plan[j] = {}
            for name in sorted(wanted):
                shape = shapes[name.split("_", 1)[0]]
                spend(math.prod(shape), f"optimizer.state[{key}].{name}")
                state_plan[j][name] = claim(es, name, shape)
        opt_plan = (cls, kwargs, ops.int("iterations"), ops.float("current_learning_rate"), state_plan)

    model_dtype = root.get("dtype")
    if model_dtype is not None and model_dtype not in _FLOAT_DTYPES:
        raise ModelFileError(f"{owner}: {_JSON_NAME}.dtype must be null or one of {_FLOAT_DTYPES}")
    unused = sorted(set(members) - used - {n for n in members if members[n].is_dir()})
    if unused:
        raise ModelFileError(f"{owner}: {path} holds members the description does not use: {unused[:5]}")

    # ---- pass 2: read the arrays (each header checked before its data is allocated)
    def read(ref: tuple[str, tuple[int, ...]]) -> NDArray:
        return _read_npy(zf, members[ref[0]], ref[1], owner)

    for extra in dense_plans:
        extra["w"], extra["b"] = read(extra["weights"]), read(extra["biases"])
    if opt_plan is not None:
        for j, entry in opt_plan[4].items():
            opt_plan[4][j] = {name: read(ref) for name, ref in entry.items()}

    # ---- pass 3: construct; only a complete model leaves this function
    if _model_class is None:  # pragma: no cover - nnref/__init__.py registers it on import
        raise RuntimeError("load_model: no Model class registered; import nnref first")
    model = _model_class(dtype=model_dtype, log=log)
    dense_layers = []
    for i, (kind, spec, extra) in enumerate(plan):
        where = f"layers[{i}]"
        if kind == "Dense":
            # rng=0: the initial weights are overwritten at once; do not draw from (and so
            # disturb) numpy's global random state just to load a model.
            layer = _build(Dense, owner, where, spec.obj["n_inputs"], spec.obj["n_neurons"], rng=0,
                           dtype=extra["dtype"], **extra["hyper"])
            layer.set_parameters(extra["w"].astype(extra["dtype"], copy=False),
                                 extra["b"].astype(extra["dtype"], copy=False))
            dense_layers.append(layer)
        elif kind == "Dropout":
            layer = _build(Dropout, owner, where, extra["rate"])
        else:
            layer = _ACTIVATIONS[kind]()
        model.add(layer)
    loss = _LOSSES[loss_kind]() if loss_kind is not None else None
    accuracy = None
    if acc_plan is not None:
        if acc_plan[0] == "CategoricalAccuracy":
            accuracy = CategoricalAccuracy(binary=acc_plan[1]["binary"])
        else:
            accuracy = _build(RegressionAccuracy, owner, "accuracy", acc_plan[1]["precision_divisor"])
            accuracy.precision = acc_plan[1]["precision"]
    optimizer = None
    if opt_plan is not None:
        cls, kwargs, iterations, current_lr, state = opt_plan
        optimizer = cls(**kwargs)
        optimizer.iterations = iterations
        optimizer.current_learning_rate = current_lr
        for j, entry in state.items():
            memory = optimizer.state(dense_layers[j])
            for name, arr in entry.items():
                memory[name][...] = arr
    model.set(loss=loss, optimizer=optimizer, accuracy=accuracy)
    model.finalize()
    return model
