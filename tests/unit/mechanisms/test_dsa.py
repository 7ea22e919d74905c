"""DSA mechanisms (PKCS #11 v2.40 Current Mechanisms s2.2) on the pyca backend: NIST CAVP
FIPS 186-3 SigVer and KeyPair vectors, r || s signatures checked by pyca, the input and
signature length rules, parameter and key generation sizes, PKCS #8 encodings."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa as pyca_dsa
from cryptography.hazmat.primitives.asymmetric import utils

from tokenport.backends.crypto.pyca import PycaCrypto
from tokenport.ck import CKA, CKF, CKK, CKM, CKO
from tokenport.errors import (
    DataLenRange,
    DomainParamsInvalid,
    FunctionNotSupported,
    KeySizeRange,
    KeyTypeInconsistent,
    MechanismParamInvalid,
    SignatureInvalid,
    SignatureLenRange,
    TemplateIncomplete,
)
from tokenport.mechanisms import dsa
from tokenport.mechanisms.base import MechanismContext, MechanismRegistry
from tokenport.mechanisms.common import int_bytes
from tokenport.mechanisms.keyformats import (
    complete_domain_parameters,
    complete_key_attributes,
    decode_private_key_pkcs8,
    encode_private_key_pkcs8,
)

from .helpers import FakeKey, spec

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "dsa"
HASH_OF = {"SHA-1": (CKM.DSA_SHA1, "sha1"), "SHA-224": (CKM.DSA_SHA224, "sha224"),
           "SHA-256": (CKM.DSA_SHA256, "sha256"), "SHA-384": (CKM.DSA_SHA384, "sha384"),
           "SHA-512": (CKM.DSA_SHA512, "sha512")}


def _records(name: str) -> Iterator[tuple[str, dict[str, str]]]:
    """(section header, fields) of each record of a CAVP .rsp file; P, Q, G carry over."""
    section = ""
    domain: dict[str, str] = {}
    record: dict[str, str] = {}
    for line in (VECTORS / name).read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
            continue
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = (part.strip() for part in line.split("=", 1))
        if key in ("P", "Q", "G"):
            domain[key] = value
            continue
        record[key] = value
        if key in ("Result", "Y") and ("Result" in record or name == "KeyPair.rsp"):
            yield section, {**domain, **record}
            record = {}


def _domain(fields: dict[str, str]) -> dict[int, bytes]:
    return {CKA.PRIME: bytes.fromhex(fields["P"]), CKA.SUBPRIME: bytes.fromhex(fields["Q"]),
            CKA.BASE: bytes.fromhex(fields["G"])}


SIGVER = list(_records("SigVer.rsp"))
KEYPAIR = list(_records("KeyPair.rsp"))


def test_vector_files_hold_what_the_tests_expect() -> None:
    assert len(SIGVER) == 75 and len(KEYPAIR) == 40
    assert sum(f["Result"].startswith("P") for _, f in SIGVER) >= 15
    sections = {s for s, _ in SIGVER}
    assert "[mod = L=1024, N=160, SHA-1]" in sections and "[mod = L=2048, N=224, SHA-224]" in sections


@pytest.mark.parametrize(("section", "fields"), SIGVER, ids=[f"{s[7:-1]}-{i}" for i, (s, _) in enumerate(SIGVER)])
def test_cavp_sigver(ctx: MechanismContext, registry: MechanismRegistry, section: str,
                     fields: dict[str, str]) -> None:
    mechanism, alg = HASH_OF[section.split(", ")[-1].rstrip("]")]
    public = FakeKey(CKO.PUBLIC_KEY, CKK.DSA, {**_domain(fields), CKA.VALUE: bytes.fromhex(fields["Y"])})
    size = (len(fields["Q"]) + 1) // 2
    signature = int(fields["R"], 16).to_bytes(size, "big") + int(fields["S"], 16).to_bytes(size, "big")
    message = bytes.fromhex(fields["Msg"])
    verifier = spec(registry, mechanism).verify
    raw_verifier = spec(registry, CKM.DSA).verify
    assert verifier is not None and raw_verifier is not None
    digest = hashlib.new(alg, message).digest()
    if fields["Result"].startswith("P"):
        verifier(ctx, public, None).once(message, signature)
        raw_verifier(ctx, public, None).once(digest, signature)
        multi = verifier(ctx, public, None)
        multi.update(message[:7])
        multi.update(message[7:])
        multi.final(signature)
    else:
        with pytest.raises(SignatureInvalid):
            verifier(ctx, public, None).once(message, signature)
        with pytest.raises(SignatureInvalid):
            raw_verifier(ctx, public, None).once(digest, signature)


@pytest.mark.parametrize(("section", "fields"), KEYPAIR, ids=[f"{s[7:-1]}-{i}" for i, (s, _) in enumerate(KEYPAIR)])
def test_cavp_key_pairs_are_accepted_and_consistent(crypto: PycaCrypto, section: str,
                                                   fields: dict[str, str]) -> None:
    domain = _domain(fields)
    private = {**domain, CKA.VALUE: bytes.fromhex(fields["X"])}
    public = {**domain, CKA.VALUE: bytes.fromhex(fields["Y"])}
    from_private = complete_key_attributes(crypto, CKO.PRIVATE_KEY, CKK.DSA, private)
    from_public = complete_key_attributes(crypto, CKO.PUBLIC_KEY, CKK.DSA, public)
    assert from_private[CKA.PUBLIC_KEY_INFO] == from_public[CKA.PUBLIC_KEY_INFO]
    loaded = pyca_dsa.DSAPublicKey  # the SPKI is a real DSA key with the vector's y
    from cryptography.hazmat.primitives.serialization import load_der_public_key
    key = load_der_public_key(from_public[CKA.PUBLIC_KEY_INFO])
    assert isinstance(key, loaded) and key.public_numbers().y == int(fields["Y"], 16)
    bits = complete_domain_parameters(CKK.DSA, domain)
    assert (bits[CKA.PRIME_BITS], bits[CKA.SUB_PRIME_BITS]) == (len(fields["P"]) * 4, len(fields["Q"]) * 4)


def test_a_private_value_not_matching_the_vector_public_value_gives_another_key(crypto: PycaCrypto) -> None:
    _, fields = KEYPAIR[-1]
    domain = _domain(fields)
    x = int(fields["X"], 16)
    other = complete_key_attributes(crypto, CKO.PRIVATE_KEY, CKK.DSA, {**domain, CKA.VALUE: int_bytes(x + 1)})
    public = complete_key_attributes(crypto, CKO.PUBLIC_KEY, CKK.DSA, {**domain, CKA.VALUE: bytes.fromhex(fields["Y"])})
    assert other[CKA.PUBLIC_KEY_INFO] != public[CKA.PUBLIC_KEY_INFO]


def _vector_pair(index: int) -> tuple[FakeKey, FakeKey, dict[str, str]]:
    _, fields = KEYPAIR[index]
    domain = _domain(fields)
    public = FakeKey(CKO.PUBLIC_KEY, CKK.DSA, {**domain, CKA.VALUE: bytes.fromhex(fields["Y"])})
    private = FakeKey(CKO.PRIVATE_KEY, CKK.DSA, {**domain, CKA.VALUE: bytes.fromhex(fields["X"])})
    return public, private, fields


def _pyca_public(fields: dict[str, str]) -> pyca_dsa.DSAPublicKey:
    params = pyca_dsa.DSAParameterNumbers(int(fields["P"], 16), int(fields["Q"], 16), int(fields["G"], 16))
    return pyca_dsa.DSAPublicNumbers(int(fields["Y"], 16), params).public_key()


@pytest.mark.parametrize(("index", "size"), [(10, 28), (20, 32), (30, 32)])
def test_sign_gives_r_s_of_the_subprime_length_verified_by_pyca(
    ctx: MechanismContext, registry: MechanismRegistry, index: int, size: int
) -> None:
    public, private, fields = _vector_pair(index)
    signer = spec(registry, CKM.DSA_SHA256).sign
    assert signer is not None
    signature = signer(ctx, private, None).once(b"message to sign")
    assert len(signature) == 2 * size
    der = utils.encode_dss_signature(int.from_bytes(signature[:size], "big"),
                                     int.from_bytes(signature[size:], "big"))
    _pyca_public(fields).verify(der, b"message to sign", hashes.SHA256())
    verifier = spec(registry, CKM.DSA_SHA256).verify
    assert verifier is not None
    verifier(ctx, public, None).once(b"message to sign", signature)
    with pytest.raises(SignatureInvalid):
        verifier(ctx, public, None).once(b"message to sigN", signature)


def test_multi_part_signing_equals_single_part_verification(ctx: MechanismContext,
                                                            registry: MechanismRegistry) -> None:
    public, private, _ = _vector_pair(35)
    signer, verifier = spec(registry, CKM.DSA_SHA384).sign, spec(registry, CKM.DSA_SHA384).verify
    assert signer is not None and verifier is not None
    context = signer(ctx, private, None)
    for part in (b"one ", b"two ", b"three"):
        context.update(part)
    verifier(ctx, public, None).once(b"one two three", context.final())


def test_raw_dsa_input_lengths(ctx: MechanismContext, registry: MechanismRegistry) -> None:
    public, private, fields = _vector_pair(25)
    signer, verifier = spec(registry, CKM.DSA).sign, spec(registry, CKM.DSA).verify
    assert signer is not None and verifier is not None
    for length in (20, 28, 32, 48, 64):
        digest = bytes(range(length))
        signature = signer(ctx, private, None).once(digest)
        verifier(ctx, public, None).once(digest, signature)
    # a 64-byte input is the SHA-512 value, of which DSA takes the leftmost N bits
    digest = hashlib.sha512(b"abc").digest()
    signature = signer(ctx, private, None).once(digest)
    der = utils.encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    _pyca_public(fields).verify(der, b"abc", hashes.SHA512())
    for length in (0, 19, 21, 33, 65):
        with pytest.raises(DataLenRange):
            signer(ctx, private, None).once(bytes(length))
        with pytest.raises(DataLenRange):
            verifier(ctx, public, None).once(bytes(length), bytes(64))
    with pytest.raises(FunctionNotSupported):
        signer(ctx, private, None).update(bytes(32))


def test_signature_length_and_range(ctx: MechanismContext, registry: MechanismRegistry) -> None:
    public, _, _ = _vector_pair(25)
    verifier = spec(registry, CKM.DSA_SHA256).verify
    assert verifier is not None
    for length in (0, 63, 65, 70):
        with pytest.raises(SignatureLenRange):
            verifier(ctx, public, None).once(b"m", bytes(length))
    with pytest.raises(SignatureInvalid):
        verifier(ctx, public, None).once(b"m", bytes(64))  # r = s = 0
    with pytest.raises(SignatureInvalid):
        verifier(ctx, public, None).once(b"m", b"\xff" * 64)  # r, s >= q


def test_signing_with_1024_bit_keys_is_refused_verification_is_not(
    ctx: MechanismContext, registry: MechanismRegistry
) -> None:
    public, private, _ = _vector_pair(0)
    signer = spec(registry, CKM.DSA_SHA1).sign
    verifier = spec(registry, CKM.DSA_SHA1).verify
    assert signer is not None and verifier is not None
    with pytest.raises(KeySizeRange):
        signer(ctx, private, None)
    verifier(ctx, public, None)  # accepted (old signatures)


def test_keys_of_the_wrong_class_or_type(ctx: MechanismContext, registry: MechanismRegistry) -> None:
    public, private, _ = _vector_pair(20)
    signer, verifier = spec(registry, CKM.DSA).sign, spec(registry, CKM.DSA).verify
    assert signer is not None and verifier is not None
    with pytest.raises(KeyTypeInconsistent):
        signer(ctx, public, None)
    with pytest.raises(KeyTypeInconsistent):
        verifier(ctx, private, None)
    with pytest.raises(KeyTypeInconsistent):
        signer(ctx, FakeKey(CKO.PRIVATE_KEY, CKK.EC, private.attrs), None)
    with pytest.raises(MechanismParamInvalid):
        signer(ctx, private, b"param")


def test_parameter_generation(ctx: MechanismContext, registry: MechanismRegistry) -> None:
    generate = spec(registry, CKM.DSA_PARAMETER_GEN).generate_key
    assert generate is not None
    made = generate(ctx, None, {CKA.PRIME_BITS: 2048})
    p, q, g = (int.from_bytes(made[a], "big") for a in (CKA.PRIME, CKA.SUBPRIME, CKA.BASE))  # type: ignore[arg-type]
    assert (p.bit_length(), q.bit_length()) == (2048, 256)
    assert (made[CKA.PRIME_BITS], made[CKA.SUB_PRIME_BITS]) == (2048, 256)
    assert (p - 1) % q == 0 and pow(g, q, p) == 1 and g > 1
    made = generate(ctx, None, {CKA.PRIME_BITS: 2048, CKA.SUB_PRIME_BITS: 256})
    assert made[CKA.SUB_PRIME_BITS] == 256
    with pytest.raises(TemplateIncomplete):
        generate(ctx, None, {})
    for template in ({CKA.PRIME_BITS: 1024}, {CKA.PRIME_BITS: 4096},
                     {CKA.PRIME_BITS: 2048, CKA.SUB_PRIME_BITS: 160},
                     {CKA.PRIME_BITS: 3072, CKA.SUB_PRIME_BITS: 224},
                     {CKA.PRIME_BITS: 2048, CKA.SUB_PRIME_BITS: 224}):  # pyca cannot make N = 224
        with pytest.raises(KeySizeRange):
            generate(ctx, None, template)


def test_key_pair_generation_from_domain_parameters(ctx: MechanismContext,
                                                    registry: MechanismRegistry) -> None:
    _, fields = KEYPAIR[20]
    domain = _domain(fields)
    generate = spec(registry, CKM.DSA_KEY_PAIR_GEN).generate_key_pair
    assert generate is not None
    public, private = generate(ctx, None, {**domain, CKA.LABEL: b"k"}, {})
    p, q, g = (int(fields[k], 16) for k in "PQG")
    x = int.from_bytes(private[CKA.VALUE], "big")  # type: ignore[arg-type]
    y = int.from_bytes(public[CKA.VALUE], "big")  # type: ignore[arg-type]
    assert 0 < x < q and y == pow(g, x, p) and len(private[CKA.VALUE]) == 32  # type: ignore[arg-type]
    assert all(public[a] == private[a] == domain[a] for a in domain)
    sign = spec(registry, CKM.DSA_SHA256).sign
    verify = spec(registry, CKM.DSA_SHA256).verify
    assert sign is not None and verify is not None
    signature = sign(ctx, FakeKey(CKO.PRIVATE_KEY, CKK.DSA, private), None).once(b"x")
    verify(ctx, FakeKey(CKO.PUBLIC_KEY, CKK.DSA, public), None).once(b"x", signature)
    with pytest.raises(TemplateIncomplete):
        generate(ctx, None, {CKA.PRIME: domain[CKA.PRIME], CKA.SUBPRIME: domain[CKA.SUBPRIME]}, {})
    with pytest.raises(KeySizeRange):
        generate(ctx, None, _domain(KEYPAIR[0][1]), {})  # 1024/160: not for new keys
    bad = {**domain, CKA.SUBPRIME: int_bytes(int(fields["Q"], 16) + 2)}
    with pytest.raises(DomainParamsInvalid):
        generate(ctx, None, bad, {})
    with pytest.raises(DomainParamsInvalid):
        generate(ctx, None, {**domain, CKA.BASE: b"\x01"}, {})


def test_pkcs8_round_trip(crypto: PycaCrypto) -> None:
    _, private, fields = _vector_pair(30)
    der = encode_private_key_pkcs8(crypto, private)
    from cryptography.hazmat.primitives.serialization import load_der_private_key
    loaded = load_der_private_key(der, None)
    assert isinstance(loaded, pyca_dsa.DSAPrivateKey) and loaded.private_numbers().x == int(fields["X"], 16)
    key_type, material = decode_private_key_pkcs8(crypto, der)
    assert key_type == CKK.DSA and material == private.attrs


def test_mechanism_info(registry: MechanismRegistry) -> None:
    info = {m: (s.min_key_size, s.max_key_size, s.flags) for m in dsa.DSA_HASHES
            for s in [spec(registry, m)]}
    assert set(info.values()) == {(1024, 3072, CKF.SIGN | CKF.VERIFY)}
    assert (spec(registry, CKM.DSA).min_key_size, spec(registry, CKM.DSA).flags) == (1024, CKF.SIGN | CKF.VERIFY)
    gen = spec(registry, CKM.DSA_KEY_PAIR_GEN)
    assert (gen.min_key_size, gen.max_key_size, gen.flags) == (2048, 3072, CKF.GENERATE_KEY_PAIR)
    params = spec(registry, CKM.DSA_PARAMETER_GEN)
    assert (params.min_key_size, params.max_key_size, params.flags) == (2048, 3072, CKF.GENERATE)
    assert params.generated_class == CKO.DOMAIN_PARAMETERS and params.generated_key_type == CKK.DSA
    assert all(spec(registry, m).standard.startswith("PKCS #11 v2.40 Current Mechanisms s2.2")
               for m in (CKM.DSA, CKM.DSA_SHA1, CKM.DSA_KEY_PAIR_GEN, CKM.DSA_PARAMETER_GEN))
