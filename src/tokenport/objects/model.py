"""An object held by a token (PKCS #11 v2.40 s4): typed attributes, sealed secrets, a cache.

Secret attributes (key material, the value of private data objects) of a *private token*
object are kept sealed -- encrypted under the token's master key (storage_format) -- and
unsealed on first use while the user is logged in; logout drops every unsealed value and
every derived cache entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from tokenport.attributes.kinds import AttrValue
from tokenport.attributes.schema import Schema
from tokenport.ck import CKA
from tokenport.errors import KeyTypeInconsistent

T = TypeVar("T")


@dataclass(eq=False)
class TokenObject:
    """A token or session object.

    ``attrs`` holds every attribute in clear except sealed secrets that have not been
    unsealed yet; ``sealed`` holds the encrypted form of the secret attributes of private
    token objects (reused on re-save, so modifying a label never needs the master key).
    """

    uid: str
    schema: Schema
    attrs: dict[int, AttrValue]
    sealed: dict[int, bytes] = field(default_factory=dict)
    owner_session: int | None = None
    revision: int = 0
    cache: dict[str, object] = field(default_factory=dict)

    @property
    def object_class(self) -> int:
        return self.schema.object_class

    @property
    def is_token(self) -> bool:
        return self.attrs.get(CKA.TOKEN) is True

    @property
    def is_private(self) -> bool:
        return self.attrs.get(CKA.PRIVATE) is True

    def has(self, attr: int) -> bool:
        return attr in self.attrs or attr in self.sealed

    def forget_secrets(self) -> None:
        """Drop unsealed secrets and derived values (logout, or the object changed)."""
        for attr in self.sealed:
            self.attrs.pop(attr, None)
        self.cache.clear()


Unsealer = Callable[[TokenObject, int], AttrValue]


class ObjectKeyView:
    """The KeyView (mechanisms/base.py) of a TokenObject; unseals secrets on demand."""

    def __init__(self, obj: TokenObject, unseal: Unsealer) -> None:
        self._obj = obj
        self._unseal = unseal

    @property
    def object_class(self) -> int:
        return self._obj.object_class

    @property
    def key_type(self) -> int:
        value = self._obj.attrs.get(CKA.KEY_TYPE)
        return value if isinstance(value, int) else -1

    def get(self, attr: int, default: AttrValue | None = None) -> AttrValue | None:
        obj = self._obj
        if attr in obj.attrs:
            return obj.attrs[attr]
        if attr in obj.sealed:
            return self._unseal(obj, attr)
        return default

    def require(self, attr: int) -> AttrValue:
        value = self.get(attr)
        if value is None:
            raise KeyTypeInconsistent(f"the key has no attribute 0x{attr:x}")
        return value

    def cached(self, purpose: str, build: Callable[[], T]) -> T:
        cache = self._obj.cache
        if purpose not in cache:
            cache[purpose] = build()
        return cache[purpose]  # type: ignore[return-value]
