"""One initialized token: its record, PINs and login state (PKCS #11 v2.40 s5.5 C_InitToken,
C_InitPIN, C_SetPIN; s5.6 C_Login, C_Logout), and its objects.

Login state is per token and per process (all sessions of an application share it, s5.6).
The token's master key is in memory only while the user (or, briefly, the SO) is logged in.

PIN lockout: each role has a persistent failure counter. A login attempt first writes the
counter incremented, then checks the PIN, then writes it back to zero on success -- so
killing the process between the check and the write cannot buy extra guesses. After
``max_pin_attempts`` consecutive failures the role is locked (CKR_PIN_LOCKED), and the
lock is a fact stored in the token record (CKF_USER_PIN_LOCKED, CKF_SO_PIN_LOCKED): raising
``max_pin_attempts`` later does not unlock it. Only C_InitPIN by the SO (user PIN) or
C_InitToken (both) clears it; a locked SO PIN therefore leaves deleting the token
(``tokenport token delete``) as the only way out. A counter that already reaches the
configured limit also means locked (records written before locks were stored, or a limit
lowered since), and the next login attempt stores that lock too.

Several processes share the token record, so every change to it is a read-modify-write
of the *stored* record, committed with a compare-and-swap on its revision and retried if
another process wrote in between: parallel guesses are all counted, and a login never
writes back a stale copy over a PIN change.

Authenticated records (storage_format): the token keeps its objects' private records
sealed and authenticated under the master key, and tells TokenObjects whether it accepts
version-1 (unauthenticated) private records: its *mark*. The mark lives in the AAD of the
PIN records, so it is known when a PIN is opened and cannot be stripped without the PIN;
a clear copy in the token record serves tools without a PIN. New tokens start marked. A
token made before records were authenticated is migrated at the user's next login: every
version-1 private record is rewritten in version 2 (its sealed values checked on the way),
then the user PIN record is re-wrapped marked. From then on an unauthenticated private
record -- a downgraded one -- is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CKF, CKU
from tokenport.core.token_objects import TokenObjects
from tokenport.errors import (
    FunctionFailed,
    ObjectHandleInvalid,
    PinIncorrect,
    PinLenRange,
    PinLocked,
    PKCS11Error,
    TokenNotPresent,
    UserNotLoggedIn,
    UserPinNotInitialized,
)
from tokenport.logs import log
from tokenport.objects.model import TokenObject
from tokenport.ports.entropy import RandomSource
from tokenport.ports.storage import ObjectStore, RevisionMismatch
from tokenport.storage_format import (
    MASTER_KEY_BYTES,
    PinRecord,
    SealingCrypto,
    TokenRecord,
    encode_private_object,
    open_pin_record,
    seal_value,
    unseal_value,
    verify_record,
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


def _lock_stored(record: TokenRecord, role: int) -> bool:
    return record.so_locked if role == CKU.SO else record.user_locked


def _set_lock(record: TokenRecord, role: int, locked: bool) -> None:
    if role == CKU.SO:
        record.so_locked = locked
    else:
        record.user_locked = locked


def _pin_record(record: TokenRecord, role: int) -> PinRecord | None:
    return record.so_pin if role == CKU.SO else record.user_pin


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
        self._logged_in: int | None = None
        self._master_key: bytes | None = None
        self._marked: bool | None = None  # the mark, as the last opened PIN record said
        self.objects = TokenObjects(store, objects_prefix(record.serial), self, after_write)

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
    def logged_in(self) -> int | None:
        """The role logged in to this token in this process (None: nobody)."""
        return self._logged_in

    @logged_in.setter
    def logged_in(self, role: int | None) -> None:
        self._logged_in = role

    @property
    def user_logged_in(self) -> bool:
        return self.logged_in == CKU.USER

    def check_usable(self) -> None:
        """Raise if the token cannot be used (a damaged token, core/directory.py)."""

    def flags(self) -> int:
        """CK_TOKEN_INFO.flags (s3.2 table 9), from the record and the failure counters."""
        flags = (
            CKF.RNG | CKF.LOGIN_REQUIRED | CKF.RESTORE_KEY_NOT_NEEDED | CKF.TOKEN_INITIALIZED
        )
        if self.record.user_pin is not None:
            flags |= CKF.USER_PIN_INITIALIZED
        flags |= self._count_flags(
            self.record, CKU.USER,
            CKF.USER_PIN_COUNT_LOW, CKF.USER_PIN_FINAL_TRY, CKF.USER_PIN_LOCKED,
        )
        flags |= self._count_flags(
            self.record, CKU.SO, CKF.SO_PIN_COUNT_LOW, CKF.SO_PIN_FINAL_TRY, CKF.SO_PIN_LOCKED
        )
        return int(flags)

    def _count_flags(self, record: TokenRecord, role: int, low: int, final: int,
                     locked: int) -> int:
        failures = _failures(record, role)
        flags = 0
        if failures > 0:
            flags |= low
        if self.is_locked(record, role):
            return flags | final | locked
        if self.settings.max_pin_attempts - failures <= 1:
            flags |= final
        return flags

    def is_locked(self, record: TokenRecord, role: int) -> bool:
        """A stored lock, or a failure count that reaches the configured limit."""
        return _lock_stored(record, role) or _failures(record, role) >= self.settings.max_pin_attempts

    # -- PINs --------------------------------------------------------------------------

    def check_pin_length(self, pin: bytes) -> None:
        if not self.settings.min_pin_len <= len(pin) <= self.settings.max_pin_len:
            raise PinLenRange(
                f"PIN length must be {self.settings.min_pin_len}..{self.settings.max_pin_len}"
            )

    def verify_pin(self, role: int, pin: bytes) -> bytes:
        """Check ``pin`` for ``role`` with lockout accounting; returns the master key."""
        return self._open_pin(role, pin)[0]

    def _open_pin(self, role: int, pin: bytes) -> tuple[bytes, PinRecord, bool]:
        """verify_pin, also giving the PIN record opened and the mark it carries."""
        limit = self.settings.max_pin_attempts
        found_locked = False

        def count_attempt(record: TokenRecord) -> None:
            nonlocal found_locked
            if _pin_record(record, role) is None:
                raise UserPinNotInitialized()
            if _lock_stored(record, role):
                raise PinLocked()  # nothing to write
            failures = _failures(record, role)
            if failures >= limit:  # reached under a lower limit or an older version: store it
                _set_lock(record, role, True)
                found_locked = True
                return
            _set_failures(record, role, failures + 1)
            if failures + 1 >= limit:  # the final try: locked unless this PIN is right
                _set_lock(record, role, True)

        self.update_record(count_attempt)
        if found_locked:
            raise PinLocked()
        pin_record = _pin_record(self.record, role)
        assert pin_record is not None
        try:
            key, marked = open_pin_record(
                self._crypto, pin, pin_record, self.serial, ROLE_NAMES[role]
            )
        except PinIncorrect:
            if self.is_locked(self.record, role):
                raise PinIncorrect("wrong PIN; the PIN is now locked") from None
            raise

        def reset(record: TokenRecord) -> None:
            _set_failures(record, role, 0)
            _set_lock(record, role, False)  # the lock set for this final try, if any

        self.update_record(reset)
        return key, pin_record, marked

    def login(self, role: int, pin: bytes) -> None:
        """C_Login's work for the user or the SO: the master key comes into memory, and the
        private records read so far are verified (see the module docstring)."""
        key, pin_record, pin_marked = self._open_pin(role, pin)
        self._master_key = key
        self.logged_in = role
        marked = pin_marked or self.record.authenticated_records
        self._marked = marked
        self.objects.key_arrived()
        try:
            if role == CKU.USER and not marked:
                marked = self._migrate_records()
            if marked and not pin_marked:
                self._mark(role, pin, key, pin_record)
        except PKCS11Error as exc:  # the login stands; the migration is retried next time
            log.warning("token %s: records not migrated to the authenticated format: %s",
                        self.serial, exc)

    def _migrate_records(self) -> bool:
        """Rewrite version-1 private records in version 2; True if none remain."""
        remaining = self.objects.migrate_legacy()
        if remaining:
            log.warning("token %s: %d private record(s) still in the old format", self.serial,
                        remaining)
            return False
        self._marked = True
        return True

    def _mark(self, role: int, pin: bytes, key: bytes, opened: PinRecord) -> None:
        """Re-wrap the PIN record just opened with the marked AAD (and mark the record)."""
        new_record = self._wrap(pin, key, role, marked=True)

        def mark(record: TokenRecord) -> None:
            record.authenticated_records = True
            if _pin_record(record, role) == opened:  # not changed meanwhile
                if role == CKU.SO:
                    record.so_pin = new_record
                else:
                    record.user_pin = new_record

        self.update_record(mark)

    def logout(self) -> None:
        self.logged_in = None
        self._master_key = None
        self.objects.forget_secrets()

    def init_user_pin(self, pin: bytes) -> None:
        """C_InitPIN (the SO is logged in, so the master key is at hand); also unlocks."""
        self.check_pin_length(pin)
        marked = bool(self._marked) or self.record.authenticated_records
        pin_record = self._wrap(pin, self._require_master_key(), CKU.USER, marked=marked)

        def set_user_pin(record: TokenRecord) -> None:
            record.user_pin = pin_record
            record.user_failures = 0
            record.user_locked = False

        self.update_record(set_user_pin)

    def change_pin(self, role: int, old_pin: bytes, new_pin: bytes) -> None:
        """C_SetPIN: verify the old PIN, re-wrap the master key under the new one only."""
        self.check_pin_length(new_pin)
        key, _opened, marked = self._open_pin(role, old_pin)
        pin_record = self._wrap(
            new_pin, key, role, marked=marked or self.record.authenticated_records
        )

        def set_pin(record: TokenRecord) -> None:
            if role == CKU.SO:
                record.so_pin = pin_record
            else:
                record.user_pin = pin_record

        self.update_record(set_pin)

    def _wrap(self, pin: bytes, key: bytes, role: int, *, marked: bool) -> PinRecord:
        return wrap_master_key(
            self._crypto, self.random_bytes, pin, key, self.serial, ROLE_NAMES[role],
            self.settings.pin_kdf_iterations, marked=marked,
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
            try:
                data, _ = self._store.get_object_value(entry.handle)
            except ObjectHandleInvalid:  # replaced or deleted since the listing: look again
                continue
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
        so_record = self._wrap(so_pin, self.random_bytes(MASTER_KEY_BYTES), CKU.SO, marked=True)

        def reset(record: TokenRecord) -> None:
            record.label = label
            record.so_pin = so_record
            record.user_pin = None
            record.user_failures = 0
            record.so_failures = 0
            record.user_locked = False
            record.so_locked = False
            record.authenticated_records = True

        self.update_record(reset)
        self._marked = True

    # -- secrets and record authentication (TokenObjects' RecordKeeper) ------------------

    def _require_master_key(self) -> bytes:
        if self._master_key is None:
            raise UserNotLoggedIn()
        return self._master_key

    def key_available(self) -> bool:
        return self._master_key is not None

    def authenticated_only(self) -> bool | None:
        return self._marked

    def seal(self, obj: TokenObject, attr: int, value: AttrValue) -> bytes:
        return seal_value(
            self._crypto, self._require_master_key(), self.random_bytes, obj.uid, attr, value,
            serial=self.serial,
        )

    def encode_private(
        self, uid: str, attrs: Mapping[int, AttrValue], sealed: Mapping[int, bytes]
    ) -> bytes:
        return encode_private_object(
            self._crypto, self._require_master_key(), self.random_bytes, self.serial, uid,
            attrs, sealed,
        )

    def verify(self, uid: str, digest: bytes, auth: bytes) -> None:
        verify_record(self._crypto, self._require_master_key(), self.serial, uid, digest, auth)

    def unseal(self, obj: TokenObject, attr: int) -> AttrValue:
        """The clear value of a sealed attribute (kept in memory until logout); the object's
        record is authenticated first."""
        if not self.user_logged_in:
            raise UserNotLoggedIn()
        self.objects.require_authentic(obj)
        serial = None if self.objects.is_legacy(obj.uid) else self.serial
        value = unseal_value(
            self._crypto, self._require_master_key(), obj.uid, attr, obj.sealed[attr],
            serial=serial,
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
    """The record of a freshly initialized token: a new master key wrapped for the SO.

    New tokens accept only authenticated private records from the start (marked).
    """
    key = random_bytes(MASTER_KEY_BYTES)
    so_record = wrap_master_key(
        crypto, random_bytes, so_pin, key, serial, "so", settings.pin_kdf_iterations, marked=True
    )
    return TokenRecord(serial=serial, slot_id=slot_id, label=label, so_pin=so_record,
                       authenticated_records=True)
