"""A loopback TCP port nothing can listen on while a test runs: a port a test means as
"nowhere" (a server down, a database unreachable).

`dead_port()` binds a socket to 127.0.0.1:0 and never listens on it: connections to the
port are refused (ECONNREFUSED), and no other process can bind it (the socket does not
set SO_REUSEADDR) until the block ends. `free_port()` is no such port: another test
worker may start a server on it meanwhile. The `dead_port` fixture (tests/conftest.py)
holds one for the test's duration.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def dead_port() -> Iterator[int]:
    """A port on 127.0.0.1 that refuses every connection until the block ends."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]
