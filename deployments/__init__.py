"""The jml deployments, their schedules and their alerts, defined once."""
