"""`stop_on_ctrl_c_or_sigterm`: Ctrl-C and SIGTERM raise KeyboardInterrupt, also in a
process started with SIGINT ignored (a background job of a shell without job control)."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

#: Sends itself `signum` after installing the handlers; prints what came of it.
PROGRAM = """
import os, signal, sys, time
from deployments.interrupts import stop_on_ctrl_c_or_sigterm
print("inherited SIGINT ignored:", signal.getsignal(signal.SIGINT) is signal.SIG_IGN, flush=True)
stop_on_ctrl_c_or_sigterm()
try:
    os.kill(os.getpid(), int(sys.argv[1]))
    time.sleep(10)
    print("not interrupted")
except KeyboardInterrupt:
    print("KeyboardInterrupt")
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_and_sigterm_interrupt_a_process_that_inherited_sigint_ignored(signum):
    ignoring = ["sh", "-c", 'trap "" INT; exec "$0" "$@"', sys.executable, "-c", PROGRAM, str(int(signum))]
    done = subprocess.run(ignoring, capture_output=True, text=True, timeout=30)
    assert done.stdout.splitlines() == ["inherited SIGINT ignored: True", "KeyboardInterrupt"], done.stderr
