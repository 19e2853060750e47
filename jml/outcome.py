"""How a run ends, and the `jml` command's exit code for each ending (SPEC, "Exit codes").

A run's status is one of four strings, recorded in the ledger and in the run's JSON
document: `converged` (done, nothing open), `attention` (done, exceptions open),
`halted` (a safety gate tripped; nothing applied) and `failed` (anything else).
`EXIT_CODES` maps each status to its exit code; exit 2 (usage or config error) ends a
command before any run, so no status maps to it.
"""

from __future__ import annotations

CONVERGED, ATTENTION, HALTED, FAILED = "converged", "attention", "halted", "failed"
EXIT_CODES = {CONVERGED: 0, FAILED: 1, ATTENTION: 3, HALTED: 4}
