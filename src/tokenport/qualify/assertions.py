"""Assertions of the suite, in the manner of Unity's TEST_ASSERT_*.

A failed assertion raises ``Failure`` carrying the file and line of the assertion inside the
suite (the line the report prints as ``<file>:<line>::FAIL: <message>``). ``Ignore`` ends a test
as ignored (a capability the module does not offer). Messages follow Unity's wording:
``Expected CKR_OK Was CKR_GENERAL_ERROR. C_Sign``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from types import FrameType

from tokenport.qualify.p11 import rv_name

_HERE = str(Path(__file__).resolve())
#: files of the suite's machinery, never the place a failure is reported at
_MACHINERY = ("assertions.py", "runner.py")
#: file names are shown relative to the directory holding the ``tokenport`` package
_ROOT = Path(__file__).resolve().parents[2]


def show_path(filename: str) -> str:
    """A suite file name as the report prints it (``tokenport/qualify/groups/ec.py``)."""
    path = Path(filename).resolve()
    try:
        return path.relative_to(_ROOT).as_posix()
    except ValueError:
        return path.name


def location_of(exc: BaseException) -> tuple[str, int]:
    """Where an unexpected exception was raised: the innermost frame inside the suite, else
    the innermost frame."""
    suite_dir = str(Path(__file__).resolve().parent)
    tb = exc.__traceback__
    inner: tuple[str, int] = ("?", 0)
    in_suite: tuple[str, int] | None = None
    while tb is not None:
        filename = str(Path(tb.tb_frame.f_code.co_filename).resolve())
        inner = (show_path(filename), tb.tb_lineno)
        if filename.startswith(suite_dir) and Path(filename).name not in _MACHINERY:
            in_suite = inner
        tb = tb.tb_next
    return in_suite or inner


def _skipped(frame: FrameType, skip: tuple[str, ...]) -> bool:
    """Whether ``frame`` is in this file, or in a file (``p11.py``) or function
    (``context.py:check_destroy``) named in ``skip``."""
    if str(Path(frame.f_code.co_filename).resolve()) == _HERE:
        return True
    name = Path(frame.f_code.co_filename).name
    return name in skip or f"{name}:{frame.f_code.co_name}" in skip


def _caller(skip: tuple[str, ...] = ()) -> tuple[str, int]:
    """The first frame outside this file and outside what ``skip`` names."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and _skipped(frame, skip):
        frame = frame.f_back
    if frame is None:  # pragma: no cover - always called from a test
        return "?", 0
    return show_path(frame.f_code.co_filename), frame.f_lineno


class Outcome(Exception):
    """A test ended early (failed or ignored), at ``file:line``."""

    def __init__(self, message: str, location: tuple[str, int] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.file, self.line = location or _caller()


class Failure(Outcome):
    """An assertion failed."""


class Ignore(Outcome):
    """The test does not apply to this module (e.g. an optional mechanism is missing)."""


def fail(message: str, skip: tuple[str, ...] = ()) -> Failure:
    """A Failure at the caller's line (``raise fail("...")``), or at the first line outside
    the files and functions named in ``skip`` (``"p11.py"``, ``"context.py:check_destroy"``)."""
    return Failure(message, _caller(skip))


def ignore(message: str) -> Ignore:
    return Ignore(message, _caller())


def _suffix(what: str) -> str:
    return f". {what}" if what else ""


def expect_rv(actual: int, expected: int, what: str = "") -> None:
    """The CK_RV must be exactly ``expected``."""
    if actual != expected:
        raise Failure(f"Expected {rv_name(expected)} Was {rv_name(actual)}{_suffix(what)}", _caller())


def expect_rv_in(actual: int, allowed: Iterable[int], what: str = "") -> None:
    """The CK_RV must be one of ``allowed`` (where the specification allows each of them)."""
    allowed = list(allowed)
    if actual not in allowed:
        names = " or ".join(rv_name(rv) for rv in allowed)
        raise Failure(f"Expected {names} Was {rv_name(actual)}{_suffix(what)}", _caller())


def expect_ok(actual: int, what: str = "") -> None:
    expect_rv(actual, 0, what)


def expect_equal(actual: object, expected: object, what: str = "") -> None:
    if actual != expected:
        raise Failure(f"Expected {_show(expected)} Was {_show(actual)}{_suffix(what)}", _caller())


def expect_not_equal(actual: object, unexpected: object, what: str = "") -> None:
    if actual == unexpected:
        raise Failure(f"Expected something other than {_show(unexpected)}{_suffix(what)}", _caller())


def expect_true(condition: bool, what: str) -> None:
    if not condition:
        raise Failure(f"Expected TRUE Was FALSE{_suffix(what)}", _caller())


def _show(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        data = bytes(value)
        text = data[:48].hex()
        return f"{len(data)} bytes {text}{'...' if len(data) > 48 else ''}"
    if isinstance(value, int) and not isinstance(value, bool) and value > 0xFFFF:
        return f"0x{value:X}"
    return repr(value) if isinstance(value, str) else str(value)
