"""Free TCP ports on the loopback interface, for the servers the launchers start."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port free on the loopback interface right now (another process may take it
    before it is used: a launcher that can tell retries on a new one)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
