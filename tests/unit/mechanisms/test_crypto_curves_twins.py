"""The Ed448, Montgomery and new-curve parts of both crypto backends keep the same contract:
lengths, round trips, and the same errors for the same mistakes (the fake is the in-memory
twin of pyca; see tokenport.backends.crypto.fake_octet)."""

from __future__ import annotations

import pytest

from tokenport.backends.crypto.fake import FakeCrypto
from tokenport.backends.crypto.pyca import PycaCrypto
from tokenport.errors import (
    AttributeValueInvalid,
    CurveNotSupported,
    KeyTypeInconsistent,
    MechanismParamInvalid,
    SignatureInvalid,
)
from tokenport.ports.crypto import CryptoBackend, Ed448Port, MontgomeryPort

BACKENDS = [FakeCrypto(), PycaCrypto()]


@pytest.mark.parametrize("crypto", BACKENDS, ids=lambda b: type(b).__name__)
def test_families_are_implemented(crypto: CryptoBackend) -> None:
    assert isinstance(crypto, Ed448Port) and isinstance(crypto, MontgomeryPort)


@pytest.mark.parametrize("crypto", BACKENDS, ids=lambda b: type(b).__name__)
def test_ed448_contract(crypto: CryptoBackend) -> None:
    private = crypto.ed448_private_from_seed(b"\x01" * 57)
    public = crypto.ed448_public_from_bytes(crypto.ed448_public_bytes(private))
    assert crypto.ed448_seed(private) == b"\x01" * 57
    assert len(crypto.ed448_public_bytes(public)) == 57
    signature = crypto.ed448_sign(private, b"message")
    assert len(signature) == 114 and signature == crypto.ed448_sign(private, b"message")
    crypto.ed448_verify(public, signature, b"message")
    crypto.ed448_verify(private, signature, b"message")
    with pytest.raises(SignatureInvalid):
        crypto.ed448_verify(public, signature, b"massage")
    with pytest.raises(AttributeValueInvalid):
        crypto.ed448_private_from_seed(b"\x01" * 32)
    with pytest.raises(AttributeValueInvalid):
        crypto.ed448_public_from_bytes(b"\x01" * 56)
    with pytest.raises(KeyTypeInconsistent):
        crypto.ed448_sign(crypto.ed25519_private_from_seed(b"\x01" * 32), b"m")  # type: ignore[arg-type]
    with pytest.raises(KeyTypeInconsistent):
        crypto.ed448_seed(public)  # type: ignore[arg-type]
    decoded = crypto.pkcs8_decode(crypto.pkcs8_encode(private))
    assert decoded.kind == "ed448" and crypto.ed448_seed(decoded.key) == b"\x01" * 57
    spki = crypto.public_key_decode(crypto.public_key_info(private))
    assert spki.kind == "ed448" and crypto.ed448_public_bytes(spki.key) == crypto.ed448_public_bytes(public)


@pytest.mark.parametrize("crypto", BACKENDS, ids=lambda b: type(b).__name__)
@pytest.mark.parametrize(("curve", "size"), [("X25519", 32), ("X448", 56)])
def test_xdh_contract(crypto: CryptoBackend, curve: str, size: int) -> None:
    name = "X448" if curve == "X448" else "X25519"
    a = crypto.xdh_private_from_bytes(name, b"\x03" * size)
    b = crypto.xdh_private_from_bytes(name, b"\x09" * size)
    a_pub = crypto.xdh_public_from_bytes(name, crypto.xdh_public_bytes(a))
    b_pub = crypto.xdh_public_from_bytes(name, crypto.xdh_public_bytes(b))
    shared = crypto.xdh_exchange(a, b_pub)
    assert len(shared) == size and shared == crypto.xdh_exchange(b, a_pub)
    assert crypto.xdh_curve(a) == crypto.xdh_curve(a_pub) == name
    assert crypto.xdh_private_bytes(a) == b"\x03" * size
    with pytest.raises(AttributeValueInvalid):
        crypto.xdh_private_from_bytes(name, b"\x03" * (size - 1))
    with pytest.raises(AttributeValueInvalid):
        crypto.xdh_public_from_bytes(name, b"\x03" * (size + 1))
    with pytest.raises(CurveNotSupported):
        crypto.xdh_public_from_bytes("X999", b"\x03" * size)  # type: ignore[arg-type]
    with pytest.raises(MechanismParamInvalid):
        crypto.xdh_exchange(a, crypto.xdh_public_from_bytes(name, b"\x00" * size))
    other = "X25519" if name == "X448" else "X448"
    other_size = 32 if other == "X25519" else 56
    with pytest.raises(MechanismParamInvalid):
        crypto.xdh_exchange(a, crypto.xdh_public_from_bytes(other, b"\x09" * other_size))
    with pytest.raises(KeyTypeInconsistent):
        crypto.xdh_exchange(a_pub, b_pub)  # type: ignore[arg-type]
    decoded = crypto.pkcs8_decode(crypto.pkcs8_encode(a))
    assert decoded.kind == "xdh" and decoded.curve == name
    assert crypto.xdh_private_bytes(decoded.key) == b"\x03" * size
    spki = crypto.public_key_decode(crypto.public_key_info(b_pub))
    assert spki.kind == "xdh" and crypto.xdh_public_bytes(spki.key) == crypto.xdh_public_bytes(b)


@pytest.mark.parametrize("crypto", BACKENDS, ids=lambda b: type(b).__name__)
@pytest.mark.parametrize("curve", ["P-192", "P-224", "secp256k1", "brainpoolP256r1",
                                   "brainpoolP384r1", "brainpoolP512r1"])
def test_new_weierstrass_curves(crypto: CryptoBackend, curve: str) -> None:
    from tokenport.mechanisms.curves import CURVE_BY_PORT_NAME

    info = CURVE_BY_PORT_NAME[curve]
    a = crypto.ec_private_from_scalar(info.name, 5)
    b = crypto.ec_private_from_scalar(info.name, info.order - 2)
    a_point, b_point = crypto.ec_public_point(a), crypto.ec_public_point(b)
    assert len(a_point) == info.point_size
    shared = crypto.ecdh(a, crypto.ec_public_from_point(info.name, b_point))
    assert len(shared) == info.size
    assert shared == crypto.ecdh(b, crypto.ec_public_from_point(info.name, a_point))
    r, s = crypto.ecdsa_sign_hash(a, b"\x11" * 32)
    crypto.ecdsa_verify_hash(crypto.ec_public_from_point(info.name, a_point), r, s, b"\x11" * 32)
    decoded = crypto.public_key_decode(crypto.public_key_info(a))
    assert decoded.kind == "ec" and decoded.curve == info.name
