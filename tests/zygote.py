"""The tests' `jml` commands, each in a fresh process forked from one that has already
imported great_expectations.

A `jml run` here costs about 11 s of CPU, and half of it is `import great_expectations`
(5.5 s on this machine); the end-to-end suite runs hundreds of them. The zygote is one
process per test process (started on first use; `stop()` at the session's end, or at exit) that imports
great_expectations, and nothing of jml or Prefect (Prefect reads its settings from the
environment when it is imported), then forks for each command:

    zygote --fork--> monitor --fork--> command

The command process takes the caller's stdin, stdout and stderr (passed over a Unix
socket), working folder, environment and argv, puts the `jml` script's folder first on
sys.path as the script would, and runs `app.cli.main` to a normal interpreter exit
(atexit handlers, coverage's data). The monitor reports the command's pid and then its
exit code (negative: the signal that ended it, as subprocess does) and exits. What differs
from `subprocess.run([jml, ...])` is only that great_expectations is already imported.

`run(...)` is the client: `subprocess.run(..., capture_output=True, text=True)` with
stdin from /dev/null. On timeout it kills the command and raises TimeoutExpired.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

JML = str(Path(sys.executable).parent / "jml")

_HEADER = struct.Struct("!Q")
_started: tuple[subprocess.Popen, str] | None = None
_starting = threading.Lock()


def run(argv: list[str], *, cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    """`jml <argv>` in `cwd` with exactly `env`: its exit code, stdout and stderr (text),
    as `subprocess.run([JML, *argv], capture_output=True, text=True)` would return them."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(_zygote())
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        with open(os.devnull, "rb") as stdin:
            payload = json.dumps({"argv": [JML, *argv], "cwd": str(cwd), "env": env}).encode()
            socket.send_fds(conn, [_HEADER.pack(len(payload)) + payload], [stdin.fileno(), out_w, err_w])
        os.close(out_w)
        os.close(err_w)
        deadline = time.monotonic() + timeout
        replies = conn.makefile("rb")
        pid = _reply(replies, "pid", argv)
        stdout, stderr = _Drain(out_r), _Drain(err_r)
        for reader in (stdout, stderr):
            reader.join(max(0.0, deadline - time.monotonic()))
        conn.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            if stdout.is_alive() or stderr.is_alive():
                raise TimeoutError
            code = _reply(replies, "code", argv)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            raise subprocess.TimeoutExpired([JML, *argv], timeout) from None
    return subprocess.CompletedProcess([JML, *argv], code, _text(stdout.data), _text(stderr.data))


def _reply(replies: io.BufferedReader, key: str, argv: list[str]) -> int:
    """The monitor's next report (`pid`, then `code`) of `jml <argv>`."""
    line = replies.readline()
    if not line:
        raise RuntimeError(f"the zygote's monitor of `jml {' '.join(argv)}` ended without its {key}")
    return json.loads(line)[key]


class _Drain(threading.Thread):
    """Read a pipe to its end (its bytes in `data`), closing it."""

    def __init__(self, fd: int) -> None:
        super().__init__(daemon=True)
        self.fd, self.data = fd, b""
        self.start()

    def run(self) -> None:
        with open(self.fd, "rb", closefd=True) as pipe:
            self.data = pipe.read()


def _text(data: bytes) -> str:
    """Bytes as subprocess's text mode decodes them (locale encoding, universal newlines)."""
    return io.TextIOWrapper(io.BytesIO(data)).read()


def _zygote() -> str:
    """The socket of this process's zygote, started on first use."""
    global _started
    with _starting:
        if _started is None or _started[0].poll() is not None:
            path = os.path.join(tempfile.mkdtemp(prefix="jml-zygote-"), "socket")
            process = subprocess.Popen([sys.executable, __file__, path], stdin=subprocess.DEVNULL)
            while not os.path.exists(path):
                if process.poll() is not None:
                    raise RuntimeError(f"the jml zygote exited with {process.returncode} before listening")
                time.sleep(0.05)
            if _started is None:
                atexit.register(stop)
            _started = (process, path)
        return _started[1]


def stop() -> None:
    """Stop the zygote, if started (commands it forked run on to their end)."""
    global _started
    if _started is not None:
        _started[0].terminate()
        _started[0].wait(10)
        _started = None


# -- the zygote's side ------------------------------------------------------------------


def _serve(path: str) -> dict:
    """Listen on `path` and fork a monitor per connection; returns only in a command
    process, with its request (argv, cwd, env)."""
    import great_expectations  # noqa: F401  (the point of the zygote)

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # monitors are reaped by the kernel
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path + ".new")
    listener.listen(16)
    os.rename(path + ".new", path)  # the socket appears only once it listens
    while True:
        conn, _ = listener.accept()
        if os.fork() == 0:
            listener.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            return _monitor(conn)
        conn.close()


def _monitor(conn: socket.socket) -> dict:
    """Receive a request, fork the command process (which returns the request), report its
    pid and exit code, exit."""
    data, fds, _, _ = socket.recv_fds(conn, 1 << 16, 3)
    (size,) = _HEADER.unpack(data[: _HEADER.size])
    data = data[_HEADER.size :]
    while len(data) < size:
        more = conn.recv(size - len(data))
        if not more:
            os._exit(1)
        data += more
    request = json.loads(data)
    pid = os.fork()
    if pid == 0:
        conn.close()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        return request
    for fd in fds:
        os.close(fd)
    conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    _, status = os.waitpid(pid, 0)
    with contextlib.suppress(OSError):  # a caller that timed out has gone
        conn.sendall(json.dumps({"code": os.waitstatus_to_exitcode(status)}).encode() + b"\n")
    os._exit(0)


def _command(request: dict) -> int | None:
    """Become `jml <argv>` in the request's folder and environment, and run it."""
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = request["argv"]
    sys.path[0] = str(Path(request["argv"][0]).parent)
    from app.cli import main

    return main()


if __name__ == "__main__":
    sys.exit(_command(_serve(sys.argv[1])))
