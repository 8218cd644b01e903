"""A throw-away certificate authority and server certificate for TLS tests (P-256, SHA-256)."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def cert(subject: str, key: ec.EllipticCurvePrivateKey, issuer: tuple[str, ec.EllipticCurvePrivateKey] | None,
         ca: bool, valid_from: dt.timedelta = dt.timedelta(minutes=-5),
         valid_to: dt.timedelta = dt.timedelta(days=1)) -> x509.Certificate:
    """A certificate valid from now + ``valid_from`` to now + ``valid_to``; a server one names
    localhost and 127.0.0.1."""
    now = dt.datetime.now(dt.timezone.utc)
    issuer_name, issuer_key = issuer or (subject, key)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now + valid_from).not_valid_after(now + valid_to)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def write_pki(tls: Path) -> None:
    """``ca.pem``, ``server.crt`` and ``server.key`` in the folder ``tls`` (made here)."""
    tls.mkdir(parents=True)
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    (tls / "ca.pem").write_bytes(pem(cert("watertel test CA", ca_key, None, ca=True)))
    (tls / "server.crt").write_bytes(pem(cert("localhost", server_key, ("watertel test CA", ca_key), ca=False)))
    (tls / "server.key").write_bytes(server_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
