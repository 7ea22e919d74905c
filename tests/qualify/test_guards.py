"""The safety rules of the suite's client and context, below the command: no C_InitToken /
C_InitPIN / C_SetPIN ever, no C_Login after a PIN failure, C_DestroyObject only of objects
the run created (its CKA_ID marker), and the run stops after the test that hit a PIN failure.
The fakes stand in for a module's function list; the last test uses tokenport's module."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from typing import Any

import pytest

from tokenport.ck import CKA, CKR, CKU
from tokenport.qualify.assertions import Failure
from tokenport.qualify.config import Config
from tokenport.qualify.context import MARKER_PREFIX, Context, RunState, new_marker
from tokenport.qualify.credentials import Credentials
from tokenport.qualify.p11 import FUNCTIONS, NEVER_SENT, Client, RefusedCall
from tokenport.qualify.runner import Group, SuiteError, run_groups
from tokenport.qualify.runner import Test as SuiteTest

from .helpers import USER_PIN, output, run, tokenport_token


class FakeModule:
    """A function list whose functions record their calls and return scripted results."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.results: dict[str, list[int]] = {}
        self.attributes: dict[int, bytes | int] = {}  # handle -> CKA_ID value or a CK_RV

    def function(self, name: str) -> Callable[..., int]:
        def call(*args: Any) -> int:
            self.calls.append((name, args))
            scripted = self.results.get(name)
            return scripted.pop(0) if scripted else int(CKR.OK)

        return call

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


def fake_client(module: FakeModule) -> Client:
    client = Client.__new__(Client)
    client.path = "fake"
    client.version = (2, 40)
    client.null_entries = []
    client.pin_failure = None
    client.destroy_check = None
    client._functions = {name: module.function(name) for name, _ in FUNCTIONS}

    def get_attribute(session: int, handle: int, kind: int) -> tuple[int, bytes | None]:
        module.calls.append(("get_attribute", (session, handle, kind)))
        value = module.attributes.get(handle, int(CKR.OBJECT_HANDLE_INVALID))
        if session == 0:
            return int(CKR.SESSION_HANDLE_INVALID), None
        return (int(value), None) if isinstance(value, int) else (int(CKR.OK), value)

    client.get_attribute = get_attribute  # type: ignore[method-assign]
    return client


def context(client: Client, session: int = 0) -> Context:
    ctx = Context(client, Config(), 0, USER_PIN.encode(), None, Credentials(), RunState(), session=session)
    client.destroy_check = ctx.check_destroy
    return ctx


@pytest.mark.parametrize("name", sorted(NEVER_SENT))
def test_functions_that_erase_a_token_or_set_a_pin_are_never_sent(name: str) -> None:
    module = FakeModule()
    client = fake_client(module)
    with pytest.raises(RefusedCall, match=name):
        client.call(name, 0, None, 0)
    with pytest.raises(RefusedCall, match=name):
        client.raw(name)(0, None, 0)
    assert module.calls == []


@pytest.mark.parametrize("rv", [CKR.PIN_INCORRECT, CKR.PIN_LOCKED, CKR.PIN_LEN_RANGE, CKR.PIN_INVALID,
                                CKR.PIN_EXPIRED])
def test_no_login_reaches_the_module_after_a_pin_failure(rv: CKR) -> None:
    module = FakeModule()
    module.results["C_Login"] = [int(rv), int(CKR.OK)]
    client = fake_client(module)
    assert client.login(1, CKU.USER, b"wrong") == rv
    assert client.pin_failure == (CKU.USER, rv)
    assert client.login(1, CKU.USER, b"right") == rv
    assert client.call("C_Login", 1, int(CKU.SO), None, 5) == rv
    assert client.raw("C_Login")(1, int(CKU.USER), None, 5) == rv
    assert module.names() == ["C_Login"]


def test_other_login_results_do_not_stop_the_logins() -> None:
    module = FakeModule()
    module.results["C_Login"] = [int(CKR.USER_TYPE_INVALID), int(CKR.ARGUMENTS_BAD), int(CKR.OK)]
    client = fake_client(module)
    assert [client.login(1, 7, b"pin"), client.login(1, CKU.USER, b"pin"), client.login(1, CKU.USER, b"pin")] == [
        CKR.USER_TYPE_INVALID, CKR.ARGUMENTS_BAD, CKR.OK]
    assert client.pin_failure is None


def test_destroy_only_what_the_run_created() -> None:
    module = FakeModule()
    client = fake_client(module)
    ctx = context(client, session=5)
    module.attributes = {10: ctx.marker, 11: b"device key id", 12: new_marker(), 13: int(CKR.ATTRIBUTE_TYPE_INVALID)}
    assert client.destroy_object(5, 10) == CKR.OK  # the run's marker
    assert client.destroy_object(0, 10) == CKR.OK  # session 0 (a test of it): checked in the run's session
    assert client.destroy_object(5, 99) == CKR.OK  # names no object: a test of an invalid handle
    assert client.destroy_object(5, 0) == CKR.OK  # CK_INVALID_HANDLE
    destroyed = [args[1] for name, args in module.calls if name == "C_DestroyObject"]
    assert destroyed == [10, 10, 99, 0]
    unknown = "cannot tell whether this run created it (C_GetAttributeValue(CKA_ID) returned CKR_ATTRIBUTE_TYPE_INVALID)"
    for handle, why in ((11, "this run did not create it"), (12, "this run did not create it"), (13, unknown)):
        with pytest.raises(Failure, match=re.escape(why)) as caught:
            client.destroy_object(5, handle)
        assert caught.value.file.endswith("test_guards.py")  # reported where the destroy was asked
    assert [args[1] for name, args in module.calls if name == "C_DestroyObject"] == destroyed


def test_marker() -> None:
    first, second = new_marker(), new_marker()
    assert first.startswith(MARKER_PREFIX) and second.startswith(MARKER_PREFIX) and first != second
    assert len(first) == len(MARKER_PREFIX) + 32
    ctx = context(fake_client(FakeModule()))
    assert ctx.mark([(CKA.LABEL, "x"), (CKA.ID, b"other")]) == [(CKA.LABEL, "x"), (CKA.ID, ctx.marker)]


def test_the_run_stops_after_the_test_with_a_pin_failure() -> None:
    module = FakeModule()
    module.results["C_Login"] = [int(CKR.PIN_INCORRECT)]
    client = fake_client(module)
    ctx = context(client)

    def logs_in(ctx: Context) -> None:
        ctx.login(1)

    def never_runs(ctx: Context) -> None:  # pragma: no cover - the run stops before it
        raise AssertionError("ran after a PIN failure")

    group = Group("Full_Demo", (SuiteTest("Demo_LogsIn", logs_in), SuiteTest("Demo_Next", never_runs)))
    written: list[str] = []
    with pytest.raises(SuiteError, match="stopped in Full_Demo, Demo_LogsIn: a C_Login of the user returned "
                                         "CKR_PIN_INCORRECT; no other login was tried"):
        run_groups(ctx, [group], written.append)
    lines = "".join(written).splitlines()
    assert len(lines) == 1 and lines[0].startswith("TEST(Full_Demo, Demo_LogsIn)")
    assert "::FAIL: Expected CKR_OK or CKR_USER_ALREADY_LOGGED_IN Was CKR_PIN_INCORRECT" in lines[0]


GUARD_ON_A_MODULE = r"""
import json, sys
from tokenport.ck import CKA, CKF, CKO, CKU
from tokenport.qualify.assertions import Failure
from tokenport.qualify.config import Config
from tokenport.qualify.p11 import Client
from tokenport.qualify.runner import new_context

spec = json.loads(sys.argv[1])
client = Client(spec["module"])
assert client.initialize() == 0
slot = next(s for s in client.get_slot_list(True)[1] if client.get_token_info(s)[1].flags & CKF.TOKEN_INITIALIZED)
rv, session = client.open_session(slot)
assert client.login(session, CKU.USER, spec["pin"].encode()) == 0
data = [(CKA.CLASS, CKO.DATA), (CKA.TOKEN, True), (CKA.LABEL, "not the run's")]
rv, theirs = client.create_object(session, data)
assert rv == 0
ctx = new_context(client, Config(), slot, spec["pin"].encode(), None)
ctx.session = session
try:
    client.destroy_object(session, theirs)
    print("destroyed")
except Failure as failure:
    print(failure.message)
key = [(CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, 0x1F), (CKA.TOKEN, True), (CKA.VALUE, bytes(16)),
       (CKA.LABEL, "the run's")]
ours = ctx.create(key, "a secret key")
print(client.destroy_object(session, ours))
print(sorted(client.get_attribute(session, h, CKA.LABEL)[1].decode() for h in client.find(session, [])[1]))
"""


def test_the_guard_on_tokenport(module_path: str, tmp_path: Any) -> None:
    """On a real module: a token object the run did not create is not destroyed (not even
    asked), one the run created is."""
    env = tokenport_token(tmp_path / "home")
    proc = run([sys.executable, "-c", GUARD_ON_A_MODULE, json.dumps({"module": module_path, "pin": USER_PIN})], env)
    assert proc.returncode == 0, output(proc)
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("refusing C_DestroyObject of object ") and "cannot tell" in lines[0]
    assert lines[1:] == ["0", "[\"not the run's\"]"]
