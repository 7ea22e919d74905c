"""One initialized token: its record, PINs and login state (PKCS #11 v2.40 s5.5 C_InitToken,
C_InitPIN, C_SetPIN; s5.6 C_Login, C_Logout), and its objects.

Login state is per token and per process (all sessions of an application share it, s5.6).
The token's master key is in memory only while the user (or, briefly, the SO) is logged in.

PIN lockout: each role has a persistent failure counter. A login attempt first writes the
counter incremented, then checks the PIN, then writes it back to zero on success -- so
killing the process between the check and the write cannot buy extra guesses. After
``max_pin_attempts`` consecutive failures the role is locked (CKR_PIN_LOCKED); the SO can
give a locked user a new PIN with C_InitPIN.

Several processes share the token record, so every change to it is a read-modify-write
of the *stored* record, committed with a compare-and-swap on its revision and retried if
another process wrote in between: parallel guesses are all counted, and a login never
writes back a stale copy over a PIN change.
"""

from __future__ import annotations

from collections.abc import Callable

from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CKF, CKU
from tokenport.core.token_objects import TokenObjects
from tokenport.errors import (
    FunctionFailed,
    PinIncorrect,
    PinLenRange,
    PinLocked,
    TokenNotPresent,
    UserNotLoggedIn,
    UserPinNotInitialized,
)
from tokenport.objects.model import TokenObject
from tokenport.ports.entropy import RandomSource
from tokenport.ports.storage import ObjectStore, RevisionMismatch
from tokenport.storage_format import (
    MASTER_KEY_BYTES,
    PinRecord,
    SealingCrypto,
    TokenRecord,
    seal_value,
    unseal_value,
    unwrap_master_key,
    wrap_master_key,
)

ROLE_NAMES = {int(CKU.SO): "so", int(CKU.USER): "user"}
RECORD_UPDATE_ATTEMPTS = 1000


def _failures(record: TokenRecord, role: int) -> int:
    return record.so_failures if role == CKU.SO else record.user_failures


def _set_failures(record: TokenRecord, role: int, count: int) -> None:
    if role == CKU.SO:
        record.so_failures = count
    else:
        record.user_failures = count


class TokenSettings:
    """The per-token policy that comes from the configuration."""

    def __init__(self, max_pin_attempts: int, pin_kdf_iterations: int, min_pin_len: int,
                 max_pin_len: int) -> None:
        self.max_pin_attempts = max_pin_attempts
        self.pin_kdf_iterations = pin_kdf_iterations
        self.min_pin_len = min_pin_len
        self.max_pin_len = max_pin_len


def token_prefix(serial: str) -> bytes:
    return b"t/" + serial.encode("ascii") + b"/"


def info_label(serial: str) -> bytes:
    return token_prefix(serial) + b"info"


def objects_prefix(serial: str) -> bytes:
    return token_prefix(serial) + b"o/"


class Token:
    """An initialized token held in a slot."""

    def __init__(
        self,
        store: ObjectStore,
        crypto: SealingCrypto,
        random_for: Callable[[str, str], RandomSource],
        settings: TokenSettings,
        record: TokenRecord,
        after_write: Callable[[], int | None],
    ) -> None:
        self._store = store
        self._crypto = crypto
        self._random_for = random_for
        self.settings = settings
        self.record = record
        self.record_revision = 0
        self._after_write = after_write
        self.logged_in: int | None = None
        self._master_key: bytes | None = None
        self.objects = TokenObjects(store, objects_prefix(record.serial), self._seal, after_write)

    # -- identity ----------------------------------------------------------------------

    @property
    def serial(self) -> str:
        return self.record.serial

    @property
    def slot_id(self) -> int:
        return self.record.slot_id

    @property
    def label(self) -> str:
        return self.record.label

    @property
    def random(self) -> RandomSource:
        """This token's random source (chosen by its label and serial in the config)."""
        return self._random_for(self.record.serial, self.record.label)

    def random_bytes(self, length: int) -> bytes:
        """Random bytes from this token's source (keys, salts, nonces, C_GenerateRandom)."""
        return self._random_for(self.record.serial, self.record.label).random_bytes(length)

    @property
    def user_logged_in(self) -> bool:
        return self.logged_in == CKU.USER

    def flags(self) -> int:
        """CK_TOKEN_INFO.flags (s3.2 table 9), from the record and the failure counters."""
        flags = (
            CKF.RNG | CKF.LOGIN_REQUIRED | CKF.RESTORE_KEY_NOT_NEEDED | CKF.TOKEN_INITIALIZED
        )
        if self.record.user_pin is not None:
            flags |= CKF.USER_PIN_INITIALIZED
        flags |= self._count_flags(
            self.record.user_failures,
            CKF.USER_PIN_COUNT_LOW, CKF.USER_PIN_FINAL_TRY, CKF.USER_PIN_LOCKED,
        )
        flags |= self._count_flags(
            self.record.so_failures, CKF.SO_PIN_COUNT_LOW, CKF.SO_PIN_FINAL_TRY, CKF.SO_PIN_LOCKED
        )
        return int(flags)

    def _count_flags(self, failures: int, low: int, final: int, locked: int) -> int:
        remaining = self.settings.max_pin_attempts - failures
        flags = 0
        if failures > 0:
            flags |= low
        if remaining <= 1:
            flags |= final
        if remaining <= 0:
            flags |= locked
        return flags

    # -- PINs --------------------------------------------------------------------------

    def check_pin_length(self, pin: bytes) -> None:
        if not self.settings.min_pin_len <= len(pin) <= self.settings.max_pin_len:
            raise PinLenRange(
                f"PIN length must be {self.settings.min_pin_len}..{self.settings.max_pin_len}"
            )

    def verify_pin(self, role: int, pin: bytes) -> bytes:
        """Check ``pin`` for ``role`` with lockout accounting; returns the master key."""
        limit = self.settings.max_pin_attempts

        def count_attempt(record: TokenRecord) -> None:
            if (record.so_pin if role == CKU.SO else record.user_pin) is None:
                raise UserPinNotInitialized()
            failures = _failures(record, role)
            if failures >= limit:
                raise PinLocked()
            _set_failures(record, role, failures + 1)

        self.update_record(count_attempt)
        pin_record = self.record.so_pin if role == CKU.SO else self.record.user_pin
        assert pin_record is not None
        try:
            key = unwrap_master_key(self._crypto, pin, pin_record, self.serial, ROLE_NAMES[role])
        except PinIncorrect:
            if _failures(self.record, role) >= limit:
                raise PinIncorrect("wrong PIN; the PIN is now locked") from None
            raise
        self.update_record(lambda record: _set_failures(record, role, 0))
        return key

    def login(self, role: int, pin: bytes) -> None:
        self._master_key = self.verify_pin(role, pin)
        self.logged_in = role

    def logout(self) -> None:
        self.logged_in = None
        self._master_key = None
        self.objects.forget_secrets()

    def init_user_pin(self, pin: bytes) -> None:
        """C_InitPIN (the SO is logged in, so the master key is at hand)."""
        self.check_pin_length(pin)
        pin_record = self._wrap(pin, self._require_master_key(), CKU.USER)

        def set_user_pin(record: TokenRecord) -> None:
            record.user_pin = pin_record
            record.user_failures = 0

        self.update_record(set_user_pin)

    def change_pin(self, role: int, old_pin: bytes, new_pin: bytes) -> None:
        """C_SetPIN: verify the old PIN, re-wrap the master key under the new one only."""
        self.check_pin_length(new_pin)
        key = self.verify_pin(role, old_pin)
        pin_record = self._wrap(new_pin, key, role)

        def set_pin(record: TokenRecord) -> None:
            if role == CKU.SO:
                record.so_pin = pin_record
            else:
                record.user_pin = pin_record

        self.update_record(set_pin)

    def _wrap(self, pin: bytes, key: bytes, role: int) -> PinRecord:
        return wrap_master_key(
            self._crypto, self.random_bytes, pin, key, self.serial, ROLE_NAMES[role],
            self.settings.pin_kdf_iterations,
        )

    def create_record(self) -> None:
        """Store the record of a new token (refused if the label exists already)."""
        self._store.save_object(info_label(self.serial), self.record.encode(), expected_revision=0)
        revision = self._after_write()
        self.record_revision = revision if revision is not None else -1

    def update_record(self, change: Callable[[TokenRecord], None]) -> None:
        """Apply ``change`` to the stored record atomically (see the module docstring).

        ``change`` may raise to abandon the update; nothing is written then.
        """
        label = info_label(self.serial)
        for _ in range(RECORD_UPDATE_ATTEMPTS):
            entry = next((e for e in self._store.enumerate_objects(label) if e.label == label), None)
            if entry is None:
                raise TokenNotPresent("the token was deleted")
            data, _ = self._store.get_object_value(entry.handle)
            record = TokenRecord.decode(data)
            change(record)
            try:
                self._store.save_object(label, record.encode(), expected_revision=entry.revision)
            except RevisionMismatch:
                continue
            self.record = record
            revision = self._after_write()
            self.record_revision = revision if revision is not None else -1
            return
        raise FunctionFailed("the token record kept changing under concurrent updates")

    def reinitialize(self, so_pin: bytes, label: str) -> None:
        """C_InitToken on an initialized token: new master key, no user PIN, no objects."""
        self.verify_pin(CKU.SO, so_pin)
        self.logout()
        self.objects.remove_all_stored()
        so_record = self._wrap(so_pin, self.random_bytes(MASTER_KEY_BYTES), CKU.SO)

        def reset(record: TokenRecord) -> None:
            record.label = label
            record.so_pin = so_record
            record.user_pin = None
            record.user_failures = 0
            record.so_failures = 0

        self.update_record(reset)

    # -- secrets -----------------------------------------------------------------------

    def _require_master_key(self) -> bytes:
        if self._master_key is None:
            raise UserNotLoggedIn()
        return self._master_key

    def _seal(self, obj: TokenObject, attr: int, value: AttrValue) -> bytes:
        return seal_value(
            self._crypto, self._require_master_key(), self.random_bytes, obj.uid, attr, value
        )

    def unseal(self, obj: TokenObject, attr: int) -> AttrValue:
        """The clear value of a sealed attribute (kept in memory until logout)."""
        if not self.user_logged_in:
            raise UserNotLoggedIn()
        value = unseal_value(
            self._crypto, self._require_master_key(), obj.uid, attr, obj.sealed[attr]
        )
        obj.attrs[attr] = value
        return value

    def clear_values(self, obj: TokenObject) -> dict[int, AttrValue]:
        """Every attribute of ``obj`` in clear (unsealing what is sealed)."""
        for attr in obj.sealed:
            if attr not in obj.attrs:
                self.unseal(obj, attr)
        return dict(obj.attrs)


def new_token_record(
    crypto: SealingCrypto,
    random_bytes: Callable[[int], bytes],
    settings: TokenSettings,
    serial: str,
    slot_id: int,
    label: str,
    so_pin: bytes,
) -> TokenRecord:
    """The record of a freshly initialized token: a new master key wrapped for the SO."""
    key = random_bytes(MASTER_KEY_BYTES)
    so_record = wrap_master_key(
        crypto, random_bytes, so_pin, key, serial, "so", settings.pin_kdf_iterations
    )
    return TokenRecord(serial=serial, slot_id=slot_id, label=label, so_pin=so_record)
