"""Every local server jml starts, in one place: the demo, the tests and the benches use
these. Each launcher is a context manager that starts the server on a free loopback
port, waits until it answers as itself (on another port if another server took that
one meanwhile: `processes.on_a_free_port`), yields what a client needs, and stops it on
exit:

- `scim_server()`: scim2-server (in-memory SCIM 2.0), with dynamic tenants by default;
- `prefect_server(home)`: `prefect server start` with a private PREFECT_HOME;
- `slapd_server(folder)`: a throwaway OpenLDAP slapd (Debian's slapd package);
- `postgres_server(folder)`: a throwaway PostgreSQL cluster (Debian's postgresql);
- `samba_dc(folder)`: a throwaway Samba AD domain controller (Debian's samba), on its
  own loopback address (its LDAP ports are fixed).

`free_port()` is the port helper they share.
"""

from app.launchers.ports import free_port
from app.launchers.postgres import PostgresServer, postgres_server
from app.launchers.prefect import PrefectServer, prefect_server
from app.launchers.processes import stop
from app.launchers.samba import AdOu, SambaDc, samba_dc
from app.launchers.scim import ScimServer, ScimTenant, scim_server
from app.launchers.slapd import LdapTree, SlapdServer, slapd_server

__all__ = [
    "AdOu", "LdapTree", "PostgresServer", "PrefectServer", "SambaDc", "ScimServer", "ScimTenant", "SlapdServer",
    "free_port", "postgres_server", "prefect_server", "samba_dc", "scim_server", "slapd_server", "stop",
]  # fmt: skip
