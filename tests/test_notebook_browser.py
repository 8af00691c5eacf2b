"""A chapter notebook opened in JupyterLab in a real browser (Debian's chromium, Playwright).

JupyterLab runs on 127.0.0.1 with no token, its config, data and runtime
folders in a temporary directory, and is stopped at the end. Never run
``playwright install`` (it downloads a browser).
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from urllib.parse import urlparse
from pathlib import Path

import pytest

from test_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium (apt-get install chromium; .ci/run does it)"),
]

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytest.importorskip("jupyterlab", reason="jupyterlab is not installed (it is in the test extra)")

from nnref import notebooks  # noqa: E402
from nnref.chapters import chapter  # noqa: E402

START_TIMEOUT = 120     # seconds for the server to answer, on a loaded two-core machine
RENDER_TIMEOUT = 120    # seconds for the notebook's first cells to appear


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on 127.0.0.1 serving a folder that holds chapter 14's notebook."""
    tmp = tmp_path_factory.mktemp("jupyterlab")
    work = tmp / "work"
    notebooks.write_notebook(14, work)
    env = dict(os.environ)
    for var, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                     ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython"), ("HOME", "home")):
        (tmp / sub).mkdir()
        env[var] = str(tmp / sub)
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    port = _free_port()
    log = open(tmp / "lab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         "--ServerApp.port_retries=0", "--allow-root", "--LabApp.extension_manager=readonly",
         "--IdentityProvider.token=", "--ServerApp.password=",
         "--ServerApp.disable_check_xsrf=True", f"--ServerApp.root_dir={work}",
         "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=work,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status", timeout=5)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail(f"JupyterLab did not start:\n{(tmp / 'lab.log').read_text()[-3000:]}")
                time.sleep(1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_a_chapter_notebook_opens_in_jupyterlab(lab):
    """Chapter 14's notebook loads in JupyterLab offline: the set-up cell's code, the title and its math render."""
    name = notebooks.notebook_filename(14)
    errors: list[str] = []
    foreign: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: urlparse(r.url).scheme in ("http", "https", "ws", "wss")
                and urlparse(r.url).hostname != "127.0.0.1" and foreign.append(r.url))
        try:
            page.goto(f"{lab}/lab/tree/{name}", wait_until="load", timeout=RENDER_TIMEOUT * 1000)
            page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=RENDER_TIMEOUT * 1000)
            heading = page.wait_for_selector(".jp-Notebook .jp-MarkdownCell .jp-RenderedMarkdown h1",
                                             timeout=RENDER_TIMEOUT * 1000)
            assert heading.inner_text().strip().startswith(f"14. {chapter(14).title}")
            first = page.locator(".jp-Notebook .jp-Cell").first
            assert "NNREF_SOURCE" in first.inner_text()
            # the title cell's math ($\\lambda$) goes through JupyterLab's MathJax, bundled with it
            page.wait_for_selector(".jp-Notebook .jp-MarkdownCell .jp-RenderedMarkdown mjx-container",
                                   timeout=RENDER_TIMEOUT * 1000)
            if os.environ.get("NNREF_LAB_SCREENSHOT"):
                page.screenshot(path=os.environ["NNREF_LAB_SCREENSHOT"])
        finally:
            browser.close()
    assert not errors, errors
    assert not foreign, foreign
