"""The console report (Unity's format) and the JUnit XML, from a run of made-up tests that
pass, fail, are ruled out by the configuration or ignored at run time (no module needed)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tokenport.ck import CKR
from tokenport.qualify.assertions import expect_rv, ignore
from tokenport.qualify.config import Config, parse_config
from tokenport.qualify.context import Context, RunState, run_threads
from tokenport.qualify.credentials import Credentials
from tokenport.qualify.junit import junit_xml
from tokenport.qualify.runner import Group, Report, SuiteError, run_groups, select_groups
from tokenport.qualify.runner import Test as SuiteTest


def passes(ctx: Context) -> None:
    ctx.note("an informational line")


def fails(ctx: Context) -> None:
    expect_rv(CKR.GENERAL_ERROR, CKR.OK, "C_Sign")  # FAILING LINE


def ignored_at_run_time(ctx: Context) -> None:
    raise ignore("the module does not offer CKM_AES_CMAC")  # IGNORE LINE


def crashes(ctx: Context) -> None:
    int("not a number")  # CRASHING LINE


def fails_in_a_thread(ctx: Context) -> None:
    def body(index: int) -> None:
        if index == 1:
            expect_rv(CKR.SIGNATURE_INVALID, CKR.OK, "C_Verify")  # THREAD LINE

    run_threads(body)


def ruled_out(config: Config) -> str | None:
    return None if config.ec else f"PKCS11 is {config.pkcs11}: the port has no EC keys"


class NoModule:
    """Stands in for the client where no module is needed (the run reads pin_failure)."""

    pin_failure: tuple[int, int] | None = None


def line_of(marker: str) -> int:
    source = Path(__file__).read_text(encoding="utf-8").splitlines()
    return next(i for i, text in enumerate(source, 1) if text.endswith(marker) and "def " not in text)


GROUP = Group("Full_Demo", (
    SuiteTest("Demo_Passes", passes),
    SuiteTest("Demo_Fails", fails),
    SuiteTest("Demo_RuledOut", passes, ruled_out),
    SuiteTest("Demo_IgnoredAtRunTime", ignored_at_run_time),
    SuiteTest("Demo_Crashes", crashes),
    SuiteTest("Demo_FailsInAThread", fails_in_a_thread),
))


def run_demo(config: Config) -> tuple[Report, list[str]]:
    ctx = Context(client=NoModule(), config=config, slot=0, pin=None, so_pin=None,  # type: ignore[arg-type]
                  credentials=Credentials(), state=RunState())
    written: list[str] = []
    report = run_groups(ctx, [GROUP], written.append)
    return report, "".join(written).splitlines()


def test_console_report_format() -> None:
    report, lines = run_demo(parse_config([("cfg", {"PKCS11": "RSA"})]))
    here = "test_report.py"
    assert lines[0] == "TEST(Full_Demo, Demo_Passes) PASS"
    assert lines[1] == "an informational line"
    assert lines[2] == (f"TEST(Full_Demo, Demo_Fails){here}:{line_of('# FAILING LINE')}::FAIL: "
                        "Expected CKR_OK Was CKR_GENERAL_ERROR. C_Sign")
    assert lines[3] == (f"TEST(Full_Demo, Demo_RuledOut){here}:{passes.__code__.co_firstlineno}::IGNORE: "
                        "PKCS11 is RSA: the port has no EC keys")
    assert lines[4] == (f"TEST(Full_Demo, Demo_IgnoredAtRunTime){here}:{line_of('# IGNORE LINE')}::IGNORE: "
                        "the module does not offer CKM_AES_CMAC")
    assert lines[5].startswith(f"TEST(Full_Demo, Demo_Crashes){here}:{line_of('# CRASHING LINE')}"
                               "::FAIL: unexpected ValueError")
    assert lines[6] == (f"TEST(Full_Demo, Demo_FailsInAThread){here}:{line_of('# THREAD LINE')}::FAIL: "
                        "Multi thread task 1: Expected CKR_OK Was CKR_SIGNATURE_INVALID. C_Verify")
    assert lines[7:] == ["", "-----------------------", "6 Tests 3 Failures 2 Ignored ", "FAIL"]
    assert (report.failures, report.ignored, report.ok) == (3, 2, False)


def test_ruled_out_tests_are_never_run() -> None:
    _, lines = run_demo(parse_config([("cfg", {"PKCS11": "ECC"})]))
    assert "TEST(Full_Demo, Demo_RuledOut) PASS" in lines
    assert lines[-2:] == ["6 Tests 3 Failures 1 Ignored ", "FAIL"]


def test_ok_when_nothing_failed() -> None:
    group = Group("Full_Demo", (SuiteTest("Demo_Passes", passes), SuiteTest("Demo_RuledOut", passes, ruled_out)))
    ctx = Context(NoModule(), parse_config([("c", {"PKCS11": "RSA"})]), 0, None, None,  # type: ignore[arg-type]
                  Credentials(), RunState())
    written: list[str] = []
    report = run_groups(ctx, [group], written.append)
    assert report.ok
    assert "".join(written).splitlines()[-3:] == ["-----------------------", "2 Tests 0 Failures 1 Ignored ", "OK"]


def test_junit_xml() -> None:
    report, _ = run_demo(Config())
    root = ET.fromstring(junit_xml(report))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("skipped"), root.get("errors")) == ("6", "3", "1", "0")
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "Full_Demo" and suite.get("tests") == "6"
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert set(cases) == {t.name for t in GROUP.tests}
    failure = cases["Demo_Fails"].find("failure")
    assert failure is not None and "::FAIL: Expected CKR_OK Was CKR_GENERAL_ERROR" in (failure.text or "")
    skipped = cases["Demo_IgnoredAtRunTime"].find("skipped")
    assert skipped is not None and "CKM_AES_CMAC" in (skipped.get("message") or "")
    assert cases["Demo_Passes"].findtext("system-out") == "an informational line"


@pytest.mark.parametrize(("names", "expected"), [
    ((), None),
    (("EC",), ["Full_PKCS11_EC"]),
    (("full_pkcs11_rsa", "crypto"), ["Full_PKCS11_RSA", "Full_CRYPTO"]),
])
def test_group_selection(names: tuple[str, ...], expected: Any) -> None:
    from tokenport.qualify.groups import GROUPS

    chosen = [g.name for g in select_groups(GROUPS, names)]
    assert chosen == (expected if expected is not None else [g.name for g in GROUPS])


def test_unknown_group() -> None:
    from tokenport.qualify.groups import GROUPS

    with pytest.raises(SuiteError, match="unknown group 'Wifi'"):
        select_groups(GROUPS, ["Wifi"])


def test_suite_names_and_size() -> None:
    """The FreeRTOS group names, and at least 40 tests with the default configuration."""
    from tokenport.qualify.groups import GROUPS

    names = [g.name for g in GROUPS]
    assert names == ["Full_PKCS11_StartFinish", "Full_PKCS11_Capabilities", "Full_PKCS11_NoObject",
                     "Full_PKCS11_RSA", "Full_PKCS11_EC", "Full_PKCS11_Robustness", "Full_CRYPTO"]
    config = Config()
    runnable = [t for g in GROUPS for t in g.tests
                if not (g.rule and g.rule(config)) and not (t.rule and t.rule(config))]
    assert len(runnable) >= 40
