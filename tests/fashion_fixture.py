"""A small stand-in for Fashion-MNIST, in the book's folder layout, for tests that cannot download.

``make_fashion_mnist_folder(root)`` writes ``root/train/<label>/NNNN.png`` and
``root/test/<label>/NNNN.png``: 28x28 8-bit grayscale images, ten classes.
Each class lights its own horizontal band of the image over dim noise, so
a dense network learns them in a few steps (accuracy rises well above the
1/10 of guessing). ``make_photos(folder)`` writes two RGB "photos" in the
spirit of chapter 22's: dark clothes on a light background, larger than
28x28, for ``prepare_image``.

Run ``python tests/fashion_fixture.py DIR`` to write both into DIR.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def _image(label: int, rng: np.random.Generator) -> np.ndarray:
    """One 28x28 uint8 image of class ``label``: noise in 0..60, a bright band at rows 4+2*label .. +3."""
    pixels = rng.integers(0, 61, size=(28, 28))
    top = 4 + 2 * label + int(rng.integers(-1, 2))  # jitter the band by a row
    left = int(rng.integers(2, 7))
    pixels[top:top + 3, left:left + 18] = rng.integers(180, 256, size=(3, 18))
    return pixels.astype(np.uint8)


def make_fashion_mnist_folder(root: str | Path, *, train_per_class: int = 30, test_per_class: int = 6,
                              seed: int = 0) -> Path:
    """Write the fake dataset under ``root`` (created if missing) and return ``root``."""
    from PIL import Image

    root = Path(root)
    rng = np.random.default_rng(seed)
    for split, count in (("train", train_per_class), ("test", test_per_class)):
        for label in range(10):
            folder = root / split / str(label)
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                Image.fromarray(_image(label, rng)).save(folder / f"{i:04d}.png")
    return root


def make_photos(folder: str | Path) -> list[Path]:
    """Write ``tshirt.png`` and ``pants.png`` (RGB, 120x120, dark garment on white) into ``folder``."""
    from PIL import Image, ImageDraw

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    shirt = Image.new("RGB", (120, 120), (245, 245, 245))
    draw = ImageDraw.Draw(shirt)
    draw.polygon([(20, 30), (45, 15), (75, 15), (100, 30), (90, 50), (80, 45), (80, 105), (40, 105),
                  (40, 45), (30, 50)], fill=(40, 40, 60))
    pants = Image.new("RGB", (120, 120), (250, 250, 250))
    draw = ImageDraw.Draw(pants)
    draw.polygon([(35, 10), (85, 10), (92, 110), (66, 110), (60, 40), (54, 110), (28, 110)], fill=(30, 30, 80))
    paths = [folder / "tshirt.png", folder / "pants.png"]
    shirt.save(paths[0])
    pants.save(paths[1])
    return paths


if __name__ == "__main__":  # pragma: no cover - a convenience for trying the programs by hand
    target = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    make_fashion_mnist_folder(target / "fashion_mnist_images")
    make_photos(target)
    print(f"wrote {target / 'fashion_mnist_images'}, {target / 'tshirt.png'} and {target / 'pants.png'}")
