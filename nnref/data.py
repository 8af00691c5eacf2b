"""Datasets: the book's generated data, Fashion-MNIST, and an offline real dataset.

* :func:`spiral_data`, :func:`vertical_data` and :func:`sine_data` are the nnfs
  package's own generators (chapters 3, 7 and 17), re-exported unchanged so the
  book's numbers come out.
* :func:`load_fashion_mnist` downloads (once) and reads the book's Fashion-MNIST
  archive of PNG images (chapter 19); :func:`load_image_folder` reads any
  dataset in the same ``train/<label>/*.png``, ``test/<label>/*.png`` layout.
* :func:`prepare_image` turns an outside picture into one input row the way
  chapter 22 does.
* :func:`load_digits` serves scikit-learn's bundled handwritten digits behind
  the same ``(X, y, X_test, y_test)`` interface: a real dataset that needs no
  network, used by the docs and the end-to-end tests.

Pillow (``pip install nnref[images]``) and scikit-learn
(``pip install nnref[datasets]``) are optional and imported only when needed.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import urllib.request
import zipfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from nnfs.datasets import sine_data as _nnfs_sine_data
from nnfs.datasets import spiral_data as _nnfs_spiral_data
from nnfs.datasets import vertical_data as _nnfs_vertical_data
from numpy.typing import ArrayLike, NDArray

from ._files import replace_atomically, unsafe_zip_member

__all__ = [
    "FASHION_MNIST_FILE",
    "FASHION_MNIST_FOLDER",
    "FASHION_MNIST_LABELS",
    "FASHION_MNIST_SHA256",
    "FASHION_MNIST_SIZE",
    "FASHION_MNIST_URL",
    "DatasetDownloadError",
    "data_home",
    "load_digits",
    "load_fashion_mnist",
    "load_image_folder",
    "prepare_image",
    "scale_pixels",
    "sine_data",
    "spiral_data",
    "vertical_data",
]


# --------------------------------------------------------------------------
# The book's generated datasets (from the nnfs package, not rewritten)
# --------------------------------------------------------------------------
def spiral_data(samples: int, classes: int) -> tuple[NDArray, NDArray]:
    """Points on ``classes`` interleaved spiral arms (nnfs's generator).

    Introduced in chapter 3. Draws from numpy's global legacy RNG, so call it
    inside :func:`nnref.book_mode` (or after seeding) to get the book's data.

    Parameters
    ----------
    samples : int
        Points **per class**.
    classes : int
        Number of arms.

    Returns
    -------
    X : ndarray, shape (samples * classes, 2)
    y : ndarray of uint8, shape (samples * classes,)
        Class of each point; samples come ordered by class.
    """
    return _nnfs_spiral_data(samples, classes)


def vertical_data(samples: int, classes: int) -> tuple[NDArray, NDArray]:
    """Gaussian blobs stacked side by side, one per class (nnfs's generator).

    Introduced in chapter 6, where random search is tried on it.

    Parameters
    ----------
    samples : int
        Points per class.
    classes : int

    Returns
    -------
    X : ndarray, shape (samples * classes, 2)
    y : ndarray of uint8, shape (samples * classes,)
    """
    return _nnfs_vertical_data(samples, classes)


def sine_data(samples: int = 1000) -> tuple[NDArray, NDArray]:
    r"""One period of a sine wave for regression (nnfs's generator).

    Introduced in chapter 17. Deterministic (no randomness).

    Parameters
    ----------
    samples : int, default 1000

    Returns
    -------
    X : ndarray, shape (samples, 1)
        Evenly spaced in $[0, 1)$.
    y : ndarray, shape (samples, 1)
        $\sin(2\pi x)$.
    """
    return _nnfs_sine_data(samples)


# --------------------------------------------------------------------------
# Pixel scaling shared by every image loader
# --------------------------------------------------------------------------
# --8<-- [start:scale_pixels]
def scale_pixels(pixels: ArrayLike, max_value: float = 255.0) -> NDArray[np.float32]:
    r"""Map pixel values from $[0, m]$ to $[-1, 1]$ in float32 (chapter 19).

    $$x' = \frac{x - m/2}{m/2}$$

    With $m = 255$ this is the book's ``(X - 127.5) / 127.5``.
    """
    half = np.float32(max_value / 2.0)
    return (np.asarray(pixels, dtype=np.float32) - half) / half
# --8<-- [end:scale_pixels]


# --------------------------------------------------------------------------
# Fashion-MNIST (chapter 19)
# --------------------------------------------------------------------------
#: Where the book's authors host the PNG version of Fashion-MNIST.
FASHION_MNIST_URL = "https://nnfs.io/datasets/fashion_mnist_images.zip"
FASHION_MNIST_FILE = "fashion_mnist_images.zip"
FASHION_MNIST_FOLDER = "fashion_mnist_images"
#: Expected SHA-256 and size in bytes of the archive. No network exists where
#: nnref was written, so they could not be recorded from a verified download
#: yet; until they are, the check is the archive's own CRCs plus its layout.
#: Set them (or ``$NNREF_FASHION_MNIST_SHA256``), or pass ``sha256=`` to
#: :func:`load_fashion_mnist`, to pin the exact file.
FASHION_MNIST_SHA256: str | None = None
FASHION_MNIST_SIZE: int | None = None

#: Class index -> description, as listed in chapter 19.
FASHION_MNIST_LABELS: dict[int, str] = {
    0: "T-shirt/top",
    1: "Trouser",
    2: "Pullover",
    3: "Dress",
    4: "Coat",
    5: "Sandal",
    6: "Shirt",
    7: "Sneaker",
    8: "Bag",
    9: "Ankle boot",
}

_SPLITS = ("train", "test")
_COMPLETE_MARKER = ".nnref-complete"
# Indirection so tests can replace the network with a fake (tests never download).
_urlopen = urllib.request.urlopen


class DatasetDownloadError(OSError):
    """The dataset could not be downloaded or its archive failed the integrity check."""


def data_home() -> Path:
    """The cache folder: ``$NNREF_DATA`` if set, else ``~/.cache/nnref``."""
    env = os.environ.get("NNREF_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "nnref"


def _offline_help(cache: Path) -> str:
    return (
        f"Download {FASHION_MNIST_URL} on a machine with internet access and place the file at "
        f"{cache / FASHION_MNIST_FILE} (or set $NNREF_DATA to the folder holding it), or unzip it and "
        f"call load_fashion_mnist('<folder with train/ and test/>'). For a dataset that needs no "
        f"network at all, use nnref.data.load_digits()."
    )


def _download(url: str, target: Path, cache: Path) -> None:
    """Stream ``url`` into ``target`` through a temporary file, so an interrupted download leaves nothing."""
    try:
        with replace_atomically(target) as part, _urlopen(url, timeout=60) as response, open(part, "wb") as out:
            shutil.copyfileobj(response, out, length=1 << 20)
    except OSError as exc:  # URLError, timeouts and HTTP errors are all OSErrors
        raise DatasetDownloadError(f"load_fashion_mnist: could not download {url} ({exc}). "
                                   + _offline_help(cache)) from exc


def _check_member_name(info: zipfile.ZipInfo, archive: Path) -> PurePosixPath:
    """Refuse absolute paths, ``..`` and backslashes: an archive must not write outside its folder."""
    why = unsafe_zip_member(info)
    if why is not None:
        raise DatasetDownloadError(f"load_fashion_mnist: {archive} holds an unsafe member name "
                                   f"{info.orig_filename!r} ({why})")
    return PurePosixPath(info.filename)


def _verify_archive(archive: Path, sha256: str | None, size: int | None) -> list[zipfile.ZipInfo]:
    """Check the archive's size and hash (when known), every CRC, and the train/test layout.

    Returns the members to extract. Raises :class:`DatasetDownloadError`.
    """
    if size is not None and archive.stat().st_size != size:
        raise DatasetDownloadError(f"load_fashion_mnist: {archive} has {archive.stat().st_size} bytes, "
                                   f"expected {size}; delete it and download again")
    if sha256 is not None:
        digest = hashlib.sha256()
        with open(archive, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != sha256.lower():
            raise DatasetDownloadError(f"load_fashion_mnist: SHA-256 of {archive} is {digest.hexdigest()}, "
                                       f"expected {sha256}; delete it and download again")
    try:
        with zipfile.ZipFile(archive) as zf:
            # testzip() decompresses every member and checks its CRC: a truncated
            # or corrupted download fails here rather than halfway through loading.
            bad = zf.testzip()
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DatasetDownloadError(f"load_fashion_mnist: {archive} is not a complete zip archive ({exc}); "
                                   f"delete it and download again") from exc
    if bad is not None:
        raise DatasetDownloadError(f"load_fashion_mnist: member {bad!r} of {archive} is corrupted; "
                                   f"delete it and download again")
    seen: dict[str, set[str]] = {split: set() for split in _SPLITS}
    for info in infos:
        p = _check_member_name(info, archive)
        if not info.is_dir() and len(p.parts) == 3 and p.parts[0] in _SPLITS and p.suffix.lower() == ".png":
            seen[p.parts[0]].add(p.parts[1])
    want = {str(k) for k in FASHION_MNIST_LABELS}
    for split in _SPLITS:
        if seen[split] != want:
            raise DatasetDownloadError(
                f"load_fashion_mnist: {archive} does not have the Fashion-MNIST layout: expected PNGs in "
                f"{split}/0 ... {split}/9, found label folders {sorted(seen[split])}")
    return infos


def _extract(archive: Path, folder: Path, infos: list[zipfile.ZipInfo]) -> None:
    """Extract into a temporary sibling folder, then rename it into place (all or nothing)."""
    with replace_atomically(folder, folder=True) as tmp, zipfile.ZipFile(archive) as zf:
        for info in infos:
            # names were checked by _check_member_name: they stay inside tmp
            zf.extract(info, tmp)
        (tmp / _COMPLETE_MARKER).write_text("extracted by nnref\n")


# --8<-- [start:load_fashion_mnist]
def load_fashion_mnist(
    path: str | os.PathLike | None = None,
    *,
    download: bool = True,
    sha256: str | None = None,
) -> tuple[NDArray[np.float32], NDArray[np.uint8], NDArray[np.float32], NDArray[np.uint8]]:
    """Fashion-MNIST as the book prepares it: 28x28 PNGs flattened and scaled to [-1, 1].

    Introduced in chapter 19. With no ``path``, the archive is taken from the
    cache folder (:func:`data_home`), downloaded there first if missing and
    ``download`` is true, checked, and extracted once.

    Parameters
    ----------
    path : path, optional
        A folder with ``train/`` and ``test/`` (an unzipped archive), or the
        ``fashion_mnist_images.zip`` file itself (extracted next to it).
    download : bool, default True
        Fetch the archive from :data:`FASHION_MNIST_URL` when it is not cached.
    sha256 : str, optional
        Expected SHA-256 of the archive; defaults to :data:`FASHION_MNIST_SHA256`
        or ``$NNREF_FASHION_MNIST_SHA256``.

    Returns
    -------
    X : ndarray of float32, shape (60000, 784)
    y : ndarray of uint8, shape (60000,)
    X_test : ndarray of float32, shape (10000, 784)
    y_test : ndarray of uint8, shape (10000,)
        Class indices; names in :data:`FASHION_MNIST_LABELS`.

    Raises
    ------
    DatasetDownloadError
        Offline (the message says where to put the file by hand), or the
        archive is incomplete, corrupted or not laid out as expected.
    """
    expected_hash = sha256 or os.environ.get("NNREF_FASHION_MNIST_SHA256") or FASHION_MNIST_SHA256
    labels = {str(k): k for k in FASHION_MNIST_LABELS}
    if path is not None:
        path = Path(path).expanduser()
        if path.is_dir():
            return load_image_folder(path, label_map=labels)
        if not path.is_file():
            raise FileNotFoundError(f"load_fashion_mnist: {path} is neither a folder nor a file")
        archive, folder = path, path.with_suffix("")
    else:
        cache = data_home()
        archive, folder = cache / FASHION_MNIST_FILE, cache / FASHION_MNIST_FOLDER
    if not (folder / _COMPLETE_MARKER).is_file():
        if not archive.is_file():
            if not download:
                raise DatasetDownloadError(f"load_fashion_mnist: {archive} is missing and download=False. "
                                           + _offline_help(archive.parent))
            archive.parent.mkdir(parents=True, exist_ok=True)
            _download(FASHION_MNIST_URL, archive, archive.parent)
        infos = _verify_archive(archive, expected_hash, FASHION_MNIST_SIZE if path is None else None)
        _extract(archive, folder, infos)
    return load_image_folder(folder, label_map=labels)
# --8<-- [end:load_fashion_mnist]


def _pil_image():
    """Import Pillow lazily: the core of nnref needs numpy only."""
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - Pillow is installed in the test environment
        raise ImportError("nnref.data: reading images needs Pillow; install it with "
                          "`pip install nnref[images]` (or `pip install pillow`)") from exc
    return Image


# --8<-- [start:image_folder]
def _read_png_folder(folder: Path, label_map: Mapping[str, int]) -> tuple[list[NDArray], list[int]]:
    Image = _pil_image()
    images: list[NDArray] = []
    labels: list[int] = []
    entries = sorted(p for p in folder.iterdir() if p.is_dir())
    unknown = [p.name for p in entries if p.name not in label_map]
    if unknown:
        raise ValueError(f"load_image_folder: label folders {unknown} in {folder} are not in the label map "
                         f"{sorted(label_map)}")
    # sorted listings: the book's os.listdir order depends on the file system
    for label_dir in sorted(entries, key=lambda p: (label_map[p.name], p.name)):
        for file in sorted(label_dir.iterdir()):
            if not file.is_file() or file.suffix.lower() != ".png":
                continue
            try:
                with Image.open(file) as img:
                    img.load()  # decode now, so a damaged file fails here and not silently later
                    if img.mode != "L":
                        raise ValueError(f"mode {img.mode!r}, expected 8-bit grayscale 'L'")
                    pixels = np.asarray(img, dtype=np.uint8)
            except (OSError, ValueError, SyntaxError) as exc:  # PIL reports bad data with these
                raise ValueError(f"load_image_folder: could not decode {file}: {exc}") from exc
            if images and pixels.shape != images[0].shape:
                raise ValueError(f"load_image_folder: {file} is {pixels.shape[1]}x{pixels.shape[0]} pixels, "
                                 f"the first image was {images[0].shape[1]}x{images[0].shape[0]}")
            images.append(pixels)
            labels.append(label_map[label_dir.name])
    if not images:
        raise ValueError(f"load_image_folder: no PNG images under {folder}/<label>/")
    return images, labels


def load_image_folder(
    path: str | os.PathLike,
    *,
    label_map: Mapping[str, int] | None = None,
) -> tuple[NDArray[np.float32], NDArray[np.uint8], NDArray[np.float32], NDArray[np.uint8]]:
    """Read a ``train/<label>/*.png``, ``test/<label>/*.png`` dataset (chapter 19's layout).

    Introduced in chapter 19. Unlike the book's loader, folder and file
    listings are sorted (the same order on every machine), labels come from an
    explicit map rather than from whatever the folder name converts to, and an
    image that does not decode is an error rather than a ``None`` in the data.

    Parameters
    ----------
    path : path
        Folder holding ``train/`` and ``test/``.
    label_map : mapping str -> int, optional
        Folder name -> class index. By default, folder names must be
        non-negative integers (``"0"``, ``"1"``, ...) and map to themselves.

    Returns
    -------
    X : ndarray of float32, shape (n_train, height * width)
        Pixels scaled to [-1, 1] by $(x - 127.5) / 127.5$, one flattened image
        per row (784 columns for 28x28 images).
    y : ndarray of uint8, shape (n_train,)
    X_test : ndarray of float32, shape (n_test, height * width)
    y_test : ndarray of uint8, shape (n_test,)
    """
    root = Path(path).expanduser()
    for split in _SPLITS:
        if not (root / split).is_dir():
            raise FileNotFoundError(f"load_image_folder: expected a folder {root / split} (layout "
                                    f"{root}/train/<label>/*.png and {root}/test/<label>/*.png)")
    if label_map is None:
        names = {p.name for split in _SPLITS for p in (root / split).iterdir() if p.is_dir()}
        bad = sorted(n for n in names if not n.isdigit())
        if bad:
            raise ValueError(f"load_image_folder: folder names {bad} are not class numbers; pass label_map=")
        label_map = {n: int(n) for n in names}
    for name, index in label_map.items():
        if not isinstance(index, (int, np.integer)) or not 0 <= index <= 255:
            raise ValueError(f"load_image_folder: label_map[{name!r}] must be an int in [0, 255], got {index!r}")
    out: list[NDArray] = []
    for split in _SPLITS:
        images, labels = _read_png_folder(root / split, label_map)
        X = np.stack(images).reshape(len(images), -1)
        out += [scale_pixels(X), np.asarray(labels, dtype=np.uint8)]
    if out[0].shape[1] != out[2].shape[1]:
        raise ValueError(f"load_image_folder: train images have {out[0].shape[1]} pixels, "
                         f"test images {out[2].shape[1]}")
    return out[0], out[1], out[2], out[3]
# --8<-- [end:image_folder]


# --8<-- [start:prepare_image]
def prepare_image(
    image: str | os.PathLike | ArrayLike | Any,
    *,
    size: tuple[int, int] = (28, 28),
    invert: bool = True,
) -> NDArray[np.float32]:
    """Turn an outside picture into one model input row, as chapter 22 does.

    Introduced in chapter 22. Steps: convert to grayscale (luma
    $0.299R + 0.587G + 0.114B$, what OpenCV's ``IMREAD_GRAYSCALE`` uses),
    resize to ``size`` (bilinear, like ``cv2.resize``'s default; Pillow also
    smooths when shrinking, so pixels can differ slightly from OpenCV's),
    invert ($255 - x$: Fashion-MNIST has light clothes on a black background,
    photos are usually the opposite), scale to [-1, 1], flatten.

    Parameters
    ----------
    image : path, PIL image, or array_like of uint8
        A file path, a ``PIL.Image.Image``, or pixels shaped (H, W) grayscale,
        (H, W, 3) RGB or (H, W, 4) RGBA with values 0..255.
    size : (width, height), default (28, 28)
    invert : bool, default True

    Returns
    -------
    ndarray of float32, shape (1, width * height)
        Ready for ``model.predict``.
    """
    Image = _pil_image()
    if isinstance(image, (str, os.PathLike)):
        if not Path(image).is_file():
            raise FileNotFoundError(f"prepare_image: no such file: {image}")
        try:
            with Image.open(image) as img:
                img.load()
                gray = img.convert("L")
        except (OSError, ValueError, SyntaxError) as exc:
            raise ValueError(f"prepare_image: could not decode {image}: {exc}") from exc
    elif isinstance(image, Image.Image):
        gray = image.convert("L")
    else:
        arr = np.asarray(image)
        if arr.dtype.kind not in "uif" or arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
            raise ValueError(f"prepare_image: expected pixels shaped (H, W), (H, W, 3) or (H, W, 4), "
                             f"got shape {arr.shape} and dtype {arr.dtype}")
        if arr.size == 0 or arr.min() < 0 or arr.max() > 255:
            raise ValueError("prepare_image: pixel values must lie in [0, 255]")
        gray = Image.fromarray(arr.astype(np.uint8)).convert("L")
    width, height = size
    if width <= 0 or height <= 0:
        raise ValueError(f"prepare_image: size must be two positive ints (width, height), got {size}")
    pixels = np.asarray(gray.resize((width, height), Image.Resampling.BILINEAR), dtype=np.uint8)
    if invert:
        pixels = 255 - pixels  # uint8 arithmetic stays in [0, 255]
    return scale_pixels(pixels.reshape(1, -1))
# --8<-- [end:prepare_image]


# --------------------------------------------------------------------------
# An offline real dataset: scikit-learn's handwritten digits
# --------------------------------------------------------------------------
def _split_seed(rng: int | np.random.Generator) -> int:
    """scikit-learn takes an int seed: a Generator gives one of its draws."""
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(2**31 - 1))
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return int(rng)
    raise TypeError(f"load_digits: rng must be an int seed or a numpy.random.Generator, got {type(rng).__name__}")


# --8<-- [start:load_digits]
def load_digits(
    *,
    test_size: float = 0.25,
    rng: int | np.random.Generator = 0,
) -> tuple[NDArray[np.float32], NDArray[np.uint8], NDArray[np.float32], NDArray[np.uint8]]:
    """Handwritten digits (8x8, 1797 images) split into train and test, scaled to [-1, 1].

    The dataset ships inside scikit-learn, so it works with no network (install
    with ``pip install nnref[datasets]``). It stands in for Fashion-MNIST
    (chapter 19) in the docs and tests, with the same return values.

    Parameters
    ----------
    test_size : float in (0, 1), default 0.25
        Share of the images held out for testing.
    rng : int or numpy.random.Generator, default 0
        Source of the split's randomness (a seed or a Generator, as everywhere
        in nnref). The split is stratified: each digit keeps the same
        share in train and test.

    Returns
    -------
    X : ndarray of float32, shape (n_train, 64)
        Pixels $0..16$ mapped to $[-1, 1]$ by $(x - 8) / 8$.
    y : ndarray of uint8, shape (n_train,)
    X_test : ndarray of float32, shape (n_test, 64)
    y_test : ndarray of uint8, shape (n_test,)
    """
    if isinstance(test_size, bool) or not isinstance(test_size, (float, int)) or not 0 < test_size < 1:
        raise ValueError(f"load_digits: test_size must be a float in (0, 1), got {test_size!r}")
    try:
        from sklearn.datasets import load_digits as _sk_load_digits
        from sklearn.model_selection import train_test_split
    except ImportError as exc:  # pragma: no cover - scikit-learn is installed in the test environment
        raise ImportError("load_digits needs scikit-learn; install it with `pip install nnref[datasets]`") from exc
    bunch = _sk_load_digits()
    X = scale_pixels(bunch.data, max_value=16.0)
    y = bunch.target.astype(np.uint8)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=float(test_size), random_state=_split_seed(rng), stratify=y)
    return X_train, y_train, X_test, y_test
# --8<-- [end:load_digits]
