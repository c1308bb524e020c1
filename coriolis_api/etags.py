"""ETags on successful GETs: a poller sending ``If-None-Match`` gets a bodiless 304 while nothing changed."""

from __future__ import annotations

from flask import Flask, Response, request


def _conditional(response: Response) -> Response:
    if (
        request.method == "GET"
        and response.status_code == 200
        and response.mimetype == "application/json"
        and not response.direct_passthrough
    ):
        response.add_etag()  # a hash of the body: live progress is part of it, so it changes as a run moves
        response.make_conditional(request)
    return response


def install(app: Flask) -> None:
    """Tag every JSON 200 answer to a GET; answer 304 when the client already holds that body."""
    app.after_request(_conditional)
