"""Helpers for the ctypes-driven call tests (the module loaded into pytest's process)."""

from __future__ import annotations

import ctypes

from tokenport.ck import CKF

from .p11ctypes import CK_ULONG, P11

SO_PIN = b"abi-so-pin-1"
USER_PIN = b"abi-user-pin-1"
RW = int(CKF.SERIAL_SESSION | CKF.RW_SESSION)
UNAVAILABLE = (1 << (8 * ctypes.sizeof(ctypes.c_ulong))) - 1


def first_slot(p11: P11) -> int:
    """The first slot id."""
    count = CK_ULONG(0)
    assert p11.C_GetSlotList(0, None, ctypes.byref(count)) == 0
    slots = (CK_ULONG * count.value)()
    assert p11.C_GetSlotList(0, slots, ctypes.byref(count)) == 0
    return int(slots[0])


def open_session(p11: P11, slot: int, flags: int = RW) -> int:
    """A new session handle."""
    handle = CK_ULONG(0)
    rv = p11.C_OpenSession(slot, flags, None, None, ctypes.byref(handle))
    assert rv == 0, hex(rv)
    return int(handle.value)
