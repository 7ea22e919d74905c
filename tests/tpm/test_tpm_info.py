"""`tokenport tpm info` (issue 13, item 4): the values equal what tpm2_getcap prints for the
same simulator; the lockout state follows the TPM; it is read-only; a missing TPM is one
line and a non-zero exit."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import click
import pytest
import yaml

from tokenport.cli.tpm import (
    ascii_of,
    default_tcti,
    firmware_version,
    read_info,
)

from .swtpm import Swtpm

SRC = str(Path(__file__).resolve().parents[2] / "src")


def tokenport(home: Path, *args: str, env: dict[str, str] | None = None
              ) -> subprocess.CompletedProcess[str]:
    environ = dict(os.environ, TOKENPORT_HOME=str(home), XDG_CONFIG_HOME=str(home / "xdg"),
                   PYTHONPATH=os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")])))
    environ.pop("TOKENPORT_CONF", None)
    environ.pop("TPM2TOOLS_TCTI", None)
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "tokenport", *args], env=environ,
                          capture_output=True, text=True, timeout=120, check=False)


def getcap(tpm: Swtpm, what: str) -> Any:
    proc = subprocess.run(["tpm2_getcap", "--tcti", tpm.tcti, what], capture_output=True,
                          text=True, timeout=60, check=True)
    return yaml.safe_load(proc.stdout)


@pytest.fixture(scope="module")
def shown(swtpm: Swtpm, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    home = tmp_path_factory.mktemp("tpm-info") / "home"
    proc = tokenport(home, "tpm", "info", "--tcti", swtpm.tcti, "--json")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    data = json.loads(proc.stdout)
    assert isinstance(data, dict)
    assert not home.exists()  # no store, no config directory: nothing was created
    return data


def test_fixed_properties_equal_tpm2_getcap(swtpm: Swtpm, shown: dict[str, Any]) -> None:
    fixed = getcap(swtpm, "properties-fixed")
    assert shown["manufacturer"] == fixed["TPM2_PT_MANUFACTURER"]["value"] == "IBM"
    assert shown["manufacturer_id"] == fixed["TPM2_PT_MANUFACTURER"]["raw"]
    assert shown["vendor_strings"] == [
        fixed[f"TPM2_PT_VENDOR_STRING_{i}"]["value"] for i in range(1, 5)]
    first = fixed["TPM2_PT_FIRMWARE_VERSION_1"]["raw"]
    second = fixed["TPM2_PT_FIRMWARE_VERSION_2"]["raw"]
    assert (shown["firmware_version_1"], shown["firmware_version_2"]) == (first, second)
    assert shown["firmware_version"] == (
        f"{first >> 16}.{first & 0xFFFF}.{second >> 16}.{second & 0xFFFF}")
    assert shown["family"] == fixed["TPM2_PT_FAMILY_INDICATOR"]["value"] == "2.0"
    assert shown["level"] == fixed["TPM2_PT_LEVEL"]["raw"]
    assert float(shown["revision"]) == float(fixed["TPM2_PT_REVISION"]["value"])
    assert shown["year"] == fixed["TPM2_PT_YEAR"]["raw"]
    assert shown["day_of_year"] == fixed["TPM2_PT_DAY_OF_YEAR"]["raw"]
    assert shown["vendor_tpm_type"] == fixed["TPM2_PT_VENDOR_TPM_TYPE"]["raw"]
    assert shown["tcti"] == swtpm.tcti


def test_algorithms_curves_and_pcr_banks_equal_tpm2_getcap(
    swtpm: Swtpm, shown: dict[str, Any]
) -> None:
    algorithms = getcap(swtpm, "algorithms")
    assert shown["algorithms"] == list(algorithms)
    assert {"rsa", "ecc", "sha256", "ecdsa", "rsassa", "rsapss", "oaep"} <= set(algorithms)
    curves = getcap(swtpm, "ecc-curves")
    assert [f"TPM2_ECC_{c.upper()}" for c in shown["ecc_curves"]] == list(curves)
    banks = getcap(swtpm, "pcrs")["selected-pcrs"]
    assert shown["pcr_banks"] == {name: pcrs for bank in banks for name, pcrs in bank.items()}


def test_lockout_state_equals_tpm2_getcap(swtpm: Swtpm, shown: dict[str, Any]) -> None:
    variable = getcap(swtpm, "properties-variable")
    assert shown["lockout"] == {
        "in_lockout": bool(variable["TPM2_PT_PERMANENT"]["inLockout"]),
        "counter": variable["TPM2_PT_LOCKOUT_COUNTER"],
        "max_auth_fail": variable["TPM2_PT_MAX_AUTH_FAIL"],
        "interval_seconds": variable["TPM2_PT_LOCKOUT_INTERVAL"],
        "recovery_seconds": variable["TPM2_PT_LOCKOUT_RECOVERY"],
    }


def test_text_report(swtpm: Swtpm, shown: dict[str, Any], tmp_path: Path) -> None:
    proc = tokenport(tmp_path / "home", "tpm", "info", "--tcti", swtpm.tcti)
    assert proc.returncode == 0, proc.stderr
    lines = dict(line.split(":", 1) for line in proc.stdout.splitlines())
    assert lines["Manufacturer"].strip() == f"IBM (0x{shown['manufacturer_id']:08x})"
    assert lines["Firmware version"].strip() == shown["firmware_version"]
    assert lines["Algorithms"].split() == shown["algorithms"]
    assert lines["ECC curves"].split() == shown["ecc_curves"]
    assert lines["Lockout"].strip().startswith("not in lockout; 0 of ")


def _lock_out(tpm: Swtpm) -> int:
    """Fail a DA-protected key's authorization until the TPM locks out; the failures."""
    from tpm2_pytss import (
        ESAPI,
        TPM2B_AUTH,
        TPM2B_DIGEST,
        TPM2B_PUBLIC,
        TPM2B_SENSITIVE_CREATE,
        TPMS_SENSITIVE_CREATE,
    )
    from tpm2_pytss.constants import TPM2_ALG
    from tpm2_pytss.types import TPMT_SIG_SCHEME, TPMT_TK_HASHCHECK

    esys = ESAPI(tpm.tcti)
    try:
        sensitive = TPM2B_SENSITIVE_CREATE(TPMS_SENSITIVE_CREATE(userAuth=TPM2B_AUTH(b"right")))
        public = TPM2B_PUBLIC.parse(
            "ecc256:ecdsa-sha256",
            objectAttributes="userwithauth|sign|fixedtpm|fixedparent|sensitivedataorigin")
        key = esys.create_primary(sensitive, public)[0]
        esys.tr_set_auth(key, b"wrong")
        failures = 0
        for _ in range(10):
            try:
                esys.sign(key, TPM2B_DIGEST(b"\x01" * 32), TPMT_SIG_SCHEME(scheme=TPM2_ALG.NULL),
                          TPMT_TK_HASHCHECK(tag=0x8024, hierarchy=0x40000007))
            except Exception as exc:  # noqa: BLE001
                if exc.rc & 0xFFF == 0x921:  # type: ignore[attr-defined]  # TPM_RC_LOCKOUT
                    return failures
                failures += 1
        raise AssertionError("the TPM never locked out")
    finally:
        esys.close()


def test_lockout_is_shown(fresh_swtpm: Swtpm, tmp_path: Path) -> None:
    failures = _lock_out(fresh_swtpm)
    proc = tokenport(tmp_path / "home", "tpm", "info", "--tcti", fresh_swtpm.tcti, "--json")
    assert proc.returncode == 0, proc.stderr
    lockout = json.loads(proc.stdout)["lockout"]
    assert lockout["in_lockout"] is True
    assert lockout["counter"] == lockout["max_auth_fail"] == failures
    text = tokenport(tmp_path / "home", "tpm", "info", "--tcti", fresh_swtpm.tcti).stdout
    assert f"Lockout:           IN LOCKOUT; {failures} of {failures} failed" in text


def test_info_is_read_only(fresh_swtpm: Swtpm, tmp_path: Path) -> None:
    """The TPM's NV state (swtpm keeps it in tpm2-00.permall) is the same byte for byte
    after `tpm info`."""
    state = fresh_swtpm.state_dir / "tpm2-00.permall"
    before = hashlib.sha256(state.read_bytes()).hexdigest()
    for _ in range(2):
        assert tokenport(tmp_path / "home", "tpm", "info", "--tcti",
                         fresh_swtpm.tcti).returncode == 0
    assert hashlib.sha256(state.read_bytes()).hexdigest() == before
    assert not (tmp_path / "home").exists()


@pytest.mark.parametrize(
    ("tcti", "says"),
    [
        ("device:/nonexistent/tpmrm0", "no TPM at /nonexistent/tpmrm0 (no such device"),
        ("usb:/dev/x", "--tcti: tcti 'usb:/dev/x': unknown TCTI 'usb'"),
        ("", "--tcti: tcti must be a non-empty string"),
    ],
)
def test_a_missing_tpm_is_one_line(tmp_path: Path, tcti: str, says: str) -> None:
    proc = tokenport(tmp_path / "home", "tpm", "info", "--tcti", tcti)
    assert proc.returncode == 1 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {says}"), lines


def test_a_stopped_simulator_is_one_line(fresh_swtpm: Swtpm, tmp_path: Path) -> None:
    tcti = fresh_swtpm.tcti
    fresh_swtpm.stop()
    proc = tokenport(tmp_path / "home", "tpm", "info", "--tcti", tcti, "--json")
    assert proc.returncode == 1 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    expected = f"Error: TPM: cannot open TCTI {tcti!r}: tcti:IO failure (CKR_DEVICE_ERROR)"
    assert lines == [expected]


def test_the_default_tcti_comes_from_the_config_then_the_environment(tmp_path: Path) -> None:
    base = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    assert default_tcti(base) == "device:/dev/tpmrm0"
    assert default_tcti({**base, "TPM2TOOLS_TCTI": "swtpm:port=2321"}) == "swtpm:port=2321"
    with pytest.raises(click.ClickException, match="TPM2TOOLS_TCTI: tcti 'usb'"):
        default_tcti({**base, "TPM2TOOLS_TCTI": "usb"})
    conf = tmp_path / "tokenport.toml"
    conf.write_text('[entropy]\ntcti = "tabrmd:bus_type=session"\n', encoding="utf-8")
    configured = {**base, "TOKENPORT_CONF": str(conf), "TPM2TOOLS_TCTI": "swtpm:port=2321"}
    assert default_tcti(configured) == "tabrmd:bus_type=session"


def test_the_default_tcti_is_the_crypto_ports_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """[crypto] backend = "tpm2": its [crypto.tpm2] tcti wins over [entropy] tcti and the
    environment (the crypto port is pretended installed: another part of issue 13)."""
    from tokenport import plugins

    real = plugins.exists
    monkeypatch.setattr(plugins, "exists", lambda kind, name: (kind, name) == ("crypto", "tpm2")
                        or real(kind, name))
    conf = tmp_path / "tokenport.toml"
    conf.write_text('[crypto]\nbackend = "tpm2"\n[crypto.tpm2]\ntcti = "swtpm:port=2321"\n'
                    '[entropy]\ntcti = "tabrmd:bus_type=session"\n', encoding="utf-8")
    environ = {"HOME": str(tmp_path), "TOKENPORT_CONF": str(conf),
               "TPM2TOOLS_TCTI": "mssim:port=2321"}
    assert default_tcti(environ) == "swtpm:port=2321"
    conf.write_text('[crypto.tpm2]\ntcti = "swtpm:port=2321"\n', encoding="utf-8")
    assert default_tcti(environ) == "swtpm:port=2321"  # through [entropy] tcti's default
    conf.write_text("", encoding="utf-8")
    assert default_tcti(environ) == "mssim:port=2321"


def test_the_cli_reads_the_configured_tpm(swtpm: Swtpm, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "tokenport.toml").write_text(f'[entropy]\ntcti = "{swtpm.tcti}"\n')
    proc = tokenport(home, "tpm", "info", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["tcti"] == swtpm.tcti
    by_env = tokenport(tmp_path / "other", "tpm", "info", "--json",
                       env={"TPM2TOOLS_TCTI": swtpm.tcti})
    assert by_env.returncode == 0 and json.loads(by_env.stdout)["tcti"] == swtpm.tcti


# -- the reading logic, with a fake ESAPI ----------------------------------------------------


class PagedEsapi:
    """Answers TPM2_GetCapability a few entries at a time (``more`` set), as a TPM with a
    small response buffer does."""

    PAGE = 3

    def __init__(self) -> None:
        self.fixed = {0x100: 0x322E3000, 0x101: 0, 0x102: 159, 0x103: 10, 0x104: 2019,
                      0x105: int.from_bytes(b"IFX\0", "big"),
                      0x106: int.from_bytes(b"SLB9", "big"),
                      0x107: int.from_bytes(b"670\0", "big"), 0x108: 0, 0x109: 0,
                      0x10B: 0x0007003D, 0x10C: 0x000AE100}
        self.variable = {0x200: 0x200, 0x20E: 32, 0x20F: 32, 0x210: 7200, 0x211: 86400}
        self.algs = [0x1, 0x4, 0xB, 0x18, 0x23, 0x3F, 0x7777]
        self.curves = [0x3, 0x4, 0x99]
        self.commands: list[tuple[int, int]] = []

    def get_capability(self, capability: int, start: int, count: int) -> tuple[bool, Any]:
        self.commands.append((capability, start))
        if capability == 0x6:
            table = {**self.fixed, **self.variable}
            keys = sorted(k for k in table if k >= start)[: self.PAGE]
            more = bool([k for k in table if k > (keys[-1] if keys else start)])
            props = [SimpleNamespace(property=k, value=table[k]) for k in keys]
            return more, SimpleNamespace(data=SimpleNamespace(tpmProperties=props))
        if capability == 0x0:
            found = [a for a in self.algs if a >= start][: self.PAGE]
            more = len([a for a in self.algs if a >= start]) > self.PAGE
            algs = [SimpleNamespace(alg=a, algProperties=0) for a in found]
            return more, SimpleNamespace(data=SimpleNamespace(algorithms=algs))
        if capability == 0x8:
            found = [c for c in self.curves if c >= start][:2]
            more = len([c for c in self.curves if c >= start]) > 2
            return more, SimpleNamespace(data=SimpleNamespace(eccCurves=found))
        assert capability == 0x5
        banks = [SimpleNamespace(hash=0xB, sizeofSelect=3, pcrSelect=b"\x81\x00\x01\x00"),
                 SimpleNamespace(hash=0x4, sizeofSelect=3, pcrSelect=b"\x00\x00\x00\x00")]
        return False, SimpleNamespace(data=SimpleNamespace(assignedPCR=banks))


def test_read_info_pages_through_every_capability() -> None:
    esys = PagedEsapi()
    info = read_info(esys, "device:/dev/tpmrm0")
    assert info.manufacturer == "IFX" and info.vendor_strings == ["SLB9", "670", "", ""]
    assert info.vendor == "SLB9670"
    assert info.firmware_version == "7.61.10.57600"
    assert (info.family, info.level, info.revision) == ("2.0", 0, "1.59")
    assert (info.year, info.day_of_year) == (2019, 10)
    assert info.algorithms == ["rsa", "sha1", "sha256", "ecdsa", "ecc", "cmac", "0x7777"]
    assert info.ecc_curves == ["nist_p256", "nist_p384", "0x0099"]
    assert info.pcr_banks == {"sha256": [0, 7, 16], "sha1": []}
    assert info.lockout.in_lockout is True
    assert (info.lockout.counter, info.lockout.max_auth_fail) == (32, 32)
    assert (info.lockout.interval_seconds, info.lockout.recovery_seconds) == (7200, 86400)
    assert {cap for cap, _ in esys.commands} == {0x0, 0x5, 0x6, 0x8}  # GetCapability only
    assert len([c for c in esys.commands if c[0] == 0x0]) == 3  # 7 algorithms, 3 a page


def test_ascii_and_firmware_formats() -> None:
    assert ascii_of(0x49424D00) == "IBM" and ascii_of(0x53572020) == "SW"
    assert ascii_of(0x2054504D) == "TPM" and ascii_of(0) == ""
    assert ascii_of(0x41017F42) == "A..B"
    assert firmware_version(0x20191023, 0x163636) == "8217.4131.22.13878"
