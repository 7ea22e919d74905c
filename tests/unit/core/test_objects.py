"""Objects and attributes (PKCS #11 v2.40 s4 and s5.7) through the core API."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tokenport.ck import CKA, CKC, CKK, CKO, CKR, CKU
from tokenport.core.module import Module
from tokenport.errors import (
    ActionProhibited,
    AttributeReadOnly,
    AttributeTypeInvalid,
    AttributeValueInvalid,
    ObjectHandleInvalid,
    SessionReadOnly,
    TemplateIncomplete,
    TemplateInconsistent,
    UserNotLoggedIn,
)

from .conftest import RO, RW, USER_PIN

P256_OID = bytes.fromhex("06082a8648ce3d030107")


def data_template(label: bytes = b"d", **extra: object) -> list[tuple[int, object]]:
    template: list[tuple[int, object]] = [
        (CKA.CLASS, int(CKO.DATA)), (CKA.LABEL, label), (CKA.VALUE, b"payload"),
    ]
    template += [(getattr(CKA, k.upper()), v) for k, v in extra.items()]
    return template


def self_signed_certificate() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "unit test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(0x1234567)
        .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def values(module: Module, session: int, handle: int, *types: int) -> list[object]:
    return [r.value for r in module.get_attribute_value(session, handle, types)]


def test_create_and_read_a_data_object(module: Module, user: int) -> None:
    handle = module.create_object(user, data_template(token=True))
    assert values(module, user, handle, CKA.LABEL, CKA.VALUE, CKA.TOKEN, CKA.PRIVATE) == [
        b"d", b"payload", True, False,
    ]
    results = module.get_attribute_value(user, handle, [CKA.MODULUS, CKA.LABEL])
    assert results[0].error == CKR.ATTRIBUTE_TYPE_INVALID and results[0].value is None
    assert results[1].error == CKR.OK


def test_certificate_fields_are_filled_from_the_der(module: Module, user: int) -> None:
    der = self_signed_certificate()
    cert = x509.load_der_x509_certificate(der)
    handle = module.create_object(user, [
        (CKA.CLASS, int(CKO.CERTIFICATE)), (CKA.CERTIFICATE_TYPE, int(CKC.X_509)),
        (CKA.VALUE, der), (CKA.TOKEN, True), (CKA.LABEL, b"cert"),
    ])
    subject, issuer, serial = values(module, user, handle, CKA.SUBJECT, CKA.ISSUER, CKA.SERIAL_NUMBER)
    assert subject == cert.subject.public_bytes()
    assert issuer == cert.issuer.public_bytes()
    assert serial == bytes.fromhex("02040123 4567".replace(" ", ""))
    with pytest.raises(AttributeValueInvalid):
        module.create_object(user, [
            (CKA.CLASS, int(CKO.CERTIFICATE)), (CKA.CERTIFICATE_TYPE, int(CKC.X_509)),
            (CKA.VALUE, b"not a certificate"),
        ])


def test_template_errors(module: Module, user: int) -> None:
    with pytest.raises(TemplateIncomplete):
        module.create_object(user, [(CKA.LABEL, b"no class")])
    with pytest.raises(TemplateIncomplete):
        module.create_object(user, [(CKA.CLASS, int(CKO.PRIVATE_KEY))])
    with pytest.raises(TemplateInconsistent):
        module.create_object(user, [(CKA.CLASS, int(CKO.DATA)), (CKA.LABEL, b"a"), (CKA.LABEL, b"b")])
    with pytest.raises(AttributeTypeInvalid):
        module.create_object(user, data_template(modulus=b"\x01"))
    with pytest.raises(AttributeReadOnly):
        module.create_object(user, [
            (CKA.CLASS, int(CKO.SECRET_KEY)), (CKA.KEY_TYPE, int(CKK.AES)),
            (CKA.VALUE, bytes(16)), (CKA.LOCAL, True),
        ])
    with pytest.raises(AttributeValueInvalid):
        module.create_object(user, [(CKA.CLASS, int(CKO.HW_FEATURE))])


def test_sensitive_values_are_never_returned(module: Module, user: int) -> None:
    handle = module.create_object(user, [
        (CKA.CLASS, int(CKO.SECRET_KEY)), (CKA.KEY_TYPE, int(CKK.AES)),
        (CKA.VALUE, bytes(range(16))), (CKA.TOKEN, True),
    ])
    results = module.get_attribute_value(user, handle, [CKA.VALUE, CKA.VALUE_LEN, CKA.SENSITIVE])
    assert [r.error for r in results] == [CKR.ATTRIBUTE_SENSITIVE, CKR.OK, CKR.OK]
    assert results[1].value == 16 and results[2].value is True
    assert values(module, user, handle, CKA.PRIVATE, CKA.ALWAYS_SENSITIVE, CKA.LOCAL) == [
        True, False, False,
    ]


def test_set_attribute_rules(module: Module, user: int) -> None:
    handle = module.create_object(user, [
        (CKA.CLASS, int(CKO.SECRET_KEY)), (CKA.KEY_TYPE, int(CKK.AES)),
        (CKA.VALUE, bytes(16)), (CKA.SENSITIVE, False), (CKA.EXTRACTABLE, True),
    ])
    module.set_attribute_value(user, handle, [(CKA.LABEL, b"renamed"), (CKA.SENSITIVE, True)])
    assert values(module, user, handle, CKA.LABEL) == [b"renamed"]
    with pytest.raises(AttributeReadOnly):
        module.set_attribute_value(user, handle, [(CKA.SENSITIVE, False)])
    module.set_attribute_value(user, handle, [(CKA.EXTRACTABLE, False)])
    with pytest.raises(AttributeReadOnly):
        module.set_attribute_value(user, handle, [(CKA.EXTRACTABLE, True)])
    with pytest.raises(AttributeReadOnly):
        module.set_attribute_value(user, handle, [(CKA.KEY_TYPE, int(CKK.GENERIC_SECRET))])
    with pytest.raises(AttributeReadOnly):
        module.set_attribute_value(user, handle, [(CKA.LABEL, b"x"), (CKA.CLASS, int(CKO.DATA))])
    assert values(module, user, handle, CKA.LABEL) == [b"renamed"]
    fixed = module.create_object(user, data_template(modifiable=False))
    with pytest.raises(AttributeReadOnly):
        module.set_attribute_value(user, fixed, [(CKA.LABEL, b"y")])


def test_copy_and_destroy_honour_copyable_and_destroyable(module: Module, user: int) -> None:
    original = module.create_object(user, data_template(label=b"orig"))
    copy = module.copy_object(user, original, [(CKA.LABEL, b"copy"), (CKA.TOKEN, True)])
    assert values(module, user, copy, CKA.LABEL, CKA.TOKEN, CKA.VALUE) == [b"copy", True, b"payload"]
    locked = module.create_object(user, data_template(copyable=False, destroyable=False))
    with pytest.raises(ActionProhibited):
        module.copy_object(user, locked, [])
    with pytest.raises(ActionProhibited):
        module.destroy_object(user, locked)
    module.destroy_object(user, copy)
    with pytest.raises(ObjectHandleInvalid):
        module.get_attribute_value(user, copy, [CKA.LABEL])


def test_session_objects_vanish_with_their_session(module: Module, slot: int) -> None:
    first = module.open_session(slot, RW)
    second = module.open_session(slot, RW)
    handle = module.create_object(first, data_template(label=b"temp"))
    assert values(module, second, handle, CKA.LABEL) == [b"temp"]
    module.close_session(first)
    with pytest.raises(ObjectHandleInvalid):
        module.get_attribute_value(second, handle, [CKA.LABEL])


def test_access_rules(module: Module, slot: int) -> None:
    ro = module.open_session(slot, RO)
    with pytest.raises(SessionReadOnly):
        module.create_object(ro, data_template(token=True))
    with pytest.raises(UserNotLoggedIn):
        module.create_object(ro, data_template(private=True))
    public = module.create_object(ro, data_template(label=b"ro-session-object"))
    assert values(module, ro, public, CKA.LABEL) == [b"ro-session-object"]
    rw = module.open_session(slot, RW)
    module.login(rw, CKU.USER, USER_PIN)
    private = module.create_object(rw, data_template(label=b"secret", private=True, token=True))
    module.logout(rw)
    with pytest.raises(ObjectHandleInvalid):
        module.get_attribute_value(rw, private, [CKA.LABEL])
    module.find_objects_init(rw, [(CKA.LABEL, b"secret")])
    assert module.find_objects(rw, 10) == []
    module.find_objects_final(rw)


def test_a_certificate_with_an_unknown_version_is_an_invalid_value(module: Module, user: int) -> None:
    """pyca raises InvalidVersion (no ValueError) for an X.509 version it does not know: it
    must still be CKR_ATTRIBUTE_VALUE_INVALID, never an unexpected error (found by the fuzzer)."""
    der = bytearray(self_signed_certificate())
    version = der.index(b"\xa0\x03\x02\x01\x02") + 4  # [0] EXPLICIT { INTEGER 2 } = v3
    der[version] = 3
    with pytest.raises(AttributeValueInvalid):
        module.create_object(user, [
            (CKA.CLASS, int(CKO.CERTIFICATE)), (CKA.CERTIFICATE_TYPE, int(CKC.X_509)),
            (CKA.VALUE, bytes(der)),
        ])
