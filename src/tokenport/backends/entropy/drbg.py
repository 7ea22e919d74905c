"""The DRBG mechanisms of NIST SP 800-90A Rev. 1: CTR_DRBG (AES-256, with the derivation
function, s10.2) and HMAC_DRBG (SHA-256, s10.1.2), as pure state machines.

AES and HMAC come from pyca/cryptography; everything else is here: the internal state,
Block_Cipher_df and BCC (s10.3.2, s10.3.3), the update functions, and the DRBG functions
of s9 around the algorithms:

* ``instantiate(nonce, personalization)`` (s9.1) draws entropy input through the
  ``get_entropy`` callback the DRBG was built with (the s9 Get_entropy_input interface)
  and sets ``reseed_counter`` to 1;
* ``reseed(additional_input)`` (s9.2) draws fresh entropy input;
* ``generate(n, additional_input, prediction_resistance=...)`` (s9.3.1) refuses requests
  over the maximum request size (2^19 bits), reseeds first when prediction resistance is
  requested (only if the instantiation allowed it) and whenever the reseed counter has
  passed the reseed interval, then generates;
* ``uninstantiate()`` (s9.4) overwrites the internal state (Key/V or K/V, kept in
  bytearrays, in place) with zeros; every later call but ``instantiate`` is refused.

Both mechanisms run at a security strength of 256 bits (the highest either supports;
requests for less are served at 256, as s9.1 permits for an implementation that supports
only that strength). The limits are those of SP 800-90A tables 2 and 3.

Zeroization is best effort in Python: the state lives in bytearrays that are overwritten,
but short-lived ``bytes`` copies made while computing (HMAC outputs, AES blocks) are
freed, not wiped.
"""

from __future__ import annotations

import hmac as stdlib_hmac
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, ClassVar

from tokenport import errors

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers import CipherContext


def _hmac_sha256(key: bytes, data: bytes | bytearray) -> bytes:
    """HMAC-SHA-256 in one call (the stdlib's one-shot HMAC runs in OpenSSL)."""
    return stdlib_hmac.digest(key, data, "sha256")

SECURITY_STRENGTH = 256
"""Bits of security of both mechanisms (AES-256; SHA-256)."""
MIN_ENTROPY_INPUT_BYTES = SECURITY_STRENGTH // 8
"""min_length of the entropy input (= security_strength)."""
MIN_NONCE_BYTES = SECURITY_STRENGTH // 16
"""A nonce of at least security_strength / 2 bits (s8.6.7)."""
MAX_INPUT_BYTES = 1 << 32
"""max_length, max_personalization_string_length, max_additional_input_length: 2^35 bits."""
MAX_REQUEST_BYTES = 1 << 16
"""max_number_of_bits_per_request: 2^19 bits for both mechanisms."""
MAX_RESEED_INTERVAL = 1 << 48
"""reseed_interval may be at most 2^48 requests."""

GetEntropy = Callable[[int], bytes]
"""Get_entropy_input: called with the min-entropy needed (bits), returns the entropy input."""

_AES_KEY_BYTES = 32
_AES_BLOCK = 16
_CTR_SEED_BYTES = _AES_KEY_BYTES + _AES_BLOCK  # seedlen = 384 bits
_CTR_MODULUS = 1 << (8 * _AES_BLOCK)  # ctr_len = blocklen = 128
_DF_KEY = bytes(range(_AES_KEY_BYTES))  # 0x00010203...1F (s10.3.2 step 8)
_HMAC_OUT = 32


class DrbgError(errors.GeneralError):
    """The DRBG refused a request (SP 800-90A's ERROR_FLAG): a request over the limits, a
    prediction-resistance request the instantiation does not allow, a call on an
    uninstantiated DRBG, or entropy input the callback returned too short."""


class _Drbg:
    """The s9 DRBG functions shared by both mechanisms; subclasses supply the algorithms."""

    name: ClassVar[str]

    def __init__(
        self,
        get_entropy: GetEntropy,
        *,
        reseed_interval: int = MAX_RESEED_INTERVAL,
        prediction_resistance: bool = False,
    ) -> None:
        if (
            isinstance(reseed_interval, bool)
            or not isinstance(reseed_interval, int)
            or not 1 <= reseed_interval <= MAX_RESEED_INTERVAL
        ):
            raise DrbgError(f"reseed_interval must be 1..2^48 (got {reseed_interval!r})")
        self._get_entropy = get_entropy
        self._reseed_interval = reseed_interval
        self._prediction_resistance = prediction_resistance
        self._reseed_counter = 0
        self._seed_count = 0
        self._instantiated = False

    def __repr__(self) -> str:
        state = "instantiated" if self._instantiated else "uninstantiated"
        return f"{type(self).__name__}({state}, reseed_counter={self._reseed_counter})"

    # -- what callers may look at (nothing secret) ------------------------------------------

    @property
    def instantiated(self) -> bool:
        return self._instantiated

    @property
    def security_strength(self) -> int:
        return SECURITY_STRENGTH

    @property
    def prediction_resistance(self) -> bool:
        """The prediction_resistance_flag of the instantiation."""
        return self._prediction_resistance

    @property
    def reseed_interval(self) -> int:
        return self._reseed_interval

    @property
    def reseed_counter(self) -> int:
        """Requests since the last (re)seeding, plus one (0 when uninstantiated)."""
        return self._reseed_counter

    @property
    def seed_count(self) -> int:
        """How many times this DRBG was instantiated or reseeded."""
        return self._seed_count

    # -- s9.1 - s9.4 ----------------------------------------------------------------------------

    def instantiate(
        self, nonce: bytes, personalization: bytes = b"", *, security_strength: int = 256
    ) -> None:
        """Instantiate_function: entropy from ``get_entropy``, the caller's nonce."""
        if not 0 < security_strength <= SECURITY_STRENGTH:
            raise DrbgError(f"security strength {security_strength} is not supported")
        _check_input(personalization, "personalization string")
        _check_input(nonce, "nonce")
        if len(nonce) < MIN_NONCE_BYTES:
            raise DrbgError(f"the nonce must be at least {MIN_NONCE_BYTES} bytes")
        if self._instantiated:
            self.uninstantiate()
        entropy = self._entropy_input()
        self._instantiate_algorithm(bytes(entropy), bytes(nonce), bytes(personalization))
        self._reseed_counter = 1
        self._seed_count += 1
        self._instantiated = True

    def reseed(self, additional_input: bytes = b"") -> None:
        """Reseed_function: fresh entropy input and optional additional input."""
        self._require_instantiated()
        _check_input(additional_input, "additional input")
        entropy = self._entropy_input()
        self._reseed_algorithm(entropy, bytes(additional_input))
        self._reseed_counter = 1
        self._seed_count += 1

    def generate(
        self,
        length: int,
        additional_input: bytes = b"",
        *,
        prediction_resistance: bool = False,
        security_strength: int = 256,
    ) -> bytes:
        """Generate_function: ``length`` bytes (at most MAX_REQUEST_BYTES)."""
        self._require_instantiated()
        if isinstance(length, bool) or not isinstance(length, int) or length < 0:
            raise DrbgError("the requested length must be a non-negative integer")
        if length > MAX_REQUEST_BYTES:
            raise DrbgError(
                f"{length} bytes requested; at most {MAX_REQUEST_BYTES} per request (2^19 bits)"
            )
        if not 0 < security_strength <= SECURITY_STRENGTH:
            raise DrbgError(f"security strength {security_strength} is not supported")
        _check_input(additional_input, "additional input")
        if prediction_resistance and not self._prediction_resistance:
            raise DrbgError("prediction resistance was not requested at instantiation")
        additional = bytes(additional_input)
        reseed_required = False
        while True:
            if reseed_required or prediction_resistance:
                self.reseed(additional)
                additional = b""
                reseed_required = False
            output = self._generate_algorithm(length, additional)
            if output is not None:
                return output
            reseed_required = True
            prediction_resistance = self._prediction_resistance

    def reseed_due(self) -> bool:
        """True when the next request must reseed first (reseed_counter > reseed_interval)."""
        return self._reseed_counter > self._reseed_interval

    def count_request(self) -> None:
        """Count a request served from output generated ahead (a pool of earlier output),
        so that reseeding follows the caller's requests (s9.3.1 step 7's reseed_counter)."""
        self._require_instantiated()
        self._reseed_counter += 1

    def uninstantiate(self) -> None:
        """Uninstantiate_function: zeroize the internal state."""
        self._zeroize()
        self._reseed_counter = 0
        self._instantiated = False

    # -- helpers --------------------------------------------------------------------------------

    def _require_instantiated(self) -> None:
        if not self._instantiated:
            raise DrbgError("the DRBG is not instantiated")

    def _entropy_input(self) -> bytes:
        entropy = self._get_entropy(SECURITY_STRENGTH)
        if not MIN_ENTROPY_INPUT_BYTES <= len(entropy) <= MAX_INPUT_BYTES:
            raise DrbgError("the entropy input has the wrong length")
        return bytes(entropy)

    def _instantiate_algorithm(self, entropy: bytes, nonce: bytes, personalization: bytes) -> None:
        raise NotImplementedError

    def _reseed_algorithm(self, entropy: bytes, additional: bytes) -> None:
        raise NotImplementedError

    def _generate_algorithm(self, length: int, additional: bytes) -> bytes | None:
        """The bits, or None for "reseed required"."""
        raise NotImplementedError

    def _zeroize(self) -> None:
        raise NotImplementedError


def _check_input(value: object, what: str) -> None:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise DrbgError(f"the {what} must be bytes")
    if len(value) > MAX_INPUT_BYTES:
        raise DrbgError(f"the {what} is longer than 2^35 bits")


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


# -- CTR_DRBG ------------------------------------------------------------------------------------


class CtrDrbg(_Drbg):
    """CTR_DRBG with AES-256 and the derivation function (SP 800-90A s10.2.1), ctr_len = 128."""

    name = "CTR_DRBG (AES-256, derivation function)"

    def __init__(
        self,
        get_entropy: GetEntropy,
        *,
        reseed_interval: int = MAX_RESEED_INTERVAL,
        prediction_resistance: bool = False,
    ) -> None:
        super().__init__(
            get_entropy, reseed_interval=reseed_interval,
            prediction_resistance=prediction_resistance,
        )
        self._key = bytearray(_AES_KEY_BYTES)
        self._v = bytearray(_AES_BLOCK)
        self._cipher: CipherContext | None = None  # AES-ECB under the current Key

    def _instantiate_algorithm(self, entropy: bytes, nonce: bytes, personalization: bytes) -> None:
        seed_material = _block_cipher_df(entropy + nonce + personalization, _CTR_SEED_BYTES)
        self._key[:] = bytes(_AES_KEY_BYTES)
        self._v[:] = bytes(_AES_BLOCK)
        self._cipher = None
        self._update(seed_material)

    def _reseed_algorithm(self, entropy: bytes, additional: bytes) -> None:
        self._update(_block_cipher_df(entropy + additional, _CTR_SEED_BYTES))

    def _generate_algorithm(self, length: int, additional: bytes) -> bytes | None:
        if self._reseed_counter > self._reseed_interval:
            return None
        if additional:
            provided = _block_cipher_df(additional, _CTR_SEED_BYTES)
            self._update(provided)
        else:
            provided = bytes(_CTR_SEED_BYTES)
        output = self._blocks(-(-length // _AES_BLOCK))[:length]
        self._update(provided)
        self._reseed_counter += 1
        return output

    def _blocks(self, count: int) -> bytes:
        """Block_Encrypt(Key, V+1) || ... || Block_Encrypt(Key, V+count); V advances."""
        v = int.from_bytes(self._v, "big")
        counters = b"".join(
            ((v + i) % _CTR_MODULUS).to_bytes(_AES_BLOCK, "big") for i in range(1, count + 1)
        )
        self._v[:] = ((v + count) % _CTR_MODULUS).to_bytes(_AES_BLOCK, "big")
        if self._cipher is None:  # one AES context per Key (ECB keeps no state between blocks)
            self._cipher = _aes_ecb(self._key)
        return self._cipher.update(counters)

    def _update(self, provided: bytes) -> None:
        """CTR_DRBG_Update (s10.2.1.2)."""
        temp = _xor(self._blocks(_CTR_SEED_BYTES // _AES_BLOCK), provided)
        self._cipher = None
        self._key[:] = temp[:_AES_KEY_BYTES]
        self._v[:] = temp[_AES_KEY_BYTES:]

    def _zeroize(self) -> None:
        self._cipher = None  # OpenSSL wipes the key schedule when the context is freed
        self._key[:] = bytes(len(self._key))
        self._v[:] = bytes(len(self._v))


def _block_cipher_df(data: bytes, out_bytes: int) -> bytes:
    """Block_Cipher_df (s10.3.2) with AES-256."""
    s = len(data).to_bytes(4, "big") + out_bytes.to_bytes(4, "big") + data + b"\x80"
    s += bytes(-len(s) % _AES_BLOCK)
    temp = b""
    i = 0
    while len(temp) < _AES_KEY_BYTES + _AES_BLOCK:
        iv = i.to_bytes(4, "big") + bytes(_AES_BLOCK - 4)
        temp += _bcc(_DF_KEY, iv + s)
        i += 1
    key, x = temp[:_AES_KEY_BYTES], temp[_AES_KEY_BYTES:_AES_KEY_BYTES + _AES_BLOCK]
    encryptor = _aes_ecb(key)
    out = b""
    while len(out) < out_bytes:
        x = encryptor.update(x)
        out += x
    return out[:out_bytes]


def _bcc(key: bytes, data: bytes) -> bytes:
    """BCC (s10.3.3): the last block of the CBC chain over ``data`` with a zero start."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    encryptor = Cipher(algorithms.AES(key), modes.CBC(bytes(_AES_BLOCK))).encryptor()
    return (encryptor.update(data) + encryptor.finalize())[-_AES_BLOCK:]


# -- HMAC_DRBG -----------------------------------------------------------------------------------


class HmacDrbg(_Drbg):
    """HMAC_DRBG with SHA-256 (SP 800-90A s10.1.2)."""

    name = "HMAC_DRBG (SHA-256)"

    def __init__(
        self,
        get_entropy: GetEntropy,
        *,
        reseed_interval: int = MAX_RESEED_INTERVAL,
        prediction_resistance: bool = False,
    ) -> None:
        super().__init__(
            get_entropy, reseed_interval=reseed_interval,
            prediction_resistance=prediction_resistance,
        )
        self._k = bytearray(_HMAC_OUT)
        self._v = bytearray(_HMAC_OUT)
        self._key: bytes | None = None  # K as the one-shot HMAC's key (OpenSSL's HMAC in C)

    def _instantiate_algorithm(self, entropy: bytes, nonce: bytes, personalization: bytes) -> None:
        self._k[:] = b"\x00" * _HMAC_OUT
        self._v[:] = b"\x01" * _HMAC_OUT
        self._key = None
        self._update(entropy + nonce + personalization)

    def _reseed_algorithm(self, entropy: bytes, additional: bytes) -> None:
        self._update(entropy + additional)

    def _generate_algorithm(self, length: int, additional: bytes) -> bytes | None:
        if self._reseed_counter > self._reseed_interval:
            return None
        if additional:
            self._update(additional)
        out = bytearray()
        key = self._current_key()
        v = bytes(self._v)
        while len(out) < length:
            v = _hmac_sha256(key, v)
            out += v
        self._v[:] = v
        self._update(additional)
        self._reseed_counter += 1
        return bytes(out[:length])

    def _current_key(self) -> bytes:
        if self._key is None:
            self._key = bytes(self._k)
        return self._key

    def _mac(self, data: bytes | bytearray) -> bytes:
        return _hmac_sha256(self._current_key(), data)

    def _set_key(self, key: bytes) -> None:
        self._key = None
        self._k[:] = key

    def _update(self, provided: bytes) -> None:
        """HMAC_DRBG_Update (s10.1.2.2); an empty ``provided`` is the spec's Null."""
        self._set_key(self._mac(self._v + b"\x00" + provided))
        self._v[:] = self._mac(self._v)
        if not provided:
            return
        self._set_key(self._mac(self._v + b"\x01" + provided))
        self._v[:] = self._mac(self._v)

    def _zeroize(self) -> None:
        self._key = None
        self._k[:] = bytes(len(self._k))
        self._v[:] = bytes(len(self._v))


DRBGS: Mapping[str, type[CtrDrbg | HmacDrbg]] = MappingProxyType(
    {"ctr": CtrDrbg, "hmac": HmacDrbg}
)
"""The mechanisms by their configuration names."""


def _aes_ecb(key: bytes | bytearray) -> CipherContext:
    """An AES-ECB encryptor (pyca is imported here, by the CTR_DRBG only: the default
    HMAC_DRBG and C_Initialize do without it)."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    return Cipher(algorithms.AES(key), modes.ECB()).encryptor()
