"""Marker pagination over 250 records: each record exactly once, in the requested order."""

from __future__ import annotations

import itertools
import uuid

import pytest

from tests.coriolis_tasks.helpers import stub_migration


@pytest.fixture(scope="module")
def many(settings):
    """250 migrations in one project (created once per database backend)."""
    from coriolis_api.app import create_app

    client = create_app(settings).test_client()
    project = f"page-{uuid.uuid4().hex[:8]}"
    ids = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("coriolis_api.resources.migrations.service.dispatch", lambda _id: None)
        for n in range(250):
            resp = client.post(f"/v1/{project}/migrations", json=stub_migration([f"vm-{n:03d}"]))
            assert resp.status_code == 202
            ids.append(resp.get_json()["migration"]["id"])
    return client, project, ids


def _walk(client, url: str, limit: int) -> list[dict]:
    seen, marker = [], None
    for _ in range(1000):
        sep = "&" if "?" in url else "?"
        page_url = f"{url}{sep}limit={limit}" + (f"&marker={marker}" if marker else "")
        resp = client.get(page_url)
        assert resp.status_code == 200, resp.get_json()
        page = resp.get_json()["migrations"]
        assert len(page) <= limit
        if not page:
            return seen
        seen.extend(page)
        marker = page[-1]["id"]
    raise AssertionError("pagination did not end")


@pytest.mark.parametrize(
    ("query", "key"),
    [
        ("", lambda m: (m["created_at"], m["id"])),
        ("?sort_key=id&sort_dir=asc", lambda m: m["id"]),
        ("?sort_key=id&sort_dir=desc", lambda m: m["id"]),
        ("?sort_key=status&sort_key=created_at&sort_dir=asc&sort_dir=desc", None),
    ],
)
@pytest.mark.parametrize("limit", [7, 100])
def test_walking_the_markers_returns_each_record_once_in_order(many, query, key, limit):
    client, project, ids = many
    seen = _walk(client, f"/v1/{project}/migrations{query}", limit)
    got = [m["id"] for m in seen]
    assert len(got) == len(set(got)) == 250
    assert set(got) == set(ids)
    if key is not None:
        descending = "asc" not in query
        assert [key(m) for m in seen] == sorted((key(m) for m in seen), reverse=descending)
    else:
        # status asc, then created_at desc within a status
        for _status, group in itertools.groupby(seen, key=lambda m: m["status"]):
            created = [m["created_at"] for m in group]
            assert created == sorted(created, reverse=True)


def test_default_order_is_newest_first(many):
    client, project, ids = many
    page = client.get(f"/v1/{project}/migrations?limit=5").get_json()["migrations"]
    assert [m["id"] for m in page] == list(reversed(ids))[:5]


@pytest.mark.parametrize(
    ("query", "needle"),
    [
        ("sort_key=user_id", "invalid sort_key"),
        ("sort_key=id&sort_key=id", "repeated"),
        ("sort_dir=sideways", "sort_dir"),
        ("sort_key=id&sort_dir=asc&sort_dir=desc", "more sort_dir"),
        ("limit=0", "limit"),
        ("limit=-3", "limit"),
        ("limit=ten", "limit"),
        ("limit=100000", "at most"),
        ("marker=7b0e9a6e-0000-4000-8000-000000000000", "marker"),
        ("marker=garbage", "marker"),
    ],
)
def test_bad_paging_parameters_are_400(many, query, needle):
    client, project, _ids = many
    resp = client.get(f"/v1/{project}/migrations?{query}")
    assert resp.status_code == 400, resp.get_json()
    assert needle in resp.get_json()["error"]["message"]
