"""The jml deployments, defined once, and what serves and watches them.

- `table`: the one table of the deployments (flow, schedule source, description, tags);
- `serving`: `jml serve` (`serve_all`), every deployment of the table from one process;
- `prefect_yaml`: deployments/prefect.yaml for a work pool, rendered from the table;
- `alerts`: the Prefect Automations that alert when a run of these flows goes wrong;
- `interrupts`: Ctrl-C and SIGTERM stop `jml serve` (and `jml demo --ui`) cleanly.
"""
