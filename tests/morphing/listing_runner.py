"""A recording runner that answers the guest's initrd lister (``lsinitramfs``, ``lsinitrd``) with set listings."""

from __future__ import annotations

from morphing.errors import MorphError
from morphing.runner import RecordingRunner


class ListingRunner(RecordingRunner):
    """Answers ``<lister> <image>`` with the listing of the image's kernel; an image with none fails to list.

    Args:
        listings: kernel version -> what the lister prints for its image.
        lister: the program answered.
        image: the image path with ``{kv}`` for the kernel version.
    """

    def __init__(self, listings: dict[str, str], lister: str = "lsinitramfs",
                 image: str = "/boot/initrd.img-{kv}") -> None:
        super().__init__()
        self.listings = listings
        self.lister = lister
        self.prefix, self.suffix = image.split("{kv}")

    def run(self, args):  # type: ignore[no-untyped-def]
        super().run(args)
        if args[0] != self.lister:
            return ""
        kv = args[1].removeprefix(self.prefix).removesuffix(self.suffix)
        if kv not in self.listings:
            raise MorphError(f"{self.lister}: cannot read {args[1]}")
        return self.listings[kv]
