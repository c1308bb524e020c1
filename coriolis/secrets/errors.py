"""The one error secret lookups raise; its message never carries secret material."""


class SecretError(Exception):
    """A secret could not be fetched or used: missing, forbidden, malformed or unreachable."""
