"""Putting the device credentials on the token (import or on-board generation) and finding
them again: the porting guide's provisioning, done through the C ABI."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from tokenport.ck import CKA, CKK, CKM, CKO
from tokenport.qualify.assertions import expect_equal, expect_ok, fail
from tokenport.qualify.context import EC, RSA, Context
from tokenport.qualify.credentials import PublicKey
from tokenport.qualify.templates import (
    certificate_template,
    ec_generation_templates,
    ec_public_key_from_point,
    private_key_template,
    public_key_template,
    rsa_generation_templates,
    rsa_public_key_from,
)

KEY_TYPES = {RSA: CKK.RSA, EC: CKK.EC}


@dataclass(frozen=True)
class DeviceObjects:
    private_key: int
    public_key: int
    certificate: int


def clear_device_objects(ctx: Context) -> None:
    """Destroy the credentials an earlier test of this run stored under the device labels (the
    run starts on a token without objects under its labels, and destroys nothing else)."""
    labels = ctx.config.labels
    ctx.remove_labelled(labels.device_private_key, CKO.PRIVATE_KEY)
    ctx.remove_labelled(labels.device_public_key, CKO.PUBLIC_KEY)
    ctx.remove_labelled(labels.device_certificate, CKO.CERTIFICATE)


def import_device(ctx: Context, family: str) -> DeviceObjects:
    """Import the run's key pair and certificate of ``family`` under the device labels."""
    labels = ctx.config.labels
    creds = ctx.credentials.rsa_device if family == RSA else ctx.credentials.ec_device
    clear_device_objects(ctx)
    public = ctx.create(public_key_template(creds.public_key, labels.device_public_key),
                        f"{family} public key")
    private = ctx.create(private_key_template(creds.key, labels.device_private_key),
                         f"{family} private key")
    certificate = ctx.create(certificate_template(creds.certificate, labels.device_certificate),
                             f"{family} certificate")
    state = ctx.family(family)
    state.source, state.private_key, state.certificate_der = "imported", creds.key, creds.certificate_der
    return DeviceObjects(private, public, certificate)


def generate_device(ctx: Context, family: str) -> DeviceObjects:
    """Generate the device key pair of ``family`` on the token, then store a certificate
    (issued off the token by the run's root CA) for its public key."""
    labels = ctx.config.labels
    clear_device_objects(ctx)
    if family == EC:
        mechanism = CKM.EC_KEY_PAIR_GEN
        public_template, private_template = ec_generation_templates(
            labels.device_public_key, labels.device_private_key)
    else:
        mechanism = CKM.RSA_PKCS_KEY_PAIR_GEN
        public_template, private_template = rsa_generation_templates(
            labels.device_public_key, labels.device_private_key)
    rv, public, private = ctx.generate_key_pair(ctx.session, mechanism, public_template, private_template)
    expect_ok(rv, f"C_GenerateKeyPair({CKM(mechanism).name})")
    if not public or not private or public == private:
        raise fail(f"C_GenerateKeyPair returned the handles {public} and {private}")
    key = public_key_of(ctx, family, public)
    certificate = ctx.credentials.issue(f"Qualification {family} on-board key", key)
    der = certificate.public_bytes(Encoding.DER)
    handle = ctx.create(certificate_template(certificate, labels.device_certificate),
                        f"certificate of the generated {family} key")
    state = ctx.family(family)
    state.source, state.private_key, state.certificate_der = "generated", None, der
    return DeviceObjects(private, public, handle)


def find_device(ctx: Context, family: str, session: int | None = None) -> DeviceObjects:
    """The device credentials under the labels: exactly one of each, of the family's key type."""
    labels = ctx.config.labels
    private = ctx.find_one(labels.device_private_key, CKO.PRIVATE_KEY, session)
    public = ctx.find_one(labels.device_public_key, CKO.PUBLIC_KEY, session)
    certificate = ctx.find_one(labels.device_certificate, CKO.CERTIFICATE, session)
    for handle, what in ((private, "private key"), (public, "public key")):
        key_type = ctx.get_ulong(handle, CKA.KEY_TYPE, session)
        expect_equal(key_type, int(KEY_TYPES[family]), f"CKA_KEY_TYPE of the device {what}")
    return DeviceObjects(private, public, certificate)


def have_device(ctx: Context, family: str) -> DeviceObjects:
    """Device credentials for a test that only uses them: the pre-provisioned ones, else
    imported (or generated when import is not supported), destroyed after the test."""
    if ctx.config.preprovisioned:
        return find_device(ctx, family)
    objects = import_device(ctx, family) if ctx.config.key_import else generate_device(ctx, family)
    # By label, not by handle: a module may give private objects new handles after a
    # logout and login (the handles of private objects end with the login).
    ctx.defer(lambda: clear_device_objects(ctx))
    return objects


def public_key_of(ctx: Context, family: str, handle: int, session: int | None = None) -> PublicKey:
    """The public key stored on the token (read back and parsed off the token)."""
    try:
        if family == EC:
            point = ctx.get(handle, CKA.EC_POINT, session)
            return ec_public_key_from_point(point)
        modulus = ctx.get(handle, CKA.MODULUS, session)
        exponent = ctx.get(handle, CKA.PUBLIC_EXPONENT, session)
        return rsa_public_key_from(modulus, exponent)
    except ValueError as exc:
        raise fail(f"the {family} public key on the token does not parse: {exc}") from None


def same_public_key(a: PublicKey, b: PublicKey) -> bool:
    if isinstance(a, rsa.RSAPublicKey) and isinstance(b, rsa.RSAPublicKey):
        return a.public_numbers() == b.public_numbers()
    if isinstance(a, ec.EllipticCurvePublicKey) and isinstance(b, ec.EllipticCurvePublicKey):
        return a.public_numbers() == b.public_numbers()
    return False


def device_family(ctx: Context) -> str:
    """The key family the family-neutral tests use: EC when configured, else RSA."""
    return EC if ctx.config.ec else RSA
