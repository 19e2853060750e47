"""One apply engine for every target: a driver's primitives made a `connectors.base.Target`.

- `driver`: what a target driver implements (`Driver`, with its optional Bulk and
  session capabilities) and the values it receives;
- `units`: cutting a call's operations into units of work and their dependencies;
- `execute`: running units in dependency order, one at a time or several at once;
- `round`: one try at a list of operations (handles, values, dependents, outcomes);
- `target`: `Kernel`, the Target: rounds with retries, settling lost creates, the
  circuit breaker, reads and lookups.
"""

from connectors.kernel.driver import Bulk, BulkItem, BulkRef, Driver, Handle, Reading
from connectors.kernel.target import Kernel

__all__ = ["Bulk", "BulkItem", "BulkRef", "Driver", "Handle", "Kernel", "Reading"]
