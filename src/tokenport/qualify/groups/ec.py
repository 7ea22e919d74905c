"""Full_PKCS11_EC: a P-256 device key pair (generated on the token and imported) and
certificate under the configured labels; ECDSA signatures are raw r||s (64 bytes)."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils

from tokenport.ck import CKA, CKM, CKO, CKR
from tokenport.qualify.assertions import expect_equal, expect_ok, expect_rv
from tokenport.qualify.config import Config
from tokenport.qualify.context import EC, THREAD_LOOPS, Context, flip_bit, run_threads
from tokenport.qualify.credentials import P256_OID_DER
from tokenport.qualify.groups import device
from tokenport.qualify.provision import find_device, generate_device, import_device
from tokenport.qualify.runner import Group, Test
from tokenport.qualify.templates import ec_point

EC_POINT_LENGTH = 67


def ec_configured(config: Config) -> str | None:
    return None if config.ec else f"PKCS11 is {config.pkcs11}: the port has no EC keys"


def generate_key_pair(ctx: Context) -> None:
    objects = generate_device(ctx, EC)
    device.generate_key_pair_checks(ctx, EC, objects)


def create_object(ctx: Context) -> None:
    import_device(ctx, EC)


def jitp_code_verify_root_cert(ctx: Context) -> None:
    device.jitp_code_verify_root(ctx, EC)


def find_object(ctx: Context) -> None:
    device.find_object(ctx, EC)


def _expect_length_then_value(ctx: Context, handle: int, kind: CKA, length: int, what: str) -> bytes:
    rv, (query,) = ctx.client.get_attribute_value(ctx.session, handle, [(kind, None)])
    expect_ok(rv, f"C_GetAttributeValue(CKA_{kind.name}, pValue NULL) of the {what}")
    expect_equal(query.length, length, f"ulValueLen of CKA_{kind.name} of the {what}")
    rv, (result,) = ctx.client.get_attribute_value(ctx.session, handle, [(kind, length)])
    expect_ok(rv, f"C_GetAttributeValue(CKA_{kind.name}) of the {what}")
    assert result.value is not None
    return result.value


def get_attribute_value(ctx: Context) -> None:
    objects = find_device(ctx, EC)
    device.expect_class_and_type(ctx, EC, objects.private_key, CKO.PRIVATE_KEY)
    params = _expect_length_then_value(ctx, objects.private_key, CKA.EC_PARAMS, len(P256_OID_DER),
                                       "private key")
    expect_equal(params, P256_OID_DER, "CKA_EC_PARAMS of the private key (P-256)")
    device.expect_class_and_type(ctx, EC, objects.public_key, CKO.PUBLIC_KEY)
    params = _expect_length_then_value(ctx, objects.public_key, CKA.EC_PARAMS, len(P256_OID_DER),
                                       "public key")
    expect_equal(params, P256_OID_DER, "CKA_EC_PARAMS of the public key (P-256)")
    point = _expect_length_then_value(ctx, objects.public_key, CKA.EC_POINT, EC_POINT_LENGTH,
                                      "public key")
    known = ctx.family(EC).private_key
    if isinstance(known, ec.EllipticCurvePrivateKey):
        expect_equal(point, ec_point(known.public_key()), "CKA_EC_POINT of the imported public key")
    expect_equal(ctx.get_ulong(objects.certificate, CKA.CLASS), int(CKO.CERTIFICATE),
                 "CKA_CLASS of the certificate")
    device.expect_certificate(ctx, EC, objects)
    device.expect_sensitive(ctx, EC, objects.private_key)


def sign(ctx: Context) -> None:
    device.sign(ctx, EC)


def verify(ctx: Context) -> None:
    objects = find_device(ctx, EC)
    client, session = ctx.client, ctx.session
    digest = device.to_be_signed(EC)
    signature = device.sign_on_token(ctx, EC, objects.private_key)
    expect_ok(client.verify_init(session, CKM.ECDSA, objects.public_key), "C_VerifyInit(CKM_ECDSA)")
    expect_ok(client.verify(session, digest, signature), "C_Verify of the token's signature")
    expect_rv(client.verify_all(session, CKM.ECDSA, objects.public_key, digest, flip_bit(signature, 17)),
              CKR.SIGNATURE_INVALID, "C_Verify of the token's signature with one bit flipped")
    expect_rv(client.verify_all(session, CKM.ECDSA, objects.public_key, flip_bit(digest, 3), signature),
              CKR.SIGNATURE_INVALID, "C_Verify of the token's signature over other data")
    known = ctx.family(EC).private_key
    if not isinstance(known, ec.EllipticCurvePrivateKey):
        ctx.note(f"PKCS11_EC_Verify: no off-token signature checked (the key is "
                 f"{ctx.family(EC).source}, not imported).")
        return
    der = known.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    r, s = utils.decode_dss_signature(der)
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    expect_ok(client.verify_all(session, CKM.ECDSA, objects.public_key, digest, raw),
              "C_Verify of a signature made off the token (DER converted to r||s)")
    expect_rv(client.verify_all(session, CKM.ECDSA, objects.public_key, digest, flip_bit(raw, 40, 5)),
              CKR.SIGNATURE_INVALID, "C_Verify of the off-token signature with one bit flipped")


def find_object_multi_thread(ctx: Context) -> None:
    device.find_object_multi_thread(ctx, EC)


def get_attribute_value_multi_thread(ctx: Context) -> None:
    device.get_attribute_value_multi_thread(ctx, EC)


def sign_verify_multi_thread(ctx: Context) -> None:
    objects = find_device(ctx, EC)

    def worker(index: int) -> None:
        session = ctx.open_session()
        try:
            for loop in range(THREAD_LOOPS):
                message = f"thread {index} loop {loop}".encode()
                digest = device.to_be_signed(EC, message)
                signature = device.sign_on_token(ctx, EC, objects.private_key, session, message)
                expect_ok(ctx.client.verify_init(session, CKM.ECDSA, objects.public_key),
                          "C_VerifyInit(CKM_ECDSA)")
                expect_ok(ctx.client.verify(session, digest, signature), "C_Verify")
        finally:
            ctx.client.close_session(session)

    run_threads(worker)


def destroy_object(ctx: Context) -> None:
    device.destroy_object(ctx, EC)


GROUP = Group(
    "Full_PKCS11_EC",
    (
        Test("PKCS11_EC_GenerateKeyPair", generate_key_pair, device.needs_generation),
        Test("PKCS11_EC_CreateObject", create_object, device.needs_import),
        Test("PKCS11_EC_JITPCodeVerifyRootCert", jitp_code_verify_root_cert, device.needs_jitp),
        Test("PKCS11_EC_FindObject", find_object),
        Test("PKCS11_EC_GetAttributeValue", get_attribute_value),
        Test("PKCS11_EC_Sign", sign),
        Test("PKCS11_EC_Verify", verify),
        Test("PKCS11_EC_FindObjectMultiThread", find_object_multi_thread),
        Test("PKCS11_EC_GetAttributeValueMultiThread", get_attribute_value_multi_thread),
        Test("PKCS11_EC_SignVerifyMultiThread", sign_verify_multi_thread),
        Test("PKCS11_EC_DestroyObject", destroy_object, device.not_preprovisioned),
    ),
    setup=Context.start,
    teardown=Context.stop,
    rule=ec_configured,
)
