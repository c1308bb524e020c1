"""``make docs``: the Sphinx build (the Makefile's command) passes with warnings as errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_docs_build_without_warnings_and_cover_the_api(tmp_path):
    sphinx = Path(sys.executable).parent / "sphinx-build"
    assert sphinx.exists(), "sphinx-build is not installed in the venv (pip install sphinx; the docs extra)"
    makefile = (ROOT / "Makefile").read_text()
    assert "sphinx-build -W -b html docs docs/_build/html" in makefile
    out = tmp_path / "html"
    done = subprocess.run([str(sphinx), "-W", "-b", "html", "docs", str(out)], cwd=ROOT, capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "WARNING" not in done.stderr, done.stderr[-3000:]

    spec = json.loads((ROOT / "docs" / "_generated" / "openapi.json").read_text())
    api = (out / "api.html").read_text()
    for path, item in spec["paths"].items():
        for method in item:
            if method in ("get", "post", "put", "delete"):
                assert f"{method.upper()} {path}" in api, (method, path)
    assert "MigrationCreateBody" in api and "validate-connection" in api
    providers = (out / "providers.html").read_text()
    assert "fail_boot" in providers and "kvm" in providers and "ova" in providers
    settings = (out / "configuration.html").read_text()
    assert "database_url" in settings and "endpoint_host_allowlist" in settings
    assert "plan file" in (out / "batch.html").read_text().lower()
    assert "Client" in (out / "client.html").read_text()
