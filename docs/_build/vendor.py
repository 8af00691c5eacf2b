#!/usr/bin/env python3
"""Refresh the vendored front-end files under ``docs/assets/vendor/``.

The site must work without any other host, so the two browser-side
dependencies are copied into the repository and committed:

* KaTeX (npm package ``katex``): ``katex.min.js``, ``katex.min.css`` and the
  ``.woff2`` fonts. Every browser we target reads woff2, so the CSS is
  rewritten to list only the woff2 files (the ``.woff``/``.ttf`` copies would
  add ~1 MB for nothing).
* iframe-worker (npm package ``iframe-worker``): ``shim/index.js``, which lets
  Material's search worker run when the built site is opened from ``file://``
  (the ``offline`` plugin otherwise points at a copy on a CDN).

Usage, from the project root (needs ``npm`` and access to the npm registry)::

    python docs/_build/vendor.py            # latest versions
    python docs/_build/vendor.py katex@0.16.22 iframe-worker@1.0.4

The versions copied are written to ``docs/assets/vendor/VERSIONS.txt``.
This script is not part of the build: the build only reads the committed files.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VENDOR = Path(__file__).resolve().parents[1] / "assets" / "vendor"
# A font source in KaTeX's CSS: url(fonts/NAME.EXT) format("...")
FONT_SRC = re.compile(r',?url\(fonts/[^)]+\.(?:woff|ttf)\) format\("(?:woff|truetype)"\)')


def npm_pack(spec: str, workdir: Path) -> Path:
    """Download one npm package tarball with ``npm pack`` and unpack it."""
    out = subprocess.run(
        ["npm", "pack", spec, "--json"], cwd=workdir, check=True, capture_output=True, text=True
    )
    filename = json.loads(out.stdout)[0]["filename"]
    target = workdir / spec.replace("/", "_").replace("@", "_")
    with tarfile.open(workdir / filename) as tar:
        tar.extractall(target, filter="data")
    return target / "package"


def vendor_katex(pkg: Path) -> str:
    dest = VENDOR / "katex"
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "fonts").mkdir(parents=True)
    dist = pkg / "dist"
    shutil.copy2(dist / "katex.min.js", dest / "katex.min.js")
    css = (dist / "katex.min.css").read_text(encoding="utf-8")
    css = FONT_SRC.sub("", css)
    if ".woff)" in css or ".ttf)" in css:
        raise SystemExit("katex.min.css: could not strip the woff/ttf font sources")
    (dest / "katex.min.css").write_text(css, encoding="utf-8")
    for font in sorted((dist / "fonts").glob("*.woff2")):
        shutil.copy2(font, dest / "fonts" / font.name)
    shutil.copy2(pkg / "LICENSE", dest / "LICENSE")
    return json.loads((pkg / "package.json").read_text())["version"]


def vendor_iframe_worker(pkg: Path) -> str:
    dest = VENDOR / "iframe-worker"
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    shutil.copy2(pkg / "shim" / "index.js", dest / "shim.js")
    shutil.copy2(pkg / "LICENSE", dest / "LICENSE")
    return json.loads((pkg / "package.json").read_text())["version"]


def main(argv: list[str]) -> int:
    specs = dict(katex="katex", iframe="iframe-worker")
    for arg in argv:
        specs["katex" if arg.startswith("katex") else "iframe"] = arg
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        katex = vendor_katex(npm_pack(specs["katex"], work))
        iframe = vendor_iframe_worker(npm_pack(specs["iframe"], work))
    (VENDOR / "VERSIONS.txt").write_text(
        f"katex {katex} (npm; dist/katex.min.js, katex.min.css with woff2 sources only, fonts/*.woff2)\n"
        f"iframe-worker {iframe} (npm; shim/index.js -> shim.js)\n",
        encoding="utf-8",
    )
    print(f"vendored katex {katex} and iframe-worker {iframe} into {VENDOR}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
