"""notify_svc's SMTP edge against a server that demands STARTTLS and a login, as a production relay does: the
message goes over TLS with the configured credentials; a wrong password or a client that does not start TLS is
a delivery to retry later (an operator fixes it), never a lost or rejected e-mail."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from notify_svc.mailer import DeliveryDeferred, Mailer, SmtpConfig
from ops.dev.localinfra import MailSink, free_port

USER, PASSWORD = "framepipe", "s3cret-relay-password"
MESSAGE = (
    b"From: framepipe <no-reply@framepipe.local>\r\nTo: ana@example.com\r\nSubject: hello\r\n"
    b"Message-ID: <tls-test@framepipe>\r\n\r\nover TLS\r\n"
)


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp.crt", directory / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


class Authenticator:
    def __init__(self) -> None:
        self.logins: list[tuple[str, bool]] = []  # (user, over TLS)

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            USER.encode(),
            PASSWORD.encode(),
        )
        if ok:
            self.logins.append((USER, session.ssl is not None))
        return AuthResult(success=ok, handled=False)


@pytest.fixture
def relay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[int, MailSink, Authenticator]]:
    cert, key = self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the client trusts this relay's certificate, as a CA bundle
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    sink, authenticator, port = MailSink(), Authenticator(), free_port()
    controller = Controller(
        sink,
        hostname="127.0.0.1",
        port=port,
        server_hostname="localhost",
        tls_context=server_tls,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=authenticator,
    )
    controller.start()
    yield port, sink, authenticator
    controller.stop()


def config(port: int, *, password: str = PASSWORD, starttls: bool = True) -> SmtpConfig:
    return SmtpConfig(
        host="localhost", port=port, username=USER, password=password, starttls=starttls, use_tls=False, timeout=5
    )


async def test_the_message_goes_over_starttls_with_the_configured_login(
    relay: tuple[int, MailSink, Authenticator],
) -> None:
    port, sink, authenticator = relay
    mailer = Mailer(config(port))
    try:
        await mailer.send(MESSAGE, sender="no-reply@framepipe.local", recipient="ana@example.com")
        await mailer.send(MESSAGE, sender="no-reply@framepipe.local", recipient="bo@example.com")  # kept connection
    finally:
        await mailer.close()
    assert sink.envelopes == [
        ("no-reply@framepipe.local", ["ana@example.com"]),
        ("no-reply@framepipe.local", ["bo@example.com"]),
    ]
    assert authenticator.logins == [(USER, True)]  # one TLS session, logged in once, reused


@pytest.mark.parametrize("case", ["wrong password", "no STARTTLS"])
async def test_a_relay_that_refuses_the_login_or_the_plain_session_defers_the_message(
    relay: tuple[int, MailSink, Authenticator], case: str
) -> None:
    port, sink, _ = relay
    settings = (
        config(port, password="wrong" + uuid.uuid4().hex[:4])
        if case == "wrong password"
        else config(port, starttls=False)
    )
    mailer = Mailer(settings)
    try:
        with pytest.raises(DeliveryDeferred):
            await mailer.send(MESSAGE, sender="no-reply@framepipe.local", recipient="ana@example.com")
    finally:
        await mailer.close()
    assert sink.envelopes == []
