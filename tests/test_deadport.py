"""tests/deadport.py keeps its promise: while the block runs, a connection to the port
is refused and no other socket can bind it (not even one with SO_REUSEADDR, as a
server's); after it, the port is free again."""

from __future__ import annotations

import errno
import socket

import pytest

from tests.deadport import dead_port


def bind_like_a_server(port: int) -> socket.socket:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        server.bind(("127.0.0.1", port))
    except OSError:
        server.close()
        raise
    return server


def test_a_dead_port_refuses_connections_and_cannot_be_taken() -> None:
    with dead_port() as port:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        with pytest.raises(OSError) as taken:
            bind_like_a_server(port).close()
        assert taken.value.errno == errno.EADDRINUSE
    bind_like_a_server(port).close()
