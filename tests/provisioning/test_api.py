"""Provisioning through the Python API, on a real Module over the in-memory store."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from tokenport import codesign
from tokenport.ck import CKA, CKF, CKO, CKR
from tokenport.core.module import Module
from tokenport.errors import DeviceMemory
from tokenport.mechanisms.params import Mechanism
from tokenport.provisioning import (
    CODE_VERIFY_KEY,
    DEVICE_CERT,
    DEVICE_PRIVATE_KEY,
    DEVICE_PUBLIC_KEY,
    JITP_CERT,
    ROOT_CERT,
    Credentials,
    KeySpec,
    Provisioner,
    ProvisioningError,
    hex_dump,
    subject_to_rfc4514,
)

from .conftest import snapshot
from .pki import TestPki, ec_key, key_pem, name, pem


def device_credentials(pki: TestPki, **extra: bytes
                       ) -> tuple[Credentials, ec.EllipticCurvePrivateKey]:
    key = ec_key()
    cert = pki.ca.issue(key.public_key(), name("device-1"))
    return Credentials(certificate=pem(cert), private_key=key_pem(key), **extra), key


def labels(module: Module, session: int) -> list[tuple[int, bytes]]:
    return sorted((row[0], row[1]) for row in snapshot(module, session))  # type: ignore[misc]


def test_import_stores_every_credential_under_its_label(module: Module, session: int,
                                                        pki: TestPki) -> None:
    jitp = pki.other_ca.cert
    credentials, key = device_credentials(
        pki, root_certificate=pem(pki.ca.cert), jitp_certificate=pem(jitp),
        code_verify_key=pem(pki.ca.cert))
    written = Provisioner(module, session).provision(credentials)
    assert written == [DEVICE_PRIVATE_KEY, DEVICE_PUBLIC_KEY, DEVICE_CERT, JITP_CERT, ROOT_CERT,
                       CODE_VERIFY_KEY]
    assert labels(module, session) == sorted([
        (CKO.PRIVATE_KEY, DEVICE_PRIVATE_KEY.encode()),
        (CKO.PUBLIC_KEY, DEVICE_PUBLIC_KEY.encode()),
        (CKO.CERTIFICATE, DEVICE_CERT.encode()), (CKO.CERTIFICATE, JITP_CERT.encode()),
        (CKO.CERTIFICATE, ROOT_CERT.encode()), (CKO.CERTIFICATE, CODE_VERIFY_KEY.encode()),
        (CKO.PUBLIC_KEY, CODE_VERIFY_KEY.encode()),
    ])
    provisioner = Provisioner(module, session)
    (private,) = provisioner.find(DEVICE_PRIVATE_KEY)
    flags = module.get_attribute_value(session, private, [CKA.SENSITIVE, CKA.EXTRACTABLE,
                                                          CKA.PRIVATE, CKA.VALUE, CKA.ID])
    assert [f.value for f in flags[:3]] == [True, False, True]
    assert flags[3].error == CKR.ATTRIBUTE_SENSITIVE
    (cert,) = provisioner.find(DEVICE_CERT)
    (cert_id,) = module.get_attribute_value(session, cert, [CKA.ID])
    assert cert_id.value == flags[4].value, "certificate and key share their CKA_ID"
    status = provisioner.status()
    assert status.certificate_matches_key is True
    assert status.device_public_key == key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_import_replaces_and_never_duplicates(module: Module, session: int, pki: TestPki) -> None:
    provisioner = Provisioner(module, session)
    first, _ = device_credentials(pki, root_certificate=pem(pki.ca.cert))
    provisioner.provision(first)
    second, second_key = device_credentials(pki, root_certificate=pem(pki.other_ca.cert))
    provisioner.provision(second)
    found = labels(module, session)
    assert len(found) == len(set(found)) == 4
    (cert,) = provisioner.find(DEVICE_CERT)
    (value,) = module.get_attribute_value(session, cert, [CKA.VALUE])
    assert isinstance(value.value, bytes)
    assert x509.load_der_x509_certificate(value.value).public_key() == second_key.public_key()
    (root,) = provisioner.find(ROOT_CERT)
    (root_value,) = module.get_attribute_value(session, root, [CKA.VALUE])
    assert root_value.value == pki.other_ca.cert.public_bytes(serialization.Encoding.DER)


def _bad_inputs(pki: TestPki) -> dict[str, tuple[Callable[[], Credentials], str]]:
    key = ec_key()
    good_cert = pem(pki.ca.issue(key.public_key(), name("device-1")))
    k1 = ec.generate_private_key(ec.SECP256K1())
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    edwards = ed25519.Ed25519PrivateKey.generate()
    truncated = good_cert[: len(good_cert) // 2] + b"\n-----END CERTIFICATE-----\n"
    return {
        "certificate of another key": (lambda: Credentials(
            certificate=pem(pki.ca.issue(ec_key().public_key(), name("other"))),
            private_key=key_pem(key)), "does not match the device key"),
        "expired certificate": (lambda: Credentials(
            certificate=pem(pki.ca.issue(key.public_key(), name("old"), days=-1)),
            private_key=key_pem(key)), "expired on"),
        "malformed certificate PEM": (lambda: Credentials(
            certificate=truncated, private_key=key_pem(key)), "not a valid X.509 certificate"),
        "malformed key PEM": (lambda: Credentials(
            certificate=good_cert, private_key=b"-----BEGIN PRIVATE KEY-----\nAAAA\n"
            b"-----END PRIVATE KEY-----\n"), "not a private key"),
        "unsupported curve": (lambda: Credentials(
            certificate=pem(pki.ca.issue(k1.public_key(), name("k1"))),
            private_key=key_pem(k1)), "unsupported curve"),
        "RSA key too small": (lambda: Credentials(
            certificate=pem(pki.ca.issue(small.public_key(), name("small"))),
            private_key=key_pem(small)), "at least 2048 bits"),
        "Ed25519 key": (lambda: Credentials(
            certificate=pem(pki.ca.issue(edwards.public_key(), name("ed"))),  # type: ignore[arg-type]
            private_key=key_pem(edwards)), "ed25519 keys are refused"),  # type: ignore[arg-type]
        "key without certificate": (lambda: Credentials(private_key=key_pem(key)),
                                    "needs its certificate"),
        "expired root CA": (lambda: Credentials(
            certificate=good_cert, private_key=key_pem(key),
            root_certificate=pem(pki.ca.issue(ec_key().public_key(), name("r"), days=-2))),
            "root CA certificate .* expired"),
        "private key as code-verification key": (lambda: Credentials(
            code_verify_key=key_pem(key)), "this is a private key"),
        "garbage code-verification key": (lambda: Credentials(
            code_verify_key=b"\x30\x03\x02\x01"), "not a public key or certificate"),
    }


BAD_CASES = [
    "certificate of another key", "expired certificate", "malformed certificate PEM",
    "malformed key PEM", "unsupported curve", "RSA key too small", "Ed25519 key",
    "key without certificate",
    "expired root CA", "private key as code-verification key", "garbage code-verification key",
]


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_is_refused_and_the_store_is_unchanged(module: Module, session: int,
                                                         pki: TestPki, case: str) -> None:
    provisioner = Provisioner(module, session)
    existing, _ = device_credentials(pki, root_certificate=pem(pki.ca.cert))
    provisioner.provision(existing)
    before = snapshot(module, session)
    make, message = _bad_inputs(pki)[case]
    with pytest.raises(ProvisioningError, match=message):
        provisioner.provision(make())
    assert snapshot(module, session) == before


def test_a_failure_while_writing_rolls_back(module: Module, session: int, pki: TestPki,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    provisioner = Provisioner(module, session)
    existing, _ = device_credentials(pki)
    provisioner.provision(existing)
    before = snapshot(module, session)
    calls = []
    real_create = module.create_object

    def failing_create(session: int, template: object) -> int:
        calls.append(template)
        if len(calls) == 3:
            raise DeviceMemory("the store is full")
        return real_create(session, template)  # type: ignore[arg-type]

    monkeypatch.setattr(module, "create_object", failing_create)
    replacement, _ = device_credentials(pki, root_certificate=pem(pki.ca.cert))
    with pytest.raises(DeviceMemory):
        provisioner.provision(replacement)
    monkeypatch.undo()
    assert len(calls) == 3
    assert snapshot(module, session) == before


def test_provisioning_needs_the_user_logged_in(module: Module) -> None:
    public = module.open_session(0, int(CKF.SERIAL_SESSION | CKF.RW_SESSION))
    with pytest.raises(ProvisioningError, match="user logged in"):
        Provisioner(module, public).generate_key_pair()


@pytest.mark.parametrize(("spec", "algorithm", "hash_name"), [
    ("ec", "EC P-256", "sha256"), ("ec:p384", "EC P-384", "sha384"), ("rsa", "RSA 2048", "sha256"),
])
def test_on_device_key_csr_and_attached_certificate(module: Module, session: int, pki: TestPki,
                                                    spec: str, algorithm: str,
                                                    hash_name: str) -> None:
    provisioner = Provisioner(module, session)
    spki = provisioner.generate_key_pair(KeySpec.parse(spec))
    request = x509.load_der_x509_csr(provisioner.certificate_request("/C=DE/O=Acme/CN=dev-7"))
    assert request.is_signature_valid
    assert request.subject.rfc4514_string() == "CN=dev-7,O=Acme,C=DE"
    assert request.signature_hash_algorithm is not None
    assert request.signature_hash_algorithm.name == hash_name
    assert request.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) == spki
    status = provisioner.status()
    assert status.device_public_key == spki and status.certificate_matches_key is None
    private = status.objects[DEVICE_PRIVATE_KEY][0]
    assert (private.algorithm, private.sensitive, private.extractable) == (algorithm, True, False)

    stranger = pki.ca.issue(ec_key().public_key(), request.subject)
    with pytest.raises(ProvisioningError, match="does not match"):
        provisioner.provision(Credentials(certificate=pem(stranger)))
    issued = pki.ca.issue_for_csr(request.public_bytes(serialization.Encoding.PEM))
    assert provisioner.provision(Credentials(certificate=pem(issued))) == [DEVICE_CERT]
    status = provisioner.status()
    assert status.certificate_matches_key is True
    assert {o.key_id for label in (DEVICE_PRIVATE_KEY, DEVICE_PUBLIC_KEY, DEVICE_CERT)
            for o in status.objects[label]} == {private.key_id}


def test_the_device_key_signs_with_the_token(module: Module, session: int) -> None:
    """The generated key is usable: a CSR's signature already proves it; code signing too."""
    provisioner = Provisioner(module, session)
    spki = provisioner.generate_key_pair(KeySpec.parse("rsa:2048"))
    (key,) = provisioner.find(DEVICE_PRIVATE_KEY)
    public = serialization.load_der_public_key(spki)
    assert isinstance(public, rsa.RSAPublicKey)
    module.sign_init(session, Mechanism(codesign.Algorithm.RSA_SHA256.mechanism), key)
    signature = module.sign(session, b"firmware")
    public.verify(signature, b"firmware", padding.PKCS1v15(), hashes.SHA256())


def test_generation_does_not_replace_a_key_unless_asked(module: Module, session: int,
                                                        pki: TestPki) -> None:
    provisioner = Provisioner(module, session)
    provisioner.provision(device_credentials(pki)[0])
    before = snapshot(module, session)
    with pytest.raises(ProvisioningError, match="already has a device key"):
        provisioner.generate_key_pair()
    assert snapshot(module, session) == before
    provisioner.generate_key_pair(replace=True)
    status = provisioner.status()
    assert status.objects[DEVICE_CERT] == [], "the old certificate no longer matches: removed"
    assert len(status.objects[DEVICE_PRIVATE_KEY]) == len(status.objects[DEVICE_PUBLIC_KEY]) == 1


def test_csr_needs_a_key_and_a_valid_subject(module: Module, session: int) -> None:
    provisioner = Provisioner(module, session)
    with pytest.raises(ProvisioningError, match="no device key"):
        provisioner.certificate_request("CN=x")
    provisioner.generate_key_pair()
    with pytest.raises(ProvisioningError, match="not a valid distinguished name"):
        provisioner.certificate_request("CN=x,BOGUS=y")


def test_status_without_login_shows_public_objects(module: Module, session: int,
                                                   pki: TestPki) -> None:
    Provisioner(module, session).provision(device_credentials(pki)[0])
    public = module.open_session(0, int(CKF.SERIAL_SESSION))
    module.logout(session)
    status = Provisioner(module, public).status()
    assert not status.logged_in
    assert status.objects[DEVICE_PRIVATE_KEY] == []
    assert status.objects[DEVICE_CERT][0].subject == "CN=device-1"
    assert status.certificate_matches_key is True  # checked against "Device Pub TLS Key"


def test_hex_dump_layout() -> None:
    """16 bytes a line, 2-byte groups: xxd's layout, as the device tester's file shows it."""
    spki = ec_key().public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    dump = hex_dump(spki)
    lines = dump.splitlines()
    assert dump.endswith("\n") and len(spki) == 91 and len(lines) == 6
    assert lines[0] == "3059 3013 0607 2a86 48ce 3d02 0106 082a"
    assert all(re.fullmatch(r"([0-9a-f]{4} ){7}[0-9a-f]{4}", line) for line in lines[:-1])
    assert lines[-1].count(" ") == 5 and len(lines[-1].replace(" ", "")) == 22
    assert bytes.fromhex(dump.replace(" ", "").replace("\n", "")) == spki


def test_key_specs_and_subjects() -> None:
    assert str(KeySpec.parse("ec")) == "EC P-256"
    assert str(KeySpec.parse("EC:P-521")) == "EC P-521"
    assert str(KeySpec.parse("rsa")) == "RSA 2048"
    assert str(KeySpec.parse("rsa:4096")) == "RSA 4096"
    for bad, message in (("ec:secp256k1", "unsupported curve"), ("rsa:1024", "2048, 3072"),
                         ("dsa", "unknown key type")):
        with pytest.raises(ProvisioningError, match=message):
            KeySpec.parse(bad)
    assert subject_to_rfc4514("/C=DE/O=A, B/CN=dev") == "CN=dev,O=A\\, B,C=DE"
    assert subject_to_rfc4514("CN=dev,O=Acme") == "CN=dev,O=Acme"
