"""The information structures of PKCS #11 v2.40 s3 (CK_INFO, CK_SLOT_INFO, ...) as values.

Text fields are Python strings; the C ABI encodes them as UTF-8 and blank-pads them to the
fixed field widths (32 or 64 bytes, 16 for model/serial, 16 for utcTime).
"""

from __future__ import annotations

from dataclasses import dataclass

from tokenport.attributes.kinds import AttrValue


@dataclass(frozen=True)
class Version:
    """CK_VERSION."""

    major: int
    minor: int


@dataclass(frozen=True)
class LibraryInfo:
    """CK_INFO (C_GetInfo)."""

    cryptoki_version: Version
    manufacturer_id: str
    flags: int
    library_description: str
    library_version: Version


@dataclass(frozen=True)
class SlotInfo:
    """CK_SLOT_INFO (C_GetSlotInfo)."""

    slot_description: str
    manufacturer_id: str
    flags: int
    hardware_version: Version
    firmware_version: Version


@dataclass(frozen=True)
class TokenInfo:
    """CK_TOKEN_INFO (C_GetTokenInfo)."""

    label: str
    manufacturer_id: str
    model: str
    serial_number: str
    flags: int
    max_session_count: int
    session_count: int
    max_rw_session_count: int
    rw_session_count: int
    max_pin_len: int
    min_pin_len: int
    total_public_memory: int
    free_public_memory: int
    total_private_memory: int
    free_private_memory: int
    hardware_version: Version
    firmware_version: Version
    utc_time: str


@dataclass(frozen=True)
class SessionInfo:
    """CK_SESSION_INFO (C_GetSessionInfo)."""

    slot_id: int
    state: int
    flags: int
    device_error: int


@dataclass(frozen=True)
class MechanismInfo:
    """CK_MECHANISM_INFO (C_GetMechanismInfo)."""

    min_key_size: int
    max_key_size: int
    flags: int


@dataclass(frozen=True)
class AttributeResult:
    """One entry of a C_GetAttributeValue answer.

    ``error`` is CKR_OK with a typed ``value``, or CKR_ATTRIBUTE_SENSITIVE /
    CKR_ATTRIBUTE_TYPE_INVALID with ``value`` None (the C ABI then writes
    CK_UNAVAILABLE_INFORMATION into ulValueLen). Buffer sizes are the ABI's concern.
    """

    type: int
    value: AttrValue | None
    error: int
