"""DES / Triple-DES mechanisms (PKCS #11 v2.40 Current Mechanisms s2.18-2.19, Historical
Mechanisms (DES)): NIST CAVP TDES and SP 800-38B vectors, the key rules (length, parity,
weak keys), length protocol, errors."""

from __future__ import annotations

import pytest

from tokenport.ck import CKA, CKK, CKM
from tokenport.errors import (
    AttributeValueInvalid,
    DataLenRange,
    EncryptedDataInvalid,
    EncryptedDataLenRange,
    KeySizeRange,
    KeyTypeInconsistent,
    MechanismParamInvalid,
    SignatureInvalid,
    SignatureLenRange,
    TemplateInconsistent,
    WrappedKeyInvalid,
)
from tokenport.mechanisms import des
from tokenport.mechanisms.base import CipherContext, MechanismContext, MechanismRegistry
from tokenport.mechanisms.params import MacGeneralParams, Params

from .helpers import secret, spec
from .vectors_rsp import VECTORS, read_rsp

DES_DIR = VECTORS / "des"


def _key_of(record: dict[str, str]) -> bytes:
    k1, k2, k3 = (bytes.fromhex(record[f"KEY{i}"]) for i in (1, 2, 3))
    if k1 == k2 == k3:
        return k1
    if k1 == k3:
        return k1 + k2
    return k1 + k2 + k3


KEY_TYPE = {8: CKK.DES, 16: CKK.DES2, 24: CKK.DES3}


def _cases(name: str) -> list[tuple[bytes, str, dict[str, str]]]:
    return [(_key_of(r), r["SECTION"], r) for r in read_rsp(DES_DIR / name)]


def _cipher(registry: MechanismRegistry, ctx: MechanismContext, mechanism: int, key: bytes,
            encrypt: bool, param: Params = None) -> CipherContext:
    s = spec(registry, mechanism)
    factory = s.encrypt if encrypt else s.decrypt
    assert factory is not None
    return factory(ctx, secret(KEY_TYPE[len(key)], key), param)


ECB_FILES = ("TECBMMT1.rsp", "TECBMMT2.rsp", "TECBMMT3.rsp")
CBC_FILES = ("TCBCMMT1.rsp", "TCBCMMT3.rsp")


@pytest.mark.parametrize("name", ECB_FILES)
def test_ecb_cavp(registry: MechanismRegistry, ctx: MechanismContext, name: str) -> None:
    cases = _cases(name)
    assert len(cases) == 20
    for key, section, r in cases:
        mechanism = CKM.DES_ECB if len(key) == 8 else CKM.DES3_ECB
        plain, cipher = bytes.fromhex(r["PLAINTEXT"]), bytes.fromhex(r["CIPHERTEXT"])
        encrypt = section == "ENCRYPT"
        source, expected = (plain, cipher) if encrypt else (cipher, plain)
        assert _cipher(registry, ctx, mechanism, key, encrypt).once(source) == expected
        # multi-part, split inside a block
        op = _cipher(registry, ctx, mechanism, key, encrypt)
        out = op.update(source[:5]) + op.update(source[5:]) + op.final()
        assert out == expected


@pytest.mark.parametrize("name", CBC_FILES)
def test_cbc_cavp(registry: MechanismRegistry, ctx: MechanismContext, name: str) -> None:
    cases = _cases(name)
    assert len(cases) == 20
    for key, section, r in cases:
        mechanism = CKM.DES_CBC if len(key) == 8 else CKM.DES3_CBC
        iv = bytes.fromhex(r["IV"])
        plain, cipher = bytes.fromhex(r["PLAINTEXT"]), bytes.fromhex(r["CIPHERTEXT"])
        encrypt = section == "ENCRYPT"
        source, expected = (plain, cipher) if encrypt else (cipher, plain)
        assert _cipher(registry, ctx, mechanism, key, encrypt, iv).once(source) == expected
        op = _cipher(registry, ctx, mechanism, key, encrypt, iv)
        out = b"".join(op.update(source[i : i + 3]) for i in range(0, len(source), 3))
        assert out + op.final() == expected


def test_cbc_pad_is_cbc_over_pkcs7(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    key, _, r = _cases("TCBCMMT3.rsp")[1]
    iv = bytes.fromhex(r["IV"])
    plain = bytes.fromhex(r["PLAINTEXT"])
    expected = _cipher(registry, ctx, CKM.DES3_CBC, key, True, iv).once(plain + b"\x08" * 8)
    assert _cipher(registry, ctx, CKM.DES3_CBC_PAD, key, True, iv).once(plain) == expected
    assert _cipher(registry, ctx, CKM.DES3_CBC_PAD, key, False, iv).once(expected) == plain
    for length in range(20):
        data = bytes(range(length))
        op = _cipher(registry, ctx, CKM.DES_CBC_PAD, key[:8], True, iv)
        assert op.update_length(length) == length // 8 * 8
        ct = op.update(data) + op.final()
        assert len(ct) == (length // 8 + 1) * 8
        dec = _cipher(registry, ctx, CKM.DES_CBC_PAD, key[:8], False, iv)
        assert dec.update_length(len(ct)) == len(ct) - 8
        assert dec.update(ct) + dec.final() == data


def test_cbc_pad_bad_padding(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    key = bytes.fromhex("0123456789abcdef23456789abcdef01456789abcdef0123")
    iv = b"\x00" * 8
    block = _cipher(registry, ctx, CKM.DES3_CBC, key, True, iv).once(b"\x01" * 7 + b"\x00")
    with pytest.raises(EncryptedDataInvalid):
        _cipher(registry, ctx, CKM.DES3_CBC_PAD, key, False, iv).once(block)
    with pytest.raises(EncryptedDataLenRange):
        _cipher(registry, ctx, CKM.DES3_CBC_PAD, key, False, iv).once(block[:7])


def test_unpadded_modes_refuse_partial_blocks(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    key = bytes.fromhex("0123456789abcdef")
    with pytest.raises(DataLenRange):
        _cipher(registry, ctx, CKM.DES_ECB, key, True).once(b"1234567")
    with pytest.raises(EncryptedDataLenRange):
        _cipher(registry, ctx, CKM.DES_CBC, key, False, b"\x00" * 8).once(b"123456789")
    op = _cipher(registry, ctx, CKM.DES_ECB, key, True)
    assert op.update_length(12) == 8
    assert len(op.update(b"x" * 12)) == 8
    with pytest.raises(DataLenRange):
        op.final()


def test_parameters_and_key_types(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    des3 = bytes.fromhex("0123456789abcdef23456789abcdef01456789abcdef0123")
    with pytest.raises(MechanismParamInvalid):
        _cipher(registry, ctx, CKM.DES3_CBC, des3, True, b"\x00" * 16)
    with pytest.raises(MechanismParamInvalid):
        _cipher(registry, ctx, CKM.DES3_ECB, des3, True, b"\x00" * 8)
    encrypt = spec(registry, CKM.DES_ECB).encrypt
    assert encrypt is not None
    with pytest.raises(KeyTypeInconsistent):  # a DES3 key with a DES mechanism
        encrypt(ctx, secret(CKK.DES3, des3), None)
    with pytest.raises(KeyTypeInconsistent):  # an AES key
        encrypt(ctx, secret(CKK.AES, b"k" * 16), None)
    assert _cipher(registry, ctx, CKM.DES3_ECB, des3[:16], True).once(b"") == b""  # DES2
    encrypt3 = spec(registry, CKM.DES3_ECB).encrypt
    assert encrypt3 is not None
    with pytest.raises(KeySizeRange):  # a DES3 object holding 16 bytes
        encrypt3(ctx, secret(CKK.DES3, des3[:16]), None)


def _cmac_records() -> list[tuple[bytes, bytes, bytes]]:
    return [
        (_key_of(r), bytes.fromhex(r["MESSAGE"]), bytes.fromhex(r["OUTPUT"]))
        for r in read_rsp(DES_DIR / "nist-800-38b-3des.txt")
    ]


def test_des3_cmac_sp800_38b(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    records = _cmac_records()
    assert len(records) == 8 and {len(k) for k, _, _ in records} == {16, 24}
    sign, verify = spec(registry, CKM.DES3_CMAC).sign, spec(registry, CKM.DES3_CMAC).verify
    assert sign is not None and verify is not None
    for key, message, mac in records:
        k = secret(KEY_TYPE[len(key)], key)
        assert sign(ctx, k, None).once(message) == mac
        op = sign(ctx, k, None)
        for i in range(0, len(message), 5):
            op.update(message[i : i + 5])
        assert op.final() == mac
        verify(ctx, k, None).once(message, mac)
        with pytest.raises(SignatureInvalid):
            verify(ctx, k, None).once(message + b"x", mac)
        with pytest.raises(SignatureLenRange):
            verify(ctx, k, None).once(message, mac[:4])


def test_des3_cmac_general(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    s = spec(registry, CKM.DES3_CMAC_GENERAL)
    assert s.sign is not None and s.verify is not None
    key, message, mac = _cmac_records()[2]
    k = secret(KEY_TYPE[len(key)], key)
    for length in range(1, 9):
        assert s.sign(ctx, k, MacGeneralParams(length)).once(message) == mac[:length]
        s.verify(ctx, k, MacGeneralParams(length)).once(message, mac[:length])
    for bad in (0, 9):
        with pytest.raises(MechanismParamInvalid):
            s.sign(ctx, k, MacGeneralParams(bad))
    with pytest.raises(MechanismParamInvalid):
        s.sign(ctx, k, None)
    cmac = spec(registry, CKM.DES3_CMAC).sign
    assert cmac is not None
    with pytest.raises(MechanismParamInvalid):
        cmac(ctx, k, MacGeneralParams(8))
    with pytest.raises(KeyTypeInconsistent):
        cmac(ctx, secret(CKK.DES, key[:8]), None)


def test_wrap_unwrap_with_cbc_pad(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    s = spec(registry, CKM.DES3_CBC_PAD)
    assert s.wrap is not None and s.unwrap is not None
    kek = secret(CKK.DES3, bytes.fromhex("0123456789abcdef23456789abcdef01456789abcdef0123"))
    iv = b"\x11" * 8
    wrapped = s.wrap(ctx, kek, iv, b"\x42" * 16)
    assert len(wrapped) == 24
    assert s.unwrap(ctx, kek, iv, wrapped) == b"\x42" * 16
    for name in ("DES_ECB", "DES_CBC", "DES3_ECB", "DES3_CBC"):  # as AES: CBC_PAD only
        assert spec(registry, CKM[name]).wrap is None
    # flipping a bit of the next-to-last block flips it in the last plaintext block: the
    # pad byte 0x08 becomes 0x00, which is never valid padding
    damaged = wrapped[:15] + bytes([wrapped[15] ^ 0x08]) + wrapped[16:]
    with pytest.raises(WrappedKeyInvalid):
        s.unwrap(ctx, kek, iv, damaged)


# -- key rules -----------------------------------------------------------------------------------


def test_parity_helpers() -> None:
    assert des.set_odd_parity(bytes.fromhex("0000000000000000")) == bytes.fromhex("0101010101010101")
    assert des.set_odd_parity(bytes.fromhex("fefefefefefefefe")) == bytes.fromhex("fefefefefefefefe")
    assert des.set_odd_parity(bytes.fromhex("ffffffffffffffff")) == bytes.fromhex("fefefefefefefefe")
    assert all((b).bit_count() % 2 == 1 for b in des.set_odd_parity(bytes(range(256))))
    assert des.has_odd_parity(bytes.fromhex("0123456789abcdef"))
    assert not des.has_odd_parity(bytes.fromhex("0023456789abcdef"))
    assert des.is_weak(bytes.fromhex("0000000000000000"))  # 0101.. once parity is set
    assert des.is_weak(bytes.fromhex("0123456789abcdef") + bytes.fromhex("e001e001f101f101"))
    assert not des.is_weak(bytes.fromhex("0123456789abcdef"))
    assert len(des.WEAK_KEYS) == 16 and all(des.has_odd_parity(k) for k in des.WEAK_KEYS)


@pytest.mark.parametrize(("key_type", "length"), [(CKK.DES, 8), (CKK.DES2, 16), (CKK.DES3, 24)])
def test_key_value_rules(key_type: int, length: int) -> None:
    odd = bytes.fromhex("0123456789abcdef" * 3)[:length]
    assert des.des_key_value(key_type, odd) == {CKA.VALUE_LEN: length}
    even = bytes(b ^ 1 for b in odd)  # every parity bit wrong
    assert des.des_key_value(key_type, even) == {CKA.VALUE_LEN: length, CKA.VALUE: odd}
    assert des.des_key_value(key_type, odd, length) == {CKA.VALUE_LEN: length}
    for bad in (b"", odd[:-1], odd + b"\x01", b"\x01" * 32):
        with pytest.raises(AttributeValueInvalid):
            des.des_key_value(key_type, bad)
    with pytest.raises(TemplateInconsistent):
        des.des_key_value(key_type, odd, length + 8)


@pytest.mark.parametrize(
    ("mechanism", "length"), [(CKM.DES_KEY_GEN, 8), (CKM.DES2_KEY_GEN, 16), (CKM.DES3_KEY_GEN, 24)]
)
def test_generation(registry: MechanismRegistry, ctx: MechanismContext, mechanism: int,
                    length: int) -> None:
    s = spec(registry, mechanism)
    assert s.generate_key is not None
    assert (s.min_key_size, s.max_key_size) == (length, length)
    seen = set()
    for _ in range(50):
        material = s.generate_key(ctx, None, {})
        value = material[CKA.VALUE]
        assert isinstance(value, bytes) and len(value) == length
        assert material[CKA.VALUE_LEN] == length
        assert des.has_odd_parity(value) and not des.is_weak(value)
        parts = [value[i : i + 8] for i in range(0, length, 8)]
        assert len(set(parts)) == len(parts)
        seen.add(value)
    assert len(seen) == 50
    assert s.generate_key(ctx, None, {CKA.VALUE_LEN: length})[CKA.VALUE_LEN] == length
    with pytest.raises(TemplateInconsistent):
        s.generate_key(ctx, None, {CKA.VALUE_LEN: 32})
    with pytest.raises(MechanismParamInvalid):
        s.generate_key(ctx, b"\x00", {})


def test_generation_skips_weak_and_degenerate_keys(registry: MechanismRegistry,
                                                   crypto: object) -> None:
    """A random source that first returns a weak key, then DES3 keys with K1 = K2 and with
    K1 = K3, then a good one: only the good one comes out."""
    from tokenport.backends.crypto.pyca import PycaCrypto

    good = bytes.fromhex("0123456789abcdef23456789abcdef01456789abcdef0123")
    outputs = [b"\x00" * 24, bytes.fromhex("0123456789abcdef") * 2 + good[16:],
               good[:16] + good[:8], good]
    ctx = MechanismContext(crypto=PycaCrypto(), random_bytes=lambda n: outputs.pop(0)[:n])
    generate = spec(registry, CKM.DES3_KEY_GEN).generate_key
    assert generate is not None
    assert generate(ctx, None, {})[CKA.VALUE] == good
    assert outputs == []


def test_mechanism_info(registry: MechanismRegistry) -> None:
    for name, low, high, standard in (
        ("DES_ECB", 8, 8, "PKCS #11 v2.40 Historical Mechanisms (DES)"),
        ("DES_CBC_PAD", 8, 8, "PKCS #11 v2.40 Historical Mechanisms (DES)"),
        ("DES3_CBC", 16, 24, "PKCS #11 v2.40 Current Mechanisms s2.18"),
        ("DES3_CMAC", 16, 24, "PKCS #11 v2.40 Current Mechanisms s2.19"),
        ("DES3_CMAC_GENERAL", 16, 24, "PKCS #11 v2.40 Current Mechanisms s2.19"),
    ):
        s = spec(registry, CKM[name])
        assert (s.min_key_size, s.max_key_size) == (low, high), name
        assert s.standard.startswith(standard), name


@pytest.mark.parametrize("name", CBC_FILES)
def test_des_mac_from_cbc_vectors(registry: MechanismRegistry, ctx: MechanismContext, name: str) -> None:
    """CBC-MAC vectors derived from the CAVP CBC vectors: the zero-IV CBC-MAC of
    (IV xor P1) || P2..Pn is Cn; *_MAC gives its first 4 bytes, *_MAC_GENERAL up to 8."""
    for key, section, r in _cases(name):
        if section != "ENCRYPT":
            continue
        iv, plain = bytes.fromhex(r["IV"]), bytes.fromhex(r["PLAINTEXT"])
        message = bytes(a ^ b for a, b in zip(iv, plain[:8], strict=True)) + plain[8:]
        mac = bytes.fromhex(r["CIPHERTEXT"])[-8:]
        short, general = (
            (CKM.DES_MAC, CKM.DES_MAC_GENERAL) if len(key) == 8
            else (CKM.DES3_MAC, CKM.DES3_MAC_GENERAL)
        )
        k = secret(KEY_TYPE[len(key)], key)
        sign, verify = spec(registry, short).sign, spec(registry, short).verify
        sign_general = spec(registry, general).sign
        assert sign is not None and verify is not None and sign_general is not None
        assert sign(ctx, k, None).once(message) == mac[:4]
        assert sign_general(ctx, k, MacGeneralParams(8)).once(message) == mac
        op = sign(ctx, k, None)
        for i in range(0, len(message), 3):
            op.update(message[i : i + 3])
        assert op.final() == mac[:4]
        verify(ctx, k, None).once(message, mac[:4])
        with pytest.raises(SignatureInvalid):
            verify(ctx, k, None).once(message, bytes([mac[0] ^ 1]) + mac[1:4])
    general_spec = spec(registry, CKM.DES3_MAC_GENERAL)
    assert general_spec.sign is not None
    k3 = secret(CKK.DES3, bytes.fromhex("0123456789abcdef23456789abcdef01456789abcdef0123"))
    for bad in (0, 9):
        with pytest.raises(MechanismParamInvalid):
            general_spec.sign(ctx, k3, MacGeneralParams(bad))
    # zero padding: a short message MACs as itself padded with zero bytes
    full = MacGeneralParams(8)
    assert general_spec.sign(ctx, k3, full).once(b"abc") == general_spec.sign(
        ctx, k3, full).once(b"abc" + bytes(5))
