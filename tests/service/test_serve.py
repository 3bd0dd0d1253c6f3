"""`pprl serve` itself: the admin token shown on the first start only, the warning when
serving plain HTTP beyond loopback, and HTTPS with a certificate the client is told to trust."""

from __future__ import annotations

import datetime
import ipaddress

import httpx
import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import service.cli
from pprl.cli import main
from service.client import fetch
from service.errors import ServiceError

from .conftest import PROJECT, ServiceThread, tokens_from


@pytest.fixture
def quiet_serve(monkeypatch):
    """`pprl serve` up to the point of listening: no server, no worker."""
    monkeypatch.setattr(service.cli.uvicorn, "run", lambda *a, **k: None)
    monkeypatch.setattr(service.cli.Worker, "start", lambda self: None)


def serve(ceremony, data, *extra):
    return CliRunner().invoke(
        main,
        ["serve", "--key", str(ceremony.key("ttp")), "--data", str(data), *extra],
        env=ceremony.env(),
    )


def test_the_admin_token_is_shown_on_the_first_start_only(ceremony, tmp_path, quiet_serve):
    first = serve(ceremony, tmp_path / "data")
    assert first.exit_code == 0, first.output
    assert first.output.count("admin token (shown once; keep it safe): ") == 1
    again = serve(ceremony, tmp_path / "data")
    assert again.exit_code == 0 and "admin token" not in again.output


@pytest.mark.parametrize("host, warned", [("0.0.0.0", True), ("127.0.0.1", False), ("::1", False)])
def test_plain_http_beyond_loopback_is_warned_about(ceremony, tmp_path, quiet_serve, host, warned):
    result = serve(ceremony, tmp_path / "data", "--host", host)
    assert result.exit_code == 0, result.output
    assert ("warning: serving plain HTTP on " + host in result.output) == warned


def test_only_a_ttp_key_can_serve(ceremony, tmp_path, quiet_serve):
    result = CliRunner().invoke(
        main,
        ["serve", "--key", str(ceremony.key("analyst")), "--data", str(tmp_path / "d")],
        env=ceremony.env(),
    )
    assert result.exit_code == 1
    assert "has role 'analyst', but the key of the service must have role 'ttp'" in result.output


def self_signed(folder):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert, private = folder / "cert.pem", folder / "key.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, private


def test_https_with_the_certificate_the_client_trusts(ceremony, tmp_path):
    cert, private = self_signed(tmp_path)
    data = tmp_path / "data"
    created = ceremony.pprl(
        *("service", "project", "create", PROJECT, "--data", data, "--analyst", "analyst"),
        *("--custodian=trust_north", "--custodian=trust_south"),
    )
    token = tokens_from(created)["analyst"]
    with ServiceThread(
        ceremony, data, f"sqlite:///{data / 'service.db'}", tls=(cert, private)
    ) as tls:
        assert tls.url.startswith("https://")
        # trusted: the request goes through, and the service answers that nothing is ready
        with pytest.raises(ServiceError, match="nothing is held for you yet"):
            fetch(tls.url, token, tmp_path / "out", ca=cert)
        # not trusted: the handshake fails before any token is sent
        with pytest.raises(ServiceError, match="could not reach the service"):
            fetch(tls.url, token, tmp_path / "out")
        with pytest.raises(httpx.HTTPError):
            httpx.get(tls.url.replace("https", "http"), timeout=5)
    assert not (tmp_path / "out").exists()
