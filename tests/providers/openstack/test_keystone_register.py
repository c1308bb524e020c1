"""deploy/keystone-register.sh against the real Keystone: registers service, endpoints and user; idempotent."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import requests

from tests.fixtures.keystone import ADMIN_PASSWORD

SCRIPT = Path(__file__).resolve().parents[3] / "deploy" / "keystone-register.sh"


def test_registration_is_complete_and_idempotent(keystone):
    user = f"coriolis-reg-{uuid.uuid4().hex[:6]}"
    env = {**os.environ, "OS_AUTH_URL": keystone.url, "OS_USERNAME": "admin", "OS_PASSWORD": ADMIN_PASSWORD,
           "OS_PROJECT_NAME": "admin", "CORIOLIS_HOST": "coriolis.example", "CORIOLIS_SERVICE_USER": user,
           "CORIOLIS_SERVICE_PASSWORD": "reg-secret-1"}
    first = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "reg-secret-1" not in first.stdout + first.stderr
    second = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    assert "created" not in second.stdout and "registered" in second.stdout

    token = keystone.token(user, "reg-secret-1", project_name="service")  # the user logs in to project service
    answer = requests.get(f"{keystone.url}/auth/tokens", timeout=30,
                          headers={"X-Auth-Token": token, "X-Subject-Token": token}).json()["token"]
    assert "admin" in {r["name"] for r in answer["roles"]}
    services = [s for s in answer["catalog"] if s["type"] == "migration"]
    assert len(services) == 1 and services[0]["name"] == "coriolis"
    endpoints = services[0]["endpoints"]
    assert sorted(e["interface"] for e in endpoints) == ["admin", "internal", "public"]
    project_id = answer["project"]["id"]
    assert {e["url"] for e in endpoints} == {f"http://coriolis.example:7667/v1/{project_id}"}
