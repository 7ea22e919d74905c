"""Groups of tests, the run, and the console report of the porting guide (Unity's format).

Per test, as Unity's fixture prints it in verbose mode::

    TEST(Full_PKCS11_EC, PKCS11_EC_Sign) PASS
    TEST(Full_PKCS11_EC, PKCS11_EC_Sign)tokenport/qualify/groups/ec.py:181::FAIL: Expected CKR_OK Was ...
    TEST(Full_PKCS11_RSA, PKCS11_RSA_Sign)tokenport/qualify/groups/rsa.py:140::IGNORE: PKCS11 is ECC ...

then a blank line, 23 dashes, ``N Tests F Failures I Ignored `` (trailing space) and ``OK`` or
``FAIL``. A test the configuration rules out is never run and counts as Ignored; so does a
test of an optional capability the module does not have. As in Unity's fixture, the group's
setup and teardown run around every test, and a failure in either fails that test.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from tokenport.ck import CKF, CKR, CKU
from tokenport.qualify.assertions import Failure, Ignore, Outcome, location_of, show_path
from tokenport.qualify.config import Config
from tokenport.qualify.context import Context, RunState
from tokenport.qualify.credentials import Credentials
from tokenport.qualify.p11 import Client, TokenInfo, rv_name

Rule = Callable[[Config], str | None]

PASS = "PASS"
FAIL = "FAIL"
IGNORE = "IGNORE"
BREAKER = "-----------------------"


@dataclass(frozen=True)
class Test:
    """One test: its name, its body, and the rule that rules it out for a configuration (a
    function returning the reason, or None when the test applies)."""

    name: str
    body: Callable[[Context], None]
    rule: Rule | None = None

    def location(self) -> tuple[str, int]:
        code = self.body.__code__
        return show_path(code.co_filename), code.co_firstlineno


def _nothing(_ctx: Context) -> None:
    return None


@dataclass(frozen=True)
class Group:
    name: str
    tests: tuple[Test, ...]
    setup: Callable[[Context], None] = _nothing
    teardown: Callable[[Context], None] = _nothing
    rule: Rule | None = None

    @property
    def short_name(self) -> str:
        """``EC`` for ``Full_PKCS11_EC``, ``CRYPTO`` for ``Full_CRYPTO``."""
        for prefix in ("Full_PKCS11_", "Full_"):
            if self.name.startswith(prefix):
                return self.name[len(prefix):]
        return self.name


@dataclass
class Result:
    group: str
    name: str
    status: str
    file: str = ""
    line: int = 0
    message: str = ""
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"TEST({self.group}, {self.name})"

    def line_text(self) -> str:
        """The result as Unity prints it after the test's title."""
        if self.status == PASS:
            return " PASS"
        text = f"{self.file}:{self.line}::{self.status}"
        return f"{text}: {self.message}" if self.message else text


@dataclass
class Report:
    results: list[Result]

    @property
    def failures(self) -> int:
        return sum(1 for r in self.results if r.status == FAIL)

    @property
    def ignored(self) -> int:
        return sum(1 for r in self.results if r.status == IGNORE)

    @property
    def ok(self) -> bool:
        return self.failures == 0

    def summary_lines(self) -> list[str]:
        return [
            "",
            BREAKER,
            f"{len(self.results)} Tests {self.failures} Failures {self.ignored} Ignored ",
            "OK" if self.ok else "FAIL",
        ]


class SuiteError(Exception):
    """The run cannot start (no such slot, no token, unknown group)."""


def select_groups(groups: Sequence[Group], names: Sequence[str]) -> list[Group]:
    """The groups named (full name or short name, any case), in suite order; all when none."""
    if not names:
        return list(groups)
    wanted: set[str] = set()
    for name in names:
        matches = [g.name for g in groups if name.lower() in (g.name.lower(), g.short_name.lower())]
        if not matches:
            known = ", ".join(f"{g.name} ({g.short_name})" for g in groups)
            raise SuiteError(f"unknown group {name!r}; the groups are: {known}")
        wanted.update(matches)
    return [g for g in groups if g.name in wanted]


def choose_slot(client: Client, slot: int | None, token_label: str | None) -> tuple[int, TokenInfo]:
    """The slot under test: ``slot``, the token labelled ``token_label``, or the first slot
    with an initialized token. The module is initialized for the look-up and finalized after."""
    client.finalize()
    rv = client.initialize()
    if rv != CKR.OK:
        raise SuiteError(f"C_Initialize returned {rv_name(rv)}")
    try:
        rv, slots = client.get_slot_list(True)
        if rv != CKR.OK:
            raise SuiteError(f"C_GetSlotList returned {rv_name(rv)}")
        infos: list[tuple[int, TokenInfo]] = []
        for candidate in slots:
            rv, info = client.get_token_info(candidate)
            if rv == CKR.OK and info is not None:
                infos.append((candidate, info))
        if slot is not None:
            for candidate, info in infos:
                if candidate == slot:
                    return candidate, info
            raise SuiteError(f"no token in slot {slot} (slots with a token: "
                             f"{', '.join(str(s) for s, _ in infos) or 'none'})")
        initialized = [(s, i) for s, i in infos if i.flags & CKF.TOKEN_INITIALIZED]
        if token_label is not None:
            for candidate, info in initialized:
                if info.label == token_label:
                    return candidate, info
            labels = ", ".join(repr(i.label) for _, i in initialized) or "none"
            raise SuiteError(f"no initialized token labelled {token_label!r} (tokens: {labels})")
        if not initialized:
            raise SuiteError("no initialized token: initialize one (e.g. with its SO PIN) first")
        return initialized[0]
    finally:
        client.finalize()


Writer = Callable[[str], None]


def run_groups(ctx: Context, groups: Sequence[Group], write: Writer) -> Report:
    """Run the groups in order, writing the report as it goes.

    A C_Login refused on its PIN (CKR_PIN_INCORRECT, CKR_PIN_LOCKED ...; the client sends no
    further C_Login after one) ends the run after that test's result line: SuiteError."""
    results: list[Result] = []
    for group in groups:
        group_reason = group.rule(ctx.config) if group.rule else None
        for test in group.tests:
            write(f"TEST({group.name}, {test.name})")
            reason = group_reason or (test.rule(ctx.config) if test.rule else None)
            if reason is not None:
                file, line = test.location()
                result = Result(group.name, test.name, IGNORE, file, line, reason)
            else:
                result = run_test(ctx, group, test)
            write(result.line_text() + "\n")
            for note in result.notes:
                write(note + "\n")
            results.append(result)
            if ctx.client.pin_failure is not None:
                user, rv = ctx.client.pin_failure
                role = "the SO" if user == CKU.SO else "the user" if user == CKU.USER else f"user type {user}"
                raise SuiteError(
                    f"stopped in {group.name}, {test.name}: a C_Login of {role} returned {rv_name(rv)}; "
                    "no other login was tried"
                )
    report = Report(results)
    for text in report.summary_lines():
        write(text + "\n")
    return report


def run_test(ctx: Context, group: Group, test: Test) -> Result:
    ctx.notes = []
    ctx.cleanups = []
    outcome: Outcome | None = None
    started = time.monotonic()

    def record(exc: BaseException) -> None:
        nonlocal outcome
        if outcome is not None and not isinstance(outcome, Ignore):
            return  # the first failure is the one reported
        if isinstance(exc, Outcome):
            if outcome is None or isinstance(exc, Failure):
                outcome = exc
        else:
            outcome = Failure(f"unexpected {type(exc).__name__}: {exc}", location_of(exc))

    try:
        group.setup(ctx)
        test.body(ctx)
    except Exception as exc:  # noqa: BLE001 - every error of a test is its result
        record(exc)
    while ctx.cleanups:
        action = ctx.cleanups.pop()
        try:
            action()
        except Exception as exc:  # noqa: BLE001
            record(exc)
    try:
        group.teardown(ctx)
    except Exception as exc:  # noqa: BLE001
        record(exc)
    seconds = time.monotonic() - started
    if outcome is None:
        return Result(group.name, test.name, PASS, seconds=seconds, notes=list(ctx.notes))
    status = IGNORE if isinstance(outcome, Ignore) else FAIL
    return Result(group.name, test.name, status, outcome.file, outcome.line, outcome.message,
                  seconds, list(ctx.notes))


def new_context(client: Client, config: Config, slot: int, pin: bytes | None,
                so_pin: bytes | None) -> Context:
    """The context of a run; from now on the client destroys only objects this run created
    (``Context.check_destroy``)."""
    state = RunState()
    if config.preprovisioned:
        for family in state.families.values():
            family.source = "preprovisioned"
    ctx = Context(client, config, slot, pin, so_pin, Credentials(), state)
    client.destroy_check = ctx.check_destroy
    return ctx
