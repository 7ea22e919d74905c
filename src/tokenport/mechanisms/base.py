"""The contract between the Cryptoki core and the mechanism families (PKCS #11 v2.40 s5.8-5.14).

A mechanism family module (digest, ecdsa, rsa, ...) exposes ``register(registry)`` and adds
one ``MechanismSpec`` per mechanism type. The core owns sessions, objects, access rules and
operation state; a mechanism owns only the algorithm: parameter checks, key checks, lengths
and the calls into the crypto port.

Rules every mechanism follows:

* raise tokenport.errors only (translate crypto-library exceptions at the crypto port);
* a factory validates the key (class, type, size) and the parameter before returning, with
  KeyTypeInconsistent, KeySizeRange, MechanismParamInvalid; it never checks usage flags
  (CKA_SIGN ...) -- the core does that with KEY_FUNCTION_NOT_PERMITTED;
* a context whose mechanism has no multi-part form raises FunctionNotSupported from update()
  and final(); the core ends the operation after any error;
* verification failures raise SignatureInvalid (or SignatureLenRange), never return False;
* secrets never appear in exception messages.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CKO
from tokenport.mechanisms.params import MessageParams, Params

if TYPE_CHECKING:
    from tokenport.ports.crypto import CryptoBackend

T = TypeVar("T")

MAX_DATA_LEN = 64 * 1024 * 1024
"""The longest input one call takes, and the most a buffering operation (AES-GCM
decryption, EdDSA) holds: longer inputs give CKR_DATA_LEN_RANGE (CKR_ENCRYPTED_DATA_LEN_RANGE
for ciphertext) before a byte of them is read, so a hostile length never stalls the host.
Streaming operations (digests, MACs, hash-and-sign, the AES modes but GCM decryption) take
any total length in parts of up to this size."""


class KeyView(Protocol):
    """What a mechanism sees of a key object (the core implements it).

    ``get`` returns decoded attribute values, including the secret attributes of a private
    object (decrypted by the core while the user is logged in). ``cached`` memoizes a value
    derived from the key -- typically the crypto backend's parsed key -- until the object
    changes or the user logs out, so a key is parsed once, not on every C_SignInit.
    """

    @property
    def object_class(self) -> int: ...

    @property
    def key_type(self) -> int: ...

    def get(self, attr: int, default: AttrValue | None = None) -> AttrValue | None: ...

    def require(self, attr: int) -> AttrValue:
        """Like get, but a missing attribute raises KeyTypeInconsistent."""
        ...

    def cached(self, purpose: str, build: Callable[[], T]) -> T: ...


@dataclass(frozen=True)
class MechanismContext:
    """Services a mechanism may use: the crypto port and the token's random source."""

    crypto: CryptoBackend
    random_bytes: Callable[[int], bytes]
    key_lookup: Callable[[int], KeyView] | None = None
    """C_DeriveKey only: a further key named by the mechanism parameter (hSaltKey of
    CK_HKDF_PARAMS ...), looked up among the objects the calling session can see;
    KeyHandleInvalid when the handle names none. None outside C_DeriveKey."""


class DigestContext(Protocol):
    """An active digest (C_DigestInit .. C_DigestFinal)."""

    def update(self, data: bytes) -> None: ...
    def final(self) -> bytes: ...
    def once(self, data: bytes) -> bytes:
        """Single-part C_Digest."""
        ...


class SignContext(Protocol):
    """An active signature or MAC computation (C_SignInit ..)."""

    def update(self, data: bytes) -> None: ...
    def final(self) -> bytes: ...
    def once(self, data: bytes) -> bytes:
        """Single-part C_Sign."""
        ...


class VerifyContext(Protocol):
    """An active verification (C_VerifyInit ..). Failures raise SignatureInvalid."""

    def update(self, data: bytes) -> None: ...
    def final(self, signature: bytes) -> None: ...
    def once(self, data: bytes, signature: bytes) -> None:
        """Single-part C_Verify."""
        ...


class CipherContext(Protocol):
    """An active encryption or decryption (C_EncryptInit / C_DecryptInit ..)."""

    def update_length(self, length: int) -> int:
        """The exact length update() would return for ``length`` more input bytes, without
        consuming anything (the s5.2 length query of C_EncryptUpdate / C_DecryptUpdate);
        raises what update() would raise for a mechanism without a multi-part form."""
        ...

    def update(self, data: bytes) -> bytes: ...
    def final(self) -> bytes: ...
    def once(self, data: bytes) -> bytes:
        """Single-part C_Encrypt / C_Decrypt."""
        ...


@dataclass(frozen=True)
class Sealed:
    """A message-based encryption's output: the ciphertext, the IV used, the tag."""

    ciphertext: bytes
    nonce: bytes
    tag: bytes


class MessageAead(Protocol):
    """A message-based AEAD operation's context: one key, any number of messages."""

    def encrypt(self, params: MessageParams, aad: bytes, data: bytes) -> Sealed: ...
    def decrypt(self, params: MessageParams, aad: bytes, data: bytes) -> bytes: ...


AttrMap = Mapping[int, AttrValue]

DigestFactory = Callable[[MechanismContext, Params], DigestContext]
SignFactory = Callable[[MechanismContext, KeyView, Params], SignContext]
VerifyFactory = Callable[[MechanismContext, KeyView, Params], VerifyContext]
CipherFactory = Callable[[MechanismContext, KeyView, Params], CipherContext]
KeyGenerator = Callable[[MechanismContext, Params, AttrMap], dict[int, AttrValue]]
"""C_GenerateKey: from the caller's template (e.g. CKA_VALUE_LEN) to the key material
attributes (CKA_VALUE, CKA_VALUE_LEN). Bad template values raise TemplateIncomplete /
AttributeValueInvalid / KeySizeRange."""
KeyPairGenerator = Callable[
    [MechanismContext, Params, AttrMap, AttrMap], tuple[dict[int, AttrValue], dict[int, AttrValue]]
]
"""C_GenerateKeyPair: from the public and private templates to (public material, private
material): EC -> ({EC_PARAMS, EC_POINT}, {EC_PARAMS, VALUE}); RSA -> ({MODULUS,
PUBLIC_EXPONENT, MODULUS_BITS}, {MODULUS, PUBLIC_EXPONENT, PRIVATE_EXPONENT, PRIME_1,
PRIME_2, EXPONENT_1, EXPONENT_2, COEFFICIENT}); Ed25519 -> ({EC_PARAMS, EC_POINT},
{EC_PARAMS, VALUE})."""
WrapFunction = Callable[[MechanismContext, KeyView, Params, bytes], bytes]
"""C_WrapKey: (wrapping key, parameter, encoded key to wrap) -> wrapped bytes."""
UnwrapFunction = Callable[[MechanismContext, KeyView, Params, bytes], bytes]
"""C_UnwrapKey: (unwrapping key, parameter, wrapped bytes) -> encoded key."""
DeriveFunction = Callable[[MechanismContext, KeyView, Params, int | None], bytes]
"""C_DeriveKey: (base key, parameter, wanted length or None) -> the derived key value (the
core builds the key). With a length (CKA_VALUE_LEN) it returns exactly that many bytes,
truncating as the mechanism's specification says, or raises TemplateInconsistent."""
EncapsulateFunction = Callable[[MechanismContext, KeyView, Params], tuple[bytes, bytes]]
"""C_EncapsulateKey (PKCS #11 v3.2 s5.18): (public key, parameter) -> (shared secret,
ciphertext); the core builds the secret key from the shared secret."""
DecapsulateFunction = Callable[[MechanismContext, KeyView, Params, bytes], bytes]
"""C_DecapsulateKey (PKCS #11 v3.2 s5.18): (private key, parameter, ciphertext) -> shared
secret; a ciphertext of the wrong length raises EncryptedDataLenRange."""
CiphertextLength = Callable[[MechanismContext, KeyView, Params], int]
"""The ciphertext length C_EncapsulateKey produces with this public key (the s5.2 length
query), after the same key and parameter checks as the encapsulation."""


@dataclass(frozen=True)
class MechanismSpec:
    """One mechanism: its C_GetMechanismInfo data and the operations it supports.

    ``flags`` are the CKF_* mechanism flags and must match the operations present.
    ``key_types`` lists the CKK_* values a key must have (empty: no key, e.g. digests).
    ``generated_key_type`` is the CKK_* of keys made by generate_key / generate_key_pair.
    ``generated_class`` is the CKO_* of what generate_key makes: a secret key, or domain
    parameters (CKM_DSA_PARAMETER_GEN, CKM_DH_PKCS_PARAMETER_GEN).
    ``standard`` names where the mechanism is defined (the PKCS #11 section, and the
    algorithm's own standard), for ``tokenport mechanisms`` and docs/mechanisms.md.
    ``encapsulate`` / ``decapsulate`` / ``ciphertext_length`` serve C_EncapsulateKey and
    C_DecapsulateKey (PKCS #11 v3.2 s5.18; flags CKF_ENCAPSULATE / CKF_DECAPSULATE).
    ``derives_data``: C_DeriveKey makes a CKO_DATA object holding the output instead of a
    secret key (CKM_HKDF_DATA); the template's CKA_VALUE_LEN, if any, is the wanted length.
    ``key_type_from_template``: C_GenerateKey makes a secret key of the template's
    CKA_KEY_TYPE (required) rather than ``generated_key_type`` (CKM_PKCS5_PBKD2).
    ``data_base``: C_DeriveKey also takes a CKO_DATA object as its base (CKM_HKDF_DERIVE and
    CKM_HKDF_DATA, PKCS #11 3.2 s6.62.3); the mechanism checks it.
    """

    mechanism: int
    min_key_size: int
    max_key_size: int
    flags: int
    key_types: frozenset[int] = frozenset()
    generated_key_type: int | None = None
    digest: DigestFactory | None = None
    sign: SignFactory | None = None
    verify: VerifyFactory | None = None
    encrypt: CipherFactory | None = None
    decrypt: CipherFactory | None = None
    generate_key: KeyGenerator | None = None
    generate_key_pair: KeyPairGenerator | None = None
    wrap: WrapFunction | None = None
    unwrap: UnwrapFunction | None = None
    derive: DeriveFunction | None = None
    standard: str = ""
    encapsulate: EncapsulateFunction | None = None
    decapsulate: DecapsulateFunction | None = None
    ciphertext_length: CiphertextLength | None = None
    generated_class: int = int(CKO.SECRET_KEY)
    derive_keeps_protection: bool = False
    """C_DeriveKey refuses a template making the new key less protected than its base keys
    (mechanisms.derive_data.check_protection): for derivations whose output reveals the
    base key (concatenation) or is chosen-plaintext encryption under it."""
    derives_data: bool = False
    key_type_from_template: bool = False
    data_base: bool = False


class MechanismRegistry:
    """All mechanisms a token offers, keyed by CKM value (data, filled by register()).

    ``loader``, when given, fills the registry at its first use (a lookup, listing, count
    or read of ``specs``) instead of at construction, so that C_Initialize does not import
    the mechanism families (and the crypto library they lead to) before a call needs them.
    """

    def __init__(self, specs: dict[int, MechanismSpec] | None = None,
                 loader: Callable[[MechanismRegistry], None] | None = None) -> None:
        self._specs: dict[int, MechanismSpec] = dict(specs or {})
        self.loader = loader

    def __repr__(self) -> str:
        state = "not loaded yet" if self.loader is not None else f"{len(self._specs)} mechanisms"
        return f"<MechanismRegistry: {state}>"

    @property
    def specs(self) -> dict[int, MechanismSpec]:
        """Every mechanism, by CKM value (loads the families first)."""
        self.load()
        return self._specs

    def add(self, spec: MechanismSpec) -> None:
        if spec.mechanism in self._specs:
            raise ValueError(f"mechanism 0x{spec.mechanism:x} registered twice")
        self._specs[spec.mechanism] = spec

    def get(self, mechanism: int) -> MechanismSpec | None:
        spec = self._specs.get(mechanism)
        if spec is None and self.loader is not None:
            self.load()
            spec = self._specs.get(mechanism)
        return spec

    def load(self) -> None:
        """Run the loader once (a no-op for a registry filled by hand). Thread-safe: a
        second thread waits for the first one's families."""
        if self.loader is None:
            return
        with _LOAD_LOCK:
            loader = self.loader
            if loader is None:
                return
            loaded = MechanismRegistry()
            loader(loaded)  # if a family fails to import, the registry stays as it was
            for spec in loaded._specs.values():
                self.add(spec)
            self.loader = None

    def __iter__(self) -> Iterator[MechanismSpec]:
        return iter(sorted(self.specs.values(), key=lambda s: s.mechanism))

    def __len__(self) -> int:
        return len(self.specs)


_LOAD_LOCK = threading.Lock()
"""Serialises the loading of lazily filled registries (imports run once)."""
