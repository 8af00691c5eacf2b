"""Tests for nnref.data: nnfs generators, the PNG-folder loader, Fashion-MNIST caching, digits."""
from __future__ import annotations

import hashlib
import io
import urllib.error
import zipfile
from pathlib import Path

import numpy as np
import pytest

import nnref.data as data
from nnref import book_mode

Image = pytest.importorskip("PIL.Image")


def _png_bytes(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def _pixels(label: int, k: int, size: int = 28) -> np.ndarray:
    """A distinct, recognisable image: constant value 10*label + k."""
    return np.full((size, size), 10 * label + k, dtype=np.uint8)


def _make_folder(root: Path, labels=range(3), per_label: int = 2, size: int = 28) -> Path:
    for split in ("train", "test"):
        for i, label in enumerate(labels):
            d = root / split / str(label)
            d.mkdir(parents=True)
            # written in reverse so a loader that does not sort would read them out of order
            for k in reversed(range(per_label)):
                (d / f"{k:04d}.png").write_bytes(_png_bytes(_pixels(i, k, size)))
    return root


def _fashion_zip(extra: dict[str, bytes] | None = None, labels=range(10)) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("LICENSE", "test data\n", compress_type=zipfile.ZIP_STORED)
        for split in ("train", "test"):
            for label in labels:
                for k in range(2):
                    zf.writestr(f"{split}/{label}/{k:04d}.png", _png_bytes(_pixels(label, k)))
        for name, payload in (extra or {}).items():
            zf.writestr(name, payload)
    return buf.getvalue()


class _FakeResponse(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache folder in $NNREF_DATA, and a network that fails unless a test replaces it."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("NNREF_DATA", str(folder))
    monkeypatch.delenv("NNREF_FASHION_MNIST_SHA256", raising=False)

    def offline(url, timeout=None):
        raise urllib.error.URLError("no network in tests")

    monkeypatch.setattr(data, "_urlopen", offline)
    return folder


def _serve(monkeypatch, payload: bytes) -> list[str]:
    calls: list[str] = []

    def fake(url, timeout=None):
        calls.append(url)
        return _FakeResponse(payload)

    monkeypatch.setattr(data, "_urlopen", fake)
    return calls


# ---------------------------------------------------------------- nnfs data
def test_generators_are_nnfs_data():
    """spiral/vertical/sine return exactly what the nnfs package returns for the same seed."""
    from nnfs.datasets import sine_data, spiral_data, vertical_data

    for ours, theirs, args in ((data.spiral_data, spiral_data, (50, 3)),
                               (data.vertical_data, vertical_data, (50, 3)),
                               (data.sine_data, sine_data, (100,))):
        with book_mode():
            a = ours(*args)
        with book_mode():
            b = theirs(*args)
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    X, y = data.spiral_data(100, 3)
    assert X.shape == (300, 2) and y.shape == (300,)


# ---------------------------------------------------------------- image folders
def test_load_image_folder_shapes_scaling_and_order(tmp_path):
    """Images come back flattened, float32 in [-1, 1], sorted by label then file name."""
    root = _make_folder(tmp_path / "ds", labels=range(3), per_label=2)
    X, y, X_test, y_test = data.load_image_folder(root)
    assert X.shape == (6, 784) and X_test.shape == (6, 784)
    assert X.dtype == np.float32 and y.dtype == np.uint8
    np.testing.assert_array_equal(y, [0, 0, 1, 1, 2, 2])
    expected = [(10 * lab + k - 127.5) / 127.5 for lab in range(3) for k in range(2)]
    np.testing.assert_allclose(X[:, 0], expected, rtol=0, atol=1e-7)
    np.testing.assert_allclose(X.min(axis=1), X.max(axis=1))  # each image is constant
    np.testing.assert_array_equal(X, X_test)


def test_scale_pixels_bounds():
    """0 maps to -1, 255 to +1, 127.5 to 0 (the book's (X - 127.5) / 127.5)."""
    np.testing.assert_array_equal(data.scale_pixels([0, 127.5, 255]), np.float32([-1, 0, 1]))


def test_load_image_folder_label_map_numeric_order(tmp_path):
    """Labels follow the explicit map, and folders "10" sort after "9" numerically."""
    root = _make_folder(tmp_path / "ds", labels=[2, 10, 9], per_label=1)
    _, y, _, _ = data.load_image_folder(root)
    np.testing.assert_array_equal(y, [2, 9, 10])
    _, y2, _, _ = data.load_image_folder(root, label_map={"2": 0, "9": 1, "10": 2})
    np.testing.assert_array_equal(y2, [0, 1, 2])
    with pytest.raises(ValueError, match="not in the label map"):
        data.load_image_folder(root, label_map={"2": 0, "9": 1})


def test_load_image_folder_rejects_non_numeric_folders(tmp_path):
    """Folder names that are not class numbers need an explicit label_map."""
    root = _make_folder(tmp_path / "ds", labels=["cat", "dog"], per_label=1)
    with pytest.raises(ValueError, match="label_map"):
        data.load_image_folder(root)
    _, y, _, _ = data.load_image_folder(root, label_map={"cat": 0, "dog": 1})
    np.testing.assert_array_equal(y, [0, 1])


def test_load_image_folder_undecodable_image(tmp_path):
    """A damaged PNG is an error naming the file, not a silent None."""
    root = _make_folder(tmp_path / "ds", labels=range(2), per_label=1)
    bad = root / "train" / "1" / "0000.png"
    bad.write_bytes(bad.read_bytes()[:40])
    with pytest.raises(ValueError, match=r"could not decode .*0000\.png"):
        data.load_image_folder(root)


def test_load_image_folder_rejects_colour_and_mixed_sizes(tmp_path):
    """RGB images and images of different sizes are refused with a clear message."""
    root = _make_folder(tmp_path / "a", labels=range(2), per_label=1)
    (root / "train" / "0" / "0005.png").write_bytes(_png_bytes(np.zeros((28, 28, 3), np.uint8)))
    with pytest.raises(ValueError, match="grayscale"):
        data.load_image_folder(root)
    root = _make_folder(tmp_path / "b", labels=range(2), per_label=1)
    (root / "test" / "1" / "0005.png").write_bytes(_png_bytes(np.zeros((20, 28), np.uint8)))
    with pytest.raises(ValueError, match="28x20 pixels"):
        data.load_image_folder(root)


def test_load_image_folder_missing_split(tmp_path):
    """A folder without test/ is a FileNotFoundError that shows the expected layout."""
    (tmp_path / "train" / "0").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="test"):
        data.load_image_folder(tmp_path)


# ---------------------------------------------------------------- prepare_image
def test_prepare_image_matches_chapter_22_steps(tmp_path):
    """A dark shape on a white RGB photo becomes a bright shape on black, 28x28, in [-1, 1]."""
    photo = np.full((56, 84, 3), 255, dtype=np.uint8)
    photo[14:42, 28:56] = (0, 0, 0)  # black square in the middle
    path = tmp_path / "photo.png"
    Image.fromarray(photo).save(path)
    row = data.prepare_image(path)
    assert row.shape == (1, 784) and row.dtype == np.float32
    grid = row.reshape(28, 28)
    assert grid[14, 14] == pytest.approx(1.0)   # inverted: the black square is now white
    assert grid[0, 0] == pytest.approx(-1.0)    # and the white background black
    np.testing.assert_array_equal(data.prepare_image(photo), row)
    # without inversion the same pixels come out negated
    np.testing.assert_allclose(data.prepare_image(photo, invert=False), -row, atol=1e-6)


def test_prepare_image_grayscale_uses_luma():
    """A pure green image turns into the luma value round(0.587 * 255) = 150 before inversion."""
    green = np.zeros((28, 28, 3), np.uint8)
    green[..., 1] = 255
    row = data.prepare_image(green, invert=False)
    np.testing.assert_allclose(row, (150 - 127.5) / 127.5, atol=1e-6)


def test_prepare_image_bad_input(tmp_path):
    """Wrong shapes, out-of-range values and unreadable files are ValueErrors."""
    with pytest.raises(ValueError, match="shaped"):
        data.prepare_image(np.zeros((28, 28, 2)))
    with pytest.raises(ValueError, match=r"\[0, 255\]"):
        data.prepare_image(np.full((4, 4), 300))
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    with pytest.raises(ValueError, match="could not decode"):
        data.prepare_image(junk)


@pytest.mark.parametrize("loader", ["prepare_image", "load_image_folder", "load_fashion_mnist"])
def test_missing_path_is_file_not_found_with_the_path(tmp_path, loader):
    """Every data loader given a path that does not exist raises FileNotFoundError naming that path."""
    path = tmp_path / "no-such-thing.png"
    with pytest.raises(FileNotFoundError) as info:
        getattr(data, loader)(path)
    assert str(path) in str(info.value)


# ---------------------------------------------------------------- Fashion-MNIST download and cache
def test_fashion_download_extract_and_cache(cache, monkeypatch):
    """The first call downloads into $NNREF_DATA and extracts; the second reads the cache only."""
    calls = _serve(monkeypatch, _fashion_zip())
    X, y, X_test, y_test = data.load_fashion_mnist()
    assert calls == [data.FASHION_MNIST_URL]
    assert X.shape == (20, 784) and X_test.shape == (20, 784)
    np.testing.assert_array_equal(y, np.repeat(np.arange(10), 2))
    assert (cache / data.FASHION_MNIST_FILE).is_file()
    assert not list(cache.glob("*.part"))
    calls.clear()
    X2, *_ = data.load_fashion_mnist(download=False)
    assert calls == []
    np.testing.assert_array_equal(X, X2)


def test_fashion_offline_error_says_where_to_put_the_file(cache):
    """Offline, the error names the URL and the exact path to place the archive by hand."""
    with pytest.raises(data.DatasetDownloadError) as info:
        data.load_fashion_mnist()
    msg = str(info.value)
    assert data.FASHION_MNIST_URL in msg and str(cache / data.FASHION_MNIST_FILE) in msg
    assert not list(cache.glob("*"))  # no half-written file left behind
    with pytest.raises(data.DatasetDownloadError, match="download=False"):
        data.load_fashion_mnist(download=False)


def test_fashion_archive_placed_by_hand(cache):
    """An archive copied into the cache folder is used without any network call."""
    cache.mkdir()
    (cache / data.FASHION_MNIST_FILE).write_bytes(_fashion_zip())
    X, y, _, _ = data.load_fashion_mnist(download=False)
    assert X.shape == (20, 784)


def test_fashion_zip_path_argument(tmp_path, cache):
    """load_fashion_mnist(path=<zip>) extracts next to the zip; path=<folder> reads it directly."""
    archive = tmp_path / "fm.zip"
    archive.write_bytes(_fashion_zip())
    X, *_ = data.load_fashion_mnist(archive)
    assert (tmp_path / "fm" / "train" / "9").is_dir()
    X2, *_ = data.load_fashion_mnist(tmp_path / "fm")
    np.testing.assert_array_equal(X, X2)


def test_fashion_truncated_download_refused(cache, monkeypatch):
    """A truncated archive fails the integrity check and nothing is extracted."""
    _serve(monkeypatch, _fashion_zip()[:-100])
    with pytest.raises(data.DatasetDownloadError, match="not a complete zip"):
        data.load_fashion_mnist()
    assert not (cache / data.FASHION_MNIST_FOLDER).exists()


def test_fashion_corrupted_member_refused(cache, monkeypatch):
    """A flipped byte inside a stored member fails its CRC check."""
    payload = bytearray(_fashion_zip())
    offset = payload.index(b"test data")  # the LICENSE text
    payload[offset] ^= 0x01
    _serve(monkeypatch, bytes(payload))
    with pytest.raises(data.DatasetDownloadError):
        data.load_fashion_mnist()


def test_fashion_layout_and_traversal_refused(cache, monkeypatch, tmp_path):
    """Archives missing a label folder, or holding ../ names, are refused before extraction."""
    _serve(monkeypatch, _fashion_zip(labels=range(9)))
    with pytest.raises(data.DatasetDownloadError, match="layout"):
        data.load_fashion_mnist()
    (cache / data.FASHION_MNIST_FILE).unlink()
    _serve(monkeypatch, _fashion_zip(extra={"../evil.txt": b"x"}))
    with pytest.raises(data.DatasetDownloadError, match="unsafe member"):
        data.load_fashion_mnist()
    assert not (cache.parent / "evil.txt").exists()


def test_fashion_sha256_is_checked(cache, monkeypatch):
    """A configured SHA-256 is enforced: the right hash loads, a wrong one is refused."""
    payload = _fashion_zip()
    _serve(monkeypatch, payload)
    with pytest.raises(data.DatasetDownloadError, match="SHA-256"):
        data.load_fashion_mnist(sha256="0" * 64)
    X, *_ = data.load_fashion_mnist(sha256=hashlib.sha256(payload).hexdigest())
    assert X.shape == (20, 784)


# ---------------------------------------------------------------- digits
def test_load_digits_interface():
    """Digits come as (X, y, X_test, y_test): float32 in [-1, 1], 64 features, stratified split."""
    X, y, X_test, y_test = data.load_digits(test_size=0.25, rng=0)
    assert X.shape[1] == X_test.shape[1] == 64
    assert X.shape[0] + X_test.shape[0] == 1797
    assert X.dtype == np.float32 and y.dtype == np.uint8
    assert X.min() == -1.0 and X.max() == 1.0
    train_share = np.bincount(y, minlength=10) / len(y)
    test_share = np.bincount(y_test, minlength=10) / len(y_test)
    np.testing.assert_allclose(train_share, test_share, atol=0.01)


def test_load_digits_seeded():
    """The same seed gives the same split; another seed a different one."""
    a = data.load_digits(rng=3)
    b = data.load_digits(rng=3)
    c = data.load_digits(rng=4)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])
    with pytest.raises(ValueError, match="test_size"):
        data.load_digits(test_size=1.5)


def test_load_digits_takes_rng_like_every_other_random_object():
    """load_digits(rng=...) accepts a seed or a Generator (the one keyword for randomness); anything else is refused."""
    a = data.load_digits(rng=np.random.default_rng(5))
    b = data.load_digits(rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a[1], b[1])
    with pytest.raises(TypeError, match="rng must be an int seed or a numpy.random.Generator"):
        data.load_digits(rng="five")
