"""Request schemas where ``null`` means "not given", as the upstream clients send every omitted option."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, pre_load


class OmitNulls(Schema):
    """A body schema that drops ``null`` members before loading, so each takes its default.

    python-coriolisclient and coriolis-web send ``null`` for every option the user left out
    (``description``, ``notes``, ``clone_disks``, ``user_scripts``...). ``KEEP_NULL`` names the
    fields where ``null`` is a value of its own (a schedule's ``expiration_date``: "never expires").
    """

    KEEP_NULL: frozenset[str] = frozenset()

    def on_bind_field(self, field_name: str, field_obj: Any) -> None:
        # null is accepted for every member (dropped, or kept where KEEP_NULL says): the OpenAPI document
        # says so (``nullable``), so a client validating against it sends what the API takes
        field_obj.allow_none = True

    @pre_load
    def drop_nulls(self, data: Any, **_kwargs) -> Any:
        if not isinstance(data, dict):
            return data
        return {k: v for k, v in data.items() if v is not None or k in self.KEEP_NULL}
