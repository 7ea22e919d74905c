"""Slot, token, session and login calls (PKCS #11 v2.40 s5.4-5.6) as a service over CoreState.

Every method takes the state lock for its bookkeeping (brief: no cryptographic operation runs
under it) and raises tokenport.errors on failure.
"""

from __future__ import annotations

from tokenport import __version__
from tokenport.ck import CKF, CKS, CKU, CRYPTOKI_VERSION
from tokenport.core.directory import RepairReport
from tokenport.core.info import (
    LibraryInfo,
    MechanismInfo,
    SessionInfo,
    SlotInfo,
    TokenInfo,
    Version,
)
from tokenport.core.operation import OpKind
from tokenport.core.session import Session
from tokenport.core.state import CoreState
from tokenport.core.token import Token
from tokenport.errors import (
    ArgumentsBad,
    FunctionNotSupported,
    MechanismInvalid,
    NoEvent,
    OperationCancelFailed,
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
    UserPinNotInitialized,
    UserTypeInvalid,
)

MANUFACTURER = "tokenport"
MODEL = "tokenport"
LIBRARY_VERSION = Version(*(int(p) for p in __version__.split(".")[:2]))
UNAVAILABLE = 0xFFFFFFFFFFFFFFFF
_RO_SESSION_FLAGS = int(CKF.SERIAL_SESSION)
_RW_SESSION_FLAGS = int(CKF.SERIAL_SESSION | CKF.RW_SESSION)

CANCELLABLE: dict[int, OpKind | None] = {
    int(CKF.ENCRYPT): OpKind.ENCRYPT,
    int(CKF.DECRYPT): OpKind.DECRYPT,
    int(CKF.DIGEST): OpKind.DIGEST,
    int(CKF.SIGN): OpKind.SIGN,
    int(CKF.VERIFY): OpKind.VERIFY,
    int(CKF.FIND_OBJECTS): None,  # the session's search (FindCursor)
    int(CKF.MESSAGE_ENCRYPT): OpKind.MESSAGE_ENCRYPT,
    int(CKF.MESSAGE_DECRYPT): OpKind.MESSAGE_DECRYPT,
    int(CKF.MESSAGE_SIGN): OpKind.MESSAGE_SIGN,
    int(CKF.MESSAGE_VERIFY): OpKind.MESSAGE_VERIFY,
    # single-call functions in tokenport: never active between calls, nothing to cancel
    int(CKF.SIGN_RECOVER): None,
    int(CKF.VERIFY_RECOVER): None,
    int(CKF.GENERATE): None,
    int(CKF.GENERATE_KEY_PAIR): None,
    int(CKF.WRAP): None,
    int(CKF.UNWRAP): None,
    int(CKF.DERIVE): None,
}
"""C_SessionCancel's flags (v3.0 s5.6 C_SessionCancel: the CKF_ mechanism flags of the
operations to cancel, CKF_FIND_OBJECTS, and the CKF_MESSAGE_* flags of the message-based
operations) and the operation slot each names."""


class SessionCalls:
    """C_GetInfo .. C_Logout (s5.4-5.6), and the token management extensions."""

    def __init__(self, state: CoreState) -> None:
        self._state = state

    # -- s5.4 general purpose -----------------------------------------------------------------

    def get_info(self) -> LibraryInfo:
        """C_GetInfo."""
        self._state.tokens()
        return LibraryInfo(
            cryptoki_version=Version(*CRYPTOKI_VERSION),
            manufacturer_id=MANUFACTURER,
            flags=0,
            library_description="tokenport PKCS #11 soft token",  # fits CK_INFO (32 bytes)
            library_version=LIBRARY_VERSION,
        )

    # -- s5.5 slots and tokens ----------------------------------------------------------------

    def get_slot_list(self, token_present: bool) -> list[int]:
        """C_GetSlotList: every token's slot and the free slot (all hold a token)."""
        with self._state.lock:
            directory = self._state.tokens()
            directory.refresh()
            return directory.slot_ids()

    def get_slot_info(self, slot_id: int) -> SlotInfo:
        """C_GetSlotInfo."""
        with self._state.lock:
            directory = self._state.tokens()
            directory.refresh()
            directory.token_in_slot(slot_id)
        return SlotInfo(
            slot_description=f"tokenport slot {slot_id}",
            manufacturer_id=MANUFACTURER,
            flags=int(CKF.TOKEN_PRESENT),
            hardware_version=Version(0, 0),
            firmware_version=LIBRARY_VERSION,
        )

    def get_token_info(self, slot_id: int) -> TokenInfo:
        """C_GetTokenInfo: true flags and session counts of this application."""
        state = self._state
        with state.lock:
            directory = state.tokens()
            directory.refresh()
            token = directory.token_in_slot(slot_id)
            if token is None:
                label, serial = "", ""
                flags = int(CKF.RNG | CKF.LOGIN_REQUIRED | CKF.RESTORE_KEY_NOT_NEEDED)
                sessions: list[Session] = []
            else:
                label, serial, flags = token.label, token.serial, token.flags()
                sessions = state.sessions_of(token)
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
            max_pin_len=state.settings.max_pin_len,
            min_pin_len=state.settings.min_pin_len,
            total_public_memory=UNAVAILABLE,
            free_public_memory=UNAVAILABLE,
            total_private_memory=UNAVAILABLE,
            free_private_memory=UNAVAILABLE,
            hardware_version=Version(0, 0),
            firmware_version=LIBRARY_VERSION,
            utc_time="",
        )

    def wait_for_slot_event(self, flags: int) -> int:
        """C_WaitForSlotEvent: slots never change by insertion; only non-blocking calls."""
        self._state.tokens()
        if flags & CKF.DONT_BLOCK:
            raise NoEvent()
        raise FunctionNotSupported("blocking C_WaitForSlotEvent is not supported")

    def get_mechanism_list(self, slot_id: int) -> list[int]:
        """C_GetMechanismList."""
        with self._state.lock:
            self._state.tokens().token_in_slot(slot_id)
        return [spec.mechanism for spec in self._state.registry]

    def get_mechanism_info(self, slot_id: int, mechanism_type: int) -> MechanismInfo:
        """C_GetMechanismInfo: key size range and flags of one mechanism."""
        with self._state.lock:
            self._state.tokens().token_in_slot(slot_id)
        spec = self._state.registry.get(mechanism_type)
        if spec is None:
            raise MechanismInvalid()
        from tokenport.core.message import message_flags  # the message layer loads on first use

        return MechanismInfo(spec.min_key_size, spec.max_key_size, spec.flags | message_flags(spec))

    def init_token(self, slot_id: int, so_pin: bytes, label: bytes) -> None:
        """C_InitToken: initialize the free slot's token, or re-initialize one (SO PIN)."""
        state = self._state
        with state.lock:
            directory = state.tokens()
            directory.refresh()
            token = directory.token_in_slot(slot_id)
            text = label.rstrip(b" \x00").decode("utf-8", "replace")
            if token is None:
                self._check_new_pin(so_pin)
                directory.create_token(slot_id, so_pin, text)
                return
            if state.sessions_of(token):
                raise SessionExists("close all sessions of the token first")
            token.reinitialize(so_pin, text)
            state.handles.forget_token(token.serial)

    def _check_new_pin(self, pin: bytes) -> None:
        settings = self._state.settings
        if not settings.min_pin_len <= len(pin) <= settings.max_pin_len:
            raise PinLenRange(
                f"PIN length must be {settings.min_pin_len}..{settings.max_pin_len}"
            )

    def init_pin(self, session: int, pin: bytes) -> None:
        """C_InitPIN: the SO sets the user PIN (also unlocking a locked user PIN)."""
        with self._state.lock:
            current = self._state.session(session)
            if current.state != CKS.RW_SO_FUNCTIONS:
                raise UserNotLoggedIn("C_InitPIN needs the SO logged in to a R/W session")
            current.token.init_user_pin(pin)

    def set_pin(self, session: int, old_pin: bytes, new_pin: bytes) -> None:
        """C_SetPIN: change the PIN of the logged-in role (the user's when nobody is)."""
        with self._state.lock:
            current = self._state.session(session)
            if not current.read_write:
                raise SessionReadOnly()
            role = int(CKU.SO) if current.token.logged_in == CKU.SO else int(CKU.USER)
            current.token.change_pin(role, old_pin, new_pin)

    # -- s5.6 sessions ---------------------------------------------------------------------

    def open_session(self, slot_id: int, flags: int) -> int:
        """C_OpenSession."""
        state = self._state
        with state.lock:
            directory = state.tokens()
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
            handle = state.next_session
            state.next_session += 1
            state.sessions[handle] = Session(handle, slot_id, token, read_write)
            return handle

    def close_session(self, session: int) -> None:
        """C_CloseSession: its session objects go; the last session logs the token out."""
        with self._state.lock:
            self._close(self._state.session(session))

    def _close(self, session: Session) -> None:
        state = self._state
        token = session.token
        for obj in list(token.objects):
            if obj.owner_session == session.handle:
                state.handles.forget(token.serial, obj.uid)
        token.objects.drop_session_objects(session.handle)
        state.sessions.pop(session.handle, None)
        session.operations.clear()
        if not state.sessions_of(token):
            token.logout()

    def close_all_sessions(self, slot_id: int) -> None:
        """C_CloseAllSessions."""
        with self._state.lock:
            token = self._state.tokens().token_in_slot(slot_id)
            for session in self._state.sessions_of(token):
                self._close(session)

    def get_session_info(self, session: int) -> SessionInfo:
        """C_GetSessionInfo (no lock: reads one session's fields)."""
        current = self._state.session(session)
        flags = _RW_SESSION_FLAGS if current.read_write else _RO_SESSION_FLAGS
        return SessionInfo(current.slot_id, current.state, flags, 0)

    def login(self, session: int, user_type: int, pin: bytes) -> None:
        """C_Login (s5.6) with persistent lockout counters."""
        state = self._state
        with state.lock:
            current = state.session(session)
            token = current.token
            if user_type not in (CKU.SO, CKU.USER, CKU.CONTEXT_SPECIFIC):
                raise UserTypeInvalid()
            if user_type == CKU.CONTEXT_SPECIFIC:
                waiting = [op for op in list(current.operations.values()) if op.needs_login]
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
            if user_type == CKU.SO and any(not s.read_write for s in state.sessions_of(token)):
                raise SessionReadOnlyExists()
            token.login(user_type, pin)

    def login_user(self, session: int, user_type: int, pin: bytes, username: bytes) -> None:
        """C_LoginUser (v3.0 s5.6): C_Login with a user name. A tokenport token has one
        normal user, who has no name: for CKU_USER the name must be empty (or NULL); any
        other name is a user whose PIN was never initialized, CKR_USER_PIN_NOT_INITIALIZED,
        and costs the real user no PIN attempt. For CKU_SO and CKU_CONTEXT_SPECIFIC the
        name is ignored, as the spec allows for roles that have no user names."""
        if user_type == CKU.USER and username:
            self._state.session(session)  # CKR_SESSION_HANDLE_INVALID first
            raise UserPinNotInitialized("this token's only user has no name")
        self.login(session, user_type, pin)

    def session_cancel(self, session: int, flags: int) -> None:
        """C_SessionCancel (v3.0 s5.6): end the session's active operations named by
        ``flags`` (CANCELLABLE); an operation another thread's call is running cannot be
        cancelled (CKR_OPERATION_CANCEL_FAILED; the others are still cancelled); a flag that
        names no operation is CKR_ARGUMENTS_BAD. Flags of inactive operations are no-ops."""
        current = self._state.session(session)
        if flags & ~sum(CANCELLABLE):
            raise ArgumentsBad("C_SessionCancel flags name no operation")
        failed = False
        for flag, kind in CANCELLABLE.items():
            if not flags & flag:
                continue
            if flag == CKF.FIND_OBJECTS:
                with self._state.lock:
                    current.found = None
            elif kind is not None:
                operation = current.operations.get(kind)
                if operation is not None and not operation.abort():
                    failed = True
        if failed:
            raise OperationCancelFailed("an operation was running in another call")

    def logout(self, session: int) -> None:
        """C_Logout: private objects and the master key leave memory."""
        with self._state.lock:
            current = self._state.session(session)
            if current.token.logged_in is None:
                raise UserNotLoggedIn()
            current.token.logout()

    def token_removed(self, token: Token) -> None:
        """The directory saw a token vanish from the store (another process deleted it)."""
        state = self._state
        for session in state.sessions_of(token):
            state.sessions.pop(session.handle, None)
        state.handles.forget_token(token.serial)
        state.forget_token_state(token.serial)

    # -- tokenport extensions (not PKCS #11 functions) ---------------------------------------

    def delete_token(self, slot_id: int) -> None:
        """Remove an initialized token and all its objects (no open sessions allowed)."""
        state = self._state
        with state.lock:
            directory = state.tokens()
            directory.refresh()
            token = directory.token_in_slot(slot_id)
            if token is None:
                raise TokenNotRecognized("the free slot has no token to delete")
            if state.sessions_of(token):
                raise SessionExists("close all sessions of the token first")
            directory.delete_token(token)

    def repair_token(self, serial: str, so_pin: bytes, label: str | None = None, *,
                     dry_run: bool = False) -> RepairReport:
        """Give a damaged token a new record with a new SO PIN (tokenport extension; see
        TokenDirectory.repair_token): public objects are kept, private ones are lost."""
        with self._state.lock:
            directory = self._state.tokens()
            directory.refresh()
            return directory.repair_token(serial, so_pin, label, dry_run=dry_run)
