"""Test bodies shared by Full_PKCS11_RSA and Full_PKCS11_EC: the device credentials under the
configured labels, from provisioning to destruction, and the rules that rule tests out."""

from __future__ import annotations

import ctypes
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tokenport.ck import CKA, CKK, CKM, CKO, CKR
from tokenport.qualify.assertions import expect_equal, expect_ok, expect_rv, expect_true, fail
from tokenport.qualify.config import Config
from tokenport.qualify.context import (
    EC,
    RSA,
    THREAD_LOOPS,
    Context,
    run_threads,
    verify_ecdsa_raw,
    verify_rsa_pkcs1,
)
from tokenport.qualify.credentials import P256_OID_DER, SHA256_DIGEST_INFO_PREFIX, PublicKey
from tokenport.qualify.p11 import CK_ULONG, UNAVAILABLE
from tokenport.qualify.provision import DeviceObjects, find_device, public_key_of, same_public_key
from tokenport.qualify.templates import certificate_template, public_key_template

MISSING_LABEL = "qualify: no object has this label"
MESSAGE = b"tokenport qualification: the message the device signs"
SENSITIVE_FILL = 0xA5
#: the attribute of each family that must never leave the token
SECRET_ATTRIBUTE = {RSA: CKA.PRIVATE_EXPONENT, EC: CKA.VALUE}
SECRET_BUFFER = {RSA: 257, EC: 32}
SIGNATURE_LENGTH = {RSA: 256, EC: 64}
SIGN_MECHANISM = {RSA: CKM.RSA_PKCS, EC: CKM.ECDSA}
KEY_TYPE = {RSA: CKK.RSA, EC: CKK.EC}


# -- rules ------------------------------------------------------------------------------------


def needs_generation(config: Config) -> str | None:
    if config.preprovisioned:
        return "preProvisioned is Yes: keys are not generated"
    if not config.key_generate:
        return f"KeyProvisioning is {config.key_provisioning}: no on-board key generation"
    return None


def needs_import(config: Config) -> str | None:
    if config.preprovisioned:
        return "preProvisioned is Yes: credentials are not imported"
    if not config.key_import:
        return f"KeyProvisioning is {config.key_provisioning}: private keys are not imported"
    return None


def needs_jitp(config: Config) -> str | None:
    if not config.jitp_codeverify_root_cert:
        return "pkcs11JITPCodeVerifyRootCertSupport is No"
    if config.preprovisioned:
        return "preProvisioned is Yes: the suite creates no objects"
    return None


def not_preprovisioned(config: Config) -> str | None:
    if config.preprovisioned:
        return "preProvisioned is Yes: the provisioned credentials are never destroyed"
    return None


# -- signing helpers --------------------------------------------------------------------------


def to_be_signed(family: str, message: bytes = MESSAGE) -> bytes:
    """What CKM_RSA_PKCS / CKM_ECDSA sign: a SHA-256 DigestInfo, or the bare SHA-256 hash."""
    digest = hashlib.sha256(message).digest()
    return SHA256_DIGEST_INFO_PREFIX + digest if family == RSA else digest


def sign_on_token(ctx: Context, family: str, key: int, session: int | None = None,
                  message: bytes = MESSAGE) -> bytes:
    session = ctx.session if session is None else session
    expected = SIGNATURE_LENGTH[family]
    expect_ok(ctx.client.sign_init(session, SIGN_MECHANISM[family], key),
              f"C_SignInit(CKM_{SIGN_MECHANISM[family].name})")
    result = ctx.client.sign(session, to_be_signed(family, message), expected)
    expect_ok(result.rv, "C_Sign")
    expect_equal(result.length, expected, "*pulSignatureLen")
    return result.data


def verify_off_token(family: str, public: PublicKey, signature: bytes, what: str,
                     message: bytes = MESSAGE) -> None:
    if family == RSA:
        verify_rsa_pkcs1(public, signature, message, hashes.SHA256(), what)
    else:
        verify_ecdsa_raw(public, signature, hashlib.sha256(message).digest(), what)


# -- checks -----------------------------------------------------------------------------------


def expect_sensitive(ctx: Context, family: str, private: int, session: int | None = None) -> None:
    """The private component: CKR_ATTRIBUTE_SENSITIVE, the length CK_UNAVAILABLE_INFORMATION,
    and not one byte written to the buffer."""
    kind = SECRET_ATTRIBUTE[family]
    size = SECRET_BUFFER[family]
    rv, (result,) = ctx.client.get_attribute_value(
        ctx.session if session is None else session, private, [(kind, size)], fill=SENSITIVE_FILL)
    expect_rv(rv, CKR.ATTRIBUTE_SENSITIVE, f"C_GetAttributeValue(CKA_{kind.name}) of the private key")
    expect_equal(result.length, UNAVAILABLE,
                 f"ulValueLen of CKA_{kind.name} (CK_UNAVAILABLE_INFORMATION)")
    expect_equal(result.buffer, bytes([SENSITIVE_FILL]) * size,
                 f"the CKA_{kind.name} buffer after CKR_ATTRIBUTE_SENSITIVE (untouched)")


def expect_class_and_type(ctx: Context, family: str, handle: int, cls: int) -> None:
    """CKA_CLASS read by length query then value, and CKA_KEY_TYPE."""
    rv, (query,) = ctx.client.get_attribute_value(ctx.session, handle, [(CKA.CLASS, None)])
    expect_ok(rv, "C_GetAttributeValue(CKA_CLASS, pValue NULL)")
    expect_equal(query.length, ctypes.sizeof(CK_ULONG),
                 "ulValueLen of CKA_CLASS (sizeof(CK_OBJECT_CLASS))")
    expect_equal(ctx.get_ulong(handle, CKA.CLASS), int(cls), f"CKA_CLASS ({CKO(cls).name})")
    expect_equal(ctx.get_ulong(handle, CKA.KEY_TYPE), int(KEY_TYPE[family]),
                 f"CKA_KEY_TYPE ({KEY_TYPE[family].name})")


def expect_certificate(ctx: Context, family: str, objects: DeviceObjects,
                       session: int | None = None) -> bytes:
    """The device certificate: the bytes the suite stored (or, pre-provisioned, any X.509
    certificate), for the public key stored next to it."""
    session = ctx.session if session is None else session
    stored = ctx.family(family).certificate_der
    rv, (query,) = ctx.client.get_attribute_value(session, objects.certificate, [(CKA.VALUE, None)])
    expect_ok(rv, "C_GetAttributeValue(CKA_VALUE, pValue NULL) of the certificate")
    if stored is not None:
        expect_equal(query.length, len(stored), "the length of the certificate's CKA_VALUE")
    value = ctx.get(objects.certificate, CKA.VALUE, session)
    if stored is not None:
        expect_equal(value, stored, "the certificate's CKA_VALUE (the DER the suite stored)")
    try:
        certificate = x509.load_der_x509_certificate(value)
    except ValueError as exc:
        raise fail(f"the certificate's CKA_VALUE is not a DER X.509 certificate: {exc}") from None
    public = public_key_of(ctx, family, objects.public_key, session)
    cert_key = certificate.public_key()
    if not isinstance(cert_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey) or not same_public_key(
        public, cert_key
    ):
        raise fail("the device certificate is not for the device public key")
    return value


# -- test bodies ------------------------------------------------------------------------------


def generate_key_pair_checks(ctx: Context, family: str, objects: DeviceObjects) -> None:
    expect_class_and_type(ctx, family, objects.private_key, CKO.PRIVATE_KEY)
    expect_class_and_type(ctx, family, objects.public_key, CKO.PUBLIC_KEY)
    expect_sensitive(ctx, family, objects.private_key)
    public = public_key_of(ctx, family, objects.public_key)
    if family == EC:
        expect_equal(ctx.get(objects.private_key, CKA.EC_PARAMS), P256_OID_DER,
                     "CKA_EC_PARAMS of the private key (P-256)")
        expect_equal(ctx.get(objects.public_key, CKA.EC_PARAMS), P256_OID_DER,
                     "CKA_EC_PARAMS of the public key (P-256)")
        expect_equal(len(ctx.get(objects.public_key, CKA.EC_POINT)), 67,
                     "length of CKA_EC_POINT (DER OCTET STRING of the uncompressed point)")
    else:
        modulus = ctx.get(objects.public_key, CKA.MODULUS)
        expect_equal(int.from_bytes(modulus, "big").bit_length(), 2048, "bits of CKA_MODULUS")
        expect_equal(int.from_bytes(ctx.get(objects.public_key, CKA.PUBLIC_EXPONENT), "big"),
                     65537, "CKA_PUBLIC_EXPONENT")
        expect_equal(ctx.get(objects.private_key, CKA.MODULUS), modulus,
                     "CKA_MODULUS of the private key equals the public key's")
    signature = sign_on_token(ctx, family, objects.private_key)
    verify_off_token(family, public, signature, "a signature of the generated key")


def jitp_code_verify_root(ctx: Context, family: str) -> None:
    """Root certificate, JITP certificate and code-verification key: create, find, read back,
    destroy, and gone."""
    labels = ctx.config.labels
    creds = ctx.credentials
    signer = creds.rsa_code_verify if family == RSA else creds.ec_code_verify
    verify_key = signer.public_key()
    items = (
        (labels.root_certificate, CKO.CERTIFICATE,
         certificate_template(creds.root.certificate, labels.root_certificate), creds.root.certificate_der),
        (labels.jitp_certificate, CKO.CERTIFICATE,
         certificate_template(creds.jitp.certificate, labels.jitp_certificate), creds.jitp.certificate_der),
        (labels.code_verify_key, CKO.PUBLIC_KEY,
         public_key_template(verify_key, labels.code_verify_key), None),
    )
    for label, cls, _, _ in items:
        ctx.remove_labelled(label, cls)
    created = []
    for label, cls, template, _ in items:
        handle = ctx.create(template, f"{CKO(cls).name} labelled {label!r}")
        created.append(handle)
    for (label, cls, _, der), handle in zip(items, created, strict=True):
        expect_equal(ctx.find_one(label, cls), handle, f"the handle found for {label!r}")
        if der is not None:
            expect_equal(ctx.get(handle, CKA.VALUE), der, f"CKA_VALUE of {label!r}")
        else:
            key = public_key_of(ctx, family, handle)
            expect_true(same_public_key(key, verify_key), f"the key stored as {label!r}")
    for (label, cls, _, _), handle in zip(items, created, strict=True):
        expect_ok(ctx.client.destroy_object(ctx.session, handle), f"C_DestroyObject({label!r})")
        expect_equal(ctx.find_labelled(label, cls), [], f"objects labelled {label!r} after C_DestroyObject")


def find_object(ctx: Context, family: str) -> None:
    objects = find_device(ctx, family)
    expect_true(len({objects.private_key, objects.public_key, objects.certificate}) == 3,
                "the private key, public key and certificate have distinct handles")
    client, session = ctx.client, ctx.session
    expect_ok(client.find_objects_init(session, [(CKA.LABEL, MISSING_LABEL), (CKA.CLASS, CKO.PRIVATE_KEY)]),
              "C_FindObjectsInit for a label nothing has")
    rv, found = client.find_objects(session, 1)
    expect_ok(rv, "C_FindObjects for a label nothing has")
    expect_equal(found, [], "objects found for a label nothing has")
    expect_ok(client.find_objects_final(session), "C_FindObjectsFinal")


def get_attribute_value(ctx: Context, family: str) -> None:
    objects = find_device(ctx, family)
    expect_certificate(ctx, family, objects)
    expect_sensitive(ctx, family, objects.private_key)
    state = ctx.family(family)
    if state.private_key is not None:
        stored = public_key_of(ctx, family, objects.public_key)
        expect_true(same_public_key(stored, state.private_key.public_key()),
                    "the public key on the token is the imported one")


def sign(ctx: Context, family: str) -> None:
    objects = find_device(ctx, family)
    client, session = ctx.client, ctx.session
    mechanism = SIGN_MECHANISM[family]
    expected = SIGNATURE_LENGTH[family]
    data = to_be_signed(family)
    expect_ok(client.sign_init(session, mechanism, objects.private_key), f"C_SignInit(CKM_{mechanism.name})")
    query = client.sign(session, data, None)
    expect_ok(query.rv, "C_Sign(pSignature NULL)")
    expect_equal(query.length, expected, "the signature length C_Sign reports")
    short = client.sign(session, data, expected - 1)
    expect_rv(short.rv, CKR.BUFFER_TOO_SMALL, f"C_Sign into {expected - 1} bytes")
    expect_equal(short.length, expected, "*pulSignatureLen after CKR_BUFFER_TOO_SMALL")
    result = client.sign(session, data, expected)
    expect_ok(result.rv, "C_Sign after the length query (the operation goes on)")
    expect_equal(result.length, expected, "*pulSignatureLen")
    public = public_key_of(ctx, family, objects.public_key)
    verify_off_token(family, public, result.data, f"the {family} signature of the token")
    expect_rv(client.sign(session, data, expected).rv, CKR.OPERATION_NOT_INITIALIZED,
              "C_Sign after the signature was returned")
    if family == RSA:  # PKCS #1 v1.5 is deterministic: the same input, the same signature
        again = sign_on_token(ctx, family, objects.private_key)
        expect_equal(again, result.data, "a second CKM_RSA_PKCS signature of the same input")


def find_object_multi_thread(ctx: Context, family: str) -> None:
    expected = find_device(ctx, family)

    def worker(_index: int) -> None:
        session = ctx.open_session()
        try:
            for _ in range(THREAD_LOOPS):
                found = find_device(ctx, family, session)
                expect_equal(found, expected, "the handles found in another session")
        finally:
            ctx.client.close_session(session)

    run_threads(worker)


def get_attribute_value_multi_thread(ctx: Context, family: str) -> None:
    objects = find_device(ctx, family)
    certificate = ctx.get(objects.certificate, CKA.VALUE)

    def worker(_index: int) -> None:
        session = ctx.open_session()
        try:
            for _ in range(THREAD_LOOPS):
                value = ctx.get(objects.certificate, CKA.VALUE, session)
                expect_equal(value, certificate, "the certificate's CKA_VALUE")
                expect_sensitive(ctx, family, objects.private_key, session)
                if family == EC:
                    params = ctx.get(objects.private_key, CKA.EC_PARAMS, session)
                    expect_equal(params, P256_OID_DER, "CKA_EC_PARAMS of the private key")
                else:
                    ctx.get(objects.private_key, CKA.MODULUS, session)
        finally:
            ctx.client.close_session(session)

    run_threads(worker)


def destroy_object(ctx: Context, family: str) -> None:
    objects = find_device(ctx, family)
    labels = ctx.config.labels
    for handle, what in ((objects.private_key, "private key"), (objects.public_key, "public key"),
                         (objects.certificate, "certificate")):
        expect_ok(ctx.client.destroy_object(ctx.session, handle), f"C_DestroyObject(device {what})")
    for label, cls in ((labels.device_private_key, CKO.PRIVATE_KEY),
                       (labels.device_public_key, CKO.PUBLIC_KEY),
                       (labels.device_certificate, CKO.CERTIFICATE)):
        expect_equal(ctx.find_labelled(label, cls), [], f"{CKO(cls).name} labelled {label!r} after C_DestroyObject")
    state = ctx.family(family)
    state.source, state.private_key, state.certificate_der = "none", None, None
