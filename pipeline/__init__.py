"""The stages of a run as plain functions over immutable results (the service layer).

    validate -> resolve -> read-targets -> naming -> lifecycle -> entitle -> plan -> apply
    -> verify -> report

- `run`: `open_run` and the `Run` every stage is given (config, policy, ledger, targets);
- `feed`, `persons`, `targets`, `naming`, `planning`, `apply`, `verify`, `reconcile`, `report`:
  the stages, one module each;
- `sams`: an AD target's sAMAccountNames kept for good (apply and report use it);
- `outcome`: the values a run's stages produce, and the views the report needs;
- `collection`: rarer full garbage collections while a run is open;
- `sync`: how the stages compose (the one sequence `jml plan` and every flow use).

Nothing here imports Prefect: the flows run each stage as a task through `sync`'s
`Stage` hook; `jml plan` calls them directly.
"""
