"""`python -m deployments`: regenerate deployments/prefect.yaml from the table."""

from deployments.prefect_yaml import write

print(f"wrote {write()}")
