"""The whole suite runs with every connection blocked except loopback (pyproject addopts)."""

from __future__ import annotations

import socket
import threading

import pytest
import pytest_socket


@pytest.mark.filterwarnings("ignore:A test tried to use socket:UserWarning")
def test_connections_off_the_machine_are_blocked() -> None:
    # Only attempt the connection once the guard is known to be installed, so a broken
    # configuration can never send a packet anywhere.
    assert socket.socket.connect is not pytest_socket._true_connect
    with pytest.raises(pytest_socket.SocketConnectBlockedError):
        socket.create_connection(("192.0.2.1", 80), timeout=0.1)  # TEST-NET-1


def test_loopback_is_allowed() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    accepted: list[bytes] = []

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            accepted.append(conn.recv(5))

    thread = threading.Thread(target=serve)
    thread.start()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(b"hello")
    thread.join(5)
    server.close()
    assert accepted == [b"hello"]
