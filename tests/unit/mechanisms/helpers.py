"""Helpers for the mechanism tests: a dict-backed KeyView and key pair generation."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CKA, CKO
from tokenport.errors import KeyTypeInconsistent
from tokenport.mechanisms.base import MechanismContext, MechanismRegistry, MechanismSpec

T = TypeVar("T")


class FakeKey:
    """A KeyView over a dict, counting how often each cached value is built."""

    def __init__(self, object_class: int, key_type: int, attrs: Mapping[int, AttrValue]) -> None:
        self._class = object_class
        self._type = key_type
        self.attrs: dict[int, AttrValue] = dict(attrs)
        self._cache: dict[str, Any] = {}
        self.builds: dict[str, int] = {}

    @property
    def object_class(self) -> int:
        return self._class

    @property
    def key_type(self) -> int:
        return self._type

    def get(self, attr: int, default: AttrValue | None = None) -> AttrValue | None:
        return self.attrs.get(attr, default)

    def require(self, attr: int) -> AttrValue:
        if attr not in self.attrs:
            raise KeyTypeInconsistent(f"missing 0x{attr:x}")
        return self.attrs[attr]

    def cached(self, purpose: str, build: Callable[[], T]) -> T:
        if purpose not in self._cache:
            self._cache[purpose] = build()
            self.builds[purpose] = self.builds.get(purpose, 0) + 1
        return self._cache[purpose]  # type: ignore[no-any-return]


def secret(key_type: int, value: bytes) -> FakeKey:
    return FakeKey(CKO.SECRET_KEY, key_type, {CKA.VALUE: value, CKA.VALUE_LEN: len(value)})


def spec(registry: MechanismRegistry, mechanism: int) -> MechanismSpec:
    found = registry.get(mechanism)
    assert found is not None, f"mechanism 0x{mechanism:x} not registered"
    return found


def key_pair(
    registry: MechanismRegistry,
    ctx: MechanismContext,
    mechanism: int,
    public_template: Mapping[int, AttrValue],
) -> tuple[FakeKey, FakeKey]:
    """Generate a key pair through the registry and wrap it as (public, private) FakeKeys."""
    gen = spec(registry, mechanism)
    assert gen.generate_key_pair is not None and gen.generated_key_type is not None
    pub, priv = gen.generate_key_pair(ctx, None, public_template, {})
    key_type = gen.generated_key_type
    return FakeKey(CKO.PUBLIC_KEY, key_type, pub), FakeKey(CKO.PRIVATE_KEY, key_type, priv)


P256_PARAMS = bytes.fromhex("06082a8648ce3d030107")
P384_PARAMS = bytes.fromhex("06052b81040022")
P521_PARAMS = bytes.fromhex("06052b81040023")
ED25519_OID_PARAMS = bytes.fromhex("06032b6570")
ED25519_NAME_PARAMS = bytes.fromhex("130c") + b"edwards25519"
ED25519_OPENSC_PARAMS = bytes.fromhex("06092b06010401da470f01")
