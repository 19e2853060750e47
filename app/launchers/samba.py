"""A throwaway Samba AD domain controller: the tests' and the benches' real Active
Directory.

`samba_dc(folder, certify=...)` provisions a domain CORP.EXAMPLE.COM (`samba-tool domain
provision`, no DNS, in `folder`), then starts `samba -i -M single` serving LDAP and
LDAPS only, and stops it on exit, leaving nothing running. The LDAP ports are fixed
(389, 636), so each DC gets its own loopback address 127.0.0.N (all of 127/8 is on
`lo`): an address whose ports 389 and 636 can be bound now is picked at random, and the
start is tried again on another one when the DC exits at start or does not answer as
itself (another launch took the address meanwhile: only this DC accepts this launch's
admin password).

TLS: `certify(host)` (optional) returns (certificate chain, key, CA) files issued for
that address; they are installed as the DC's TLS files, so a client verifies the DC
against that CA. Without it the DC serves Samba's own self-signed certificate (no
subject alternative name: unverifiable; `verify: false` only).
"""

from __future__ import annotations

import random
import secrets
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from app.launchers.processes import ExitedAtStart, stop, wait_until

REALM = "CORP.EXAMPLE.COM"
DOMAIN = "CORP"
BASE_DN = "DC=corp,DC=example,DC=com"
ADMIN_DN = f"CN=Administrator,CN=Users,{BASE_DN}"
#: Whole seconds the start-up probe waits for an answer.
PROBE_TIMEOUT = 2
#: Starts tried, each on another loopback address.
ATTEMPTS = 4

Certify = Callable[[str], tuple[Path, Path, Path]]


@dataclass(frozen=True, slots=True)
class AdOu:
    """A fresh OU of a running DC for one test: people (with an `Engineering` OU under
    it), groups, disabled."""

    base_dn: str
    people_dn: str
    engineering_dn: str
    groups_dn: str
    disabled_dn: str


@dataclass(frozen=True, slots=True)
class SambaDc:
    """A running DC: its loopback address, the admin's DN and password, the domain's
    base DN, the CA file its LDAPS certificate verifies against (None: unverifiable)."""

    host: str
    bind_dn: str
    password: str
    base_dn: str
    ca_file: Path | None

    @property
    def url(self) -> str:
        return f"ldaps://{self.host}:636"

    def connection(self, timeout: int | None = None):
        """A bound ldap3 connection as the admin over LDAPS (the caller unbinds it),
        the certificate verified when there is a CA file."""
        import ssl

        import ldap3  # imported when used: the demo needs no LDAP

        tls = ldap3.Tls(
            validate=ssl.CERT_REQUIRED if self.ca_file else ssl.CERT_NONE,
            ca_certs_file=str(self.ca_file) if self.ca_file else None,
        )
        server = ldap3.Server(self.host, port=636, use_ssl=True, tls=tls, get_info=ldap3.NONE, connect_timeout=timeout)
        bounded = {} if timeout is None else {"receive_timeout": timeout}
        return ldap3.Connection(server, user=self.bind_dn, password=self.password, auto_bind=True, **bounded)

    def ou(self) -> AdOu:
        """A new OU `OU=t<random>,<base>` holding People (and People's Engineering),
        Groups and Disabled."""
        import uuid

        base = f"OU=t{uuid.uuid4().hex[:12]},{self.base_dn}"
        made = AdOu(base, f"OU=People,{base}", f"OU=Engineering,OU=People,{base}", f"OU=Groups,{base}",
                    f"OU=Disabled,{base}")  # fmt: skip
        connection = self.connection()
        try:
            for dn in (made.base_dn, made.people_dn, made.engineering_dn, made.groups_dn, made.disabled_dn):
                assert connection.add(dn, ["top", "organizationalUnit"]), connection.result
        finally:
            connection.unbind()
        return made


def samba_binaries() -> tuple[str, str]:
    """(samba, samba-tool); a clear error when Debian's samba package is not installed."""
    samba = shutil.which("samba") or shutil.which("samba", path="/usr/sbin:/usr/local/sbin")
    tool = shutil.which("samba-tool")
    if samba is None or tool is None:
        raise RuntimeError("samba is not installed: `make test` installs the Debian package samba")
    return samba, tool


def _admin_password() -> str:
    """A random admin password meeting the default domain policy (all four classes)."""
    return "Aa1-" + secrets.token_urlsafe(18)


def _provision(tool: str, folder: Path, password: str) -> Path:
    """Provision the domain in `folder`; its smb.conf."""
    command = [
        tool, "domain", "provision", f"--targetdir={folder}", f"--realm={REALM}", f"--domain={DOMAIN}",
        "--server-role=dc", "--dns-backend=NONE", f"--adminpass={password}",
        "--option=interfaces=lo", "--option=bind interfaces only=yes", "--option=server services=ldap",
        f"--option=log file={folder / 'samba.log'}", f"--option=pid directory={folder}",
        f"--option=ncalrpc dir={folder / 'ncalrpc'}", f"--option=winbindd socket directory={folder / 'winbindd'}",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        (folder / "provision.log").write_text(done.stdout + done.stderr, encoding="utf-8")
        raise RuntimeError(f"samba-tool domain provision failed ({done.returncode}); see {folder / 'provision.log'}")
    return folder / "etc" / "smb.conf"


def _free_address() -> str:
    """A loopback address 127.0.0.N whose ports 389 and 636 are free now."""
    for _ in range(200):
        host = f"127.0.{random.randint(1, 254)}.{random.randint(2, 254)}"
        try:
            for port in (389, 636):
                with socket.socket() as probe:
                    probe.bind((host, port))
        except OSError:
            continue
        return host
    raise RuntimeError("no loopback address with free LDAP ports")


def _install_tls(folder: Path, files: tuple[Path, Path, Path]) -> None:
    """The DC's TLS files (where Samba looks for them), its key readable by it alone."""
    tls = folder / "private" / "tls"
    tls.mkdir(parents=True, exist_ok=True)
    for source, name in zip(files, ("cert.pem", "key.pem", "ca.pem"), strict=True):
        target = tls / name
        target.unlink(missing_ok=True)
        shutil.copyfile(source, target)
        target.chmod(0o600)


def answering(dc: SambaDc):
    """A probe for `wait_until`: True once this DC accepts the admin's bind over LDAPS."""
    import ldap3

    def probe() -> bool | None:
        try:
            dc.connection(timeout=PROBE_TIMEOUT).unbind()
        except ldap3.core.exceptions.LDAPException:
            return None
        return True

    return probe


@contextmanager
def samba_dc(folder: Path, *, certify: Certify | None = None, startup_timeout: float = 60.0) -> Iterator[SambaDc]:
    """Provision and run a throwaway Samba AD DC in `folder` (see the module docstring);
    stop it on exit."""
    samba, tool = samba_binaries()
    password = _admin_password()
    config = _provision(tool, folder, password)
    log_path = folder / "samba.out"
    for attempt in range(1, ATTEMPTS + 1):
        host = _free_address()
        ca_file = None
        if certify is not None:
            files = certify(host)
            _install_tls(folder, files)
            ca_file = files[2]
        options = [f"--option=interfaces={host}/8", "--option=bind interfaces only=yes"]
        with log_path.open("ab") as out:
            process = subprocess.Popen(
                [samba, "-i", "-M", "single", "-s", str(config), *options], stdout=out, stderr=subprocess.STDOUT
            )
        dc = SambaDc(host, ADMIN_DN, password, BASE_DN, ca_file)
        try:
            wait_until(process, answering(dc), name="samba", timeout=startup_timeout, log=log_path)
        except (ExitedAtStart, RuntimeError):
            if attempt == ATTEMPTS:
                raise
            continue
        try:
            yield dc
        finally:
            stop(process, timeout=15)
        return
