"""A throw-away certificate authority and server certificate for the local ARM endpoint.

The official Azure SDK refuses to send bearer tokens over plain http, so the emulator speaks
HTTPS. Clients trust it by passing the CA file as ``connection_verify`` — exactly what a user
behind a TLS-inspecting proxy does with a corporate CA bundle.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class TlsFiles:
    """Paths of the PEM files written by :func:`make_tls_files`."""

    ca_pem: Path
    cert_pem: Path
    key_pem: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "modelport test"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def _validity(builder: x509.CertificateBuilder) -> x509.CertificateBuilder:
    # Back-dated a little so a skewed clock inside a container still accepts it.
    now = dt.datetime.now(dt.timezone.utc)
    return builder.not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(
        now + dt.timedelta(days=7))


def _ca(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    name = _name("modelport ARM emulator test CA")
    builder = _validity(x509.CertificateBuilder().subject_name(name).issuer_name(name))
    builder = (builder.public_key(key.public_key()).serial_number(x509.random_serial_number())
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(
                   digital_signature=True, key_cert_sign=True, crl_sign=True,
                   content_commitment=False, key_encipherment=False, data_encipherment=False,
                   key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                              critical=False))
    return builder.sign(key, hashes.SHA256())


def _server(key: ec.EllipticCurvePrivateKey, ca: x509.Certificate,
            ca_key: ec.EllipticCurvePrivateKey, dns_names: tuple[str, ...] = ("localhost",)) -> x509.Certificate:
    san = x509.SubjectAlternativeName([
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")), *(x509.DNSName(n) for n in dns_names)])
    builder = _validity(x509.CertificateBuilder().subject_name(_name(dns_names[0]))
                        .issuer_name(ca.subject))
    builder = (builder.public_key(key.public_key()).serial_number(x509.random_serial_number())
               .add_extension(san, critical=False)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                              critical=False)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                              critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   ca_key.public_key()), critical=False))
    return builder.sign(ca_key, hashes.SHA256())


def make_tls_files(directory: Path, dns_names: tuple[str, ...] = ("localhost",)) -> TlsFiles:
    """Create a fresh CA and a server certificate for 127.0.0.1 and ``dns_names`` (wildcards
    allowed) in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _ca(ca_key)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _server(key, ca, ca_key, dns_names)
    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    files.ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key_pem.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    files.key_pem.chmod(0o600)
    # kept so the Container Apps ingress can issue its environments' certificates (apps_tls.py)
    ca_key_pem = directory / "ca.key"
    ca_key_pem.write_bytes(ca_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    ca_key_pem.chmod(0o600)
    return files
