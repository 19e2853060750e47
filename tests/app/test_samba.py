"""The Samba AD DC launcher: two DCs run at once (the LDAP ports are fixed: each has its
own loopback address), LDAPS verifies against the test CA, and nothing is left running."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import ldap3
import pytest

from app import launchers
from tests.tls import authority


def _certify(folder: Path):
    def certify(host: str):
        (folder / host).mkdir(parents=True)
        found = authority(folder / host, host)
        return found.cert_file, found.key_file, found.ca_file

    return certify


def _listening(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((host, port)) == 0


def test_two_dcs_at_once_each_verified_then_gone(tmp_path: Path, samba_dc: launchers.SambaDc) -> None:
    (tmp_path / "dc").mkdir()
    with launchers.samba_dc(tmp_path / "dc", certify=_certify(tmp_path / "tls")) as other:
        assert other.host != samba_dc.host
        for dc in (samba_dc, other):
            connection = dc.connection(timeout=5)
            try:
                assert connection.search(dc.base_dn, "(objectClass=domain)", search_scope=ldap3.BASE)
            finally:
                connection.unbind()
        host = other.host
    assert not _listening(host, 636) and not _listening(host, 389)


def test_a_client_without_the_ca_cannot_verify_the_dc(samba_dc: launchers.SambaDc) -> None:
    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED)  # the system's CAs only
    server = ldap3.Server(samba_dc.host, port=636, use_ssl=True, tls=tls, get_info=ldap3.NONE, connect_timeout=5)
    with pytest.raises(ldap3.core.exceptions.LDAPException):
        ldap3.Connection(server, user=samba_dc.bind_dn, password=samba_dc.password, auto_bind=True)


def test_an_ou_per_test(ad_ou: launchers.AdOu, samba_dc: launchers.SambaDc) -> None:
    connection = samba_dc.connection(timeout=5)
    try:
        assert connection.search(ad_ou.engineering_dn, "(objectClass=organizationalUnit)", search_scope=ldap3.BASE)
    finally:
        connection.unbind()
