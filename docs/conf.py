"""Sphinx configuration of the Coriolis docs; the reference pages are generated at each build."""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))
sys.path.insert(0, str(DOCS))

import gen_reference  # noqa: E402

gen_reference.generate()

project = "Coriolis"
author = "the Coriolis developers"
copyright = "the Coriolis developers"
release = "0.1.0"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon"]
exclude_patterns = ["_build", "_generated"]
html_theme = "alabaster"
autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_google_docstring = True
