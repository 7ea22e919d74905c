"""Full_PKCS11_Robustness: invalid parameters for every function the suite uses, the login
rules, sign-then-verify with the wrong public key, and HMAC / CMAC known answers.

Each check asserts the return code the specification gives for the case. Where the
specification lets a module choose between codes, the check accepts each of them and says
why next to it (``expect_rv_in``). Checks that may leave an operation active use a session of
their own, so a module that keeps or ends the operation after an argument error cannot
change the outcome of the next check.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tokenport.ck import CKA, CKF, CKK, CKM, CKO, CKR, CKU
from tokenport.qualify.assertions import (
    expect_equal,
    expect_ok,
    expect_rv,
    expect_rv_in,
    ignore,
)
from tokenport.qualify.config import Config
from tokenport.qualify.context import EC, RO_SESSION, RSA, Context, flip_bit
from tokenport.qualify.groups import device
from tokenport.qualify.groups.no_object import NIST_MESSAGE, NIST_SHA256
from tokenport.qualify.p11 import (
    CK_C_INITIALIZE_ARGS,
    CK_ULONG,
    UNAVAILABLE,
    byte_buffer,
    mechanism_struct,
    template_array,
)
from tokenport.qualify.provision import device_family, have_device
from tokenport.qualify.runner import Group, Test
from tokenport.qualify.templates import (
    ec_generation_templates,
    private_key_template,
    public_key_template,
    rsa_generation_templates,
)

#: an attribute type the specification does not define (below the vendor range)
UNDEFINED_ATTRIBUTE = 0x7FFF0001
UNDEFINED_MECHANISM = 0x253
#: a handle is never 0 (CK_INVALID_HANDLE)
INVALID = 0
#: C_SignInit / C_VerifyInit with a handle that names no object. The function's list of
#: return values names CKR_KEY_HANDLE_INVALID; CKR_OBJECT_HANDLE_INVALID ("the specified object
#: handle is not valid") describes the same fact, and s5.1 lets a module return any of the
#: codes that apply. SoftHSMv2 returns CKR_OBJECT_HANDLE_INVALID, tokenport the former.
NO_SUCH_KEY = (CKR.KEY_HANDLE_INVALID, CKR.OBJECT_HANDLE_INVALID)
#: a key of the wrong class for the operation (sign with a public key, verify with a private
#: key, either with a certificate). CKR_KEY_TYPE_INCONSISTENT ("not the correct type of key to
#: use with the mechanism") and CKR_KEY_FUNCTION_NOT_PERMITTED (whose definition gives "a
#: private key cannot encrypt" as its example) both describe it; SoftHSMv2 returns the latter.
WRONG_CLASS = (CKR.KEY_TYPE_INCONSISTENT, CKR.KEY_FUNCTION_NOT_PERMITTED)
#: a signature of the wrong length: CKR_SIGNATURE_LEN_RANGE ("invalid solely on the basis of
#: its length") or CKR_SIGNATURE_INVALID both apply.
WRONG_LENGTH = (CKR.SIGNATURE_LEN_RANGE, CKR.SIGNATURE_INVALID)

HMAC_LABEL = "HMAC Key"
CMAC_LABEL = "CMAC Key"
#: RFC 4231 test cases 6 and 7 (a 131-byte key, as every HMAC key size range allows)
HMAC_KEY = bytes([0xAA]) * 131
HMAC_VECTORS = (
    (b"Test Using Larger Than Block-Size Key - Hash Key First",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
    ((b"This is a test using a larger than block-size key and a larger than block-size data. "
     b"The key needs to be hashed before being used by the HMAC algorithm."),
     "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
)
#: NIST SP 800-38B appendix D examples 2 and 3 (AES-128) and 10 (AES-256)
CMAC_VECTORS = (
    ("2b7e151628aed2a6abf7158809cf4f3c", "6bc1bee22e409f96e93d7e117393172a",
     "070a16b46b4d4144f79bdd9dd04a287c"),
    ("2b7e151628aed2a6abf7158809cf4f3c",
     "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411",
     "dfa66747de9ae63030ca32611497c827"),
    ("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
     "6bc1bee22e409f96e93d7e117393172a", "28a7023f452e8f82bd4bf28d8c37c35c"),
)


# -- rules and helpers ------------------------------------------------------------------------


def creates_objects(config: Config) -> str | None:
    if config.preprovisioned:
        return "preProvisioned is Yes: the token is not asked to create objects"
    return None


def generates_keys(config: Config) -> str | None:
    return device.needs_generation(config)


def wrong_key(family: str) -> Callable[[Config], str | None]:
    def rule(config: Config) -> str | None:
        if not (config.rsa if family == RSA else config.ec):
            return f"PKCS11 is {config.pkcs11}: the port has no {family} keys"
        return creates_objects(config)

    return rule


@contextmanager
def own_session(ctx: Context, flags: int | None = None) -> Iterator[int]:
    """A session for one check, closed afterwards (whatever the check left active in it)."""
    session = ctx.open_session() if flags is None else ctx.open_session(flags)
    try:
        yield session
    finally:
        ctx.client.close_session(session)


def _ulong_out() -> tuple[CK_ULONG, object]:
    cell = CK_ULONG(0)
    return cell, ctypes.byref(cell)


def _undo(ctx: Context, rv: int, handle: int) -> None:
    """A call that should have failed created an object: destroy it after the test."""
    if rv == CKR.OK and handle:
        ctx.destroy_later(handle)


def _sign_mechanism(family: str) -> CKM:
    return device.SIGN_MECHANISM[family]


def _restart(ctx: Context) -> None:
    """After a test finalized the library: initialize, session, login (for the teardown)."""
    ctx.start()


# -- general purpose, slots, sessions ---------------------------------------------------------


def not_initialized(ctx: Context) -> None:
    client, slot, session = ctx.client, ctx.slot, ctx.session
    expect_ok(client.finalize(), "C_Finalize")
    ctx.session = 0
    pub, priv = (ctx.mark(t) for t in ec_generation_templates("qualify", "qualify"))
    calls: list[tuple[str, Callable[[], int]]] = [
        ("C_GetInfo", lambda: client.get_info()[0]),
        ("C_GetSlotList", lambda: client.get_slot_list_raw(True, None)[0]),
        ("C_GetTokenInfo", lambda: client.get_token_info(slot)[0]),
        ("C_GetMechanismInfo", lambda: client.get_mechanism_info(slot, CKM.SHA256)[0]),
        ("C_OpenSession", lambda: client.open_session(slot)[0]),
        ("C_CloseSession", lambda: client.close_session(session)),
        ("C_Logout", lambda: client.logout(session)),
        ("C_CreateObject", lambda: client.create_object(session, [(CKA.CLASS, CKO.DATA)])[0]),
        # Handle 0: a module that wrongly ignores the missing C_Initialize destroys nothing.
        ("C_DestroyObject", lambda: client.destroy_object(session, INVALID)),
        ("C_GetAttributeValue", lambda: client.get_attribute_value(session, 1, [(CKA.CLASS, None)])[0]),
        ("C_FindObjectsInit", lambda: client.find_objects_init(session, [(CKA.CLASS, CKO.DATA)])),
        ("C_FindObjects", lambda: client.find_objects(session, 1)[0]),
        ("C_FindObjectsFinal", lambda: client.find_objects_final(session)),
        ("C_DigestInit", lambda: client.digest_init(session, CKM.SHA256)),
        ("C_Digest", lambda: client.digest(session, b"abc", 32).rv),
        ("C_DigestUpdate", lambda: client.digest_update(session, b"abc")),
        ("C_DigestFinal", lambda: client.digest_final(session, 32).rv),
        ("C_SignInit", lambda: client.sign_init(session, CKM.ECDSA, 1)),
        ("C_Sign", lambda: client.sign(session, bytes(32), 64).rv),
        ("C_VerifyInit", lambda: client.verify_init(session, CKM.ECDSA, 1)),
        ("C_Verify", lambda: client.verify(session, bytes(32), bytes(64))),
        ("C_GenerateKeyPair", lambda: client.generate_key_pair(session, CKM.EC_KEY_PAIR_GEN, pub, priv)[0]),
        ("C_GenerateRandom", lambda: client.generate_random(session, 16)[0]),
        ("C_Finalize", lambda: client.finalize()),
    ]
    if ctx.pin is not None:
        # Only with the PIN the run checked: a made-up PIN could count as a failed login.
        pin = ctx.pin
        calls.insert(6, ("C_Login", lambda: client.login(session, CKU.USER, pin)))
    for name, call in calls:
        expect_rv(call(), CKR.CRYPTOKI_NOT_INITIALIZED, f"{name} before C_Initialize")
    _restart(ctx)


def initialize_finalize_invalid_params(ctx: Context) -> None:
    client = ctx.client
    expect_ok(client.finalize(), "C_Finalize")
    ctx.session = 0
    reserved = CK_C_INITIALIZE_ARGS()
    reserved.flags = int(CKF.OS_LOCKING_OK)
    reserved.pReserved = 1
    rv = client.initialize_args(reserved)
    if rv == CKR.OK:
        client.finalize()
    expect_rv(rv, CKR.ARGUMENTS_BAD, "C_Initialize with pReserved not NULL")
    some = CK_C_INITIALIZE_ARGS()
    some.CreateMutex = ctypes.cast(_CREATE_MUTEX, ctypes.c_void_p).value
    rv = client.initialize_args(some)
    if rv == CKR.OK:
        client.finalize()
    expect_rv(rv, CKR.ARGUMENTS_BAD, "C_Initialize with CreateMutex but no other mutex function")
    expect_ok(client.initialize(os_locking=False), "C_Initialize(NULL)")
    expect_rv(client.finalize(1), CKR.ARGUMENTS_BAD, "C_Finalize with pReserved not NULL")
    expect_ok(client.finalize(), "C_Finalize(NULL)")
    _restart(ctx)


def _create_mutex(_mutex: int | None) -> int:  # pragma: no cover - a correct module never calls it
    return int(CKR.GENERAL_ERROR)


#: a real CreateMutex callback (a module that wrongly accepts the partial set may call it)
_CREATE_MUTEX = ctypes.CFUNCTYPE(ctypes.c_ulong, ctypes.c_void_p)(_create_mutex)


def _invalid_slot(ctx: Context) -> int:
    rv, every = ctx.client.get_slot_list(False)
    expect_ok(rv, "C_GetSlotList(CK_FALSE)")
    return next(s for s in (0x7FFF1234, 0x0BADC0DE, 4242, 77) if s not in every)


def slot_and_token_invalid_params(ctx: Context) -> None:
    client, slot = ctx.client, ctx.slot
    expect_rv(client.call("C_GetInfo", None), CKR.ARGUMENTS_BAD, "C_GetInfo(NULL)")
    rv, info = client.get_info()
    expect_ok(rv, "C_GetInfo")
    assert info is not None
    ctx.note(f"Cryptoki {info.cryptoki_version[0]}.{info.cryptoki_version[1]}, "
             f"{info.manufacturer} {info.description} "
             f"{info.library_version[0]}.{info.library_version[1]}")
    expect_rv(client.call("C_GetSlotList", 1, None, None), CKR.ARGUMENTS_BAD,
              "C_GetSlotList with pulCount NULL")
    bad_slot = _invalid_slot(ctx)
    expect_rv(client.get_token_info(bad_slot)[0], CKR.SLOT_ID_INVALID,
              f"C_GetTokenInfo of slot {bad_slot}, which is not in the slot list")
    expect_rv(client.call("C_GetTokenInfo", slot, None), CKR.ARGUMENTS_BAD, "C_GetTokenInfo(pInfo NULL)")
    expect_rv(client.get_mechanism_info(bad_slot, CKM.SHA256)[0], CKR.SLOT_ID_INVALID,
              f"C_GetMechanismInfo of slot {bad_slot}")
    expect_rv(client.call("C_GetMechanismInfo", slot, int(CKM.SHA256), None), CKR.ARGUMENTS_BAD,
              "C_GetMechanismInfo(pInfo NULL)")
    expect_rv(client.get_mechanism_info(slot, UNDEFINED_MECHANISM)[0], CKR.MECHANISM_INVALID,
              "C_GetMechanismInfo of mechanism 0x253")


def open_close_session_invalid_params(ctx: Context) -> None:
    client, slot = ctx.client, ctx.slot
    expect_rv(client.call("C_OpenSession", slot, int(CKF.SERIAL_SESSION), None, None, None),
              CKR.ARGUMENTS_BAD, "C_OpenSession with phSession NULL")
    rv, handle = client.open_session(slot, int(CKF.RW_SESSION))
    _close_if_opened(ctx, rv, handle)
    expect_rv(rv, CKR.SESSION_PARALLEL_NOT_SUPPORTED, "C_OpenSession without CKF_SERIAL_SESSION")
    bad_slot = _invalid_slot(ctx)
    rv, handle = client.open_session(bad_slot)
    _close_if_opened(ctx, rv, handle)
    expect_rv(rv, CKR.SLOT_ID_INVALID, f"C_OpenSession on slot {bad_slot}")
    expect_rv(client.close_session(INVALID), CKR.SESSION_HANDLE_INVALID, "C_CloseSession(0)")
    rv, handle = client.open_session(slot, RO_SESSION)
    expect_ok(rv, "C_OpenSession")
    expect_ok(client.close_session(handle), "C_CloseSession")
    expect_rv(client.close_session(handle), CKR.SESSION_HANDLE_INVALID,
              "C_CloseSession of a closed session")
    expect_rv(client.generate_random(handle, 8)[0], CKR.SESSION_HANDLE_INVALID,
              "C_GenerateRandom in a closed session")


def _close_if_opened(ctx: Context, rv: int, handle: int) -> None:
    if rv == CKR.OK and handle:
        ctx.client.close_session(handle)


def _need_pin(ctx: Context) -> bytes:
    if ctx.pin is None:
        raise ignore("no user PIN given (--pin)")
    return ctx.pin


def login_invalid_params(ctx: Context) -> None:
    client, session = ctx.client, ctx.session
    pin = _need_pin(ctx)
    expect_rv(client.login(INVALID, CKU.USER, pin), CKR.SESSION_HANDLE_INVALID, "C_Login on session 0")
    expect_rv(client.login(session, 7, pin), CKR.USER_TYPE_INVALID, "C_Login with user type 7")
    rv, token = client.get_token_info(ctx.slot)
    expect_ok(rv, "C_GetTokenInfo")
    assert token is not None
    if not token.flags & CKF.PROTECTED_AUTHENTICATION_PATH:
        expect_rv(client.call("C_Login", session, int(CKU.USER), None, len(pin)), CKR.ARGUMENTS_BAD,
                  "C_Login with pPin NULL (no protected authentication path)")
    expect_rv(client.login(session, CKU.USER, pin), CKR.USER_ALREADY_LOGGED_IN,
              "C_Login of the logged-in user")
    expect_rv(client.logout(INVALID), CKR.SESSION_HANDLE_INVALID, "C_Logout on session 0")
    if ctx.so_pin is not None:
        expect_rv(client.login(session, CKU.SO, ctx.so_pin), CKR.USER_ANOTHER_ALREADY_LOGGED_IN,
                  "C_Login of the SO while the user is logged in")
        expect_ok(client.logout(session), "C_Logout")
        with own_session(ctx, RO_SESSION):
            expect_rv(client.login(session, CKU.SO, ctx.so_pin), CKR.SESSION_READ_ONLY_EXISTS,
                      "C_Login of the SO while a read-only session is open")
        expect_ok(client.login(session, CKU.SO, ctx.so_pin), "C_Login(CKU_SO)")
        expect_rv(client.login(session, CKU.USER, pin), CKR.USER_ANOTHER_ALREADY_LOGGED_IN,
                  "C_Login of the user while the SO is logged in")
        expect_ok(client.logout(session), "C_Logout of the SO")
        ctx.login(session)
    else:
        ctx.note("PKCS11_Login_InvalidParams: no SO PIN given (--so-pin); SO login rules not checked.")


def private_objects_require_login(ctx: Context) -> None:
    client, session = ctx.client, ctx.session
    _need_pin(ctx)
    family = device_family(ctx)
    objects = have_device(ctx, family)
    labels = ctx.config.labels
    expect_ok(client.logout(session), "C_Logout")
    try:
        expect_equal(ctx.find_labelled(labels.device_private_key, CKO.PRIVATE_KEY), [],
                     "private keys found while no user is logged in")
        expect_equal(ctx.find_labelled(labels.device_public_key, CKO.PUBLIC_KEY), [objects.public_key],
                     "the public key found while no user is logged in")
        expect_rv_in(client.sign_init(session, _sign_mechanism(family), objects.private_key),
                     (*NO_SUCH_KEY, CKR.USER_NOT_LOGGED_IN),
                     "C_SignInit with the private key while no user is logged in")
        if not ctx.config.preprovisioned:
            key = ctx.credentials.ec_other if family == EC else ctx.credentials.rsa_other
            rv, handle = client.create_object(session, ctx.mark(private_key_template(key, labels.device_private_key)))
            _undo(ctx, rv, handle)
            expect_rv(rv, CKR.USER_NOT_LOGGED_IN, "C_CreateObject of a private key while no user is logged in")
    finally:
        ctx.login(session)


# -- objects ----------------------------------------------------------------------------------


def create_destroy_object_invalid_params(ctx: Context) -> None:
    client, session = ctx.client, ctx.session
    family = device_family(ctx)
    label = ctx.config.labels.code_verify_key
    key = (ctx.credentials.ec_other if family == EC else ctx.credentials.rsa_other).public_key()
    template = ctx.mark(public_key_template(key, label))
    _, out_ref = _ulong_out()
    expect_rv(client.call("C_CreateObject", session, None, len(template), out_ref), CKR.ARGUMENTS_BAD,
              "C_CreateObject with pTemplate NULL")
    array = template_array(template)
    rv = client.call("C_CreateObject", session, array, len(template), None)
    expect_rv(rv, CKR.ARGUMENTS_BAD, "C_CreateObject with phObject NULL")
    rv, handle = client.create_object(INVALID, template)
    _undo(ctx, rv, handle)
    expect_rv(rv, CKR.SESSION_HANDLE_INVALID, "C_CreateObject on session 0")
    rv, handle = client.create_object(session, [(k, v) for k, v in template if k != CKA.CLASS])
    _undo(ctx, rv, handle)
    expect_rv(rv, CKR.TEMPLATE_INCOMPLETE, "C_CreateObject without CKA_CLASS")
    material = CKA.EC_POINT if family == EC else CKA.MODULUS
    rv, handle = client.create_object(session, [(k, v) for k, v in template if k != material])
    _undo(ctx, rv, handle)
    expect_rv(rv, CKR.TEMPLATE_INCOMPLETE, f"C_CreateObject of a public key without CKA_{material.name}")
    with own_session(ctx, RO_SESSION) as read_only:
        rv, handle = client.create_object(read_only, template)
        _undo(ctx, rv, handle)
        expect_rv(rv, CKR.SESSION_READ_ONLY, "C_CreateObject of a token object in a read-only session")
        handle = ctx.create(template, "a public key")
        expect_rv(client.destroy_object(read_only, handle), CKR.SESSION_READ_ONLY,
                  "C_DestroyObject of a token object in a read-only session")
    expect_rv(client.destroy_object(INVALID, handle), CKR.SESSION_HANDLE_INVALID, "C_DestroyObject on session 0")
    expect_rv(client.destroy_object(session, INVALID), CKR.OBJECT_HANDLE_INVALID, "C_DestroyObject of handle 0")
    expect_ok(client.destroy_object(session, handle), "C_DestroyObject")
    expect_rv(client.destroy_object(session, handle), CKR.OBJECT_HANDLE_INVALID,
              "C_DestroyObject of a destroyed object")
    expect_rv(client.get_attribute_value(session, handle, [(CKA.CLASS, None)])[0], CKR.OBJECT_HANDLE_INVALID,
              "C_GetAttributeValue of a destroyed object")


def find_objects_invalid_params(ctx: Context) -> None:
    client = ctx.client
    label = [(CKA.LABEL, ctx.config.labels.device_certificate)]
    expect_rv(client.find_objects_init(INVALID, label), CKR.SESSION_HANDLE_INVALID, "C_FindObjectsInit on session 0")
    with own_session(ctx) as session:
        expect_rv(client.call("C_FindObjectsInit", session, None, 1), CKR.ARGUMENTS_BAD,
                  "C_FindObjectsInit with pTemplate NULL and ulCount 1")
    with own_session(ctx) as session:
        expect_rv(client.find_objects(session, 1)[0], CKR.OPERATION_NOT_INITIALIZED,
                  "C_FindObjects without C_FindObjectsInit")
        expect_rv(client.find_objects_final(session), CKR.OPERATION_NOT_INITIALIZED,
                  "C_FindObjectsFinal without C_FindObjectsInit")
        expect_ok(client.find_objects_init(session, label), "C_FindObjectsInit")
        expect_rv(client.find_objects_init(session, label), CKR.OPERATION_ACTIVE, "a second C_FindObjectsInit")
        expect_rv(client.find_objects(INVALID, 1)[0], CKR.SESSION_HANDLE_INVALID, "C_FindObjects on session 0")
        expect_rv(client.find_objects_final(INVALID), CKR.SESSION_HANDLE_INVALID,
                  "C_FindObjectsFinal on session 0")
        expect_ok(client.find_objects(session, 4)[0], "C_FindObjects")
        expect_ok(client.find_objects_final(session), "C_FindObjectsFinal")
        expect_rv(client.find_objects(session, 1)[0], CKR.OPERATION_NOT_INITIALIZED,
                  "C_FindObjects after C_FindObjectsFinal")
    with own_session(ctx) as session:
        expect_ok(client.find_objects_init(session, label), "C_FindObjectsInit")
        _count, count_ref = _ulong_out()
        expect_rv(client.call("C_FindObjects", session, None, 1, count_ref), CKR.ARGUMENTS_BAD,
                  "C_FindObjects with phObject NULL")
    with own_session(ctx) as session:
        expect_ok(client.find_objects_init(session, label), "C_FindObjectsInit")
        found = (CK_ULONG * 1)()
        expect_rv(client.call("C_FindObjects", session, found, 1, None), CKR.ARGUMENTS_BAD,
                  "C_FindObjects with pulObjectCount NULL")


def get_attribute_value_invalid_params(ctx: Context) -> None:
    client, session = ctx.client, ctx.session
    family = device_family(ctx)
    objects = have_device(ctx, family)
    certificate = objects.certificate
    label = ctx.config.labels.device_certificate.encode()
    expect_rv(client.get_attribute_value(INVALID, certificate, [(CKA.CLASS, None)])[0],
              CKR.SESSION_HANDLE_INVALID, "C_GetAttributeValue on session 0")
    expect_rv(client.get_attribute_value(session, INVALID, [(CKA.CLASS, None)])[0],
              CKR.OBJECT_HANDLE_INVALID, "C_GetAttributeValue of handle 0")
    expect_rv(client.call("C_GetAttributeValue", session, certificate, None, 1), CKR.ARGUMENTS_BAD,
              "C_GetAttributeValue with pTemplate NULL")
    ulong = ctypes.sizeof(CK_ULONG)
    for kind, what in ((UNDEFINED_ATTRIBUTE, "an undefined attribute type"),
                       (CKA.MODULUS, "CKA_MODULUS, which a certificate does not have")):
        rv, results = client.get_attribute_value(
            session, certificate, [(CKA.LABEL, None), (kind, None), (CKA.CLASS, None)])
        expect_rv(rv, CKR.ATTRIBUTE_TYPE_INVALID, f"C_GetAttributeValue of {what}")
        expect_equal([r.length for r in results], [len(label), UNAVAILABLE, ulong],
                     f"the lengths returned with CKR_ATTRIBUTE_TYPE_INVALID ({what}; the other "
                     "attributes are still processed)")
    rv, results = client.get_attribute_value(
        session, certificate, [(CKA.LABEL, len(label) + 8), (CKA.VALUE, 3), (CKA.CLASS, ulong)], fill=0xA5)
    expect_rv(rv, CKR.BUFFER_TOO_SMALL, "C_GetAttributeValue of CKA_VALUE into 3 bytes")
    expect_equal(results[1].length, UNAVAILABLE, "ulValueLen of CKA_VALUE after CKR_BUFFER_TOO_SMALL")
    expect_equal(results[0].value, label, "CKA_LABEL, returned next to a buffer that is too small")
    expect_equal(results[2].value, bytes(CK_ULONG(CKO.CERTIFICATE)),
                 "CKA_CLASS, returned next to a buffer that is too small")
    rv, results = client.get_attribute_value(session, objects.private_key, [
        (device.SECRET_ATTRIBUTE[family], 512), (CKA.CLASS, ulong)], fill=0xA5)
    expect_rv(rv, CKR.ATTRIBUTE_SENSITIVE, f"C_GetAttributeValue of CKA_{device.SECRET_ATTRIBUTE[family].name}")
    expect_equal(results[1].value, bytes(CK_ULONG(CKO.PRIVATE_KEY)),
                 "CKA_CLASS, returned next to a sensitive attribute")


# -- digest, sign, verify ---------------------------------------------------------------------


def digest_invalid_params(ctx: Context) -> None:
    client = ctx.client
    expect_rv(client.call("C_DigestInit", ctx.session, None), CKR.ARGUMENTS_BAD, "C_DigestInit(pMechanism NULL)")
    expect_rv(client.digest_init(ctx.session, CKM.RSA_PKCS), CKR.MECHANISM_INVALID,
              "C_DigestInit(CKM_RSA_PKCS), not a digest mechanism")
    expect_rv(client.digest(ctx.session, NIST_MESSAGE, 32).rv, CKR.OPERATION_NOT_INITIALIZED,
              "C_Digest without C_DigestInit")
    expect_rv(client.digest_final(ctx.session, 32).rv, CKR.OPERATION_NOT_INITIALIZED,
              "C_DigestFinal without C_DigestInit")
    with own_session(ctx) as session:
        expect_ok(client.digest_init(session, CKM.SHA256), "C_DigestInit(CKM_SHA256)")
        expect_rv(client.digest_init(session, CKM.SHA256), CKR.OPERATION_ACTIVE, "a second C_DigestInit")
        query = client.digest(session, NIST_MESSAGE, None)
        expect_ok(query.rv, "C_Digest(pDigest NULL)")
        expect_equal(query.length, 32, "the length C_Digest reports")
        short = client.digest(session, NIST_MESSAGE, 31)
        expect_rv(short.rv, CKR.BUFFER_TOO_SMALL, "C_Digest into 31 bytes")
        expect_equal(short.length, 32, "*pulDigestLen after CKR_BUFFER_TOO_SMALL")
        result = client.digest(session, NIST_MESSAGE, 32)
        expect_ok(result.rv, "C_Digest")
        expect_equal(result.data, NIST_SHA256, "single-part SHA-256 of the NIST message")
        expect_rv(client.digest(session, NIST_MESSAGE, 32).rv, CKR.OPERATION_NOT_INITIALIZED,
                  "C_Digest after the digest was returned")
    with own_session(ctx) as session:
        expect_ok(client.digest_init(session, CKM.SHA256), "C_DigestInit")
        data = byte_buffer(NIST_MESSAGE)
        out = byte_buffer(32)
        expect_rv(client.call("C_Digest", session, data, len(NIST_MESSAGE), out, None), CKR.ARGUMENTS_BAD,
                  "C_Digest with pulDigestLen NULL")
    with own_session(ctx) as session:
        expect_ok(client.digest_init(session, CKM.SHA256), "C_DigestInit")
        expect_rv(client.call("C_DigestUpdate", session, None, 3), CKR.ARGUMENTS_BAD,
                  "C_DigestUpdate with pPart NULL and ulPartLen 3")
    with own_session(ctx) as session:
        expect_ok(client.digest_init(session, CKM.SHA256), "C_DigestInit")
        expect_ok(client.digest_update(session, NIST_MESSAGE), "C_DigestUpdate")
        expect_rv(client.call("C_DigestFinal", session, byte_buffer(32), None), CKR.ARGUMENTS_BAD,
                  "C_DigestFinal with pulDigestLen NULL")


def _hmac_or_invalid(ctx: Context) -> int:
    """What C_SignInit(CKM_SHA256_HMAC) with an asymmetric key returns: the mechanism is
    fine but the key is of the wrong type, unless the module has no HMAC at all."""
    return CKR.KEY_TYPE_INCONSISTENT if ctx.mechanism(CKM.SHA256_HMAC) else CKR.MECHANISM_INVALID


def sign_init_invalid_params(ctx: Context) -> None:
    client = ctx.client
    family = device_family(ctx)
    objects = have_device(ctx, family)
    mechanism = _sign_mechanism(family)
    expect_rv(client.sign_init(INVALID, mechanism, objects.private_key), CKR.SESSION_HANDLE_INVALID,
              "C_SignInit on session 0")
    checks: list[tuple[Callable[[int], int], tuple[int, ...], str]] = [
        (lambda s: client.call("C_SignInit", s, None, objects.private_key), (CKR.ARGUMENTS_BAD,),
         "C_SignInit(pMechanism NULL)"),
        (lambda s: client.sign_init(s, CKM.SHA256, objects.private_key), (CKR.MECHANISM_INVALID,),
         "C_SignInit(CKM_SHA256), a digest mechanism"),
        (lambda s: client.sign_init(s, mechanism, INVALID), NO_SUCH_KEY, "C_SignInit with key handle 0"),
        (lambda s: client.sign_init(s, mechanism, objects.public_key), WRONG_CLASS,
         "C_SignInit with the public key"),
        (lambda s: client.sign_init(s, mechanism, objects.certificate), WRONG_CLASS,
         "C_SignInit with the certificate"),
        (lambda s: client.sign_init(s, CKM.SHA256_HMAC, objects.private_key), (_hmac_or_invalid(ctx),),
         f"C_SignInit(CKM_SHA256_HMAC) with the {family} private key"),
    ]
    for call, allowed, what in checks:
        with own_session(ctx) as session:
            expect_rv_in(call(session), allowed, what)
    with own_session(ctx) as session:
        expect_ok(client.sign_init(session, mechanism, objects.private_key), f"C_SignInit(CKM_{mechanism.name})")
        expect_rv(client.sign_init(session, mechanism, objects.private_key), CKR.OPERATION_ACTIVE,
                  "a second C_SignInit")


def sign_invalid_params(ctx: Context) -> None:
    client = ctx.client
    family = device_family(ctx)
    objects = have_device(ctx, family)
    mechanism = _sign_mechanism(family)
    length = device.SIGNATURE_LENGTH[family]
    data = device.to_be_signed(family)
    expect_rv(client.sign(ctx.session, data, length).rv, CKR.OPERATION_NOT_INITIALIZED,
              "C_Sign without C_SignInit")
    with own_session(ctx) as session:
        expect_ok(client.sign_init(session, mechanism, objects.private_key), "C_SignInit")
        expect_rv(client.sign(INVALID, data, length).rv, CKR.SESSION_HANDLE_INVALID, "C_Sign on session 0")
        short = client.sign(session, data, length - 1)
        expect_rv(short.rv, CKR.BUFFER_TOO_SMALL, f"C_Sign into {length - 1} bytes")
        expect_equal(short.length, length, "*pulSignatureLen after CKR_BUFFER_TOO_SMALL")
        result = client.sign(session, data, length)
        expect_ok(result.rv, "C_Sign after CKR_BUFFER_TOO_SMALL (the operation goes on)")
        expect_rv(client.sign(session, data, length).rv, CKR.OPERATION_NOT_INITIALIZED,
                  "C_Sign after the signature was returned")
    with own_session(ctx) as session:
        expect_ok(client.sign_init(session, mechanism, objects.private_key), "C_SignInit")
        expect_rv(client.call("C_Sign", session, None, len(data), byte_buffer(length),
                              ctypes.byref(CK_ULONG(length))), CKR.ARGUMENTS_BAD, "C_Sign with pData NULL")
    with own_session(ctx) as session:
        expect_ok(client.sign_init(session, mechanism, objects.private_key), "C_SignInit")
        expect_rv(client.call("C_Sign", session, byte_buffer(data), len(data), byte_buffer(length), None),
                  CKR.ARGUMENTS_BAD, "C_Sign with pulSignatureLen NULL")


def verify_init_invalid_params(ctx: Context) -> None:
    client = ctx.client
    family = device_family(ctx)
    objects = have_device(ctx, family)
    mechanism = _sign_mechanism(family)
    expect_rv(client.verify_init(INVALID, mechanism, objects.public_key), CKR.SESSION_HANDLE_INVALID,
              "C_VerifyInit on session 0")
    checks: list[tuple[Callable[[int], int], tuple[int, ...], str]] = [
        (lambda s: client.call("C_VerifyInit", s, None, objects.public_key), (CKR.ARGUMENTS_BAD,),
         "C_VerifyInit(pMechanism NULL)"),
        (lambda s: client.verify_init(s, CKM.SHA256, objects.public_key), (CKR.MECHANISM_INVALID,),
         "C_VerifyInit(CKM_SHA256), a digest mechanism"),
        (lambda s: client.verify_init(s, mechanism, INVALID), NO_SUCH_KEY, "C_VerifyInit with key handle 0"),
        (lambda s: client.verify_init(s, mechanism, objects.private_key), WRONG_CLASS,
         "C_VerifyInit with the private key"),
        (lambda s: client.verify_init(s, mechanism, objects.certificate), WRONG_CLASS,
         "C_VerifyInit with the certificate"),
        (lambda s: client.verify_init(s, CKM.SHA256_HMAC, objects.public_key), (_hmac_or_invalid(ctx),),
         f"C_VerifyInit(CKM_SHA256_HMAC) with the {family} public key"),
    ]
    for call, allowed, what in checks:
        with own_session(ctx) as session:
            expect_rv_in(call(session), allowed, what)
    with own_session(ctx) as session:
        expect_ok(client.verify_init(session, mechanism, objects.public_key), f"C_VerifyInit(CKM_{mechanism.name})")
        expect_rv(client.verify_init(session, mechanism, objects.public_key), CKR.OPERATION_ACTIVE,
                  "a second C_VerifyInit")


def verify_invalid_params(ctx: Context) -> None:
    client = ctx.client
    family = device_family(ctx)
    objects = have_device(ctx, family)
    mechanism = _sign_mechanism(family)
    data = device.to_be_signed(family)
    signature = device.sign_on_token(ctx, family, objects.private_key)
    expect_rv(client.verify(ctx.session, data, signature), CKR.OPERATION_NOT_INITIALIZED,
              "C_Verify without C_VerifyInit")
    with own_session(ctx) as session:
        expect_ok(client.verify_init(session, mechanism, objects.public_key), "C_VerifyInit")
        expect_rv(client.verify(INVALID, data, signature), CKR.SESSION_HANDLE_INVALID, "C_Verify on session 0")
        expect_ok(client.verify(session, data, signature), "C_Verify")
        expect_rv(client.verify(session, data, signature), CKR.OPERATION_NOT_INITIALIZED,
                  "C_Verify after the operation ended")
    with own_session(ctx) as session:
        expect_ok(client.verify_init(session, mechanism, objects.public_key), "C_VerifyInit")
        expect_rv_in(client.verify(session, data, signature[:-1]), WRONG_LENGTH,
                     "C_Verify of a signature one byte short")
        expect_rv(client.verify(session, data, signature), CKR.OPERATION_NOT_INITIALIZED,
                  "C_Verify after a failed C_Verify (every C_Verify ends the operation)")
    with own_session(ctx) as session:
        expect_ok(client.verify_init(session, mechanism, objects.public_key), "C_VerifyInit")
        expect_rv(client.verify(session, data, flip_bit(signature, 10, 3)), CKR.SIGNATURE_INVALID,
                  "C_Verify of a signature with one bit flipped")
        expect_rv(client.verify(session, data, signature), CKR.OPERATION_NOT_INITIALIZED,
                  "C_Verify after CKR_SIGNATURE_INVALID")
    with own_session(ctx) as session:
        expect_ok(client.verify_init(session, mechanism, objects.public_key), "C_VerifyInit")
        expect_rv(client.call("C_Verify", session, None, len(data), byte_buffer(signature), len(signature)),
                  CKR.ARGUMENTS_BAD, "C_Verify with pData NULL")
    with own_session(ctx) as session:
        expect_ok(client.verify_init(session, mechanism, objects.public_key), "C_VerifyInit")
        expect_rv(client.call("C_Verify", session, byte_buffer(data), len(data), None, len(signature)),
                  CKR.ARGUMENTS_BAD, "C_Verify with pSignature NULL")


# -- keys and random --------------------------------------------------------------------------


def generate_key_pair_invalid_params(ctx: Context) -> None:
    client, session = ctx.client, ctx.session
    family = EC if ctx.config.ec else RSA
    labels = ctx.config.labels
    if family == EC:
        mechanism, material = CKM.EC_KEY_PAIR_GEN, CKA.EC_PARAMS
        public, private = ec_generation_templates(labels.device_public_key, labels.device_private_key)
    else:
        mechanism, material = CKM.RSA_PKCS_KEY_PAIR_GEN, CKA.MODULUS_BITS
        public, private = rsa_generation_templates(labels.device_public_key, labels.device_private_key)
    public, private = ctx.mark(public), ctx.mark(private)
    mech = mechanism_struct(mechanism)
    pub_array, priv_array = template_array(public), template_array(private)
    pub_out, pub_ref = _ulong_out()
    priv_out, priv_ref = _ulong_out()

    def raw(mechanism_ref: object, pub_t: object, pub_handle: object, priv_handle: object) -> int:
        pub_out.value = priv_out.value = 0
        rv = client.call("C_GenerateKeyPair", session, mechanism_ref, pub_t, len(public),
                         priv_array, len(private), pub_handle, priv_handle)
        _undo(ctx, rv, pub_out.value)
        _undo(ctx, rv, priv_out.value)
        return rv

    expect_rv(raw(None, pub_array, pub_ref, priv_ref), CKR.ARGUMENTS_BAD, "C_GenerateKeyPair(pMechanism NULL)")
    expect_rv(raw(ctypes.byref(mech), None, pub_ref, priv_ref), CKR.ARGUMENTS_BAD,
              "C_GenerateKeyPair with pPublicKeyTemplate NULL")
    expect_rv(raw(ctypes.byref(mech), pub_array, None, priv_ref), CKR.ARGUMENTS_BAD,
              "C_GenerateKeyPair with phPublicKey NULL")
    expect_rv(raw(ctypes.byref(mech), pub_array, pub_ref, None), CKR.ARGUMENTS_BAD,
              "C_GenerateKeyPair with phPrivateKey NULL")
    generations: tuple[tuple[int, Callable[[], tuple[int, int, int]], str], ...] = (
        (CKR.SESSION_HANDLE_INVALID, lambda: client.generate_key_pair(INVALID, mechanism, public, private),
         "C_GenerateKeyPair on session 0"),
        (CKR.MECHANISM_INVALID, lambda: client.generate_key_pair(session, CKM.SHA256, public, private),
         "C_GenerateKeyPair(CKM_SHA256)"),
        (CKR.TEMPLATE_INCOMPLETE, lambda: client.generate_key_pair(
            session, mechanism, [(k, v) for k, v in public if k != material], private),
         f"C_GenerateKeyPair without CKA_{material.name}"),
    )
    for rv_expected, call, what in generations:
        rv, pub_handle, priv_handle = call()
        _undo(ctx, rv, pub_handle)
        _undo(ctx, rv, priv_handle)
        expect_rv(rv, rv_expected, what)
    with own_session(ctx, RO_SESSION) as read_only:
        rv, pub_handle, priv_handle = client.generate_key_pair(read_only, mechanism, public, private)
        _undo(ctx, rv, pub_handle)
        _undo(ctx, rv, priv_handle)
        expect_rv(rv, CKR.SESSION_READ_ONLY, "C_GenerateKeyPair of token objects in a read-only session")


def generate_random_invalid_params(ctx: Context) -> None:
    client = ctx.client
    expect_rv(client.call("C_GenerateRandom", ctx.session, None, 16), CKR.ARGUMENTS_BAD,
              "C_GenerateRandom with pRandomData NULL")
    expect_rv(client.generate_random(INVALID, 16)[0], CKR.SESSION_HANDLE_INVALID, "C_GenerateRandom on session 0")
    rv, _data = client.generate_random(ctx.session, 1)
    expect_ok(rv, "C_GenerateRandom of one byte")


def sign_verify_wrong_public_key(family: str) -> Callable[[Context], None]:
    def body(ctx: Context) -> None:
        client, session = ctx.client, ctx.session
        objects = have_device(ctx, family)
        other = (ctx.credentials.rsa_other if family == RSA else ctx.credentials.ec_other).public_key()
        wrong = ctx.create(public_key_template(other, ctx.config.labels.code_verify_key),
                           f"an unrelated {family} public key")
        ctx.destroy_later(wrong)
        mechanism = _sign_mechanism(family)
        data = device.to_be_signed(family)
        signature = device.sign_on_token(ctx, family, objects.private_key)
        expect_ok(client.verify_all(session, mechanism, objects.public_key, data, signature),
                  "C_Verify with the matching public key")
        expect_rv(client.verify_all(session, mechanism, wrong, data, signature), CKR.SIGNATURE_INVALID,
                  "C_Verify with an unrelated public key")

    body.__name__ = f"sign_verify_wrong_{family.lower()}_public_key"
    return body


def _secret_key(ctx: Context, label: str, key_type: int, value: bytes) -> int:
    """A token secret key under ``label``, destroyed after the test."""
    handle = ctx.create([
        (CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, key_type), (CKA.TOKEN, True),
        (CKA.PRIVATE, True), (CKA.SENSITIVE, True), (CKA.SIGN, True), (CKA.VERIFY, True),
        (CKA.LABEL, label), (CKA.VALUE, value),
    ], f"a {len(value)}-byte secret key labelled {label!r}")
    ctx.destroy_later(handle)
    return handle


def _mac_known_answers(ctx: Context, mechanism: CKM, key: int, vectors: list[tuple[bytes, bytes]]) -> None:
    client, session = ctx.client, ctx.session
    for message, expected in vectors:
        result = client.sign_all(session, mechanism, key, message)
        expect_ok(result.rv, f"C_Sign(CKM_{mechanism.name})")
        expect_equal(result.data, expected, f"CKM_{mechanism.name} of a {len(message)}-byte message")
        expect_ok(client.verify_all(session, mechanism, key, message, expected),
                  f"C_Verify(CKM_{mechanism.name}) of the known MAC")
        expect_rv(client.verify_all(session, mechanism, key, message, flip_bit(expected, 5)),
                  CKR.SIGNATURE_INVALID, f"C_Verify(CKM_{mechanism.name}) of the MAC with one bit flipped")


def _mac_supported(ctx: Context, mechanism: CKM, key_size: int) -> None:
    info = ctx.mechanism(mechanism)
    if info is None:
        raise ignore(f"the module does not offer CKM_{mechanism.name}")
    if not info.flags & CKF.SIGN or not info.flags & CKF.VERIFY:
        raise ignore(f"CKM_{mechanism.name} is offered without CKF_SIGN and CKF_VERIFY")
    if not info.min_key_size <= key_size <= info.max_key_size:
        raise ignore(f"CKM_{mechanism.name} takes keys of {info.min_key_size}-{info.max_key_size} "
                     f"bytes, the known answer needs {key_size}")


def hmac_sha256(ctx: Context) -> None:
    _mac_supported(ctx, CKM.SHA256_HMAC, len(HMAC_KEY))
    ctx.remove_labelled(HMAC_LABEL, CKO.SECRET_KEY)
    key = _secret_key(ctx, HMAC_LABEL, CKK.GENERIC_SECRET, HMAC_KEY)
    _mac_known_answers(ctx, CKM.SHA256_HMAC, key,
                       [(message, bytes.fromhex(mac)) for message, mac in HMAC_VECTORS])


def aes_cmac(ctx: Context) -> None:
    _mac_supported(ctx, CKM.AES_CMAC, 16)
    info = ctx.mechanism(CKM.AES_CMAC)
    assert info is not None
    ctx.remove_labelled(CMAC_LABEL, CKO.SECRET_KEY)
    for key_hex, message_hex, mac_hex in CMAC_VECTORS:
        key_bytes = bytes.fromhex(key_hex)
        if not info.min_key_size <= len(key_bytes) <= info.max_key_size:
            ctx.note(f"PKCS11_AES_CMAC: AES-{len(key_bytes) * 8} not offered, its example skipped.")
            continue
        key = _secret_key(ctx, CMAC_LABEL, CKK.AES, key_bytes)
        _mac_known_answers(ctx, CKM.AES_CMAC, key, [(bytes.fromhex(message_hex), bytes.fromhex(mac_hex))])


GROUP = Group(
    "Full_PKCS11_Robustness",
    (
        Test("PKCS11_NotInitialized", not_initialized),
        Test("PKCS11_InitializeFinalize_InvalidParams", initialize_finalize_invalid_params),
        Test("PKCS11_SlotAndToken_InvalidParams", slot_and_token_invalid_params),
        Test("PKCS11_OpenCloseSession_InvalidParams", open_close_session_invalid_params),
        Test("PKCS11_Login_InvalidParams", login_invalid_params),
        Test("PKCS11_PrivateObjects_RequireLogin", private_objects_require_login),
        Test("PKCS11_CreateDestroyObject_InvalidParams", create_destroy_object_invalid_params, creates_objects),
        Test("PKCS11_FindObjects_InvalidParams", find_objects_invalid_params),
        Test("PKCS11_GetAttributeValue_InvalidParams", get_attribute_value_invalid_params),
        Test("PKCS11_Digest_InvalidParams", digest_invalid_params),
        Test("PKCS11_SignInit_InvalidParams", sign_init_invalid_params),
        Test("PKCS11_Sign_InvalidParams", sign_invalid_params),
        Test("PKCS11_VerifyInit_InvalidParams", verify_init_invalid_params),
        Test("PKCS11_Verify_InvalidParams", verify_invalid_params),
        Test("PKCS11_GenerateKeyPair_InvalidParams", generate_key_pair_invalid_params, generates_keys),
        Test("PKCS11_GenerateRandom_InvalidParams", generate_random_invalid_params),
        Test("PKCS11_SignVerifyRoundTripWithWrongRSAPublicKey", sign_verify_wrong_public_key(RSA),
             wrong_key(RSA)),
        Test("PKCS11_SignVerifyRoundTripWithWrongECPublicKey", sign_verify_wrong_public_key(EC),
             wrong_key(EC)),
        Test("PKCS11_HMAC_SHA256_KnownAnswer", hmac_sha256, creates_objects),
        Test("PKCS11_AES_CMAC_KnownAnswer", aes_cmac, creates_objects),
    ),
    setup=Context.start,
    teardown=Context.stop,
)

