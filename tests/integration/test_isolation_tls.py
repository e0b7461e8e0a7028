"""TLS on the bus and the API, with the CA a controller makes at bootstrap: a plain client
is refused, a client that trusts another CA fails verification, and plain TCP is allowed
only on loopback and only when asked."""

from __future__ import annotations

import asyncio
import ssl
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import httpx
import pytest
import yaml
from cryptography import x509

from runecraft import errors
from runecraft.client import Client
from runecraft.controller import _tls
from tests.conftest import free_port
from tests.integration.conftest import Rune

from . import _brokers
from ._brokers import AGENT, AGENT_PASSWORD


def _ca(directory: Path) -> _tls.TlsFiles:
    files = _tls.TlsFiles(directory)
    _tls.make(files, "isolation", _tls.server_names("127.0.0.1"))
    return files


@pytest.fixture(params=_brokers.KINDS)
async def tls_broker(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[int, _tls.TlsFiles]]:
    port, files = free_port(), _ca(tmp_path / "tls")
    async with _brokers.running(request.param, port, tmp_path, files):
        yield port, files


def _agent(port: int, tls: ssl.SSLContext | None) -> aiomqtt.Client:
    return aiomqtt.Client(
        "127.0.0.1",
        port,
        username=AGENT,
        password=AGENT_PASSWORD,
        identifier=AGENT,
        tls_context=tls,
        timeout=10,
    )


async def test_isolation_tls_broker_refuses_plain_and_foreign_ca_clients(
    tls_broker: tuple[int, _tls.TlsFiles], tmp_path: Path
) -> None:
    port, files = tls_broker
    with pytest.raises(aiomqtt.MqttError):
        async with _agent(port, None):
            pytest.fail("the TLS listener took plain MQTT")
    foreign = _tls.client_context(_ca(tmp_path / "other").ca_cert.read_text())
    with pytest.raises(aiomqtt.MqttError, match="CERTIFICATE_VERIFY_FAILED"):
        async with _agent(port, foreign):
            pytest.fail("a server signed by another CA was trusted")
    trusted = _tls.client_context(files.ca_cert.read_text())
    async with _agent(port, trusted) as agent:  # the listener is still there, and verified
        await agent.subscribe(f"agents/{AGENT}/down", qos=1)


def test_isolation_tls_material_is_private_and_names_the_listen_address(tmp_path: Path) -> None:
    files = _tls.TlsFiles(tmp_path / "tls")
    _tls.make(files, "c", _tls.server_names("192.0.2.7"))
    for key in (files.ca_key, files.key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    addresses = {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}
    assert {"192.0.2.7", "127.0.0.1", "::1"} <= addresses
    assert "localhost" in names.get_values_for_type(x509.DNSName)


async def test_isolation_tls_api_refuses_plain_http_and_foreign_ca(
    rune: Rune, tmp_path: Path
) -> None:
    await asyncio.to_thread(rune, "bootstrap")
    client_config = yaml.safe_load((rune.home / "client.yaml").read_text())
    endpoint, token = client_config["endpoint"], client_config["token"]
    assert endpoint.startswith("https://")
    agent_ca = rune.home / "controller" / "tls" / "ca.crt"
    assert client_config["ca_cert"] == agent_ca.read_text()

    plain = endpoint.replace("https://", "http://")
    async with httpx.AsyncClient() as http:
        with pytest.raises(httpx.HTTPError):
            await http.get(f"{plain}/v1/health")
    foreign = _ca(tmp_path / "other").ca_cert.read_text()
    async with Client(endpoint, token, ca_cert=foreign) as client:
        with pytest.raises(errors.TemporaryError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.status("default")
    async with Client(endpoint, token) as client:  # the system's CAs do not know it either
        with pytest.raises(errors.TemporaryError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.status("default")
    async with Client(endpoint, token, ca_cert=client_config["ca_cert"]) as client:
        assert (await client.status("default"))["model"]["name"] == "default"


def test_isolation_no_tls_off_loopback_is_refused_and_changes_nothing(rune: Rune) -> None:
    result = rune("bootstrap", "--no-tls", "--listen-address", "192.0.2.7", check=False)
    assert result.returncode != 0
    assert "--no-tls is refused on 192.0.2.7" in result.stderr
    assert "loopback" in result.stderr
    assert not (rune.home / "controller").exists()
    assert not (rune.home / "client.yaml").exists()


def test_isolation_no_tls_on_loopback_serves_plain_http(rune: Rune) -> None:
    rune("bootstrap", "--no-tls")
    client_config = yaml.safe_load((rune.home / "client.yaml").read_text())
    assert client_config["endpoint"].startswith("http://127.0.0.1:")
    assert client_config["ca_cert"] is None
    assert not (rune.home / "controller" / "tls").exists()
    assert rune.status()["model"]["name"] == "default"
