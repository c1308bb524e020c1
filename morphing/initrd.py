"""What a guest kernel's initrd already holds: whether it can find the destination's disks without a rebuild."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from morphing.errors import MorphError
from morphing.runner import Runner
from morphing.tree import GuestTree

_MODULE_DIRS = ("/lib/modules", "/usr/lib/modules")
# a module file in an initrd listing: .../<name>.ko, optionally compressed (.ko.xz, .ko.zst, .ko.gz)
_KO = re.compile(r"/([^/\s]+)\.ko(?:\.(?:xz|zst|gz))?$")


def module_name(name: str) -> str:
    """The kernel's own spelling of a module name (``virtio-blk`` and ``virtio_blk`` are one module)."""
    return name.replace("-", "_")


def listed_modules(listing: str) -> set[str]:
    """Module names in an initrd's file listing (``lsinitramfs`` / ``lsinitrd`` output, one path a line)."""
    found = set()
    for line in listing.splitlines():
        match = _KO.search(line.strip())
        if match:
            found.add(module_name(match.group(1)))
    return found


def builtin_modules(tree: GuestTree, version: str) -> set[str]:
    """Modules compiled into kernel ``version`` (its ``modules.builtin``): present in every initrd."""
    for base in _MODULE_DIRS:
        text = tree.read(f"{base}/{version}/modules.builtin")
        if text is not None:
            return listed_modules("\n".join("/" + line.strip() for line in text.splitlines()))
    return set()


def missing_modules(listing: str, builtin: Iterable[str], wanted: Sequence[str]) -> list[str]:
    """The ``wanted`` modules neither in the initrd listing nor built into the kernel, in order."""
    have = listed_modules(listing) | {module_name(m) for m in builtin}
    return [m for m in wanted if module_name(m) not in have]


def initrd_lacks(
    tree: GuestTree, runner: Runner, lister: Sequence[str], image: str, version: str, wanted: Sequence[str]
) -> list[str] | None:
    """The wanted drivers kernel ``version``'s initrd lacks; None when its content cannot be listed.

    The listing is the guest's own tool (``lsinitramfs``, ``lsinitrd``) run in the appliance: it knows
    every compression and early-cpio layout the guest's initrd builder writes. A guest that lies
    here only keeps its own initrd.

    Args:
        tree: the guest.
        runner: runs the lister in the guest.
        lister: the listing command, the image path appended.
        image: the initrd's path in the guest.
        version: the kernel version (for its built-in modules).
        wanted: the modules the destination needs.
    """
    if not tree.is_file(image):
        return None
    try:
        listing = runner.run([*lister, image])
    except MorphError:
        return None
    own = "\n".join(line for line in listing.splitlines() if f"/modules/{version}/" in f"/{line.strip()}")
    if not own:  # nothing recognisable: an initrd that cannot be read is rebuilt, not trusted
        return None
    return missing_modules(own, builtin_modules(tree, version), wanted)
