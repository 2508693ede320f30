"""The HTML report renders in a real headless Chromium: tables and embedded images in the DOM."""

from __future__ import annotations

import shutil
import subprocess

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium")
                 if p and shutil.os.path.exists(p)), None)


@pytest.mark.skipif(CHROMIUM is None, reason="no headless Chromium installed (apt-get install chromium)")
def test_index_html_renders_tables_and_images(tmp_path, monkeypatch):
    from test_bench import FakePlugin, _plan

    from pixelsmith.bench import BenchOptions, run_bench, write_report
    from pixelsmith.registry import Registry

    reg = Registry()
    reg.add_plugin(FakePlugin(), name="fake", distribution="pixelsmith-fake", version="9.9")
    with reg.activate():
        result = run_bench(BenchOptions(quick=True, quiet=True, metrics=("psnr",)), registry=reg, plan=_plan())
    write_report(result, tmp_path / "run")
    page = (tmp_path / "run" / "index.html").resolve()
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000", "--dump-dom", page.as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    dom = done.stdout
    assert done.returncode == 0 and "<html" in dom, done.stderr[-2000:]
    assert dom.count("<table") >= 3 and "<tbody>" in dom
    assert dom.count("data:image/png;base64,") >= 3
    assert "boom from a broken plugin" in dom  # failures are shown, not hidden
