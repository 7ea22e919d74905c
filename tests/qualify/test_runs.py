"""Full runs of `tokenport qualify` with the default configuration: against tokenport's own
module and against SoftHSMv2 (a fresh token from softhsm2-util), both must end in
"0 Failures" and OK; plus the JUnit file, group selection, and the errors that stop a run."""

from __future__ import annotations

import ctypes.util
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from .helpers import (
    Run,
    expect_clean,
    have_softhsm,
    isolated_env,
    needs_softhsm,
    output,
    qualify_args,
    run,
    run_many,
    run_qualify,
    softhsm_module,
    softhsm_token,
    tokenport,
    tokenport_token,
)

GROUPS = {
    "Full_PKCS11_StartFinish": 5, "Full_PKCS11_Capabilities": 1, "Full_PKCS11_NoObject": 4,
    "Full_PKCS11_RSA": 9, "Full_PKCS11_EC": 11, "Full_PKCS11_Robustness": 20, "Full_CRYPTO": 3,
}


@pytest.fixture(scope="module")
def junit_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("junit")


@pytest.fixture(scope="module")
def default_runs(module_path: str, junit_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """The default run against tokenport and, when installed, against SoftHSMv2 (each with
    --junit FILE in ``junit_dir``), at the same time."""
    base = tmp_path_factory.mktemp("default-runs")
    jobs = {"tokenport": (qualify_args(module_path, "--junit", str(junit_dir / "tokenport.xml")),
                          tokenport_token(base / "tokenport-home"))}
    softhsm = softhsm_module()
    if softhsm is not None and have_softhsm():
        jobs["softhsm"] = (
            qualify_args(softhsm, "--token-label", "qualify", "--junit", str(junit_dir / "softhsm.xml")),
            softhsm_token(base / "softhsm"),
        )
    return run_many(jobs)


def test_tokenport_default_run(default_runs: dict[str, Run]) -> None:
    result = default_runs["tokenport"]
    expect_clean(result)
    assert result.summary is not None and result.summary[0] >= 40
    assert result.stdout.endswith(f"\n-----------------------\n{result.summary[0]} Tests 0 Failures 0 Ignored \nOK\n")
    groups: dict[str, int] = {}
    for key in result.statuses:
        group = key.split(".")[0]
        groups[group] = groups.get(group, 0) + 1
    assert groups == GROUPS


@needs_softhsm()
def test_softhsm_default_run(default_runs: dict[str, Run]) -> None:
    result = default_runs["softhsm"]
    expect_clean(result)
    assert result.summary is not None and result.summary[0] >= 40
    assert set(result.statuses) == set(default_runs["tokenport"].statuses)
    assert "SoftHSM" in result.stdout.splitlines()[1]


def test_junit_file(default_runs: dict[str, Run], junit_dir: Path) -> None:
    for name, result in default_runs.items():
        root = ET.parse(junit_dir / f"{name}.xml").getroot()
        assert result.summary is not None
        assert root.get("tests") == str(result.summary[0])
        assert root.get("failures") == "0" and root.get("skipped") == "0"
        names = {f"{case.get('classname')}.{case.get('name')}" for case in root.iter("testcase")}
        assert names == set(result.statuses)
        assert [suite.get("name") for suite in root.findall("testsuite")] == list(GROUPS)


def test_group_option(module_path: str, tmp_path: Path) -> None:
    result = run_qualify(qualify_args(module_path, "--group", "StartFinish", "--group", "Full_PKCS11_NoObject"),
                         tokenport_token(tmp_path / "home"))
    expect_clean(result)
    assert {key.split(".")[0] for key in result.statuses} == {"Full_PKCS11_StartFinish", "Full_PKCS11_NoObject"}
    assert result.summary == (9, 0, 0)


def test_without_pins_the_user_is_not_logged_in(module_path: str, tmp_path: Path) -> None:
    """No PIN anywhere and no terminal: a warning, and the tests that need one say so."""
    result = run_qualify(qualify_args(module_path, "--group", "Robustness", pins=False),
                         tokenport_token(tmp_path / "home"))
    assert "no user PIN given" in result.stderr
    assert {"PKCS11_Login_InvalidParams", "PKCS11_PrivateObjects_RequireLogin"} <= result.ignored
    assert result.returncode == 1  # private keys cannot be created without a login


@pytest.mark.parametrize(("extra", "message"), [
    (("--group", "Wifi"), "unknown group 'Wifi'"),
    (("--slot", "4242"), "no token in slot 4242"),
    (("--token-label", "nonesuch"), "no initialized token labelled 'nonesuch'"),
])
def test_errors_that_stop_a_run(module_path: str, tmp_path: Path, extra: tuple[str, ...], message: str) -> None:
    proc = run(qualify_args(module_path, *extra, pins=False), tokenport_token(tmp_path / "home"))
    assert proc.returncode == 1 and message in proc.stderr, output(proc)
    assert "TEST(" not in proc.stdout


def test_not_a_module(tmp_path: Path) -> None:
    env = isolated_env(tmp_path / "home")
    proc = run(tokenport("qualify", "--module", str(tmp_path / "missing.so")), env)
    assert proc.returncode == 1 and "cannot load" in proc.stderr, output(proc)
    libc = ctypes.util.find_library("c")
    if libc:
        proc = run(tokenport("qualify", "--module", libc), env)
        assert proc.returncode == 1 and "does not export C_GetFunctionList" in proc.stderr, output(proc)
