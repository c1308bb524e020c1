"""Hostile requests get a clear 4xx in the error format: bodies, sizes, path and query values, SSRF hosts."""

from __future__ import annotations

import io
import uuid

import pytest

from providers import netpolicy

STUB = {"type": "stub", "connection_info": {}}


def _endpoint_body(**connection_info) -> dict:
    return {"endpoint": {"name": "e", "type": "stub", "connection_info": connection_info}}


def _migration_body(**connection_info) -> dict:
    origin = {"type": "stub", "connection_info": connection_info}
    return {"migration": {"origin": origin, "destination": STUB, "instances": ["vm-1"]}}


def _error(resp, status: int) -> str:
    assert resp.status_code == status, resp.get_data()[:300]
    error = resp.get_json()["error"]
    assert error["code"] == status and set(error) == {"code", "message", "fault"}
    return error["message"]


@pytest.fixture(autouse=True)
def policy_restored(monkeypatch):
    """Apps made here configure the process-wide host policy: put it back afterwards."""
    monkeypatch.setattr(netpolicy, "_configured", netpolicy._configured)


@pytest.fixture()
def worker_calls(monkeypatch) -> list[tuple]:
    """Inventory calls answered at once (no workers here), recorded to show what reached them."""
    calls: list[tuple] = []

    def answer(task_name, *args):
        calls.append((task_name, *args))
        return {"id": args[1], "name": args[1]}  # (endpoint id, instance id, env)

    monkeypatch.setattr("coriolis_api.resources.endpoints.service.ask_worker", answer)
    return calls


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"[" * 10_000 + b"]" * 10_000, "nested deeper than 64"),
        (b'{"endpoint":' * 5_000 + b"1" + b"}" * 5_000, "nested deeper than 64"),
        (b'{"endpoint": {"name": "e", "type": "stub", "connection_info": {"x": NaN}}}', "NaN"),
        (b'{"endpoint": {"name": "e", "type": "stub", "connection_info": {"x": -Infinity}}}', "Infinity"),
        (b'{"endpoint": {"name": "e", "type": "stub", "connection_info": {"x": 1e999}}}', "out of range"),
        (b'{"endpoint": {"name": "e", "type": "stub", "connection_info": {"x": 1' + b"0" * 5000 + b"}}}",
         "5001 digits"),
        (b'{"endpoint": {"name": "\xff\xfe", "type": "stub"}}', "not valid UTF-8"),
        (b'{"endpoint": {"name": "a", "name": "b", "type": "stub"}}', "'name' appears twice"),
        (b'{"endpoint": {"name": "a\\u0000b", "type": "stub"}}', "NUL"),
        (b'{"endpoint": {"name": "a\\ud800b", "type": "stub"}}', "surrogate"),
        (b'{"endpoint": {"name": "a", "type": "stub"', "not valid JSON"),
    ],
)
def test_hostile_json_bodies_are_400(client, project, body, needle):
    resp = client.post(f"/v1/{project}/endpoints", data=body, content_type="application/json")
    assert needle in _error(resp, 400)
    assert client.get(f"/v1/{project}/endpoints").get_json()["endpoints"] == []


def test_hostile_bodies_are_refused_on_every_write_route(client, project):
    eid = client.post(f"/v1/{project}/endpoints", json=_endpoint_body()).get_json()["endpoint"]["id"]
    deep = b"[" * 10_000 + b"]" * 10_000
    for method, path in [
        ("put", f"/v1/{project}/endpoints/{eid}"),
        ("post", f"/v1/{project}/endpoints/{eid}/actions"),
        ("post", f"/v1/{project}/migrations"),
        ("post", f"/v1/{project}/migrations/{uuid.uuid4()}/actions"),
    ]:
        resp = getattr(client, method)(path, data=deep, content_type="application/json")
        assert "nested deeper" in _error(resp, 400)


def test_bodies_over_the_limit_are_413_with_or_without_content_length(client, project, settings):
    big = b'{"endpoint": {"name": "e", "type": "stub", "description": "' + b"x" * settings.max_request_bytes + b'"}}'
    resp = client.post(f"/v1/{project}/endpoints", data=big, content_type="application/json")
    assert "too large" in _error(resp, 413)
    # a chunked body has no Content-Length; the WSGI server (gunicorn) marks its stream as terminated
    chunked = {"headers": {"Transfer-Encoding": "chunked"}, "environ_overrides": {"wsgi.input_terminated": True},
               "content_type": "application/json"}
    resp = client.post(f"/v1/{project}/endpoints", input_stream=io.BytesIO(big), **chunked)
    assert "too large" in _error(resp, 413)
    small = b'{"endpoint": {"name": "e", "type": "stub"}}'
    assert client.post(f"/v1/{project}/endpoints", input_stream=io.BytesIO(small), **chunked).status_code == 201


def test_nested_within_the_limit_is_accepted(client, project):
    nested: dict = {}
    for _ in range(20):
        nested = {"n": nested}
    body = {"migration": {"origin": STUB, "destination": STUB, "instances": ["vm-1"], "user_scripts": nested}}
    # the JSON parses; the field's own validation then names what is wrong (user_scripts has a fixed form)
    message = _error(client.post(f"/v1/{project}/migrations", json=body), 400)
    assert "user_scripts" in message and "deep" not in message


@pytest.mark.parametrize("instance", ["a%01b", "a%00b", "tab%09", "del%7F", "a" * 1025])
def test_malformed_instance_ids_are_404_and_never_reach_a_worker(client, project, worker_calls, instance):
    eid = client.post(f"/v1/{project}/endpoints", json=_endpoint_body()).get_json()["endpoint"]["id"]
    assert "not found" in _error(client.get(f"/v1/{project}/endpoints/{eid}/instances/{instance}"), 404)
    assert worker_calls == []


def test_instance_ids_may_be_paths_up_to_the_bound(client, project, worker_calls):
    eid = client.post(f"/v1/{project}/endpoints", json=_endpoint_body()).get_json()["endpoint"]["id"]
    for instance in ["folder/vm one.vmx", "a" * 1024]:
        resp = client.get(f"/v1/{project}/endpoints/{eid}/instances/{instance}")
        assert resp.status_code == 200 and resp.get_json()["instance"]["id"] == instance
    assert [call[2] for call in worker_calls] == ["folder/vm one.vmx", "a" * 1024]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/a%00b/endpoints", "/v1/" + "p" * 256 + "/migrations", "/v1/a b/providers",
        "/v1/{project}/endpoints/not-a-uuid", "/v1/{project}/endpoints/%00",
        "/v1/{project}/migrations/1%27%20OR%20%271%27=%271", "/v1/{project}/transfers/..%2F..",
    ],
)
def test_malformed_path_values_are_404(client, project, path):
    _error(client.get(path.format(project=project)), 404)


# a well-formed id no record has (fixed: parallel test processes must collect the same test ids)
NO_SUCH_ID = "0b7c5a3e-5f1d-4c2b-9a8e-7d6f0e1c2b3a"


@pytest.mark.parametrize("marker", ["%00", "not-an-id", "'; DROP TABLE migrations; --", NO_SUCH_ID])
def test_markers_that_name_no_record_are_400_on_every_database(client, project, marker):
    for resource in ("endpoints", "migrations", "transfers"):
        assert "marker" in _error(client.get(f"/v1/{project}/{resource}?marker={marker}"), 400)


def test_unknown_query_parameters_are_ignored(client, project):
    client.post(f"/v1/{project}/endpoints", json=_endpoint_body())
    plain = client.get(f"/v1/{project}/endpoints").get_json()
    assert client.get(f"/v1/{project}/endpoints?colour=blue&show_deleted=%00").get_json() == plain
    assert len(plain["endpoints"]) == 1


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1", "loopback"), ("localhost", "loopback"), ("::1", "loopback"), ("2130706433", "loopback"),
        ("169.254.169.254", "cloud metadata"), ("fd00:ec2::254", "cloud metadata"), ("fe80::1", "link-local"),
        ("0.0.0.0", "unspecified"), ("224.0.0.251", "multicast"), ("a..b", "does not resolve"),
        ("http://10.0.0.1/", "not a bare name"),
    ],
)
def test_endpoints_and_migrations_naming_internal_hosts_are_400(client, project, host, reason):
    message = _error(client.post(f"/v1/{project}/endpoints", json=_endpoint_body(host=host)), 400)
    assert "host" in message and reason in message
    assert reason in _error(client.post(f"/v1/{project}/migrations", json=_migration_body(host=host)), 400)
    eid = client.post(f"/v1/{project}/endpoints", json=_endpoint_body(host="10.0.0.5")).get_json()["endpoint"]["id"]
    update = {"endpoint": {"connection_info": {"host": host}}}
    assert reason in _error(client.put(f"/v1/{project}/endpoints/{eid}", json=update), 400)


def test_internal_hosts_are_accepted_when_configured(settings, project):
    from coriolis_api.app import create_app

    lax = create_app(settings.replace(allow_private_endpoints=True)).test_client()
    assert lax.post(f"/v1/{project}/endpoints", json=_endpoint_body(host="127.0.0.1")).status_code == 201
    assert lax.post(f"/v1/{project}/migrations", json=_migration_body(host="localhost")).status_code == 202
    assert "cloud metadata" in _error(
        lax.post(f"/v1/{project}/endpoints", json=_endpoint_body(host="169.254.169.254")), 400
    )
    listed = create_app(settings.replace(endpoint_host_allowlist="169.254.169.254, 127.0.0.0/8")).test_client()
    for host in ("169.254.169.254", "127.0.0.2"):
        assert listed.post(f"/v1/{project}/endpoints", json=_endpoint_body(host=host)).status_code == 201
    assert _error(listed.post(f"/v1/{project}/endpoints", json=_endpoint_body(host="::1")), 400)
