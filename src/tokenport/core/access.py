"""The access rules of PKCS #11 v2.40 s4.4 and s5.6 (session states, figures 2-4), as data.

Which session state may see private objects, write token objects, or write private
objects; and what the state of a session is, given its R/W flag and who is logged in.
"""

from __future__ import annotations

from dataclasses import dataclass

from tokenport.ck import CKS, CKU
from tokenport.errors import SessionReadOnly, UserNotLoggedIn


@dataclass(frozen=True)
class Access:
    """What a session in one state may do with objects."""

    see_private: bool
    write_token_objects: bool
    write_private_objects: bool


ACCESS: dict[int, Access] = {
    CKS.RO_PUBLIC_SESSION: Access(see_private=False, write_token_objects=False, write_private_objects=False),
    CKS.RO_USER_FUNCTIONS: Access(see_private=True, write_token_objects=False, write_private_objects=True),
    CKS.RW_PUBLIC_SESSION: Access(see_private=False, write_token_objects=True, write_private_objects=False),
    CKS.RW_USER_FUNCTIONS: Access(see_private=True, write_token_objects=True, write_private_objects=True),
    CKS.RW_SO_FUNCTIONS: Access(see_private=False, write_token_objects=True, write_private_objects=False),
}

STATE: dict[tuple[bool, int | None], int] = {
    (False, None): CKS.RO_PUBLIC_SESSION,
    (False, CKU.USER): CKS.RO_USER_FUNCTIONS,
    (True, None): CKS.RW_PUBLIC_SESSION,
    (True, CKU.USER): CKS.RW_USER_FUNCTIONS,
    (True, CKU.SO): CKS.RW_SO_FUNCTIONS,
}
"""(read/write session?, logged-in role) -> CKS state. An R/O session never coexists with
an SO login (C_Login and C_OpenSession refuse it)."""


def session_state(read_write: bool, logged_in: int | None) -> int:
    return STATE.get((read_write, logged_in), CKS.RO_PUBLIC_SESSION)


def check_write(state: int, token_object: bool, private_object: bool) -> None:
    """May a session in ``state`` create, modify or destroy such an object?"""
    access = ACCESS[state]
    if token_object and not access.write_token_objects:
        raise SessionReadOnly()
    if private_object and not access.write_private_objects:
        raise UserNotLoggedIn()
