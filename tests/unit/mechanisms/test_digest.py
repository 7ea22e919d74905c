"""Digest mechanisms: FIPS 180-4 / RFC 1321 "abc" vectors, single and multi-part."""

from __future__ import annotations

import pytest

from tokenport.ck import CKM
from tokenport.errors import MechanismParamInvalid
from tokenport.mechanisms.base import MechanismContext, MechanismRegistry

from .helpers import spec

ABC: dict[int, str] = {
    CKM.MD5: "900150983cd24fb0d6963f7d28e17f72",
    CKM.SHA_1: "a9993e364706816aba3e25717850c26c9cd0d89d",
    CKM.SHA224: "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7",
    CKM.SHA256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    CKM.SHA384: "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed"
    "8086072ba1e7cc2358baeca134c825a7",
    CKM.SHA512: "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
}
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@pytest.mark.parametrize("mechanism", list(ABC))
def test_abc_single_part(
    registry: MechanismRegistry, ctx: MechanismContext, mechanism: int
) -> None:
    factory = spec(registry, mechanism).digest
    assert factory is not None
    assert factory(ctx, None).once(b"abc").hex() == ABC[mechanism]


@pytest.mark.parametrize("mechanism", list(ABC))
def test_abc_multi_part(registry: MechanismRegistry, ctx: MechanismContext, mechanism: int) -> None:
    factory = spec(registry, mechanism).digest
    assert factory is not None
    digest = factory(ctx, None)
    for piece in (b"a", b"", b"bc"):
        digest.update(piece)
    assert digest.final().hex() == ABC[mechanism]


def test_empty_message(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    factory = spec(registry, CKM.SHA256).digest
    assert factory is not None
    assert factory(ctx, None).once(b"").hex() == EMPTY_SHA256


def test_parameter_rejected(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    factory = spec(registry, CKM.SHA256).digest
    assert factory is not None
    with pytest.raises(MechanismParamInvalid):
        factory(ctx, b"\x00")
