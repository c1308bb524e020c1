"""Walking marker-paginated lists: ask for a page, pass the last id as the next marker."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

Page = Callable[[str | None, int], list[dict[str, Any]]]


def iter_pages(fetch: Page, page_size: int = 100, marker: str | None = None,
               key: str = "id") -> Iterator[list[dict[str, Any]]]:
    """Yield pages from ``fetch(marker, limit)`` until one comes back shorter than ``page_size``.

    Args:
        fetch: returns the records after ``marker`` (``None``: from the start), at most ``limit``.
        page_size: the ``limit`` asked for each page.
        marker: where to start.
        key: the field whose value is the next marker (``id``).
    """
    while True:
        page = fetch(marker, page_size)
        if page:
            yield page
        if len(page) < page_size:
            return
        next_marker = str(page[-1][key])
        if next_marker == marker:  # a server ignoring the marker would make this loop forever
            return
        marker = next_marker


def iter_all(fetch: Page, page_size: int = 100, marker: str | None = None, key: str = "id") -> Iterator[dict]:
    """Every record of a paginated list, one at a time (see :func:`iter_pages`)."""
    for page in iter_pages(fetch, page_size, marker, key):
        yield from page
