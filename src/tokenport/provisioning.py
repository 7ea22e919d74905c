"""Device provisioning: the porting guide's dev-mode key provisioning, on a real token.

A device proves who it is with a key pair that never leaves its token and a certificate for
it. Provisioning stores the device credentials under the well-known labels (the
``pkcs11configLABEL_*`` defaults of the FreeRTOS stack):

=====================  ==========================================================
"Device Priv TLS Key"  the device's private key (private, sensitive, non-extractable)
"Device Pub TLS Key"   its public key
"Device Cert"          the device's certificate (same CKA_ID as the key pair)
"JITP Cert"            the CA certificate for just-in-time provisioning (optional)
"Root Cert"            the trusted root CA certificate (optional)
"Code Verify Key"      the code-verification public key or certificate (optional)
=====================  ==========================================================

Two ways in, both through the ``Module`` Python API on a logged-in R/W user session:

* **import** (``Provisioner.provision``): certificate and private key from PEM (or DER) files,
  plus the optional certificates and code-verification key. Everything is validated first
  (parsable, certificates not expired, certificate matching the key, a key type and curve
  the device key may have); only then are objects written: the new ones are created, and the
  objects they replace (same label and class) destroyed afterwards, so a label never holds
  two credentials and a failure leaves the store as it was.
* **on-device** (``generate_key_pair`` + ``certificate_request``): the key pair is generated
  inside the token (EC P-256 by default, RSA 2048 on request) and a PKCS #10 request is
  built around its public key and signed *by the token*; the issued certificate is attached
  later with ``provision(Credentials(certificate=...))``, which checks it matches the key.

``status`` reports what is provisioned, and ``hex_dump`` formats the device public key (the
DER SubjectPublicKeyInfo) the way a device tester reads it (``publicKeyAsciiHexFilePath``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from tokenport import codesign, keyfiles, x509
from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CKA, CKF, CKK, CKM, CKO, CKR, CKS, CKU
from tokenport.codesign import ecdsa_der
from tokenport.coerce import PinLike, data_bytes, enum_member, pin_bytes
from tokenport.core.module import Module
from tokenport.errors import (
    AttributeValueInvalid,
    CurveNotSupported,
    PKCS11Error,
    SignatureInvalid,
)
from tokenport.mechanisms import curves, der
from tokenport.mechanisms.params import Mechanism
from tokenport.ports.crypto import CurveName
from tokenport.x509 import CertificateSummary

DEVICE_PRIVATE_KEY = "Device Priv TLS Key"
DEVICE_PUBLIC_KEY = "Device Pub TLS Key"
DEVICE_CERT = "Device Cert"
JITP_CERT = "JITP Cert"
ROOT_CERT = "Root Cert"
CODE_VERIFY_KEY = codesign.CODE_VERIFY_KEY

PRIVATE_KEY = int(CKO.PRIVATE_KEY)
PUBLIC_KEY = int(CKO.PUBLIC_KEY)
CERTIFICATE = int(CKO.CERTIFICATE)

MANAGED: tuple[tuple[str, frozenset[int]], ...] = (
    (DEVICE_PRIVATE_KEY, frozenset({PRIVATE_KEY})),
    (DEVICE_PUBLIC_KEY, frozenset({PUBLIC_KEY})),
    (DEVICE_CERT, frozenset({CERTIFICATE})),
    (JITP_CERT, frozenset({CERTIFICATE})),
    (ROOT_CERT, frozenset({CERTIFICATE})),
    (CODE_VERIFY_KEY, frozenset({PUBLIC_KEY, CERTIFICATE})),
)
"""Each well-known label and the object classes provisioning replaces under it."""
CLASSES_OF = dict(MANAGED)

MIN_RSA_BITS = 2048
DEVICE_KEY_KINDS = "the device key is EC P-256, P-384 or P-521, or RSA of 2048 bits or more"
EC_CURVES: dict[str, CurveName] = {"p256": "P-256", "p384": "P-384", "p521": "P-521"}
RSA_SIZES = (2048, 3072, 4096)

# curve -> (signing mechanism, signatureAlgorithm OID) for the request's self-signature
_ECDSA_SIGNING: dict[CurveName, tuple[int, tuple[int, ...]]] = {
    "P-256": (int(CKM.ECDSA_SHA256), (1, 2, 840, 10045, 4, 3, 2)),  # ecdsa-with-SHA256
    "P-384": (int(CKM.ECDSA_SHA384), (1, 2, 840, 10045, 4, 3, 3)),  # ecdsa-with-SHA384
    "P-521": (int(CKM.ECDSA_SHA512), (1, 2, 840, 10045, 4, 3, 4)),  # ecdsa-with-SHA512
}
_SHA256_WITH_RSA = (1, 2, 840, 113549, 1, 1, 11)
_DER_NULL = b"\x05\x00"
_TAG_BIT_STRING = 0x03
_NO_ATTRIBUTES = b"\xa0\x00"  # attributes [0] IMPLICIT SET OF Attribute, empty

Template = list[tuple[int, AttrValue]]


class ProvisioningError(Exception):
    """Provisioning refused its input or the token's state; nothing was changed."""


def _choose_slot(module: Module, token: str | None, slot: int | None) -> int:
    """The slot of ``Provisioner.open``: ``slot``, the token labelled ``token``, or the only
    initialized token."""
    if slot is not None:
        if isinstance(slot, bool) or not isinstance(slot, int):
            raise TypeError(f"slot must be an int, not {type(slot).__name__}")
        return slot
    if token is not None and not isinstance(token, str):
        raise TypeError(f"token must be a label (str), not {type(token).__name__}")
    labels = {s: module.get_token_info(s).label for s in module.get_slot_list(True)
              if module.get_token_info(s).flags & CKF.TOKEN_INITIALIZED}
    matching = [s for s, label in labels.items() if token is None or label.rstrip() == token]
    if len(matching) == 1:
        return matching[0]
    if not matching:
        raise ProvisioningError(f"no token labelled {token!r}" if token is not None
                                else "no initialized token")
    names = ", ".join(repr(labels[s].rstrip()) for s in matching)
    raise ProvisioningError(f"several tokens match ({names}): choose one with token= or slot=")


def _utc_now() -> datetime:
    return datetime.now(UTC)


# -- inputs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    """What import mode stores: file contents (PEM or DER); None leaves a label untouched.

    ``private_key`` needs ``certificate`` too. A ``certificate`` without ``private_key`` is
    attached to the device key already in the token (on-device mode), after checking that
    it matches. ``code_verify_key`` is a public key or a certificate.
    """

    certificate: bytes | None = None
    private_key: bytes | None = None
    key_password: bytes | None = None
    jitp_certificate: bytes | None = None
    root_certificate: bytes | None = None
    code_verify_key: bytes | None = None

    def __post_init__(self) -> None:
        # PEM given as str is encoded (it is ASCII); a password may be str or bytes.
        for name in ("certificate", "private_key", "jitp_certificate", "root_certificate",
                     "code_verify_key"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, data_bytes(value, f"Credentials.{name}"))
        if self.key_password is not None:
            object.__setattr__(self, "key_password",
                               pin_bytes(self.key_password, "Credentials.key_password"))

    def __repr__(self) -> str:
        given = [name for name in ("certificate", "private_key", "jitp_certificate",
                                   "root_certificate", "code_verify_key")
                 if getattr(self, name) is not None]
        return f"Credentials({', '.join(given)})"

    @property
    def empty(self) -> bool:
        """Whether nothing would be stored."""
        return all(value is None for value in (
            self.certificate, self.private_key, self.jitp_certificate,
            self.root_certificate, self.code_verify_key))


@dataclass(frozen=True)
class KeySpec:
    """The device key pair to generate: EC on a NIST curve, or RSA."""

    family: Literal["ec", "rsa"] = "ec"
    curve: CurveName = "P-256"
    bits: int = 2048

    @classmethod
    def of(cls, value: KeySpec | str | CKK | int | None) -> KeySpec:
        """A KeySpec from itself, None (EC P-256), a text for ``parse``, or a key type
        (``CKK.EC``/``CKK.RSA`` or their names: the default curve or size)."""
        if value is None:
            return cls()
        if isinstance(value, KeySpec):
            return value
        if isinstance(value, str) and not value.strip().upper().startswith("CKK_"):
            return cls.parse(value)
        key_type = enum_member(CKK, value, "the device key type")
        if key_type == CKK.EC:
            return cls("ec")
        if key_type == CKK.RSA:
            return cls("rsa")
        raise ValueError(f"the device key type is CKK_EC or CKK_RSA, not CKK_{key_type.name}")

    @classmethod
    def parse(cls, text: str) -> KeySpec:
        """"ec" (P-256), "ec:p384", "ec:p521", "rsa" (2048 bits), "rsa:3072", "rsa:4096"."""
        if not isinstance(text, str):
            raise TypeError(f"KeySpec.parse takes a str, not {type(text).__name__}")
        family, _, size = text.strip().lower().partition(":")
        if family == "ec":
            curve = EC_CURVES.get(size.replace("-", "") or "p256")
            if curve is None:
                raise ProvisioningError(
                    f"unsupported curve {size!r}: the device key is on p256, p384 or p521")
            return cls("ec", curve=curve)
        if family == "rsa":
            bits = int(size) if size.isdigit() else 2048 if not size else 0
            if bits not in RSA_SIZES:
                raise ProvisioningError("an RSA device key has 2048, 3072 or 4096 bits")
            return cls("rsa", bits=bits)
        raise ProvisioningError(f"unknown key type {text!r}: choose ec[:p256|p384|p521] "
                                "or rsa[:2048|3072|4096]")

    def __str__(self) -> str:
        return f"EC {self.curve}" if self.family == "ec" else f"RSA {self.bits}"


def subject_to_rfc4514(text: str) -> str:
    """A subject given as RFC 4514 ("CN=dev,O=Acme") or OpenSSL style ("/O=Acme/CN=dev")
    as an RFC 4514 string. OpenSSL lists the RDNs outermost first, RFC 4514 innermost first."""
    text = text.strip()
    if not text.startswith("/"):
        return text
    parts = [p for p in text.split("/") if p]
    escaped = []
    for part in reversed(parts):
        name, equals, value = part.partition("=")
        if not equals or not name:
            raise ProvisioningError(f"subject component {part!r} is not NAME=value")
        for char in ("\\", ",", "+", '"', "<", ">", ";"):
            value = value.replace(char, "\\" + char)
        escaped.append(f"{name}={value}")
    return ",".join(escaped)


# -- outputs ----------------------------------------------------------------------------------


def hex_dump(data: bytes) -> str:
    """``data`` as lowercase hex, 16 bytes a line, a space between 2-byte groups.

    This is both the layout of ``xxd`` (``3059 3013 0607 2a86 ...``), which the device
    tester's ``publicKeyAsciiHexFilePath`` file is described with, and the one FreeRTOS's
    dev-mode provisioning prints the device public key in (without its trailing spaces).
    """
    lines = []
    for start in range(0, len(data), 16):
        row = data[start : start + 16].hex()
        lines.append(" ".join(row[i : i + 4] for i in range(0, len(row), 4)))
    return "\n".join(lines) + ("\n" if lines else "")


@dataclass(frozen=True)
class ObjectInfo:
    """One provisioned object, as status shows it."""

    label: str
    kind: Literal["private key", "public key", "certificate"]
    key_id: str
    algorithm: str | None = None
    sensitive: bool | None = None
    extractable: bool | None = None
    subject: str | None = None
    issuer: str | None = None
    not_before: str | None = None
    not_after: str | None = None
    expired: bool | None = None
    public_key_info: bytes = field(default=b"", repr=False)

    def as_json(self) -> dict[str, object]:
        """The fields that are set (bytes left out)."""
        return {k: v for k, v in self.__dict__.items()
                if v is not None and k != "public_key_info"}


@dataclass(frozen=True)
class ProvisioningStatus:
    """What is provisioned on a token (private objects only when logged in)."""

    token_label: str
    token_serial: str
    logged_in: bool
    objects: dict[str, list[ObjectInfo]]
    device_public_key: bytes | None
    fingerprint: str | None
    certificate_matches_key: bool | None

    def as_json(self) -> dict[str, object]:
        """A JSON-ready dict (the public key as hex of its DER and as the hex dump)."""
        return {
            "token": {"label": self.token_label, "serial": self.token_serial},
            "logged_in": self.logged_in,
            "objects": {label: [o.as_json() for o in found]
                        for label, found in self.objects.items()},
            "device_public_key": self.device_public_key.hex() if self.device_public_key else None,
            "public_key_fingerprint": self.fingerprint,
            "certificate_matches_key": self.certificate_matches_key,
        }


@dataclass(frozen=True)
class _Write:
    label: str
    templates: tuple[Template, ...]


@dataclass(frozen=True)
class Plan:
    """Validated provisioning writes: the labels to replace and the objects to create."""

    writes: tuple[_Write, ...]

    @property
    def labels(self) -> list[str]:
        return [w.label for w in self.writes]


# -- the provisioner --------------------------------------------------------------------------


class Provisioner:
    """Provisioning operations on one logged-in R/W user session of ``module``."""

    def __init__(self, module: Module, session: int, *,
                 clock: Callable[[], datetime] = _utc_now) -> None:
        self.module = module
        self.session = session
        self.crypto = module.crypto
        self.clock = clock

    # -- token access -----------------------------------------------------------------------

    def _require_user(self) -> None:
        if self.module.get_session_info(self.session).state != CKS.RW_USER_FUNCTIONS:
            raise ProvisioningError("provisioning needs a R/W session with the user logged in")

    @classmethod
    @contextlib.contextmanager
    def open(cls, module: Module, pin: PinLike, *, token: str | None = None,
             slot: int | None = None) -> Iterator[Provisioner]:
        """A Provisioner on a new R/W session with the user logged in (C_OpenSession,
        C_Login, s5.6), logged out and closed at the end of the ``with`` block.

        ``pin`` is str (UTF-8) or bytes. The token is the one in ``slot``, else the one
        labelled ``token``, else the only initialized token (ProvisioningError otherwise).
        """
        secret = pin_bytes(pin)
        chosen = _choose_slot(module, token, slot)
        session = module.open_session(chosen, int(CKF.SERIAL_SESSION | CKF.RW_SESSION))
        try:
            module.login(session, CKU.USER, secret)
            try:
                yield cls(module, session)
            finally:
                with contextlib.suppress(PKCS11Error):
                    module.logout(session)
        finally:
            with contextlib.suppress(PKCS11Error):
                module.close_session(session)

    def find(self, label: str, classes: Iterable[CKO | int | str] = frozenset()) -> list[int]:
        """Handles of the objects with ``label`` (of one of ``classes``: CKO members, their
        numbers or names such as "PRIVATE_KEY"; any class if empty)."""
        if not isinstance(label, str):
            raise TypeError(f"the label must be str, not {type(label).__name__}")
        found: list[int] = []
        numbers = {int(enum_member(CKO, c, "the object class")) for c in classes}
        wanted: list[int | None] = [*sorted(numbers)] or [None]
        for object_class in wanted:
            template: Template = [(CKA.LABEL, label.encode())]
            if object_class is not None:
                template.append((CKA.CLASS, object_class))
            self.module.find_objects_init(self.session, template)
            try:
                while batch := self.module.find_objects(self.session, 64):
                    found += batch
            finally:
                self.module.find_objects_final(self.session)
        return found

    def _read(self, handle: int, types: Sequence[int]) -> dict[int, AttrValue]:
        results = self.module.get_attribute_value(self.session, handle, types)
        return {r.type: r.value for r in results if r.error == CKR.OK and r.value is not None}

    def _bytes(self, handle: int, attr: int) -> bytes:
        value = self._read(handle, [attr]).get(attr)
        return value if isinstance(value, bytes) else b""

    def _device_key(self) -> tuple[bytes, bytes] | None:
        """(SubjectPublicKeyInfo, CKA_ID) of the device key in the token, if there is one."""
        for label, object_class in ((DEVICE_PRIVATE_KEY, PRIVATE_KEY),
                                    (DEVICE_PUBLIC_KEY, PUBLIC_KEY)):
            handles = self.find(label, frozenset({object_class}))
            if handles:
                values = self._read(handles[0], [CKA.PUBLIC_KEY_INFO, CKA.ID])
                spki, key_id = values.get(CKA.PUBLIC_KEY_INFO), values.get(CKA.ID)
                if isinstance(spki, bytes) and spki:
                    return spki, key_id if isinstance(key_id, bytes) else b""
        return None

    # -- validation ---------------------------------------------------------------------------

    def _certificate(self, what: str, data: bytes, *, check_expiry: bool = True
                     ) -> tuple[bytes, CertificateSummary]:
        try:
            der_cert = x509.load_certificate(data)
            summary = x509.certificate_summary(der_cert)
        except AttributeValueInvalid:
            raise ProvisioningError(
                f"{what}: not a valid X.509 certificate in PEM or DER form") from None
        if check_expiry and summary.not_after < self.clock():
            raise ProvisioningError(
                f"{what} ({summary.subject}) expired on {summary.not_after:%Y-%m-%d %H:%M} UTC")
        return der_cert, summary

    def _check_device_key(self, what: str, spki: bytes) -> None:
        """Refuse key types a device TLS key may not have (the token could store them)."""
        try:
            decoded = self.crypto.public_key_decode(spki)
        except CurveNotSupported:
            raise ProvisioningError(f"{what}: unsupported curve ({DEVICE_KEY_KINDS})") from None
        except AttributeValueInvalid:
            raise ProvisioningError(f"{what}: unsupported key type") from None
        if decoded.kind == "rsa":
            bits = self.crypto.rsa_public_numbers(decoded.key)[0].bit_length()
            if bits < MIN_RSA_BITS:
                raise ProvisioningError(f"{what}: an RSA device key has at least "
                                        f"{MIN_RSA_BITS} bits, this one {bits}")
        elif decoded.kind != "ec":
            raise ProvisioningError(f"{what}: {decoded.kind} keys are refused ({DEVICE_KEY_KINDS})")
        elif decoded.curve not in _ECDSA_SIGNING:  # the token has more curves than TLS uses
            raise ProvisioningError(f"{what}: unsupported curve ({DEVICE_KEY_KINDS})")

    def _private_key(self, data: bytes, password: bytes | None) -> tuple[list[Template], bytes]:
        """Templates for the device key pair and its SubjectPublicKeyInfo."""
        what = "client private key"
        try:
            pkcs8 = x509.load_private_key(data, password)
        except AttributeValueInvalid:
            raise ProvisioningError(f"{what}: not a private key in PEM or DER form (or a wrong "
                                    "password for an encrypted one)") from None
        try:
            decoded = self.crypto.pkcs8_decode(pkcs8)
        except CurveNotSupported:
            raise ProvisioningError(f"{what}: unsupported curve ({DEVICE_KEY_KINDS})") from None
        except PKCS11Error:
            raise ProvisioningError(f"{what}: unsupported key type") from None
        spki = self.crypto.public_key_info(decoded.key)
        self._check_device_key(what, spki)
        templates = keyfiles.import_templates(
            self.crypto, "privkey", data, DEVICE_PRIVATE_KEY.encode(), None, password,
            with_public=True)
        private, public = templates
        public = [(t, DEVICE_PUBLIC_KEY.encode() if t == CKA.LABEL else v) for t, v in public]
        return [private, public], spki

    def plan(self, credentials: Credentials) -> Plan:
        """Validate ``credentials`` against each other and the token; what would be written.

        Raises ProvisioningError naming the input at fault; reads the token only.
        """
        self._require_user()
        writes: list[_Write] = []
        if credentials.private_key is not None and credentials.certificate is None:
            raise ProvisioningError("a client private key needs its certificate too")
        if credentials.certificate is not None:
            der_cert, summary = self._certificate("client certificate", credentials.certificate)
            if credentials.private_key is not None:
                key_templates, spki = self._private_key(credentials.private_key,
                                                        credentials.key_password)
                key_id = next(v for t, v in key_templates[0] if t == CKA.ID)
                assert isinstance(key_id, bytes)
                writes += [_Write(DEVICE_PRIVATE_KEY, (key_templates[0],)),
                           _Write(DEVICE_PUBLIC_KEY, (key_templates[1],))]
            else:
                existing = self._device_key()
                if existing is None:
                    raise ProvisioningError(
                        "the token has no device key to attach the certificate to: import "
                        "the key with it, or generate one inside the token first")
                spki, key_id = existing
            if not self._same_key(summary.public_key_info, spki):
                raise ProvisioningError(
                    f"the client certificate ({summary.subject}) does not match the device key: "
                    f"certificate key {self.fingerprint(summary.public_key_info)}, "
                    f"device key {self.fingerprint(spki)}")
            writes.append(_Write(DEVICE_CERT, tuple(self._cert_templates(
                der_cert, DEVICE_CERT, key_id or None))))
        for label, data, what in ((JITP_CERT, credentials.jitp_certificate, "JITP certificate"),
                                  (ROOT_CERT, credentials.root_certificate, "root CA certificate")):
            if data is not None:
                der_cert, _ = self._certificate(what, data)
                writes.append(_Write(label, tuple(self._cert_templates(der_cert, label, None))))
        if credentials.code_verify_key is not None:
            writes.append(self._code_verify_write(credentials.code_verify_key))
        if not writes:
            raise ProvisioningError("nothing to provision")
        return Plan(tuple(writes))

    def _cert_templates(self, der_cert: bytes, label: str, key_id: bytes | None
                        ) -> list[Template]:
        return keyfiles.import_templates(self.crypto, "cert", der_cert, label.encode(),
                                         key_id, None)

    def _code_verify_write(self, data: bytes) -> _Write:
        what = "code-verification key"
        try:
            kind = keyfiles.detect(data)
        except AttributeValueInvalid:
            raise ProvisioningError(f"{what}: not a public key or certificate") from None
        if kind == "privkey":
            try:  # a DER blob detect() could not place: is it a key at all?
                x509.load_private_key(data)
            except AttributeValueInvalid:
                raise ProvisioningError(f"{what}: not a public key or certificate "
                                        "in PEM or DER form") from None
            raise ProvisioningError(f"{what}: this is a private key; store the public key "
                                    "or the signer's certificate (the device only verifies)")
        label = CODE_VERIFY_KEY.encode()
        try:
            if kind == "cert":
                der_cert, summary = self._certificate(what, data, check_expiry=False)
                public = keyfiles.import_templates(self.crypto, "pubkey",
                                                   summary.public_key_info, label, None, None)
                key_id = next(v for t, v in public[0] if t == CKA.ID)
                assert isinstance(key_id, bytes)
                templates = self._cert_templates(der_cert, CODE_VERIFY_KEY, key_id) + public
            else:
                templates = keyfiles.import_templates(self.crypto, "pubkey", data, label,
                                                      None, None)
        except CurveNotSupported:
            raise ProvisioningError(f"{what}: unsupported curve") from None
        except AttributeValueInvalid:
            raise ProvisioningError(f"{what}: not a valid public key or certificate") from None
        return _Write(CODE_VERIFY_KEY, tuple(templates))

    def _same_key(self, a: bytes, b: bytes) -> bool:
        try:
            return x509.load_public_key(a) == x509.load_public_key(b)
        except AttributeValueInvalid:
            return False

    # -- writing ------------------------------------------------------------------------------

    def apply(self, plan: Plan) -> list[str]:
        """Write a plan: create the new objects, then destroy the ones they replace.

        If a creation fails, the objects created so far are destroyed again and the error
        propagates: the labels keep what they had.
        """
        self._require_user()
        old = [h for write in plan.writes for h in self.find(write.label, CLASSES_OF[write.label])]
        self._create_all([t for write in plan.writes for t in write.templates])
        for handle in old:
            self.module.destroy_object(self.session, handle)
        return plan.labels

    def _create_all(self, templates: Sequence[Template]) -> list[int]:
        created: list[int] = []
        try:
            for template in templates:
                created.append(self.module.create_object(self.session, template))
        except BaseException:
            self._destroy_quietly(created)
            raise
        return created

    def _destroy_quietly(self, handles: Sequence[int]) -> None:
        for handle in reversed(handles):
            try:
                self.module.destroy_object(self.session, handle)
            except PKCS11Error:
                pass

    def provision(self, credentials: Credentials) -> list[str]:
        """Validate and store ``credentials`` (import mode, or attaching a certificate);
        returns the labels written."""
        return self.apply(self.plan(credentials))

    # -- on-device mode -----------------------------------------------------------------------

    def generate_key_pair(self, spec: KeySpec | str | CKK | None = None, *,
                          replace: bool = False) -> bytes:
        """Generate the device key pair inside the token; returns its SubjectPublicKeyInfo.

        ``spec`` is a KeySpec, a text such as "ec:p384" or "rsa:3072", or ``CKK.EC`` /
        ``CKK.RSA`` (or "CKK_EC"); None is EC P-256.

        An existing device key (and the certificate issued for it, which would no longer
        match) is replaced only with ``replace=True``: destroying a certified key is not
        something to do by accident.
        """
        spec = KeySpec.of(spec)
        self._require_user()
        old = [h for label in (DEVICE_PRIVATE_KEY, DEVICE_PUBLIC_KEY, DEVICE_CERT)
               for h in self.find(label, CLASSES_OF[label])]
        if old and not replace:
            raise ProvisioningError("the token already has a device key or certificate; "
                                    "pass replace=True to replace them")
        temporary_id = self.module.generate_random(self.session, 8)
        common: Template = [(CKA.ID, temporary_id), (CKA.TOKEN, True)]
        public: Template = [(CKA.LABEL, DEVICE_PUBLIC_KEY.encode()), (CKA.VERIFY, True), *common]
        private: Template = [(CKA.LABEL, DEVICE_PRIVATE_KEY.encode()), (CKA.PRIVATE, True),
                             (CKA.SENSITIVE, True), (CKA.EXTRACTABLE, False), (CKA.SIGN, True),
                             *common]
        if spec.family == "ec":
            curve = next(c for c in curves.CURVES if c.name == spec.curve)
            mechanism = Mechanism(CKM.EC_KEY_PAIR_GEN)
            public.append((CKA.EC_PARAMS, curve.params))
        else:
            mechanism = Mechanism(CKM.RSA_PKCS_KEY_PAIR_GEN)
            public += [(CKA.MODULUS_BITS, spec.bits), (CKA.PUBLIC_EXPONENT, b"\x01\x00\x01")]
        pair = self.module.generate_key_pair(self.session, mechanism, public, private)
        try:
            values = self._read(pair[0], [CKA.PUBLIC_KEY_INFO, CKA.MODULUS, CKA.EC_POINT])
            key_type = int(CKK.EC) if spec.family == "ec" else int(CKK.RSA)
            key_id = keyfiles.key_id_of(key_type, values)
            for handle in pair:
                self.module.set_attribute_value(self.session, handle, [(CKA.ID, key_id)])
        except BaseException:
            self._destroy_quietly(list(pair))
            raise
        for handle in old:
            self.module.destroy_object(self.session, handle)
        spki = values[CKA.PUBLIC_KEY_INFO]
        assert isinstance(spki, bytes)
        return spki

    def certificate_request(self, subject: str) -> bytes:
        """A DER PKCS #10 request for the device key, signed inside the token.

        ``subject`` is an RFC 4514 string or OpenSSL's "/CN=..." form. The signature is
        ECDSA with SHA-256/384/512 (by curve) or SHA-256 with RSA (PKCS #1 v1.5); the result
        is checked (self-signature, public key) before it is returned.
        """
        self._require_user()
        handles = self.find(DEVICE_PRIVATE_KEY, frozenset({PRIVATE_KEY}))
        if not handles:
            raise ProvisioningError("the token has no device key; generate one first")
        key = handles[0]
        spki = self._bytes(key, CKA.PUBLIC_KEY_INFO)
        try:
            name = x509.name_from_text(subject_to_rfc4514(subject))
        except AttributeValueInvalid:
            raise ProvisioningError(f"subject {subject!r} is not a valid distinguished name "
                                    "(write it as CN=...,O=... or /O=.../CN=...)") from None
        info = der.encode_tlv(der.TAG_SEQUENCE, der.encode_integer(0) + name + spki
                              + _NO_ATTRIBUTES)
        decoded = self.crypto.public_key_decode(spki)
        if decoded.kind == "ec":
            mechanism, oid = _ECDSA_SIGNING[decoded.curve]
            algorithm = der.encode_tlv(der.TAG_SEQUENCE, der.encode_oid(oid))
            raw = self._sign(key, mechanism, info)
            half = len(raw) // 2
            signature = ecdsa_der(int.from_bytes(raw[:half], "big"),
                                  int.from_bytes(raw[half:], "big"))
        elif decoded.kind == "rsa":
            algorithm = der.encode_tlv(der.TAG_SEQUENCE,
                                       der.encode_oid(_SHA256_WITH_RSA) + _DER_NULL)
            signature = self._sign(key, int(CKM.SHA256_RSA_PKCS), info)
        else:
            raise ProvisioningError(f"a {decoded.kind} device key cannot sign a request")
        request = der.encode_tlv(der.TAG_SEQUENCE, info + algorithm + der.encode_tlv(
            _TAG_BIT_STRING, b"\x00" + signature))
        try:
            checked = x509.request_summary(request)
        except (SignatureInvalid, AttributeValueInvalid) as exc:
            raise ProvisioningError(f"the token produced an invalid request ({exc})") from None
        if not self._same_key(checked.public_key_info, spki):
            raise ProvisioningError("the request does not carry the device public key")
        return request

    def _sign(self, key: int, mechanism: int, data: bytes) -> bytes:
        self.module.sign_init(self.session, Mechanism(mechanism), key)
        return self.module.sign(self.session, data)

    # -- status -------------------------------------------------------------------------------

    def fingerprint(self, spki: bytes) -> str:
        """"sha256:" and the hex SHA-256 of a DER SubjectPublicKeyInfo."""
        digest = self.crypto.hash_new("sha256")
        digest.update(spki)
        return "sha256:" + digest.finalize().hex()

    def _algorithm(self, spki: bytes) -> str | None:
        try:
            decoded = self.crypto.public_key_decode(spki)
        except PKCS11Error:
            return None
        if decoded.kind == "rsa":
            return f"RSA {self.crypto.rsa_public_numbers(decoded.key)[0].bit_length()}"
        if decoded.kind == "ec":
            return f"EC {decoded.curve}"
        if decoded.kind == "xdh":
            return decoded.curve
        return "Ed448" if decoded.kind == "ed448" else "Ed25519"

    def _describe(self, label: str, handle: int) -> ObjectInfo:
        values = self._read(handle, [CKA.CLASS, CKA.ID, CKA.VALUE, CKA.PUBLIC_KEY_INFO,
                                     CKA.SENSITIVE, CKA.EXTRACTABLE])
        key_id = values.get(CKA.ID)
        hex_id = key_id.hex() if isinstance(key_id, bytes) else ""
        if values.get(CKA.CLASS) == CERTIFICATE:
            value = values.get(CKA.VALUE)
            assert isinstance(value, bytes)
            summary = x509.certificate_summary(value)
            return ObjectInfo(
                label, "certificate", hex_id, algorithm=self._algorithm(summary.public_key_info),
                subject=summary.subject, issuer=summary.issuer,
                not_before=summary.not_before.isoformat(), not_after=summary.not_after.isoformat(),
                expired=summary.not_after < self.clock(),
                public_key_info=summary.public_key_info)
        spki = values.get(CKA.PUBLIC_KEY_INFO)
        spki = spki if isinstance(spki, bytes) else b""
        if values.get(CKA.CLASS) == PRIVATE_KEY:
            return ObjectInfo(label, "private key", hex_id, algorithm=self._algorithm(spki),
                              sensitive=values.get(CKA.SENSITIVE) is True,
                              extractable=values.get(CKA.EXTRACTABLE) is True,
                              public_key_info=spki)
        return ObjectInfo(label, "public key", hex_id, algorithm=self._algorithm(spki),
                          public_key_info=spki)

    def status(self) -> ProvisioningStatus:
        """What is provisioned: every well-known label, the device public key and its
        fingerprint, and whether the device certificate matches the device key."""
        info = self.module.get_session_info(self.session)
        token = self.module.get_token_info(info.slot_id)
        objects = {label: [self._describe(label, h) for h in self.find(label, classes)]
                   for label, classes in MANAGED}
        keys = objects[DEVICE_PUBLIC_KEY] + objects[DEVICE_PRIVATE_KEY]
        spki = next((o.public_key_info for o in keys if o.public_key_info), None)
        certs = objects[DEVICE_CERT]
        matches = None
        if spki is not None and certs:
            matches = all(self._same_key(c.public_key_info, spki) for c in certs)
        return ProvisioningStatus(
            token_label=token.label, token_serial=token.serial_number,
            logged_in=info.state in (CKS.RO_USER_FUNCTIONS, CKS.RW_USER_FUNCTIONS),
            objects=objects, device_public_key=spki,
            fingerprint=self.fingerprint(spki) if spki else None,
            certificate_matches_key=matches)

