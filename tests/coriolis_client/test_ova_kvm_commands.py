"""The client commands with the real providers: an ova library and a kvm destination."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from tests.coriolis_client.helpers import run, run_json
from tests.fixtures.guest import ensure_guest, make_ova_copy


@pytest.fixture()
def library(tmp_path):
    """An ova endpoint's directory: the real guest's OVA and a VMX folder with a flat disk."""
    root = tmp_path / "library"
    root.mkdir()
    make_ova_copy(ensure_guest(), root)
    vmx = root / "scratch"
    vmx.mkdir()
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "vmdk", "-o", "subformat=monolithicFlat", str(vmx / "scratch.vmdk"), "16M"],
        check=True,
    )
    (vmx / "scratch.vmx").write_text(
        'displayName = "scratch"\nnumvcpus = "1"\nmemsize = "256"\nscsi0.present = "TRUE"\n'
        'scsi0:0.present = "TRUE"\nscsi0:0.fileName = "scratch.vmdk"\n'
    )
    return root


@pytest.mark.slow
@pytest.mark.timeout(1800)  # a real morph in the appliance (TCG)
def test_ova_to_kvm_from_the_command_line(cli_env, library, tmp_path):
    env = {
        **cli_env,
        "SRC": json.dumps({"path": str(library)}),
        "DST": json.dumps({"storage_dir": str(tmp_path / "kvm")}),
    }
    run(env, "endpoint", "create", "--name", "lib", "--type", "ova", "--connection-info-env", "SRC")
    run(env, "endpoint", "create", "--name", "kvm", "--type", "kvm", "--connection-info-env", "DST")
    assert run_json(env, "endpoint", "validate", "lib")["valid"] is True
    names = {i["name"] for i in run_json(env, "endpoint", "instances", "lib", "--all")}
    assert names == {"coriolis-fixture", "scratch"}
    guest = run_json(env, "endpoint", "instance", "lib", "guest.ova")
    assert guest["num_cpu"] == 2 and guest["devices"]["nics"][0]["mac_address"].lower() == "00:50:56:aa:bb:cc"

    result = run(
        env,
        "migration",
        "create",
        "--origin-endpoint",
        "lib",
        "--destination-endpoint",
        "kvm",
        "--instance",
        "guest.ova",
        "--destination-env",
        '{"preserve_static_ips": true, "boot_timeout": 300}',
        "--wait",
        "--timeout",
        "1200",
        "-f",
        "json",
    )
    migration = json.loads(result.stdout)
    assert migration["status"] == "COMPLETED", migration["last_error"]
    boot = migration["transfer_result"]["guest.ova"]["boot"]
    assert boot["booted"] and re.search(r"rootdev=/dev/vda1", boot["message"])
    assert "OS_MORPHING" in result.stderr and "BOOT_INSTANCE" in result.stderr

    transfer = run_json(
        env, "transfer", "create", "--origin-endpoint", "lib", "--destination-endpoint", "kvm", "--instance", "scratch"
    )
    execution = json.loads(run(env, "execution", "create", transfer["id"], "--wait", "-f", "json").stdout)
    assert execution["status"] == "COMPLETED"
    [replicate] = [t for t in execution["tasks"] if t["task_type"] == "REPLICATE_DISK"]
    assert replicate["result"]["full"] is True and replicate["result"]["generation"] == 1
