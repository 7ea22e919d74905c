"""Code signing: check a signed image with the code-verification key stored in the token.

This is the role of the porting guide's ``CRYPTO_SignatureVerificationStart/Update/Final``:
an update image is hashed as it streams past (``SignatureVerification``, or ``verify_file``,
which reads the file in 1 MiB chunks, so a multi-GiB image takes constant memory), then the
signature is checked with the public key or certificate stored under "Code Verify Key".

Signatures are what code signing services produce: RSASSA-PKCS1-v1_5 with SHA-256 or SHA-1,
and ECDSA with SHA-256 as a DER ``SEQUENCE { r, s }``. A signature file holds the signature
bytes, or their base64 text (as OTA job documents carry them).

Verification raises: ``SignatureMismatch`` when the signature does not verify (a modified
image, or one signed with another key), ``CodeSignError`` when it cannot be checked at all
(no key, a malformed signature, an algorithm that does not fit the key). ``sign_file`` makes
test images' signatures with a private key inside the token.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Literal, Protocol

from tokenport import x509
from tokenport.ck import CKA, CKK, CKM, CKO, CKR
from tokenport.core.module import Module
from tokenport.errors import AttributeValueInvalid, PKCS11Error, SignatureInvalid
from tokenport.mechanisms import der
from tokenport.mechanisms.params import Mechanism
from tokenport.ports.crypto import DigestPort, EcPort, HashName, KeyEncodingPort, RsaPort


class CodeSignCrypto(DigestPort, EcPort, RsaPort, KeyEncodingPort, Protocol):
    """The crypto port families a signature check uses (every CryptoBackend is one)."""


CODE_VERIFY_KEY = "Code Verify Key"
CHUNK_SIZE = 1 << 20
"""Bytes read and hashed at a time."""


class Algorithm(Enum):
    """The signature algorithms of code signing (the names ``--alg`` takes)."""

    ECDSA_SHA256 = "ecdsa-sha256"
    RSA_SHA256 = "rsa-sha256"
    RSA_SHA1 = "rsa-sha1"

    @property
    def hash_name(self) -> HashName:
        return "sha1" if self is Algorithm.RSA_SHA1 else "sha256"

    @property
    def key_kind(self) -> Literal["ec", "rsa"]:
        return "ec" if self is Algorithm.ECDSA_SHA256 else "rsa"

    @property
    def mechanism(self) -> int:
        """The PKCS #11 mechanism that hashes and signs this way."""
        return {Algorithm.ECDSA_SHA256: int(CKM.ECDSA_SHA256),
                Algorithm.RSA_SHA256: int(CKM.SHA256_RSA_PKCS),
                Algorithm.RSA_SHA1: int(CKM.SHA1_RSA_PKCS)}[self]


class CodeSignError(Exception):
    """The signature could not be checked or made (the message says why)."""


class SignatureMismatch(CodeSignError):
    """The signature does not verify: the image was modified or signed with another key."""


@dataclass(frozen=True)
class VerificationKey:
    """The code-verification key read from the token."""

    label: str
    source: Literal["public key", "certificate"]
    public_key_info: bytes


# -- signature encodings ----------------------------------------------------------------------


def ecdsa_der(r: int, s: int) -> bytes:
    """An ECDSA signature as DER ``SEQUENCE { r INTEGER, s INTEGER }`` (RFC 3279 s2.2.3)."""
    return der.encode_tlv(der.TAG_SEQUENCE, der.encode_integer(r) + der.encode_integer(s))


def ecdsa_from_der(signature: bytes) -> tuple[int, int]:
    """(r, s) of a DER ECDSA signature, strictly parsed (positive, minimal INTEGERs and
    nothing after them); AttributeValueInvalid otherwise."""
    items = der.sequence_items(signature)
    if len(items) != 2:
        raise AttributeValueInvalid("an ECDSA signature holds two INTEGERs")
    values = []
    for item in items:
        content = der.decode_single(item, der.TAG_INTEGER)
        if not content or content[0] & 0x80 or (
                len(content) > 1 and content[0] == 0 and not content[1] & 0x80):
            raise AttributeValueInvalid("malformed INTEGER in the ECDSA signature")
        values.append(int.from_bytes(content, "big"))
    return values[0], values[1]


def read_signature(data: bytes) -> bytes:
    """The signature in a signature file: its bytes, or the bytes its base64 text encodes."""
    text = data.strip()
    if text and all(c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\r\n"
                    for c in text):
        try:
            return base64.b64decode(text, validate=False)
        except binascii.Error:
            pass
    return data


# -- the key ----------------------------------------------------------------------------------


def _find(module: Module, session: int, label: str, object_class: int) -> list[int]:
    module.find_objects_init(session, [(CKA.LABEL, label.encode()), (CKA.CLASS, object_class)])
    try:
        return module.find_objects(session, 2)
    finally:
        module.find_objects_final(session)


def load_verification_key(module: Module, session: int,
                          label: str = CODE_VERIFY_KEY) -> VerificationKey:
    """The public key (preferred) or certificate stored under ``label``."""
    for object_class, attr, source in ((CKO.PUBLIC_KEY, CKA.PUBLIC_KEY_INFO, "public key"),
                                       (CKO.CERTIFICATE, CKA.VALUE, "certificate")):
        for handle in _find(module, session, label, int(object_class)):
            (result,) = module.get_attribute_value(session, handle, [attr])
            if result.error != CKR.OK or not isinstance(result.value, bytes):
                continue
            spki = result.value
            if source == "certificate":
                spki = x509.certificate_summary(spki).public_key_info
            return VerificationKey(label, source, spki)  # type: ignore[arg-type]
    raise CodeSignError(f"the token has no public key or certificate labelled {label!r}")


def key_kind(crypto: CodeSignCrypto, public_key_info: bytes) -> str:
    """"ec", "rsa" or "ed25519": the family of a DER SubjectPublicKeyInfo."""
    try:
        return crypto.public_key_decode(public_key_info).kind
    except PKCS11Error:
        raise CodeSignError("the verification key is not a supported public key") from None


def default_algorithm(kind: str) -> Algorithm:
    """What a key of this family verifies by default: ECDSA or RSA with SHA-256."""
    if kind == "ec":
        return Algorithm.ECDSA_SHA256
    if kind == "rsa":
        return Algorithm.RSA_SHA256
    raise CodeSignError(f"{kind} keys are not used for code signing (EC or RSA only)")


# -- verification -----------------------------------------------------------------------------


class SignatureVerification:
    """A streaming check: feed the image with ``update``, then ``final`` with key and
    signature (CRYPTO_SignatureVerificationStart / Update / Final)."""

    def __init__(self, crypto: CodeSignCrypto, algorithm: Algorithm) -> None:
        self.crypto = crypto
        self.algorithm = algorithm
        self._hash = crypto.hash_new(algorithm.hash_name)

    def update(self, data: bytes) -> None:
        """Hash the next part of the image."""
        self._hash.update(data)

    def final(self, public_key_info: bytes, signature: bytes) -> None:
        """Check ``signature`` over everything fed so far; raises unless it verifies."""
        digest = self._hash.finalize()
        decoded = self.crypto.public_key_decode(public_key_info)
        if decoded.kind != self.algorithm.key_kind:
            raise CodeSignError(f"the algorithm {self.algorithm.value} does not fit the "
                                f"{decoded.kind.upper()} verification key")
        try:
            if decoded.kind == "ec":
                try:
                    r, s = ecdsa_from_der(signature)
                except AttributeValueInvalid:
                    raise CodeSignError("the signature is not a DER-encoded ECDSA signature "
                                        "(SEQUENCE of r and s)") from None
                self.crypto.ecdsa_verify_hash(decoded.key, r, s, digest)
            elif decoded.kind == "rsa":
                self.crypto.rsa_verify_pkcs1v15(decoded.key, signature,
                                                self.algorithm.hash_name, digest)
            else:  # key_kind is "ec" or "rsa": checked above
                raise CodeSignError(f"{decoded.kind} keys are not used for code signing")
        except SignatureInvalid:
            raise SignatureMismatch(
                f"signature does not match ({self.algorithm.value}): the image was modified "
                "or signed with another key") from None


def chunks(path: Path, size: int = CHUNK_SIZE) -> Iterable[bytes]:
    """The bytes of a file, ``size`` at a time."""
    with path.open("rb") as stream:
        while chunk := stream.read(size):
            yield chunk


def verify_file(crypto: CodeSignCrypto, path: Path, signature: bytes, key: VerificationKey,
                algorithm: Algorithm | None = None) -> Algorithm:
    """Check the signature of the image at ``path`` (streamed); returns the algorithm used.

    Raises SignatureMismatch or CodeSignError; ``algorithm`` defaults by the key's family.
    """
    algorithm = algorithm or default_algorithm(key_kind(crypto, key.public_key_info))
    if key_kind(crypto, key.public_key_info) != algorithm.key_kind:
        raise CodeSignError(f"the algorithm {algorithm.value} does not fit the "
                            f"{key_kind(crypto, key.public_key_info).upper()} key "
                            f"{key.label!r}")
    check = SignatureVerification(crypto, algorithm)
    for chunk in chunks(path):
        check.update(chunk)
    check.final(key.public_key_info, signature)
    return algorithm


# -- signing (test images) --------------------------------------------------------------------


def sign_file(module: Module, session: int, key: int, path: Path,
              algorithm: Algorithm | None = None) -> tuple[bytes, Algorithm]:
    """Sign the image at ``path`` with the token's private key ``key``, streaming it through
    C_SignUpdate; returns (signature, algorithm). ECDSA signatures come out as DER."""
    (key_type,) = module.get_attribute_value(session, key, [CKA.KEY_TYPE])
    kind = {int(CKK.EC): "ec", int(CKK.RSA): "rsa"}.get(
        key_type.value if isinstance(key_type.value, int) else -1, "other")
    algorithm = algorithm or default_algorithm(kind)
    if kind != algorithm.key_kind:
        raise CodeSignError(f"the algorithm {algorithm.value} does not fit the signing key")
    module.sign_init(session, Mechanism(algorithm.mechanism), key)
    try:
        for chunk in chunks(path):
            module.sign_update(session, chunk)
    except BaseException:
        module.end_operation(session, "sign")
        raise
    signature = module.sign_final(session)
    if kind == "ec":
        half = len(signature) // 2
        signature = ecdsa_der(int.from_bytes(signature[:half], "big"),
                              int.from_bytes(signature[half:], "big"))
    return signature, algorithm
