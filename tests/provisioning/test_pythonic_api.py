"""The provisioning API takes Python values: PINs as str or bytes, PEM as str or bytes, key
types and object classes as enum members, their numbers or their names; anything else is a
clear TypeError or ValueError (issue 12, item 3)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509 as pyca_x509
from cryptography.hazmat.primitives import serialization

from tokenport.ck import CKK, CKM, CKO
from tokenport.coerce import enum_member, pin_bytes
from tokenport.core.module import Module
from tokenport.errors import PinIncorrect, SessionHandleInvalid
from tokenport.provisioning import (
    DEVICE_CERT,
    DEVICE_PRIVATE_KEY,
    ROOT_CERT,
    Credentials,
    KeySpec,
    Provisioner,
    ProvisioningError,
)

from .conftest import SO_PIN, USER_PIN
from .pki import TestPki, pem

USER_PIN_TEXT = USER_PIN.decode()


def test_open_takes_a_str_pin_and_provisions(module: Module, pki: TestPki) -> None:
    with Provisioner.open(module, USER_PIN_TEXT) as provisioner:
        spki = provisioner.generate_key_pair("ec:p384")
        csr = provisioner.certificate_request("CN=dev-0042,O=Acme")
        request = pyca_x509.load_der_x509_csr(csr)
        assert request.is_signature_valid
        issued = pki.ca.issue_for_csr(request.public_bytes(serialization.Encoding.PEM))
        labels = provisioner.provision(Credentials(
            certificate=pem(issued).decode(), root_certificate=pem(pki.ca.cert).decode()))
        assert sorted(labels) == sorted([DEVICE_CERT, ROOT_CERT])
        status = provisioner.status()
        assert status.device_public_key == spki
        assert status.certificate_matches_key is True
        session = provisioner.session
    # the session is closed at the end of the block
    with pytest.raises(SessionHandleInvalid):
        module.get_session_info(session)


def test_open_takes_bytes_and_a_token_label(module: Module) -> None:
    with Provisioner.open(module, bytearray(USER_PIN), token="factory") as provisioner:
        assert provisioner.status().token_label.rstrip() == "factory"
    with Provisioner.open(module, USER_PIN, slot=0) as provisioner:
        assert provisioner.status().logged_in is True


def test_open_refuses_bad_values_clearly(module: Module) -> None:
    with (
        pytest.raises(TypeError, match="^the PIN must be str or bytes, not int$"),
        Provisioner.open(module, 1234),  # type: ignore[arg-type]
    ):
        pass
    with (
        pytest.raises(ProvisioningError, match="no token labelled 'nope'"),
        Provisioner.open(module, USER_PIN_TEXT, token="nope"),
    ):
        pass
    with pytest.raises(PinIncorrect), Provisioner.open(module, "wrong-pin"):
        pass
    with (
        pytest.raises(TypeError, match="slot must be an int, not str"),
        Provisioner.open(module, USER_PIN_TEXT, slot="0"),  # type: ignore[arg-type]
    ):
        pass


def test_a_str_pin_is_the_utf8_of_the_text() -> None:
    assert pin_bytes("päss") == "päss".encode()
    assert pin_bytes(memoryview(b"12")) == b"12"
    with pytest.raises(TypeError) as refused:
        pin_bytes(None)
    assert str(refused.value) == "the PIN must be str or bytes, not NoneType"


def test_generate_takes_key_types_by_member_or_name(module: Module, session: int) -> None:
    provisioner = Provisioner(module, session)
    for spec, algorithm in ((CKK.RSA, "RSA 2048"), ("CKK_EC", "EC P-256"),
                            (int(CKK.EC), "EC P-256"), ("rsa:3072", "RSA 3072"),
                            (KeySpec("ec", curve="P-521"), "EC P-521"), (None, "EC P-256")):
        provisioner.generate_key_pair(spec, replace=True)
        [key] = provisioner.status().objects[DEVICE_PRIVATE_KEY]
        assert key.algorithm == algorithm, spec
    with pytest.raises(ValueError, match="the device key type is CKK_EC or CKK_RSA, not CKK_AES"):
        provisioner.generate_key_pair(CKK.AES, replace=True)
    with pytest.raises(ValueError, match="unknown CKK name 'CKK_NOPE'"):
        provisioner.generate_key_pair("CKK_NOPE", replace=True)
    with pytest.raises(TypeError, match="not float"):
        provisioner.generate_key_pair(2.0, replace=True)  # type: ignore[arg-type]


def test_find_takes_classes_by_member_number_or_name(module: Module, session: int) -> None:
    provisioner = Provisioner(module, session)
    provisioner.generate_key_pair()
    by_member = provisioner.find(DEVICE_PRIVATE_KEY, {CKO.PRIVATE_KEY})
    assert len(by_member) == 1
    assert provisioner.find(DEVICE_PRIVATE_KEY, ["PRIVATE_KEY"]) == by_member
    assert provisioner.find(DEVICE_PRIVATE_KEY, ["cko_private_key"]) == by_member
    assert provisioner.find(DEVICE_PRIVATE_KEY, [int(CKO.PRIVATE_KEY)]) == by_member
    assert provisioner.find(DEVICE_PRIVATE_KEY, ["public-key"]) == []
    with pytest.raises(ValueError, match="unknown CKO name 'SECRET'"):
        provisioner.find(DEVICE_PRIVATE_KEY, ["SECRET"])
    with pytest.raises(TypeError, match="the label must be str, not bytes"):
        provisioner.find(b"x")  # type: ignore[arg-type]


def test_credentials_take_pem_text_and_refuse_paths(pki: TestPki, tmp_path: Path) -> None:
    text = pem(pki.ca.cert).decode()
    creds = Credentials(root_certificate=text, key_password="pässword")  # type: ignore[arg-type]
    assert creds.root_certificate == text.encode()
    assert creds.key_password == "pässword".encode()
    path = tmp_path / "ca.pem"
    with pytest.raises(TypeError, match=r"takes the file's contents, not a path: pass "
                                        r"Path\(.*\)\.read_bytes\(\)"):
        Credentials(certificate=path)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Credentials.code_verify_key must be bytes or str"):
        Credentials(code_verify_key=42)  # type: ignore[arg-type]
    with pytest.raises(TypeError) as refused:
        Credentials(key_password=1234)  # type: ignore[arg-type]
    assert "1234" not in str(refused.value)  # never a secret in a message


def test_enum_member_accepts_the_spellings() -> None:
    assert enum_member(CKM, "ecdsa-sha256", "mechanism") is CKM.ECDSA_SHA256
    assert enum_member(CKM, "CKM_SHA256", "mechanism") is CKM.SHA256
    assert enum_member(CKM, int(CKM.SHA256), "mechanism") is CKM.SHA256
    with pytest.raises(ValueError, match="mechanism: 0x7ffffff1 is not a CKM value"):
        enum_member(CKM, 0x7FFFFFF1, "mechanism")
    with pytest.raises(TypeError, match="not bool"):
        enum_member(CKO, True, "the object class")


def test_so_pin_unaffected(module: Module) -> None:
    """Opening a provisioning session logs in the user only: the SO PIN is another secret."""
    with pytest.raises(PinIncorrect), Provisioner.open(module, SO_PIN.decode()):
        pass
