"""The Module's Python API takes a PIN as str (encoded UTF-8, the CK_UTF8CHAR of PKCS #11
v2.40 s5.6) or bytes, and refuses anything else with a TypeError that never shows the value
(issue 12: a str PIN used to end in "PBKDF2 parameters rejected")."""

from __future__ import annotations

import pytest

from tokenport.ck import CKU
from tokenport.core.module import Module
from tokenport.errors import PinIncorrect

from .conftest import RW


def test_str_and_bytes_pins_are_the_same_pin(module: Module) -> None:
    module.init_token(0, "sö-pin-1", b"py".ljust(32))
    session = module.open_session(0, RW)
    module.login(session, CKU.SO, "sö-pin-1".encode())
    module.init_pin(session, "üser-pin")
    module.logout(session)
    module.login(session, CKU.USER, "üser-pin")
    module.set_pin(session, b"\xc3\xbcser-pin", "new-pin-1")
    module.logout(session)
    with pytest.raises(PinIncorrect):
        module.login(session, CKU.USER, "üser-pin")
    module.login(session, CKU.USER, b"new-pin-1")


def test_a_pin_of_another_type_is_a_type_error_without_its_value(module: Module) -> None:
    module.init_token(0, "so-pin-12", b"py".ljust(32))
    session = module.open_session(0, RW)
    with pytest.raises(TypeError, match="PIN must be str or bytes, not int") as caught:
        module.login(session, CKU.SO, 12345678)  # type: ignore[arg-type]
    assert "12345678" not in str(caught.value)
