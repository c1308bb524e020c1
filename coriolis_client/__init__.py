"""The Coriolis Python client library and the client half of the ``coriolis`` command."""

from coriolis_client.client import Client
from coriolis_client.errors import (
    APIError,
    BadRequest,
    Conflict,
    ConnectionFailed,
    CoriolisError,
    Forbidden,
    NotFound,
    ServerError,
    Unauthorized,
)
from coriolis_client.pagination import iter_all

__all__ = [
    "APIError", "BadRequest", "Client", "Conflict", "ConnectionFailed", "CoriolisError", "Forbidden",
    "NotFound", "ServerError", "Unauthorized", "iter_all",
]
