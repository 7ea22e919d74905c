"""CKM_AES_MAC and CKM_AES_MAC_GENERAL (PKCS #11 v2.40 Current Mechanisms s2.10, CBC-MAC):
vectors derived from NIST CAVP AES-CBC multi-block vectors, zero padding, parameters."""

from __future__ import annotations

import pytest

from tokenport.ck import CKK, CKM
from tokenport.errors import (
    KeyTypeInconsistent,
    MechanismParamInvalid,
    SignatureInvalid,
    SignatureLenRange,
)
from tokenport.mechanisms.base import MechanismContext, MechanismRegistry
from tokenport.mechanisms.params import MacGeneralParams

from .helpers import secret, spec
from .vectors_rsp import VECTORS, read_rsp


def _mac_vectors() -> list[tuple[bytes, bytes, bytes]]:
    """(key, message, 16-byte CBC-MAC): for CBC (K, IV, P1..Pn) -> C1..Cn, the zero-IV
    CBC-MAC of (IV xor P1) || P2..Pn is Cn."""
    out = []
    for name in ("CBCMMT128.rsp", "CBCMMT256.rsp"):
        for r in read_rsp(VECTORS / "aes_mac" / name):
            if r["SECTION"] != "ENCRYPT":
                continue
            iv, plain = bytes.fromhex(r["IV"]), bytes.fromhex(r["PLAINTEXT"])
            first = bytes(a ^ b for a, b in zip(iv, plain[:16], strict=True))
            out.append((bytes.fromhex(r["KEY"]), first + plain[16:],
                        bytes.fromhex(r["CIPHERTEXT"])[-16:]))
    return out


def test_vectors(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    vectors = _mac_vectors()
    assert len(vectors) == 20
    general, short = spec(registry, CKM.AES_MAC_GENERAL), spec(registry, CKM.AES_MAC)
    assert general.sign and general.verify and short.sign and short.verify
    for key, message, mac in vectors:
        k = secret(CKK.AES, key)
        assert general.sign(ctx, k, MacGeneralParams(16)).once(message) == mac
        assert short.sign(ctx, k, None).once(message) == mac[:8]
        op = short.sign(ctx, k, None)
        for i in range(0, len(message), 7):
            op.update(message[i : i + 7])
        assert op.final() == mac[:8]
        short.verify(ctx, k, None).once(message, mac[:8])
        general.verify(ctx, k, MacGeneralParams(5)).once(message, mac[:5])
        with pytest.raises(SignatureInvalid):
            short.verify(ctx, k, None).once(message, bytes([mac[0] ^ 1]) + mac[1:8])
        with pytest.raises(SignatureLenRange):
            short.verify(ctx, k, None).once(message, mac)


def test_zero_padding(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    """Data is padded with zero bytes to a positive multiple of 16 (ISO/IEC 9797-1 padding
    method 1): a short message MACs as itself zero-padded, the empty one as one zero block."""
    sign = spec(registry, CKM.AES_MAC_GENERAL).sign
    assert sign is not None
    k = secret(CKK.AES, bytes(range(16)))
    full = MacGeneralParams(16)
    assert sign(ctx, k, full).once(b"abc") == sign(ctx, k, full).once(b"abc" + bytes(13))
    assert sign(ctx, k, full).once(b"") == sign(ctx, k, full).once(bytes(16))
    ecb = spec(registry, CKM.AES_ECB).encrypt
    assert ecb is not None
    assert sign(ctx, k, full).once(b"") == ecb(ctx, k, None).once(bytes(16))


def test_parameters(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    general, short = spec(registry, CKM.AES_MAC_GENERAL), spec(registry, CKM.AES_MAC)
    assert general.sign and short.sign
    k = secret(CKK.AES, bytes(16))
    for bad in (0, 17):
        with pytest.raises(MechanismParamInvalid):
            general.sign(ctx, k, MacGeneralParams(bad))
    with pytest.raises(MechanismParamInvalid):
        general.sign(ctx, k, None)
    with pytest.raises(MechanismParamInvalid):
        short.sign(ctx, k, MacGeneralParams(8))
    with pytest.raises(KeyTypeInconsistent):
        short.sign(ctx, secret(CKK.DES3, bytes(24)), None)
    assert (short.min_key_size, short.max_key_size) == (16, 32)
