"""The coverage floor `make test` holds: every module of the named packages covered at
least FLOOR per cent by the suite (a total can hide one untested module; this cannot).

Usage: python -m tests.coverage_floor FLOOR PACKAGE... (reads `.coverage`, which
`pytest --cov` leaves combined from the test processes and their subprocesses). Prints the
total and each module under the floor; exits 1 when any module is under it, 2 when there
is no coverage data.
"""

from __future__ import annotations

import sys
from pathlib import Path

import coverage


def under_floor(data: coverage.Coverage, floor: float, packages: list[str]) -> tuple[float, list[tuple[str, float]]]:
    """The total per cent over the packages' modules, and each module (a path relative to
    the working folder) whose covered share of statements is under `floor`."""
    root = Path.cwd()
    statements = covered = 0
    low: list[tuple[str, float]] = []
    for name in sorted(data.get_data().measured_files()):
        path = Path(name).resolve()
        if not path.is_relative_to(root) or path.relative_to(root).parts[0] not in packages:
            continue
        _, lines, _, missing, _ = data.analysis2(name)
        if not lines:
            continue
        statements += len(lines)
        covered += len(lines) - len(missing)
        share = 100.0 * (len(lines) - len(missing)) / len(lines)
        if share < floor:
            low.append((str(path.relative_to(root)), share))
    return (100.0 * covered / statements if statements else 0.0), low


def main(argv: list[str]) -> int:
    floor, packages = float(argv[0]), argv[1:]
    data = coverage.Coverage()
    data.load()
    if not data.get_data().measured_files():
        print("coverage floor: no coverage data (.coverage); run pytest with --cov first")
        return 2
    total, low = under_floor(data, floor, packages)
    print(f"coverage of {', '.join(packages)}: {total:.1f} % in total; floor {floor:g} % per module")
    for path, share in low:
        print(f"  under the floor: {path} {share:.1f} %")
    return 1 if low else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
