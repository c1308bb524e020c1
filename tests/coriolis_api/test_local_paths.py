"""Every path trick of tests/providers/test_localpaths.py, sent through the API: 400 in the API's format."""

from __future__ import annotations

import pytest

from tests.providers.test_localpaths import TRICK_IDS, _tricks, tree  # noqa: F401  (fixture)


@pytest.fixture()
def confined_client(settings, tree):  # noqa: F811
    from coriolis_api.app import create_app

    app = create_app(settings.replace(local_paths=f"*={tree['root']}"))
    app.config["TESTING"] = True
    return app.test_client()


@pytest.mark.parametrize("index", range(len(TRICK_IDS)), ids=TRICK_IDS)
def test_path_tricks_are_400(confined_client, tree, project, index):  # noqa: F811
    value = _tricks(tree)[index]
    for ptype, info in (("stub", {"storage_dir": value}), ("ova", {"path": value})):
        resp = confined_client.post(f"/v1/{project}/endpoints",
                                    json={"endpoint": {"name": "e", "type": ptype, "connection_info": info}})
        assert resp.status_code == 400, (ptype, resp.get_json())
        error = resp.get_json()["error"]
        assert error["fault"] == "badRequest" and error["code"] == 400
        assert "storage_dir" in error["message"] or "path" in error["message"] or "NUL" in error["message"]
    assert not (tree["outside"] / "coriolis").exists()
