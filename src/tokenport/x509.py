"""X.509 certificates, PKCS #10 requests and PEM / DER key files (the provisioning side).

This is not part of the crypto port: the token's mechanisms never parse certificates or
files. Provisioning, code signing, key-file import and the object factory (for the
certificate attributes PKCS #11 v2.40 s4.6.3 lets the token fill in) use these functions,
which are implemented on pyca/cryptography. Every pyca exception is translated here into
tokenport.errors with a fixed message (never library text or data).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from cryptography import exceptions as pyca_exceptions
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.utils import CryptographyDeprecationWarning

from tokenport import errors
from tokenport.mechanisms import der

# pyca warns (to the host's stderr) about certificates it will refuse in a later release,
# e.g. a serial number that is not positive; a token that stores such a certificate says
# nothing to its host. The filter matches warnings raised from tokenport's modules only.
warnings.filterwarnings(
    "ignore", category=CryptographyDeprecationWarning, module=r"tokenport\."
)

_SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


@dataclass(frozen=True)
class X509Fields:
    """The certificate fields PKCS #11 copies into attributes (v2.40 s4.6.3, s4.8).

    ``subject`` / ``issuer``: DER Name (CKA_SUBJECT, CKA_ISSUER); ``serial_number``: the DER
    INTEGER encoding of the serial, tag and length included (CKA_SERIAL_NUMBER);
    ``public_key_info``: the DER SubjectPublicKeyInfo (CKA_PUBLIC_KEY_INFO); ``not_before`` /
    ``not_after``: CK_DATE values b"YYYYMMDD" (CKA_START_DATE / CKA_END_DATE).
    """

    subject: bytes
    issuer: bytes
    serial_number: bytes
    public_key_info: bytes
    not_before: bytes
    not_after: bytes


@dataclass(frozen=True)
class CertificateSummary:
    """What provisioning shows and checks of an X.509 certificate.

    ``subject`` / ``issuer``: RFC 4514 strings; ``not_before`` / ``not_after``: timezone-aware
    UTC datetimes; ``public_key_info``: the DER SubjectPublicKeyInfo, re-encoded (so it
    compares equal to the crypto port's ``public_key_info`` of the same key); ``is_ca``: the
    basicConstraints cA flag (False when the extension is absent).
    """

    subject: str
    issuer: str
    serial_number: int
    not_before: datetime
    not_after: datetime
    public_key_info: bytes
    is_ca: bool


@dataclass(frozen=True)
class RequestSummary:
    """A PKCS #10 certification request whose self-signature verified."""

    subject: str
    public_key_info: bytes


@contextmanager
def _translate(message: str) -> Iterator[None]:
    """What pyca raises for malformed input becomes AttributeValueInvalid(message)."""
    try:
        yield
    except errors.PKCS11Error:
        raise
    except pyca_exceptions.UnsupportedAlgorithm:
        raise errors.FunctionFailed("algorithm not available in the crypto library") from None
    except (ValueError, TypeError, OverflowError, x509.InvalidVersion):
        # InvalidVersion (an X.509 version field pyca does not know) is no ValueError
        raise errors.AttributeValueInvalid(message) from None


def _date(value: datetime) -> bytes:
    return f"{value.year:04d}{value.month:02d}{value.day:02d}".encode("ascii")


def _is_pem(data: bytes) -> bool:
    return data.lstrip().startswith(b"-----BEGIN")


# -- certificate attributes (the object factory) -----------------------------------------------


def certificate_fields(der_bytes: bytes) -> X509Fields:
    """The attribute fields of a DER X.509 certificate (PKCS #11 v2.40 s4.6.3: CKA_SUBJECT,
    CKA_ISSUER, CKA_SERIAL_NUMBER; 3.0 s4.6.3 CKA_PUBLIC_KEY_INFO); AttributeValueInvalid
    for anything else."""
    with _translate("not a DER X.509 certificate"):
        cert = x509.load_der_x509_certificate(der_bytes)
        not_before = _date(cert.not_valid_before_utc)
        not_after = _date(cert.not_valid_after_utc)
        items = der.sequence_items(cert.tbs_certificate_bytes)
    skip = 1 if items and items[0][0] == 0xA0 else 0  # [0] EXPLICIT version
    fields = items[skip : skip + 6]
    if len(fields) < 6 or fields[0][0] != der.TAG_INTEGER:
        raise errors.AttributeValueInvalid("not a DER X.509 certificate")
    serial, _sig_alg, issuer, _validity, subject, spki = fields
    return X509Fields(
        subject=subject,
        issuer=issuer,
        serial_number=serial,
        public_key_info=spki,
        not_before=not_before,
        not_after=not_after,
    )


# -- provisioning -------------------------------------------------------------------------------


def certificate_summary(der_bytes: bytes) -> CertificateSummary:
    """Names, validity and key of a DER X.509 certificate; AttributeValueInvalid for
    anything else (also for a public key algorithm pyca does not know)."""
    with _translate("not a DER X.509 certificate"):
        cert = x509.load_der_x509_certificate(der_bytes)
        try:
            is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            is_ca = False
        try:
            spki = cert.public_key().public_bytes(*_SPKI)
        except pyca_exceptions.UnsupportedAlgorithm:
            raise errors.AttributeValueInvalid(
                "the certificate's public key algorithm is not supported"
            ) from None
        return CertificateSummary(
            subject=cert.subject.rfc4514_string(),
            issuer=cert.issuer.rfc4514_string(),
            serial_number=cert.serial_number,
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            public_key_info=spki,
            is_ca=is_ca,
        )


def name_from_text(text: str) -> bytes:
    """The DER Name of an RFC 4514 string ("CN=device-1,O=Example,C=DE");
    AttributeValueInvalid if the string is malformed or names an unknown attribute."""
    with _translate("not a valid RFC 4514 distinguished name"):
        return x509.Name.from_rfc4514_string(text).public_bytes()


def request_summary(der_bytes: bytes) -> RequestSummary:
    """Check a DER PKCS #10 CertificationRequest (RFC 2986): AttributeValueInvalid if it is
    malformed, SignatureInvalid if its self-signature does not verify."""
    with _translate("not a DER PKCS #10 certification request"):
        request = x509.load_der_x509_csr(der_bytes)
        valid = request.is_signature_valid
        spki = request.public_key().public_bytes(*_SPKI)
        subject = request.subject.rfc4514_string()
    if not valid:
        raise errors.SignatureInvalid("the request's self-signature does not verify")
    return RequestSummary(subject=subject, public_key_info=spki)


# -- files (PEM or DER) -------------------------------------------------------------------------


def load_private_key(data: bytes, password: bytes | None = None) -> bytes:
    """A private key file (PEM or DER; PKCS #8, SEC1 or PKCS #1; encrypted PEM with
    ``password``) as DER PKCS #8 (RFC 5208); AttributeValueInvalid if it is none of these."""
    with _translate("not a private key in PEM or DER form"):
        if _is_pem(data):
            key = serialization.load_pem_private_key(data, password=password)
        else:
            key = serialization.load_der_private_key(data, password=password)
        return key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def load_public_key(data: bytes) -> bytes:
    """A public key file (PEM or DER SubjectPublicKeyInfo, or PEM PKCS #1) as DER SPKI."""
    with _translate("not a public key in PEM or DER form"):
        if _is_pem(data):
            key = serialization.load_pem_public_key(data)
        else:
            key = serialization.load_der_public_key(data)
        return key.public_bytes(*_SPKI)


def load_certificate(data: bytes) -> bytes:
    """An X.509 certificate file (PEM or DER) as DER."""
    with _translate("not an X.509 certificate in PEM or DER form"):
        if _is_pem(data):
            cert = x509.load_pem_x509_certificate(data)
        else:
            cert = x509.load_der_x509_certificate(data)
        return cert.public_bytes(serialization.Encoding.DER)
