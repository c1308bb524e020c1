"""The error morphing raises when a guest cannot be morphed."""


class MorphError(Exception):
    """A guest could not be morphed; the message says why and is shown to the user as is."""
