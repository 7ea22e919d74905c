"""A minimal PKCS #11 v2.40 client over ctypes, written for the qualification suite.

The suite talks to a module only through its C ABI: the library is opened with ``dlopen``
(``ctypes.CDLL``), ``C_GetFunctionList`` hands over the function table, and every call goes
through that table, exactly as a C application would. Nothing from the token's own
implementation is imported, so the suite cannot share its bugs.

Every wrapper returns the CK_RV as a plain ``int`` (with any output values next to it) and
never raises for a CKR error: the tests assert exact return codes. Exceptions are kept for
what is not a PKCS #11 result (the file cannot be loaded, has no ``C_GetFunctionList``).

Pointer parameters are declared ``c_void_p`` so a test can pass ``None`` (NULL) anywhere;
``raw(name)`` gives the function for such calls.

Three safety rules live here, in the one place every call passes (``Client.call``), because
the token under test may hold credentials that are not the suite's:

* ``C_InitToken``, ``C_InitPIN`` and ``C_SetPIN`` are never sent (``RefusedCall``): they erase
  a token or change its PINs, and the suite needs none of them.
* After the first ``C_Login`` that fails on its PIN (``PIN_FAILURES``, e.g. CKR_PIN_INCORRECT,
  which the token counts towards its lockout), no further ``C_Login`` reaches the module: the
  call returns that first result again, and ``pin_failure`` says which role and code it was.
* Before ``C_DestroyObject`` the client calls ``destroy_check(session, handle)`` when one is set;
  the suite's check raises when the object is not one the run created, and the call is not sent.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

from tokenport.ck import CK_UNAVAILABLE_INFORMATION, CKF, CKR

CK_ULONG = ctypes.c_ulong
CK_BYTE = ctypes.c_ubyte
CK_BBOOL = ctypes.c_ubyte
_P = ctypes.c_void_p
_U = CK_ULONG
_B = CK_BBOOL

#: The value CK_UNAVAILABLE_INFORMATION takes in a CK_ULONG of this platform.
UNAVAILABLE = CK_UNAVAILABLE_INFORMATION & ((1 << (8 * ctypes.sizeof(CK_ULONG))) - 1)

#: C_Login results that refuse the PIN itself (PKCS #11 v2.40 s5.6 C_Login, s3.6 CKR_PIN_*): a
#: token may count each towards locking the PIN, so the client never repeats a login after one.
PIN_FAILURES = frozenset({
    int(CKR.PIN_INCORRECT), int(CKR.PIN_INVALID), int(CKR.PIN_LEN_RANGE), int(CKR.PIN_EXPIRED),
    int(CKR.PIN_LOCKED),
})
#: Functions that initialize a token (erasing its objects) or set its PINs (s5.6): never sent.
NEVER_SENT = frozenset({"C_InitToken", "C_InitPIN", "C_SetPIN"})

#: ``CK_FUNCTION_LIST`` after the version, in the exact order of PKCS #11 v2.40 (s5.2).
FUNCTIONS: tuple[tuple[str, tuple[Any, ...]], ...] = (
    ("C_Initialize", (_P,)),
    ("C_Finalize", (_P,)),
    ("C_GetInfo", (_P,)),
    ("C_GetFunctionList", (_P,)),
    ("C_GetSlotList", (_B, _P, _P)),
    ("C_GetSlotInfo", (_U, _P)),
    ("C_GetTokenInfo", (_U, _P)),
    ("C_GetMechanismList", (_U, _P, _P)),
    ("C_GetMechanismInfo", (_U, _U, _P)),
    ("C_InitToken", (_U, _P, _U, _P)),
    ("C_InitPIN", (_U, _P, _U)),
    ("C_SetPIN", (_U, _P, _U, _P, _U)),
    ("C_OpenSession", (_U, _U, _P, _P, _P)),
    ("C_CloseSession", (_U,)),
    ("C_CloseAllSessions", (_U,)),
    ("C_GetSessionInfo", (_U, _P)),
    ("C_GetOperationState", (_U, _P, _P)),
    ("C_SetOperationState", (_U, _P, _U, _U, _U)),
    ("C_Login", (_U, _U, _P, _U)),
    ("C_Logout", (_U,)),
    ("C_CreateObject", (_U, _P, _U, _P)),
    ("C_CopyObject", (_U, _U, _P, _U, _P)),
    ("C_DestroyObject", (_U, _U)),
    ("C_GetObjectSize", (_U, _U, _P)),
    ("C_GetAttributeValue", (_U, _U, _P, _U)),
    ("C_SetAttributeValue", (_U, _U, _P, _U)),
    ("C_FindObjectsInit", (_U, _P, _U)),
    ("C_FindObjects", (_U, _P, _U, _P)),
    ("C_FindObjectsFinal", (_U,)),
    ("C_EncryptInit", (_U, _P, _U)),
    ("C_Encrypt", (_U, _P, _U, _P, _P)),
    ("C_EncryptUpdate", (_U, _P, _U, _P, _P)),
    ("C_EncryptFinal", (_U, _P, _P)),
    ("C_DecryptInit", (_U, _P, _U)),
    ("C_Decrypt", (_U, _P, _U, _P, _P)),
    ("C_DecryptUpdate", (_U, _P, _U, _P, _P)),
    ("C_DecryptFinal", (_U, _P, _P)),
    ("C_DigestInit", (_U, _P)),
    ("C_Digest", (_U, _P, _U, _P, _P)),
    ("C_DigestUpdate", (_U, _P, _U)),
    ("C_DigestKey", (_U, _U)),
    ("C_DigestFinal", (_U, _P, _P)),
    ("C_SignInit", (_U, _P, _U)),
    ("C_Sign", (_U, _P, _U, _P, _P)),
    ("C_SignUpdate", (_U, _P, _U)),
    ("C_SignFinal", (_U, _P, _P)),
    ("C_SignRecoverInit", (_U, _P, _U)),
    ("C_SignRecover", (_U, _P, _U, _P, _P)),
    ("C_VerifyInit", (_U, _P, _U)),
    ("C_Verify", (_U, _P, _U, _P, _U)),
    ("C_VerifyUpdate", (_U, _P, _U)),
    ("C_VerifyFinal", (_U, _P, _U)),
    ("C_VerifyRecoverInit", (_U, _P, _U)),
    ("C_VerifyRecover", (_U, _P, _U, _P, _P)),
    ("C_DigestEncryptUpdate", (_U, _P, _U, _P, _P)),
    ("C_DecryptDigestUpdate", (_U, _P, _U, _P, _P)),
    ("C_SignEncryptUpdate", (_U, _P, _U, _P, _P)),
    ("C_DecryptVerifyUpdate", (_U, _P, _U, _P, _P)),
    ("C_GenerateKey", (_U, _P, _P, _U, _P)),
    ("C_GenerateKeyPair", (_U, _P, _P, _U, _P, _U, _P, _P)),
    ("C_WrapKey", (_U, _P, _U, _U, _P, _P)),
    ("C_UnwrapKey", (_U, _P, _U, _P, _U, _P, _U, _P)),
    ("C_DeriveKey", (_U, _P, _U, _P, _U, _P)),
    ("C_SeedRandom", (_U, _P, _U)),
    ("C_GenerateRandom", (_U, _P, _U)),
    ("C_GetFunctionStatus", (_U,)),
    ("C_CancelFunction", (_U,)),
    ("C_WaitForSlotEvent", (_U, _P, _P)),
)


class CK_VERSION(ctypes.Structure):
    _fields_ = [("major", CK_BYTE), ("minor", CK_BYTE)]


class CK_INFO(ctypes.Structure):
    _fields_ = [
        ("cryptokiVersion", CK_VERSION),
        ("manufacturerID", CK_BYTE * 32),
        ("flags", CK_ULONG),
        ("libraryDescription", CK_BYTE * 32),
        ("libraryVersion", CK_VERSION),
    ]


class CK_TOKEN_INFO(ctypes.Structure):
    _fields_ = [
        ("label", CK_BYTE * 32),
        ("manufacturerID", CK_BYTE * 32),
        ("model", CK_BYTE * 16),
        ("serialNumber", CK_BYTE * 16),
        ("flags", CK_ULONG),
        ("ulMaxSessionCount", CK_ULONG),
        ("ulSessionCount", CK_ULONG),
        ("ulMaxRwSessionCount", CK_ULONG),
        ("ulRwSessionCount", CK_ULONG),
        ("ulMaxPinLen", CK_ULONG),
        ("ulMinPinLen", CK_ULONG),
        ("ulTotalPublicMemory", CK_ULONG),
        ("ulFreePublicMemory", CK_ULONG),
        ("ulTotalPrivateMemory", CK_ULONG),
        ("ulFreePrivateMemory", CK_ULONG),
        ("hardwareVersion", CK_VERSION),
        ("firmwareVersion", CK_VERSION),
        ("utcTime", CK_BYTE * 16),
    ]


class CK_MECHANISM_INFO(ctypes.Structure):
    _fields_ = [("ulMinKeySize", CK_ULONG), ("ulMaxKeySize", CK_ULONG), ("flags", CK_ULONG)]


class CK_MECHANISM(ctypes.Structure):
    _fields_ = [("mechanism", CK_ULONG), ("pParameter", _P), ("ulParameterLen", CK_ULONG)]


class CK_ATTRIBUTE(ctypes.Structure):
    _fields_ = [("type", CK_ULONG), ("pValue", _P), ("ulValueLen", CK_ULONG)]


class CK_C_INITIALIZE_ARGS(ctypes.Structure):
    _fields_ = [
        ("CreateMutex", _P),
        ("DestroyMutex", _P),
        ("LockMutex", _P),
        ("UnlockMutex", _P),
        ("flags", CK_ULONG),
        ("pReserved", _P),
    ]


class ModuleLoadError(Exception):
    """The file is not a loadable PKCS #11 module (not a CKR result)."""


class RefusedCall(Exception):
    """A function the client never sends to a module (it could erase a token or change a PIN)."""


def _text(field: Any) -> str:
    return bytes(field).decode("utf-8", "replace").rstrip(" \x00")


@dataclass(frozen=True)
class Info:
    cryptoki_version: tuple[int, int]
    manufacturer: str
    description: str
    library_version: tuple[int, int]


@dataclass(frozen=True)
class TokenInfo:
    label: str
    manufacturer: str
    model: str
    serial: str
    flags: int


@dataclass(frozen=True)
class MechanismInfo:
    min_key_size: int
    max_key_size: int
    flags: int


class Output(NamedTuple):
    """The result of a call with the PKCS #11 length protocol: CK_RV, the length the module
    reported, and the bytes it wrote (``b""`` when the buffer was NULL)."""

    rv: int
    length: int
    data: bytes


@dataclass(frozen=True)
class AttributeResult:
    """One CK_ATTRIBUTE after C_GetAttributeValue: the ulValueLen the module left, and the
    whole buffer as it is after the call (None when pValue was NULL)."""

    type: int
    length: int
    buffer: bytes | None

    @property
    def value(self) -> bytes | None:
        """The value the module wrote, or None when it wrote none."""
        if self.buffer is None or self.length == UNAVAILABLE or self.length > len(self.buffer):
            return None
        return self.buffer[: self.length]


#: An attribute value in a template: bool → CK_BBOOL, int → CK_ULONG, str → UTF-8, bytes.
AttrValue = bool | int | bytes | str
Template = Sequence[tuple[int, AttrValue]]


def encode_value(value: AttrValue) -> bytes:
    """The native encoding of a template value."""
    if isinstance(value, bool):
        return b"\x01" if value else b"\x00"
    if isinstance(value, int):
        return bytes(CK_ULONG(value))
    if isinstance(value, str):
        return value.encode("utf-8")
    return bytes(value)


def decode_ulong(data: bytes) -> int:
    """A CK_ULONG read back from an attribute value."""
    return int(CK_ULONG.from_buffer_copy(data.ljust(ctypes.sizeof(CK_ULONG), b"\x00")).value)


class _Buffers:
    """Keeps the ctypes objects of one call alive until the call returns."""

    def __init__(self) -> None:
        self.items: list[Any] = []

    def bytes_in(self, data: bytes | None) -> Any:
        if data is None:
            return None
        buf = (CK_BYTE * max(len(data), 1)).from_buffer_copy(data.ljust(1, b"\x00"))
        self.items.append(buf)
        return buf

    def template(self, template: Template | None) -> Any:
        if template is None:
            return None
        array = (CK_ATTRIBUTE * max(len(template), 1))()
        for i, (kind, value) in enumerate(template):
            raw = encode_value(value)
            buf = self.bytes_in(raw)
            array[i].type = kind
            array[i].pValue = ctypes.cast(buf, _P)
            array[i].ulValueLen = len(raw)
        self.items.append(array)
        return array

    def mechanism(self, mechanism: int | None, parameter: bytes | None = None) -> Any:
        if mechanism is None:
            return None
        mech = CK_MECHANISM()
        mech.mechanism = mechanism
        if parameter is not None:
            buf = self.bytes_in(parameter)
            mech.pParameter = ctypes.cast(buf, _P)
            mech.ulParameterLen = len(parameter)
        self.items.append(mech)
        return ctypes.byref(mech)


def _ptr(obj: Any) -> Any:
    return None if obj is None else ctypes.byref(obj)


class Client:
    """One loaded PKCS #11 module and typed wrappers around its function list."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            self._lib = ctypes.CDLL(path, mode=ctypes.RTLD_LOCAL)
        except OSError as exc:
            raise ModuleLoadError(f"cannot load {path}: {exc}") from None
        try:
            entry = self._lib.C_GetFunctionList
        except AttributeError:
            raise ModuleLoadError(f"{path} does not export C_GetFunctionList") from None
        entry.restype = CK_ULONG
        entry.argtypes = [_P]
        self._entry: Callable[..., int] = entry
        table = _P()
        rv = int(entry(ctypes.byref(table)))
        if rv != CKR.OK or not table.value:
            raise ModuleLoadError(f"{path}: C_GetFunctionList returned {rv_name(rv)}")
        self.version = tuple(
            int(b) for b in ctypes.string_at(table.value, 2)
        )
        self._functions: dict[str, Callable[..., int]] = {}
        #: (user type, CK_RV) of the first C_Login refused on its PIN; then no C_Login is sent
        self.pin_failure: tuple[int, int] | None = None
        #: called with (session, handle) before every C_DestroyObject; raises to refuse it
        self.destroy_check: Callable[[int, int], None] | None = None
        #: the functions whose entry in the function list is NULL (the specification wants a
        #: stub returning CKR_FUNCTION_NOT_SUPPORTED instead)
        self.null_entries: list[str] = []
        offset = ctypes.sizeof(_P)  # CK_VERSION, padded to pointer alignment
        for index, (name, argtypes) in enumerate(FUNCTIONS):
            address = _P.from_address(table.value + offset + index * ctypes.sizeof(_P)).value
            if not address:
                self.null_entries.append(name)
                self._functions[name] = _missing(name)
                continue
            prototype = ctypes.CFUNCTYPE(CK_ULONG, *argtypes)
            self._functions[name] = prototype(address)

    # -- raw access ---------------------------------------------------------------------

    def raw(self, name: str) -> Callable[..., int]:
        """The function ``name`` of the function list, to call with raw ctypes arguments (through
        ``call``, so the safety rules apply)."""
        if name not in self._functions:
            raise KeyError(name)
        return partial(self.call, name)

    def call(self, name: str, *args: Any) -> int:
        """Call ``name`` from the function list with raw ctypes arguments; the CK_RV.

        Refuses ``NEVER_SENT`` functions, sends no C_Login after a PIN failure, and runs
        ``destroy_check`` before C_DestroyObject (see the module's docstring)."""
        if name in NEVER_SENT:
            raise RefusedCall(f"the qualification client never calls {name}")
        if name == "C_Login" and self.pin_failure is not None:
            return self.pin_failure[1]
        if name == "C_DestroyObject" and self.destroy_check is not None:
            self.destroy_check(_as_int(args[0]), _as_int(args[1]))
        rv = int(self._functions[name](*args))
        if name == "C_Login" and rv in PIN_FAILURES and self.pin_failure is None:
            self.pin_failure = (_as_int(args[1]), rv)
        return rv

    def get_function_list_raw(self, pointer: Any) -> int:
        """The exported C_GetFunctionList called with ``pointer`` (None for NULL)."""
        return int(self._entry(pointer))

    def get_function_list(self) -> tuple[int, int]:
        """CK_RV and the address of the function list the exported symbol hands out."""
        table = _P()
        rv = int(self._entry(ctypes.byref(table)))
        return rv, int(table.value or 0)

    # -- general purpose ----------------------------------------------------------------

    def initialize(self, os_locking: bool = True) -> int:
        """C_Initialize with CKF_OS_LOCKING_OK (the suite uses threads), or NULL args."""
        if not os_locking:
            return self.call("C_Initialize", None)
        args = CK_C_INITIALIZE_ARGS()
        args.flags = int(CKF.OS_LOCKING_OK)
        return self.call("C_Initialize", ctypes.byref(args))

    def initialize_args(self, args: CK_C_INITIALIZE_ARGS | None) -> int:
        return self.call("C_Initialize", _ptr(args))

    def finalize(self, reserved: int | None = None) -> int:
        """C_Finalize(NULL), or with a (bogus) non-NULL pReserved."""
        return self.call("C_Finalize", None if reserved is None else _P(reserved))

    def get_info(self) -> tuple[int, Info | None]:
        info = CK_INFO()
        rv = self.call("C_GetInfo", ctypes.byref(info))
        if rv != CKR.OK:
            return rv, None
        return rv, Info(
            (info.cryptokiVersion.major, info.cryptokiVersion.minor),
            _text(info.manufacturerID),
            _text(info.libraryDescription),
            (info.libraryVersion.major, info.libraryVersion.minor),
        )

    def get_slot_list_raw(
        self, token_present: bool, buffer_len: int | None, count: int | None = None
    ) -> tuple[int, int, list[int]]:
        """C_GetSlotList with a buffer of ``buffer_len`` slots (None: NULL) and *pulCount set
        to ``count`` (default: ``buffer_len``). Returns CK_RV, *pulCount, the slots written."""
        n = CK_ULONG((buffer_len or 0) if count is None else count)
        array = None if buffer_len is None else (CK_ULONG * max(buffer_len, 1))()
        rv = self.call("C_GetSlotList", 1 if token_present else 0, array, ctypes.byref(n))
        written = [] if array is None or rv != CKR.OK else [int(array[i]) for i in range(n.value)]
        return rv, int(n.value), written

    def get_slot_list(self, token_present: bool = True) -> tuple[int, list[int]]:
        rv, count, _ = self.get_slot_list_raw(token_present, None)
        if rv != CKR.OK:
            return rv, []
        rv, count, slots = self.get_slot_list_raw(token_present, count)
        return rv, slots

    def get_token_info(self, slot: int) -> tuple[int, TokenInfo | None]:
        info = CK_TOKEN_INFO()
        rv = self.call("C_GetTokenInfo", slot, ctypes.byref(info))
        if rv != CKR.OK:
            return rv, None
        return rv, TokenInfo(
            _text(info.label), _text(info.manufacturerID), _text(info.model),
            _text(info.serialNumber), int(info.flags),
        )

    def get_mechanism_info(self, slot: int, mechanism: int) -> tuple[int, MechanismInfo | None]:
        info = CK_MECHANISM_INFO()
        rv = self.call("C_GetMechanismInfo", slot, mechanism, ctypes.byref(info))
        if rv != CKR.OK:
            return rv, None
        return rv, MechanismInfo(int(info.ulMinKeySize), int(info.ulMaxKeySize), int(info.flags))

    # -- sessions -----------------------------------------------------------------------

    def open_session(self, slot: int, flags: int | None = None) -> tuple[int, int]:
        """C_OpenSession (default flags: CKF_SERIAL_SESSION | CKF_RW_SESSION)."""
        if flags is None:
            flags = int(CKF.SERIAL_SESSION | CKF.RW_SESSION)
        handle = CK_ULONG(0)
        rv = self.call("C_OpenSession", slot, flags, None, None, ctypes.byref(handle))
        return rv, int(handle.value)

    def close_session(self, session: int) -> int:
        return self.call("C_CloseSession", session)

    def login(self, session: int, user_type: int, pin: bytes) -> int:
        keep = _Buffers()
        return self.call("C_Login", session, user_type, keep.bytes_in(pin), len(pin))

    def logout(self, session: int) -> int:
        return self.call("C_Logout", session)

    # -- objects ------------------------------------------------------------------------

    def create_object(self, session: int, template: Template) -> tuple[int, int]:
        keep = _Buffers()
        handle = CK_ULONG(0)
        rv = self.call(
            "C_CreateObject", session, keep.template(template), len(template), ctypes.byref(handle)
        )
        return rv, int(handle.value)

    def destroy_object(self, session: int, handle: int) -> int:
        return self.call("C_DestroyObject", session, handle)

    def get_attribute_value(
        self, session: int, handle: int, requests: Sequence[tuple[int, int | None]],
        fill: int = 0,
    ) -> tuple[int, list[AttributeResult]]:
        """C_GetAttributeValue for (type, buffer length or None for NULL pValue) pairs; the
        buffers start filled with ``fill`` so a test can see whether the module wrote."""
        array = (CK_ATTRIBUTE * max(len(requests), 1))()
        buffers: list[Any] = []
        for i, (kind, length) in enumerate(requests):
            array[i].type = kind
            if length is None:
                array[i].pValue = None
                array[i].ulValueLen = 0
                buffers.append(None)
            else:
                buf = (CK_BYTE * max(length, 1))(*([fill] * max(length, 1)))
                buffers.append(buf)
                array[i].pValue = ctypes.cast(buf, _P)
                array[i].ulValueLen = length
        rv = self.call("C_GetAttributeValue", session, handle, array, len(requests))
        results = []
        for i, (kind, length) in enumerate(requests):
            buf = buffers[i]
            content = None if buf is None else bytes(buf)[: length or 0]
            results.append(AttributeResult(kind, int(array[i].ulValueLen), content))
        return rv, results

    def get_attribute(self, session: int, handle: int, kind: int) -> tuple[int, bytes | None]:
        """One attribute by the two-call protocol (length, then value)."""
        rv, (first,) = self.get_attribute_value(session, handle, [(kind, None)])
        if rv != CKR.OK:
            return rv, None
        rv, (second,) = self.get_attribute_value(session, handle, [(kind, first.length)])
        return rv, second.value if rv == CKR.OK else None

    def get_ulong(self, session: int, handle: int, kind: int) -> tuple[int, int | None]:
        rv, value = self.get_attribute(session, handle, kind)
        return rv, None if value is None else decode_ulong(value)

    def find_objects_init(self, session: int, template: Template) -> int:
        keep = _Buffers()
        return self.call("C_FindObjectsInit", session, keep.template(template), len(template))

    def find_objects(self, session: int, max_count: int) -> tuple[int, list[int]]:
        array = (CK_ULONG * max(max_count, 1))()
        count = CK_ULONG(0)
        rv = self.call("C_FindObjects", session, array, max_count, ctypes.byref(count))
        found = [int(array[i]) for i in range(min(count.value, max_count))] if rv == CKR.OK else []
        return rv, found

    def find_objects_final(self, session: int) -> int:
        return self.call("C_FindObjectsFinal", session)

    def find(self, session: int, template: Template, batch: int = 16) -> tuple[int, list[int]]:
        """All objects matching ``template`` (Init, Find until empty, Final); the first
        CK_RV that is not CKR_OK, else CKR_OK."""
        rv = self.find_objects_init(session, template)
        if rv != CKR.OK:
            return rv, []
        found: list[int] = []
        while True:
            rv, chunk = self.find_objects(session, batch)
            if rv != CKR.OK:
                self.find_objects_final(session)
                return rv, found
            found.extend(chunk)
            if len(chunk) < batch:
                break
        return self.find_objects_final(session), found

    # -- digest, sign, verify -----------------------------------------------------------

    def digest_init(self, session: int, mechanism: int | None, parameter: bytes | None = None) -> int:
        keep = _Buffers()
        return self.call("C_DigestInit", session, keep.mechanism(mechanism, parameter))

    def digest(self, session: int, data: bytes, out_len: int | None) -> Output:
        keep = _Buffers()
        return self._output("C_Digest", out_len, session, keep.bytes_in(data), len(data))

    def digest_update(self, session: int, data: bytes) -> int:
        keep = _Buffers()
        return self.call("C_DigestUpdate", session, keep.bytes_in(data), len(data))

    def digest_final(self, session: int, out_len: int | None) -> Output:
        return self._output("C_DigestFinal", out_len, session)

    def sign_init(self, session: int, mechanism: int | None, key: int,
                  parameter: bytes | None = None) -> int:
        keep = _Buffers()
        return self.call("C_SignInit", session, keep.mechanism(mechanism, parameter), key)

    def sign(self, session: int, data: bytes, out_len: int | None) -> Output:
        keep = _Buffers()
        return self._output("C_Sign", out_len, session, keep.bytes_in(data), len(data))

    def sign_update(self, session: int, data: bytes) -> int:
        keep = _Buffers()
        return self.call("C_SignUpdate", session, keep.bytes_in(data), len(data))

    def sign_final(self, session: int, out_len: int | None) -> Output:
        return self._output("C_SignFinal", out_len, session)

    def verify_init(self, session: int, mechanism: int | None, key: int,
                    parameter: bytes | None = None) -> int:
        keep = _Buffers()
        return self.call("C_VerifyInit", session, keep.mechanism(mechanism, parameter), key)

    def verify(self, session: int, data: bytes, signature: bytes) -> int:
        keep = _Buffers()
        return self.call(
            "C_Verify", session, keep.bytes_in(data), len(data),
            keep.bytes_in(signature), len(signature),
        )

    def sign_all(self, session: int, mechanism: int, key: int, data: bytes) -> Output:
        """SignInit, a length query, then the signature."""
        rv = self.sign_init(session, mechanism, key)
        if rv != CKR.OK:
            return Output(rv, 0, b"")
        query = self.sign(session, data, None)
        if query.rv != CKR.OK:
            return query
        return self.sign(session, data, query.length)

    def verify_all(self, session: int, mechanism: int, key: int, data: bytes, signature: bytes) -> int:
        rv = self.verify_init(session, mechanism, key)
        if rv != CKR.OK:
            return rv
        return self.verify(session, data, signature)

    # -- keys and random ----------------------------------------------------------------

    def generate_key_pair(
        self, session: int, mechanism: int, public: Template, private: Template,
        parameter: bytes | None = None,
    ) -> tuple[int, int, int]:
        keep = _Buffers()
        pub = CK_ULONG(0)
        priv = CK_ULONG(0)
        rv = self.call(
            "C_GenerateKeyPair", session, keep.mechanism(mechanism, parameter),
            keep.template(public), len(public), keep.template(private), len(private),
            ctypes.byref(pub), ctypes.byref(priv),
        )
        return rv, int(pub.value), int(priv.value)

    def generate_random(self, session: int, length: int) -> tuple[int, bytes]:
        buf = (CK_BYTE * max(length, 1))()
        rv = self.call("C_GenerateRandom", session, buf, length)
        return rv, bytes(buf)[:length]

    # -- helpers ------------------------------------------------------------------------

    def _output(self, name: str, out_len: int | None, *args: Any) -> Output:
        """Call ``name`` with (pOut, pulOutLen) appended: NULL when ``out_len`` is None."""
        length = CK_ULONG(out_len or 0)
        buf = None if out_len is None else (CK_BYTE * max(out_len, 1))()
        rv = self.call(name, *args, buf, ctypes.byref(length))
        data = b""
        if buf is not None and rv == CKR.OK:
            data = bytes(buf)[: min(int(length.value), out_len or 0)]
        return Output(rv, int(length.value), data)


def _as_int(value: Any) -> int:
    """A CK_ULONG argument given as an int or a ctypes integer (None: 0)."""
    if value is None:
        return 0
    return int(getattr(value, "value", value))


def _missing(name: str) -> Callable[..., int]:
    """A stand-in for a NULL entry of the function list (a module bug the tests report)."""

    def call(*_args: Any) -> int:
        return int(CKR.FUNCTION_NOT_SUPPORTED)

    call.__name__ = f"{name}_NULL_entry"
    return call


def rv_name(rv: int) -> str:
    """``CKR_NAME`` for a known code, else the hex value."""
    try:
        return f"CKR_{CKR(rv).name}"
    except ValueError:
        return f"0x{rv:X}"


def byte_buffer(data: bytes | int) -> Any:
    """A CK_BYTE array holding ``data`` (or ``data`` zero bytes), for raw calls."""
    if isinstance(data, int):
        return (CK_BYTE * max(data, 1))()
    return (CK_BYTE * max(len(data), 1)).from_buffer_copy(data.ljust(1, b"\x00"))


def template_array(template: Template) -> Any:
    """A CK_ATTRIBUTE array (its value buffers kept alive on it), for raw calls."""
    keep = _Buffers()
    array = keep.template(template)
    array._keep = keep
    return array


def mechanism_struct(mechanism: int) -> CK_MECHANISM:
    """A CK_MECHANISM without parameter, for raw calls (pass ``ctypes.byref``)."""
    mech = CK_MECHANISM()
    mech.mechanism = mechanism
    return mech
