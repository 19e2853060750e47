"""The Prefect API a CLI flow run reports to, made ready while the flow's modules import.

`jml run` and `jml reconcile` run one flow in this process. With a Prefect API URL set
(`PREFECT_API_URL`, in the environment or the active Prefect profile) the run reports to
that server: nothing is started here and Prefect's one client talks to it. Without one,
Prefect starts its temporary ("ephemeral") server, a subprocess, when the flow first
asks for a client, and waits seconds for it to answer: after the flow's own imports
(great_expectations alone is seconds) have been paid, one after the other.

`warm_up()` starts that same server sooner: Prefect's own `SubprocessASGIServer`, the
one instance the flow's client then finds running (so nothing changes in how the run
talks to it, and Prefect stops it when the process exits). Its start is launched on a
thread that only spawns the process and polls its health (sleeping, so the GIL is free),
while the calling thread goes on importing the flow; the server's own start-up runs in
its process, on another core. `Warmup.wait()` blocks until it answers, and raises what
the start raised (Prefect's own error: a server that did not come up in time).

It waits `startup_timeout()`: at least `MIN_STARTUP_SECONDS`, more than Prefect's default
of 20 s, which a fresh server (creating and migrating its SQLite database) was seen to
exceed on this project's 2-core CI machine under load, failing a run that would have
converged. A longer `PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS` is honoured.
"""

from __future__ import annotations

import threading
import time

__all__ = ["MIN_STARTUP_SECONDS", "Warmup", "startup_timeout", "warm_up"]

MIN_STARTUP_SECONDS = 120


class Warmup:
    """A temporary Prefect server being started (or nothing to start: `thread` None).
    `seconds`: how long its start took, once `wait()` has returned."""

    def __init__(self, thread: threading.Thread | None = None) -> None:
        self.thread = thread
        self.seconds: float | None = None
        self.error: BaseException | None = None

    def wait(self) -> None:
        """Block until the server answers; raise what its start raised."""
        if self.thread is not None:
            self.thread.join()
        if self.error is not None:
            raise self.error


def startup_timeout() -> int:
    """Seconds to wait for the temporary server: Prefect's setting, never below
    `MIN_STARTUP_SECONDS`."""
    from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS

    return max(int(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()), MIN_STARTUP_SECONDS)


def warm_up() -> Warmup:
    """Start Prefect's temporary server on a thread when this process will need one (no
    API URL is set and Prefect's ephemeral mode is on); else do nothing. Call it after the
    environment that Prefect reads is set (the server inherits it) and before importing
    the flow."""
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    warmup = Warmup()
    if PREFECT_API_URL.value() or not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
        return warmup  # a running server is reused, or Prefect refuses with its own message
    from prefect.logging.configuration import ensure_logging_setup
    from prefect.server.api.server import SubprocessASGIServer

    ensure_logging_setup()  # as `import prefect.main` would: its "Starting temporary server" line is shown
    server = SubprocessASGIServer()  # the instance Prefect's get_client() uses
    timeout = startup_timeout()

    def start() -> None:
        started = time.perf_counter()
        try:
            server.start(timeout=timeout)
        except BaseException as exc:  # handed to wait(): the caller fails there
            warmup.error = exc
        warmup.seconds = time.perf_counter() - started

    warmup.thread = threading.Thread(target=start, name="prefect-temporary-server", daemon=True)
    warmup.thread.start()
    return warmup
