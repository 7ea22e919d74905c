"""PKCS #3 Diffie-Hellman mechanisms (PKCS #11 v2.40 Current Mechanisms s2.4) on the pyca
backend: parameter and key pair generation, derivation between two tokenport keys and against
a pyca peer, the range check of the other party's value, truncation, PKCS #8 encodings."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import dh as pyca_dh
from cryptography.hazmat.primitives.serialization import load_der_private_key

from tokenport.backends.crypto.pyca import PycaCrypto
from tokenport.ck import CKA, CKF, CKK, CKM, CKO
from tokenport.errors import (
    AttributeValueInvalid,
    DomainParamsInvalid,
    KeySizeRange,
    KeyTypeInconsistent,
    MechanismParamInvalid,
    TemplateIncomplete,
    TemplateInconsistent,
)
from tokenport.mechanisms.base import MechanismContext, MechanismRegistry
from tokenport.mechanisms.common import int_bytes
from tokenport.mechanisms.keyformats import (
    complete_domain_parameters,
    complete_key_attributes,
    decode_private_key_pkcs8,
    encode_private_key_pkcs8,
)

from .helpers import FakeKey, spec

FFDHE2048_P = int(
    "ffffffffffffffffadf85458a2bb4a9aafdc5620273d3cf1d8b9c583ce2d3695a9e13641146433fbcc939dce24"
    "9b3ef97d2fe363630c75d8f681b202aec4617ad3df1ed5d5fd65612433f51f5f066ed0856365553ded1af3b557"
    "135e7f57c935984f0c70e0e68b77e2a689daf3efe8721df158a136ade73530acca4f483a797abc0ab182b324fb"
    "61d108a94bb2c8e3fbb96adab760d7f4681d4f42a3de394df4ae56ede76372bb190b07a7c8ee0a6d709e02fce1"
    "cdf7e2ecc03404cd28342f619172fe9ce98583ff8e4f1232eef28183c3fe3b1b4c6fad733bb5fcbc2ec22005c5"
    "8ef1837d1683b2c6f34a26c1b2effa886b423861285c97ffffffffffffffff", 16)
"""The ffdhe2048 group of RFC 7919 Appendix A.1 (generator 2)."""
DOMAIN = {CKA.PRIME: int_bytes(FFDHE2048_P), CKA.BASE: b"\x02"}


def _pair(ctx: MechanismContext, registry: MechanismRegistry,
          private_template: dict[int, object] | None = None) -> tuple[FakeKey, FakeKey]:
    generate = spec(registry, CKM.DH_PKCS_KEY_PAIR_GEN).generate_key_pair
    assert generate is not None
    public, private = generate(ctx, None, dict(DOMAIN), dict(private_template or {}))  # type: ignore[arg-type]
    return FakeKey(CKO.PUBLIC_KEY, CKK.DH, public), FakeKey(CKO.PRIVATE_KEY, CKK.DH, private)


def _derive(ctx: MechanismContext, registry: MechanismRegistry, key: FakeKey, peer: bytes,
            length: int | None = None) -> bytes:
    derive = spec(registry, CKM.DH_PKCS_DERIVE).derive
    assert derive is not None
    return derive(ctx, key, peer, length)


def test_two_tokenport_keys_agree(ctx: MechanismContext, registry: MechanismRegistry) -> None:
    public_a, private_a = _pair(ctx, registry)
    public_b, private_b = _pair(ctx, registry)
    y_a, y_b = public_a.attrs[CKA.VALUE], public_b.attrs[CKA.VALUE]
    assert isinstance(y_a, bytes) and isinstance(y_b, bytes) and len(y_a) == 256
    secret = _derive(ctx, registry, private_a, y_b)
    assert len(secret) == 256 and secret == _derive(ctx, registry, private_b, y_a)
    assert secret != _derive(ctx, registry, private_a, y_a)
    x = int.from_bytes(private_a.attrs[CKA.VALUE], "big")  # type: ignore[arg-type]
    assert secret == pow(int.from_bytes(y_b, "big"), x, FFDHE2048_P).to_bytes(256, "big")


def test_agreement_with_a_pyca_peer(ctx: MechanismContext, registry: MechanismRegistry) -> None:
    public, private = _pair(ctx, registry)
    numbers = pyca_dh.DHParameterNumbers(FFDHE2048_P, 2)
    peer = numbers.parameters().generate_private_key()
    peer_y = peer.public_key().public_numbers().y
    ours = _derive(ctx, registry, private, int_bytes(peer_y))
    y = int.from_bytes(public.attrs[CKA.VALUE], "big")  # type: ignore[arg-type]
    theirs = peer.exchange(pyca_dh.DHPublicNumbers(y, numbers).public_key())
    assert ours == theirs


def test_truncation_removes_leading_bytes(ctx: MechanismContext, registry: MechanismRegistry) -> None:
    public, private = _pair(ctx, registry)
    peer = public.attrs[CKA.VALUE]
    assert isinstance(peer, bytes)
    whole = _derive(ctx, registry, private, peer)
    assert _derive(ctx, registry, private, peer, 16) == whole[-16:]
    assert _derive(ctx, registry, private, peer, 256) == whole
    for length in (0, 257):
        with pytest.raises(TemplateInconsistent):
            _derive(ctx, registry, private, peer, length)


@pytest.mark.parametrize("value", [0, 1, FFDHE2048_P - 1, FFDHE2048_P, FFDHE2048_P + 5])
def test_the_other_partys_value_must_be_in_2_to_p_minus_2(
    ctx: MechanismContext, registry: MechanismRegistry, value: int
) -> None:
    _, private = _pair(ctx, registry)
    with pytest.raises(MechanismParamInvalid):
        _derive(ctx, registry, private, int_bytes(value))


def test_edges_of_the_range_are_accepted(ctx: MechanismContext, registry: MechanismRegistry) -> None:
    _, private = _pair(ctx, registry)
    x = int.from_bytes(private.attrs[CKA.VALUE], "big")  # type: ignore[arg-type]
    assert _derive(ctx, registry, private, b"\x02") == pow(2, x, FFDHE2048_P).to_bytes(256, "big")
    assert len(_derive(ctx, registry, private, int_bytes(FFDHE2048_P - 2))) == 256


def test_parameter_and_key_checks_of_derive(ctx: MechanismContext, registry: MechanismRegistry) -> None:
    public, private = _pair(ctx, registry)
    with pytest.raises(MechanismParamInvalid):
        _derive(ctx, registry, private, b"")
    derive = spec(registry, CKM.DH_PKCS_DERIVE).derive
    assert derive is not None
    with pytest.raises(MechanismParamInvalid):
        derive(ctx, private, None, None)
    with pytest.raises(KeyTypeInconsistent):
        derive(ctx, public, b"\x02", None)


def test_value_bits(ctx: MechanismContext, registry: MechanismRegistry) -> None:
    _, private = _pair(ctx, registry, {CKA.VALUE_BITS: 256})
    x = int.from_bytes(private.attrs[CKA.VALUE], "big")  # type: ignore[arg-type]
    assert x.bit_length() == 256 and private.attrs[CKA.VALUE_BITS] == 256
    _, default = _pair(ctx, registry)
    assert default.attrs[CKA.VALUE_BITS] == int.from_bytes(default.attrs[CKA.VALUE], "big").bit_length()  # type: ignore[arg-type]
    for bits in (1, 2048, 4096):
        with pytest.raises(AttributeValueInvalid):
            _pair(ctx, registry, {CKA.VALUE_BITS: bits})


def test_key_pair_generation_needs_valid_domain_parameters(ctx: MechanismContext,
                                                           registry: MechanismRegistry) -> None:
    generate = spec(registry, CKM.DH_PKCS_KEY_PAIR_GEN).generate_key_pair
    assert generate is not None
    with pytest.raises(TemplateIncomplete):
        generate(ctx, None, {CKA.PRIME: DOMAIN[CKA.PRIME]}, {})
    for bad in ({**DOMAIN, CKA.BASE: b"\x01"}, {**DOMAIN, CKA.PRIME: int_bytes(FFDHE2048_P + 1)},
                {CKA.PRIME: int_bytes((1 << 511) + 1), CKA.BASE: b"\x02"}):
        with pytest.raises(DomainParamsInvalid):
            generate(ctx, None, bad, {})


def test_parameter_generation(ctx: MechanismContext, registry: MechanismRegistry) -> None:
    generate = spec(registry, CKM.DH_PKCS_PARAMETER_GEN).generate_key
    assert generate is not None
    made = generate(ctx, None, {CKA.PRIME_BITS: 1024})
    p = int.from_bytes(made[CKA.PRIME], "big")  # type: ignore[arg-type]
    assert p.bit_length() == 1024 and made[CKA.BASE] == b"\x02" and made[CKA.PRIME_BITS] == 1024
    pyca_dh.DHParameterNumbers(p, 2).parameters()  # pyca accepts it as a DH group
    with pytest.raises(TemplateIncomplete):
        generate(ctx, None, {})
    for bits in (512, 1023, 3072):
        with pytest.raises(KeySizeRange):
            generate(ctx, None, {CKA.PRIME_BITS: bits})


def test_created_keys_and_domain_parameters_are_checked(crypto: PycaCrypto) -> None:
    assert complete_domain_parameters(CKK.DH, DOMAIN) == {CKA.PRIME_BITS: 2048}
    private = {**DOMAIN, CKA.VALUE: int_bytes(12345678901234567890)}
    assert complete_key_attributes(crypto, CKO.PRIVATE_KEY, CKK.DH, private) == {CKA.VALUE_BITS: 64}
    assert complete_key_attributes(crypto, CKO.PUBLIC_KEY, CKK.DH, {**DOMAIN, CKA.VALUE: b"\x05"}) == {}
    with pytest.raises(AttributeValueInvalid):
        complete_key_attributes(crypto, CKO.PUBLIC_KEY, CKK.DH, {**DOMAIN, CKA.VALUE: b"\x01"})
    with pytest.raises(AttributeValueInvalid):
        complete_key_attributes(crypto, CKO.PRIVATE_KEY, CKK.DH, {**DOMAIN, CKA.VALUE: b"\x01"})
    not_prime = {CKA.PRIME: int_bytes(FFDHE2048_P - 2), CKA.BASE: b"\x02", CKA.VALUE: b"\x09"}
    with pytest.raises(AttributeValueInvalid):
        complete_key_attributes(crypto, CKO.PRIVATE_KEY, CKK.DH, not_prime)
    with pytest.raises(TemplateIncomplete):
        complete_key_attributes(crypto, CKO.PRIVATE_KEY, CKK.DH, DOMAIN)


def test_pkcs8_round_trip(ctx: MechanismContext, registry: MechanismRegistry, crypto: PycaCrypto) -> None:
    _, private = _pair(ctx, registry)
    der = encode_private_key_pkcs8(crypto, private)
    loaded = load_der_private_key(der, None)
    assert isinstance(loaded, pyca_dh.DHPrivateKey)
    assert loaded.private_numbers().x == int.from_bytes(private.attrs[CKA.VALUE], "big")  # type: ignore[arg-type]
    key_type, material = decode_private_key_pkcs8(crypto, der)
    assert key_type == CKK.DH
    assert material == {a: private.attrs[a] for a in (CKA.PRIME, CKA.BASE, CKA.VALUE)}


def test_mechanism_info(registry: MechanismRegistry) -> None:
    derive = spec(registry, CKM.DH_PKCS_DERIVE)
    assert (derive.min_key_size, derive.max_key_size, derive.flags) == (1024, 8192, CKF.DERIVE)
    pair = spec(registry, CKM.DH_PKCS_KEY_PAIR_GEN)
    assert (pair.min_key_size, pair.max_key_size, pair.flags) == (1024, 8192, CKF.GENERATE_KEY_PAIR)
    params = spec(registry, CKM.DH_PKCS_PARAMETER_GEN)
    assert (params.min_key_size, params.max_key_size, params.flags) == (1024, 2048, CKF.GENERATE)
    assert params.generated_class == CKO.DOMAIN_PARAMETERS and params.generated_key_type == CKK.DH
    assert all(spec(registry, m).standard.startswith("PKCS #11 v2.40 Current Mechanisms s2.4")
               for m in (CKM.DH_PKCS_DERIVE, CKM.DH_PKCS_KEY_PAIR_GEN, CKM.DH_PKCS_PARAMETER_GEN))
