"""How a long-running jml command (`jml serve`, `jml demo --ui`) is stopped: Ctrl-C
(SIGINT) and a service manager's SIGTERM both raise KeyboardInterrupt in the main thread,
where the command shuts down what it started.

A process inherits an ignored SIGINT: a shell without job control (a script, CI) starts
its background jobs with SIGINT and SIGQUIT ignored, and Python then installs no
KeyboardInterrupt for Ctrl-C. Such a command would ignore Ctrl-C for good, so the handler
is installed whatever the process inherited. No prefect import: the demo uses it too.
"""

from __future__ import annotations

import signal


def stop_on_ctrl_c_or_sigterm() -> None:
    """From now on SIGINT and SIGTERM raise KeyboardInterrupt (call from the main thread)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt
