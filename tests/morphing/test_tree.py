"""``LocalTree``'s registry hives (the tests' stand-in for the appliance's hivex)."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import pytest

from morphing.tree import LocalTree


def test_a_file_that_is_not_a_hive_fails_cleanly(tmp_path: Path) -> None:
    """The failed open raises ``OSError`` and leaves nothing whose collection raises later.

    hivex's own handle raised ``AttributeError`` from ``__del__`` when collected after a failed open; in a CI run
    that happened inside a running ``ast.parse`` (Python 3.11 formats the unraisable error with ``ast``) and broke
    an unrelated test's app set-up with "AST constructor recursion depth mismatch".
    """
    (tmp_path / "SYSTEM").write_bytes(b"regf")
    unraisable = []
    hook, sys.unraisablehook = sys.unraisablehook, unraisable.append
    try:
        for _ in range(3):
            with pytest.raises(OSError, match="not a readable registry hive"), LocalTree(tmp_path).open_hive("/SYSTEM"):
                pass
        gc.collect()
    finally:
        sys.unraisablehook = hook
    assert [u.exc_type for u in unraisable] == []


def test_a_hive_opens_and_closes(tmp_path: Path) -> None:
    from tests.fixtures.windows.guest import write_hive

    write_hive(tmp_path / "SOFTWARE", '[\\Coriolis]\n"Probe"="yes"\n')
    with LocalTree(tmp_path).open_hive("/SOFTWARE") as hive:
        node = hive.node_get_child(hive.root(), "Coriolis")
        assert hive.value_string(hive.node_get_value(node, "Probe")) == "yes"
