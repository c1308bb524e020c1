"""A hostile guest attacks the worker during its morph; nothing on the host changes (one appliance launch)."""

from __future__ import annotations

import hashlib
import os
import secrets
import socket
import threading
from pathlib import Path

import pytest

from morphing import MorphOptions, morph
from providers.types import NullReporter, TargetProfile
from tests.morphing import images
from tests.morphing.conftest import make_vm

pytestmark = [pytest.mark.slow]

# Every guest program the Debian fixer runs is this script: it tries to reach the host in every way.
PAYLOAD = """#!/bin/sh
log=/hostile.log
echo "ran $0 $*" >> $log
for p in /proc/$PPID/root /proc/1/root /proc/self/root ""; do
  echo pwned > "$p/var/tmp/coriolis-hostile-{token}" 2>>$log && echo "wrote $p/var/tmp" >> $log
  echo pwned >> "$p{sentinel}" 2>>$log && echo "appended $p{sentinel}" >> $log
  echo pwned > "$p{tmpdir}/new-{token}" 2>>$log && echo "wrote $p{tmpdir}" >> $log
done
echo pwned > /etc/escape-abs 2>>$log && echo "wrote through /etc/escape-abs" >> $log
echo pwned > /etc/escape-rel 2>>$log && echo "wrote through /etc/escape-rel" >> $log
cat /etc/shadow /proc/$PPID/root/etc/shadow /proc/1/root/etc/shadow > /leaked-shadow 2>>$log
echo hello | nc -w 2 127.0.0.1 {port} >> $log 2>&1 || echo "nc failed" >> $log
wget -T 2 -q -O- http://127.0.0.1:{port}/ >> $log 2>&1 || echo "wget failed" >> $log
exit 0
"""


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def files_named(token: str) -> list[str]:
    found = []
    for top in ("/tmp", "/var/tmp", "/root", "/etc"):
        for dirpath, dirs, names in os.walk(top):
            dirs[:] = [d for d in dirs if not d.startswith(("pytest-of-", "coriolis-fixtures", ".guestfs"))]
            found += [os.path.join(dirpath, n) for n in names if token in n]
    return found


class Listener:
    """A TCP listener on 127.0.0.1 that counts connections (the guest must never reach it)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.sock.close()


def test_hostile_guest_cannot_touch_the_host(tmp_path: Path) -> None:
    token = secrets.token_hex(6)
    sentinel = Path(f"/var/tmp/coriolis-hostile-sentinel-{token}")
    sentinel.write_text(f"host sentinel {token}\n")
    host_tmp = tmp_path / "host"
    host_tmp.mkdir()
    (host_tmp / "kept").write_text("kept\n")
    before = {p: digest(p) for p in (sentinel, Path("/etc/shadow"), Path("/etc/passwd"), host_tmp / "kept")}
    listener = Listener()
    try:
        root = images.busybox_debian(tmp_path / "root", f"UUID={images.ROOT_UUID} / ext4 defaults 0 1\n")
        script = PAYLOAD.format(token=token, sentinel=sentinel, tmpdir=host_tmp, port=listener.port)
        for program in ("usr/sbin/update-initramfs", "usr/bin/dpkg", "usr/sbin/grub-mkconfig"):
            (root / program).write_text(script)
            (root / program).chmod(0o755)
        # symlinks out of the tree, which the scripts and the fixers write through
        (root / "etc/escape-abs").symlink_to(str(sentinel))
        (root / "etc/escape-rel").symlink_to("../" * 12 + str(sentinel).lstrip("/"))
        (root / "etc/initramfs-tools/modules").unlink()
        (root / "etc/initramfs-tools/modules").symlink_to(str(host_tmp / "kept"))
        (root / "etc/hostname").unlink()
        (root / "etc/hostname").symlink_to("../" * 12 + str(sentinel).lstrip("/"))
        disk = images.disk_from_trees(tmp_path / "hostile.raw", [(root, images.ROOT_UUID, 40)])

        reporter = NullReporter()
        result = morph([(disk, "raw")], make_vm(), TargetProfile(), MorphOptions(hostname="migrated"), reporter)
    finally:
        listener.close()

    # the morph completed and really ran the hostile programs (in the appliance)
    assert "guest tools: purged open-vm-tools" in result.changes
    assert "drivers: rebuilt the initrd (update-initramfs -u -k all)" in result.changes
    log = images.read_file(disk, 1, "/hostile.log")
    assert "ran /usr/bin/dpkg --purge open-vm-tools" in log and "ran /usr/sbin/update-initramfs -u -k all" in log
    assert "wrote through /etc/escape-abs" in log  # it wrote... inside the guest
    assert "nc failed" in log and "wget failed" in log
    # what it read as "the host's" shadow is the guest's and the appliance's, never this host's
    leaked = images.read_file(disk, 1, "/leaked-shadow")
    host_shadow_hashes = [line.split(":")[1] for line in Path("/etc/shadow").read_text().splitlines() if ":" in line]
    assert "guest-shadow-line" in leaked
    assert not any(h and h not in ("*", "!", "!*", "x") and h in leaked for h in host_shadow_hashes)
    # the fixers' writes through the escaping symlinks landed in the guest
    assert "virtio_blk" in images.read_file(disk, 1, str(host_tmp / "kept"))
    assert images.read_file(disk, 1, str(sentinel)).startswith("migrated")

    # nothing on the host changed: same checksums, no new file, no connection
    assert {p: digest(p) for p in before} == before
    assert sorted(p.name for p in host_tmp.iterdir()) == ["kept"]
    assert files_named(token) == [str(sentinel)]
    assert listener.connections == 0
    sentinel.unlink()
