"""The kernel's memory of where each account is: employee_id -> the driver's handle.

Filled by reads, lookups and the kernel's own writes; shared by the threads of a call,
so every access takes the lock. `snapshot`/`restore` undo what a rolled-back
transaction taught it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from connectors.kernel.driver import Handle

__all__ = ["Handles"]


class Handles:
    """A thread-safe map employee_id -> handle."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_employee: dict[str, Handle] = {}

    def get(self, employee_id: str) -> Handle | None:
        with self._lock:
            return self._by_employee.get(employee_id)

    def put(self, employee_id: str, handle: Handle) -> None:
        with self._lock:
            self._by_employee[employee_id] = handle

    def update(self, handles: Mapping[str, Handle]) -> None:
        with self._lock:
            self._by_employee.update(handles)

    def drop(self, employee_id: str) -> None:
        with self._lock:
            self._by_employee.pop(employee_id, None)

    def replace(self, handles: Mapping[str, Handle]) -> None:
        """Forget everything; remember these (what a full read found)."""
        with self._lock:
            self._by_employee = dict(handles)

    def snapshot(self) -> dict[str, Handle]:
        with self._lock:
            return dict(self._by_employee)

    def restore(self, saved: Mapping[str, Handle]) -> None:
        self.replace(saved)
