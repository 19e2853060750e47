"""`python -m deployments`: regenerate deployments/prefect.yaml and
deployments/process-pool.json from the table."""

from deployments.prefect_yaml import write

print("wrote", *write())
