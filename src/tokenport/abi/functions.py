"""The PKCS #11 function lists, as data (v2.40 s5.2 CK_FUNCTION_LIST; v3.0 s3.6 and v3.2
CK_FUNCTION_LIST_3_0 / CK_FUNCTION_LIST_3_2).

``FUNCTION_LIST`` is the exact order of the v2.40 CK_FUNCTION_LIST members; ``FUNCTION_LIST_3_0``
and ``FUNCTION_LIST_3_2`` extend it in the order of the OASIS headers. The build checks each
against the headers (pkcs11_v240.h and pkcs11_v3.h, where the C signatures live), and entry.py
checks that every name in ``PYTHON_FUNCTIONS`` has exactly one Python handler. This module
imports nothing, so the build script can load it without the package being importable.
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

ADDED_IN_3_0: tuple[str, ...] = (
    "C_GetInterfaceList",
    "C_GetInterface",
    "C_LoginUser",
    "C_SessionCancel",
    "C_MessageEncryptInit",
    "C_EncryptMessage",
    "C_EncryptMessageBegin",
    "C_EncryptMessageNext",
    "C_MessageEncryptFinal",
    "C_MessageDecryptInit",
    "C_DecryptMessage",
    "C_DecryptMessageBegin",
    "C_DecryptMessageNext",
    "C_MessageDecryptFinal",
    "C_MessageSignInit",
    "C_SignMessage",
    "C_SignMessageBegin",
    "C_SignMessageNext",
    "C_MessageSignFinal",
    "C_MessageVerifyInit",
    "C_VerifyMessage",
    "C_VerifyMessageBegin",
    "C_VerifyMessageNext",
    "C_MessageVerifyFinal",
)
"""The CK_FUNCTION_LIST_3_0 members after the 68 of v2.40, in the order of the OASIS v3.0
pkcs11f.h (the same order in Debian's NSS copy, /usr/include/nss/pkcs11f.h)."""

ADDED_IN_3_2: tuple[str, ...] = (
    "C_EncapsulateKey",
    "C_DecapsulateKey",
    "C_VerifySignatureInit",
    "C_VerifySignature",
    "C_VerifySignatureUpdate",
    "C_VerifySignatureFinal",
    "C_GetSessionValidationFlags",
    "C_AsyncComplete",
    "C_AsyncGetID",
    "C_AsyncJoin",
    "C_WrapKeyAuthenticated",
    "C_UnwrapKeyAuthenticated",
)
"""The CK_FUNCTION_LIST_3_2 members after those of v3.0, in the order of the OASIS v3.2
pkcs11f.h (``#if defined(CK_PKCS11_3_2)`` block after C_MessageVerifyFinal; 104 entries in
all, sizeof(CK_FUNCTION_LIST_3_2) = 840 on LP64)."""

FUNCTION_LIST_3_0: tuple[str, ...] = FUNCTION_LIST + ADDED_IN_3_0
FUNCTION_LIST_3_2: tuple[str, ...] = FUNCTION_LIST_3_0 + ADDED_IN_3_2

INTERFACES: tuple[tuple[tuple[int, int], tuple[str, ...]], ...] = (
    ((3, 2), FUNCTION_LIST_3_2),
    ((3, 0), FUNCTION_LIST_3_0),
    ((2, 40), FUNCTION_LIST),
)
"""The "PKCS 11" interfaces C_GetInterfaceList offers, in its order: newest first, because
the first is what C_GetInterface(NULL, NULL, ...) returns (the default interface, v3.0 s5.4
C_GetInterface): a 3.x caller that names no version gets the most complete list, whose first
68 entries are the v2.40 list anyway. None offers CKF_INTERFACE_FORK_SAFE: after fork() the child
must call C_Initialize again (v2.40 s6.7.1), so the flags of every interface are 0."""

C_ONLY: frozenset[str] = frozenset({"C_GetFunctionList", "C_GetInterfaceList", "C_GetInterface"})
"""Entries implemented in plain C (they must work even when Python cannot start)."""

NOT_SUPPORTED: frozenset[str] = frozenset(
    {
        "C_VerifySignatureInit",
        "C_VerifySignature",
        "C_VerifySignatureUpdate",
        "C_VerifySignatureFinal",
        "C_GetSessionValidationFlags",
        "C_AsyncComplete",
        "C_AsyncGetID",
        "C_AsyncJoin",
        "C_WrapKeyAuthenticated",
        "C_UnwrapKeyAuthenticated",
    }
)
"""The v3.x entries tokenport does not implement: each is exported and in its lists, and
returns CKR_CRYPTOKI_NOT_INITIALIZED before C_Initialize, else CKR_FUNCTION_NOT_SUPPORTED
(abi/calls_v3.py). (v2.40 entries that are not supported, such as C_GetOperationState, have
their own handlers.)"""

PYTHON_FUNCTIONS: tuple[str, ...] = tuple(n for n in FUNCTION_LIST_3_2 if n not in C_ONLY)
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
"""The version of the v2.40 list (C_GetFunctionList), and the cryptokiVersion the exported
C_GetInfo reports. The 3.x lists' C_GetInfo entries report their own list's version
(shim.c): CK_INFO.cryptokiVersion is "the Cryptoki interface version number", and the
caller's interface is the one it reached C_GetInfo through."""
INTERFACE_NAME = "PKCS 11"


OPERATION_OF: dict[str, str] = {
    **{f"C_{verb}{step}": verb.lower() for verb in ("Encrypt", "Decrypt", "Sign", "Verify")
       for step in ("", "Update", "Final")},
    "C_Digest": "digest", "C_DigestUpdate": "digest", "C_DigestKey": "digest",
    "C_DigestFinal": "digest",
}
"""Calls that continue an active operation, and its kind: any error other than
CKR_BUFFER_TOO_SMALL ends that operation (PKCS #11 v2.40 s5.2)."""

MESSAGE_CALLS: dict[str, str] = {
    **{name: "message_sign" for name in ("C_SignMessage", "C_SignMessageBegin",
                                         "C_SignMessageNext")},
    **{name: "message_verify" for name in ("C_VerifyMessage", "C_VerifyMessageBegin",
                                           "C_VerifyMessageNext")},
    **{name: "message_encrypt" for name in ("C_EncryptMessage", "C_EncryptMessageBegin",
                                            "C_EncryptMessageNext")},
    **{name: "message_decrypt" for name in ("C_DecryptMessage", "C_DecryptMessageBegin",
                                            "C_DecryptMessageNext")},
}
"""Calls about one message of a message-based operation (v3.0 s5.13-5.15), and the kind of
the operation: any error other than CKR_BUFFER_TOO_SMALL ends that message, not the
operation."""

INIT_OF: dict[str, str] = {
    f"C_{verb}Init": verb.lower() for verb in ("Encrypt", "Decrypt", "Digest", "Sign", "Verify")
}
"""The calls that start an operation of each kind."""
