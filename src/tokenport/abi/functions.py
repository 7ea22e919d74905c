"""The PKCS #11 v2.40 function list, as data (PKCS #11 v2.40 s5.2, CK_FUNCTION_LIST).

``FUNCTION_LIST`` is the exact order of the CK_FUNCTION_LIST members; the build checks it
against the header (pkcs11_v240.h, where the C signatures live), and entry.py checks that
every name in ``PYTHON_FUNCTIONS`` has exactly one Python handler. This module imports
nothing, so the build script can load it without the package being importable.
"""

from __future__ import annotations

FUNCTION_LIST: tuple[str, ...] = (
    "C_Initialize",
    "C_Finalize",
    "C_GetInfo",
    "C_GetFunctionList",
    "C_GetSlotList",
    "C_GetSlotInfo",
    "C_GetTokenInfo",
    "C_GetMechanismList",
    "C_GetMechanismInfo",
    "C_InitToken",
    "C_InitPIN",
    "C_SetPIN",
    "C_OpenSession",
    "C_CloseSession",
    "C_CloseAllSessions",
    "C_GetSessionInfo",
    "C_GetOperationState",
    "C_SetOperationState",
    "C_Login",
    "C_Logout",
    "C_CreateObject",
    "C_CopyObject",
    "C_DestroyObject",
    "C_GetObjectSize",
    "C_GetAttributeValue",
    "C_SetAttributeValue",
    "C_FindObjectsInit",
    "C_FindObjects",
    "C_FindObjectsFinal",
    "C_EncryptInit",
    "C_Encrypt",
    "C_EncryptUpdate",
    "C_EncryptFinal",
    "C_DecryptInit",
    "C_Decrypt",
    "C_DecryptUpdate",
    "C_DecryptFinal",
    "C_DigestInit",
    "C_Digest",
    "C_DigestUpdate",
    "C_DigestKey",
    "C_DigestFinal",
    "C_SignInit",
    "C_Sign",
    "C_SignUpdate",
    "C_SignFinal",
    "C_SignRecoverInit",
    "C_SignRecover",
    "C_VerifyInit",
    "C_Verify",
    "C_VerifyUpdate",
    "C_VerifyFinal",
    "C_VerifyRecoverInit",
    "C_VerifyRecover",
    "C_DigestEncryptUpdate",
    "C_DecryptDigestUpdate",
    "C_SignEncryptUpdate",
    "C_DecryptVerifyUpdate",
    "C_GenerateKey",
    "C_GenerateKeyPair",
    "C_WrapKey",
    "C_UnwrapKey",
    "C_DeriveKey",
    "C_SeedRandom",
    "C_GenerateRandom",
    "C_GetFunctionStatus",
    "C_CancelFunction",
    "C_WaitForSlotEvent",
)

C_ONLY: frozenset[str] = frozenset({"C_GetFunctionList"})
"""Entries implemented in plain C (they must work even when Python cannot start)."""

PYTHON_FUNCTIONS: tuple[str, ...] = tuple(n for n in FUNCTION_LIST if n not in C_ONLY)
"""Entries whose C wrapper calls an ``extern "Python"`` callback named ``CALLBACK_PREFIX + name``."""

SESSION_FUNCTIONS: frozenset[str] = frozenset(
    n
    for n in PYTHON_FUNCTIONS
    if n
    not in {
        "C_Initialize",
        "C_Finalize",
        "C_GetInfo",
        "C_GetSlotList",
        "C_GetSlotInfo",
        "C_GetTokenInfo",
        "C_GetMechanismList",
        "C_GetMechanismInfo",
        "C_InitToken",
        "C_OpenSession",
        "C_CloseAllSessions",
        "C_WaitForSlotEvent",
    }
)
"""Entries whose first parameter is ``CK_SESSION_HANDLE hSession`` (checked by the build)."""

CALLBACK_PREFIX = "tp_py_"

UNGATED_FUNCTIONS: frozenset[str] = frozenset({"C_WaitForSlotEvent"})
"""Entries that may block, so their wrappers do not pass the call gate (shim.c): a fork
waits for the calls in flight, never for a blocked C_WaitForSlotEvent."""

CRYPTOKI_VERSION = (2, 40)
INTERFACE_NAME = "PKCS 11"


OPERATION_OF: dict[str, str] = {
    **{f"C_{verb}{step}": verb.lower() for verb in ("Encrypt", "Decrypt", "Sign", "Verify")
       for step in ("", "Update", "Final")},
    "C_Digest": "digest", "C_DigestUpdate": "digest", "C_DigestKey": "digest",
    "C_DigestFinal": "digest",
}
"""Calls that continue an active operation, and its kind: any error other than
CKR_BUFFER_TOO_SMALL ends that operation (PKCS #11 v2.40 s5.2)."""

INIT_OF: dict[str, str] = {
    f"C_{verb}Init": verb.lower() for verb in ("Encrypt", "Decrypt", "Digest", "Sign", "Verify")
}
"""The calls that start an operation of each kind."""
