"""The jml flows. A process that runs them redacts secrets from every log record it
makes (`jml.secrets.redacting_logs`): Prefect ships those records to the server."""

from jml.secrets import redacting_logs

redacting_logs()
