"""libguestfs' Python bindings, as Debian ships them (python3-guestfs), found for this interpreter."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from morphing.errors import MorphError

SYSTEM_DIST_PACKAGES = Path("/usr/lib/python3/dist-packages")
_guestfs: ModuleType | None = None


def load_guestfs() -> ModuleType:
    """Debian's ``guestfs`` bindings: importable as-is, or loaded from dist-packages by file (only them)."""
    global _guestfs
    if _guestfs is not None:
        return _guestfs
    try:
        import guestfs  # type: ignore[import-not-found]
    except ImportError:
        ext = f"libguestfsmod.cpython-{sys.version_info.major}{sys.version_info.minor}-x86_64-linux-gnu.so"
        if not (SYSTEM_DIST_PACKAGES / ext).exists() or not (SYSTEM_DIST_PACKAGES / "guestfs.py").exists():
            raise MorphError(
                "libguestfs' Python bindings are missing: install python3-guestfs (deploy/bootstrap.sh) "
                f"for this Python {sys.version_info.major}.{sys.version_info.minor}"
            ) from None
        for name, file in (("libguestfsmod", ext), ("guestfs", "guestfs.py")):
            path = SYSTEM_DIST_PACKAGES / file
            spec = importlib.util.spec_from_file_location(name, path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        import guestfs  # type: ignore[import-not-found]
    _guestfs = guestfs
    return guestfs
