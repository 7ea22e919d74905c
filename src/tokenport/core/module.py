"""The library: PKCS #11 v2.40 s5.4-5.15 as a Python object (no module-level state).

``Module`` is what the C ABI drives, one method per C function, with Python values in and
out. Every method raises tokenport.errors on failure; lengths and buffers are the C ABI's
business (methods return whole bytes). One re-entrant lock per Module serializes calls.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from tokenport import __version__
from tokenport.ck import CKF, CKS, CKU, CRYPTOKI_VERSION
from tokenport.core.crypto_calls import CryptoCalls
from tokenport.core.directory import RepairReport, TokenDirectory
from tokenport.core.handles import HandleTable
from tokenport.core.info import (
    LibraryInfo,
    MechanismInfo,
    SessionInfo,
    SlotInfo,
    TokenInfo,
    Version,
)
from tokenport.core.object_calls import ObjectCalls
from tokenport.core.session import Session
from tokenport.core.state import synchronized
from tokenport.core.token import Token, TokenSettings
from tokenport.errors import (
    CryptokiAlreadyInitialized,
    FunctionNotSupported,
    MechanismInvalid,
    NoEvent,
    OperationNotInitialized,
    PinLenRange,
    SessionExists,
    SessionParallelNotSupported,
    SessionReadOnly,
    SessionReadOnlyExists,
    SessionReadWriteSoExists,
    TokenNotRecognized,
    UserAlreadyLoggedIn,
    UserAnotherAlreadyLoggedIn,
    UserNotLoggedIn,
    UserTypeInvalid,
)
from tokenport.mechanisms.base import MechanismRegistry
from tokenport.objects.factory import ObjectFactory
from tokenport.ports.entropy import RandomSource
from tokenport.ports.storage import ObjectStore

if TYPE_CHECKING:
    from tokenport.config import Config
    from tokenport.ports.crypto import CryptoBackend

MANUFACTURER = "tokenport"
MODEL = "tokenport"
LIBRARY_VERSION = Version(*(int(p) for p in __version__.split(".")[:2]))
UNAVAILABLE = 0xFFFFFFFFFFFFFFFF
_RO_SESSION_FLAGS = int(CKF.SERIAL_SESSION)
_RW_SESSION_FLAGS = int(CKF.SERIAL_SESSION | CKF.RW_SESSION)


class Module(ObjectCalls, CryptoCalls):
    """One PKCS #11 library instance: C_Initialize .. C_Finalize and everything between.

    ``config`` defaults to tokenport.config.load_config() (TOKENPORT_CONF / TOKENPORT_HOME);
    ``store``, ``crypto``, ``random`` and ``registry`` replace the configured ports (tests
    pass an in-memory store; a store passed in is not closed by finalize()). Without
    ``random``, each token gets its own random source built from its entropy config at
    its first use; finalize() zeroizes them, so the next initialize() starts afresh.
    """

    def __init__(
        self,
        config: Config | None = None,
        *,
        store: ObjectStore | None = None,
        crypto: CryptoBackend | None = None,
        random: RandomSource | None = None,
        registry: MechanismRegistry | None = None,
    ) -> None:
        from tokenport.config import load_config

        self._config = config if config is not None else load_config()
        if crypto is None:
            from tokenport.config import open_crypto

            crypto = open_crypto(self._config)
        if registry is None:
            from tokenport.mechanisms import default_registry

            registry = default_registry()
        self._crypto = crypto
        self._given_random = random
        self._random_sources = {}
        self._contexts = {}
        self._registry = registry
        self._factory = ObjectFactory(crypto)
        self._given_store = store
        self._store = None
        self._directory = None
        self._sessions = {}
        self._handles = HandleTable()
        self._next_session = 1
        self._lock = threading.RLock()

    # -- s5.4 general purpose -----------------------------------------------------------------

    @synchronized
    def initialize(self) -> None:
        """C_Initialize: open the store and discover the tokens."""
        if self._directory is not None:
            raise CryptokiAlreadyInitialized()
        if self._given_store is not None:
            store = self._given_store
        else:
            from tokenport.config import open_store

            store = open_store(self._config)
        store.initialize()
        settings = TokenSettings(
            self._config.max_pin_attempts, self._config.pin_kdf_iterations,
            self._config.min_pin_len, self._config.max_pin_len,
        )
        directory = TokenDirectory(store, self._crypto, self._random_for, settings)
        directory.on_token_removed = self._token_removed
        directory.refresh()
        self._store = store
        self._directory = directory

    @synchronized
    def finalize(self) -> None:
        """C_Finalize: close every session, forget login state, release the store."""
        directory = self._dir()
        for token in directory.tokens():
            token.logout()
            token.objects.drop_session_objects()
        self._sessions.clear()
        self._handles = HandleTable()
        if self._store is not None and self._given_store is None:
            self._store.close()
        self._forget_random()
        self._store = None
        self._directory = None

    @property
    def initialized(self) -> bool:
        return self._directory is not None

    @property
    def crypto(self) -> CryptoBackend:
        """The crypto port this module uses (for tools that parse key files)."""
        return self._crypto

    @synchronized
    def get_info(self) -> LibraryInfo:
        """C_GetInfo."""
        self._dir()
        return LibraryInfo(
            cryptoki_version=Version(*CRYPTOKI_VERSION),
            manufacturer_id=MANUFACTURER,
            flags=0,
            library_description="tokenport PKCS #11 soft token",  # fits CK_INFO (32 bytes)
            library_version=LIBRARY_VERSION,
        )

    # -- s5.5 slots and tokens ----------------------------------------------------------------

    @synchronized
    def get_slot_list(self, token_present: bool) -> list[int]:
        """C_GetSlotList: every token's slot and the free slot (all hold a token)."""
        directory = self._dir()
        directory.refresh()
        return directory.slot_ids()

    @synchronized
    def get_slot_info(self, slot_id: int) -> SlotInfo:
        """C_GetSlotInfo."""
        directory = self._dir()
        directory.refresh()
        directory.token_in_slot(slot_id)
        return SlotInfo(
            slot_description=f"tokenport slot {slot_id}",
            manufacturer_id=MANUFACTURER,
            flags=int(CKF.TOKEN_PRESENT),
            hardware_version=Version(0, 0),
            firmware_version=LIBRARY_VERSION,
        )

    @synchronized
    def get_token_info(self, slot_id: int) -> TokenInfo:
        """C_GetTokenInfo: true flags and session counts of this application."""
        directory = self._dir()
        directory.refresh()
        token = directory.token_in_slot(slot_id)
        if token is None:
            label, serial = "", ""
            flags = int(CKF.RNG | CKF.LOGIN_REQUIRED | CKF.RESTORE_KEY_NOT_NEEDED)
        else:
            label, serial, flags = token.label, token.serial, token.flags()
        sessions = [s for s in self._sessions.values() if token is not None and s.token is token]
        return TokenInfo(
            label=label,
            manufacturer_id=MANUFACTURER,
            model=MODEL,
            serial_number=serial,
            flags=flags,
            max_session_count=0,
            session_count=len(sessions),
            max_rw_session_count=0,
            rw_session_count=sum(1 for s in sessions if s.read_write),
            max_pin_len=self._config.max_pin_len,
            min_pin_len=self._config.min_pin_len,
            total_public_memory=UNAVAILABLE,
            free_public_memory=UNAVAILABLE,
            total_private_memory=UNAVAILABLE,
            free_private_memory=UNAVAILABLE,
            hardware_version=Version(0, 0),
            firmware_version=LIBRARY_VERSION,
            utc_time="",
        )

    @synchronized
    def wait_for_slot_event(self, flags: int) -> int:
        """C_WaitForSlotEvent: slots never change by insertion; only non-blocking calls."""
        self._dir()
        if flags & CKF.DONT_BLOCK:
            raise NoEvent()
        raise FunctionNotSupported("blocking C_WaitForSlotEvent is not supported")

    @synchronized
    def get_mechanism_list(self, slot_id: int) -> list[int]:
        """C_GetMechanismList."""
        directory = self._dir()
        directory.token_in_slot(slot_id)
        return [spec.mechanism for spec in self._registry]

    @synchronized
    def get_mechanism_info(self, slot_id: int, mechanism_type: int) -> MechanismInfo:
        """C_GetMechanismInfo: key size range and flags of one mechanism."""
        self._dir().token_in_slot(slot_id)
        spec = self._registry.get(mechanism_type)
        if spec is None:
            raise MechanismInvalid()
        return MechanismInfo(spec.min_key_size, spec.max_key_size, spec.flags)

    @synchronized
    def init_token(self, slot_id: int, so_pin: bytes, label: bytes) -> None:
        """C_InitToken: initialize the free slot's token, or re-initialize one (SO PIN)."""
        directory = self._dir()
        directory.refresh()
        token = directory.token_in_slot(slot_id)
        text = label.rstrip(b" \x00").decode("utf-8", "replace")
        if token is None:
            self._check_new_pin(so_pin)
            directory.create_token(slot_id, so_pin, text)
            return
        if any(s.token is token for s in self._sessions.values()):
            raise SessionExists("close all sessions of the token first")
        token.reinitialize(so_pin, text)
        self._handles.forget_token(token.serial)

    def _check_new_pin(self, pin: bytes) -> None:
        if not self._config.min_pin_len <= len(pin) <= self._config.max_pin_len:
            raise PinLenRange(
                f"PIN length must be {self._config.min_pin_len}..{self._config.max_pin_len}"
            )

    @synchronized
    def init_pin(self, session: int, pin: bytes) -> None:
        """C_InitPIN: the SO sets the user PIN (also unlocking a locked user PIN)."""
        current = self._session(session)
        if current.state != CKS.RW_SO_FUNCTIONS:
            raise UserNotLoggedIn("C_InitPIN needs the SO logged in to a R/W session")
        current.token.init_user_pin(pin)

    @synchronized
    def set_pin(self, session: int, old_pin: bytes, new_pin: bytes) -> None:
        """C_SetPIN: change the PIN of the logged-in role (the user's when nobody is)."""
        current = self._session(session)
        if not current.read_write:
            raise SessionReadOnly()
        role = int(CKU.SO) if current.token.logged_in == CKU.SO else int(CKU.USER)
        current.token.change_pin(role, old_pin, new_pin)

    # -- s5.6 sessions ---------------------------------------------------------------------

    @synchronized
    def open_session(self, slot_id: int, flags: int) -> int:
        """C_OpenSession."""
        directory = self._dir()
        if not flags & CKF.SERIAL_SESSION:
            raise SessionParallelNotSupported()
        directory.refresh()
        token = directory.token_in_slot(slot_id)
        if token is None:
            raise TokenNotRecognized("the token in this slot is not initialized")
        token.check_usable()  # a damaged token (core/directory.py): CKR_DEVICE_ERROR
        read_write = bool(flags & CKF.RW_SESSION)
        if token.logged_in == CKU.SO and not read_write:
            raise SessionReadWriteSoExists()
        handle = self._next_session
        self._next_session += 1
        self._sessions[handle] = Session(handle, slot_id, token, read_write)
        return handle

    @synchronized
    def close_session(self, session: int) -> None:
        """C_CloseSession: its session objects go; the last session logs the token out."""
        self._close(self._session(session))

    def _close(self, session: Session) -> None:
        token = session.token
        for obj in list(token.objects):
            if obj.owner_session == session.handle:
                self._handles.forget(token.serial, obj.uid)
        token.objects.drop_session_objects(session.handle)
        del self._sessions[session.handle]
        if not any(s.token is token for s in self._sessions.values()):
            token.logout()

    @synchronized
    def close_all_sessions(self, slot_id: int) -> None:
        """C_CloseAllSessions."""
        directory = self._dir()
        token = directory.token_in_slot(slot_id)
        for session in list(self._sessions.values()):
            if session.token is token:
                self._close(session)

    @synchronized
    def get_session_info(self, session: int) -> SessionInfo:
        """C_GetSessionInfo."""
        current = self._session(session)
        flags = _RW_SESSION_FLAGS if current.read_write else _RO_SESSION_FLAGS
        return SessionInfo(current.slot_id, current.state, flags, 0)

    @synchronized
    def login(self, session: int, user_type: int, pin: bytes) -> None:
        """C_Login (s5.6) with persistent lockout counters."""
        current = self._session(session)
        token = current.token
        if user_type not in (CKU.SO, CKU.USER, CKU.CONTEXT_SPECIFIC):
            raise UserTypeInvalid()
        if user_type == CKU.CONTEXT_SPECIFIC:
            waiting = [op for op in current.operations.values() if op.needs_login]
            if not waiting:
                raise OperationNotInitialized(
                    "no operation of this session waits for a context-specific login"
                )
            if token.logged_in != CKU.USER:
                raise UserNotLoggedIn()
            token.verify_pin(CKU.USER, pin)
            for operation in waiting:
                operation.needs_login = False
            return
        if token.logged_in == user_type:
            raise UserAlreadyLoggedIn()
        if token.logged_in is not None:
            raise UserAnotherAlreadyLoggedIn()
        if user_type == CKU.SO and any(
            s.token is token and not s.read_write for s in self._sessions.values()
        ):
            raise SessionReadOnlyExists()
        token.login(user_type, pin)

    @synchronized
    def logout(self, session: int) -> None:
        """C_Logout: private objects and the master key leave memory."""
        current = self._session(session)
        if current.token.logged_in is None:
            raise UserNotLoggedIn()
        current.token.logout()

    def _token_removed(self, token: Token) -> None:
        for session in list(self._sessions.values()):
            if session.token is token:
                del self._sessions[session.handle]
        self._handles.forget_token(token.serial)
        self._forget_random(token.serial)

    # -- tokenport extensions (not PKCS #11 functions) ---------------------------------------

    @synchronized
    def delete_token(self, slot_id: int) -> None:
        """Remove an initialized token and all its objects (no open sessions allowed)."""
        directory = self._dir()
        directory.refresh()
        token = directory.token_in_slot(slot_id)
        if token is None:
            raise TokenNotRecognized("the free slot has no token to delete")
        if any(s.token is token for s in self._sessions.values()):
            raise SessionExists("close all sessions of the token first")
        directory.delete_token(token)

    @synchronized
    def repair_token(self, serial: str, so_pin: bytes, label: str | None = None, *,
                     dry_run: bool = False) -> RepairReport:
        """Give a damaged token a new record with a new SO PIN (tokenport extension; see
        TokenDirectory.repair_token): public objects are kept, private ones are lost."""
        directory = self._dir()
        directory.refresh()
        return directory.repair_token(serial, so_pin, label, dry_run=dry_run)
