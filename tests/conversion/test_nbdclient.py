"""Tests for conversion.nbdclient: connecting to an export that is still starting."""

from __future__ import annotations

from pathlib import Path

import pytest

from conversion import nbdclient


def test_a_socket_bound_but_not_yet_listening_is_waited_for(tmp_path: Path) -> None:
    """qemu-nbd binds its socket a moment before it listens: a refusal then means "not yet"."""
    import socket
    import threading

    path = str(tmp_path / "s")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)  # bound, not listening: connecting is refused
    with pytest.raises(Exception, match="refused"):
        nbdclient.connect(nbdclient.libnbd(), path, patience=0)

    def listen_then_hang_up() -> None:
        server.listen()
        conn, _ = server.accept()
        conn.close()

    timer = threading.Timer(0.3, listen_then_hang_up)
    timer.start()
    with pytest.raises(Exception) as caught:  # it listens, then hangs up: the handshake fails, not the connect
        nbdclient.connect(nbdclient.libnbd(), path, patience=5)
    timer.join()
    server.close()
    assert "refused" not in str(caught.value)
