"""The C fuzzer of the PKCS #11 C ABI (tests/fuzz/p11fuzz*.c) against the compiled module.

The short run (CI): a few seeds of 8,000 calls each, one per storage backend, two at a time.
A run passes when every seed's fuzzer exits 0 (no CKR_GENERAL_ERROR, no CK_RV outside the
v2.40 list, no length-protocol anomaly), was not killed by a signal, did not hang, made the
calls it was asked for over every function-list entry, and the module logged no traceback.

Lines the module writes to stderr other than tracebacks are counted in the summary (and fail
the run with TOKENPORT_FUZZ_STRICT_STDERR=1). The long run (see tests/fuzz/README.md) uses
the same test with environment variables:

    TOKENPORT_FUZZ_CALLS=200000 TOKENPORT_FUZZ_SEEDS=1-6 TOKENPORT_FUZZ_JOBS=2 \\
    TOKENPORT_FUZZ_REPORT=fuzz-report.txt python3 -m pytest tests/fuzz -k run

The other tests show that the fuzzer notices what it must notice, with a deliberately
broken module (tests/fuzz/badmodule.c).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tokenport.ck import CKR

HERE = Path(__file__).resolve().parent
BACKENDS = ("sqlite", "files", "flash", "memory")
SHORT_SEEDS = (1, 2, 3, 4)
SHORT_CALLS = 8000
FUNCTIONS = 70  # the 68 CK_FUNCTION_LIST entries, C_GetInterfaceList, C_GetInterface
P11KIT_HEADER = Path("/usr/include/p11-kit-1/p11-kit/pkcs11.h")
TRACEBACK_MARKERS = ("Traceback", "failed with an unexpected error")


def _gcc(*args: str) -> None:
    if shutil.which("gcc") is None:
        pytest.fail("gcc is required to build the fuzzer")
    subprocess.run(["gcc", "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-O1", *args], check=True)


@pytest.fixture(scope="session")
def header_dir() -> str:
    from tokenport.abi import header_path

    return str(Path(header_path()).parent)


@pytest.fixture(scope="session")
def module_path() -> str:
    from tokenport.abi import module_path as find

    return find()


@pytest.fixture(scope="session")
def fuzzer(tmp_path_factory: pytest.TempPathFactory, header_dir: str) -> str:
    """p11fuzz, compiled against the package's PKCS #11 header."""
    out = tmp_path_factory.mktemp("p11fuzz") / "p11fuzz"
    sources = [str(p) for p in sorted(HERE.glob("p11fuzz*.c"))]
    _gcc("-I", header_dir, "-o", str(out), *sources, "-ldl", "-lpthread")
    return str(out)


@pytest.fixture(scope="session")
def bad_module(tmp_path_factory: pytest.TempPathFactory, header_dir: str) -> str:
    """tests/fuzz/badmodule.c as a shared library."""
    out = tmp_path_factory.mktemp("badmodule") / "badmodule.so"
    _gcc("-fPIC", "-shared", "-fvisibility=hidden", "-I", header_dir, "-o", str(out),
         str(HERE / "badmodule.c"))
    return str(out)


# -- running the fuzzer ------------------------------------------------------------------------


@dataclass
class FuzzRun:
    """One fuzzer process: its seed, backend, exit status and what it printed."""

    seed: int
    backend: str
    returncode: int | None
    stdout: str
    stderr: str
    values: dict[str, int] = field(default_factory=dict)
    functions: dict[str, tuple[int, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for line in self.stdout.splitlines():
            words = line.split()
            if len(words) == 2 and words[1].isdigit():
                self.values[words[0]] = int(words[1])
            elif len(words) == 4 and words[0] == "fn":
                self.functions[words[1]] = (int(words[2]), int(words[3]))

    def outcome(self) -> str:
        """'ok', 'hang', 'signal N' or 'exit N'."""
        if self.returncode is None or self.returncode == 3:
            return "hang"
        if self.returncode < 0:
            return f"signal {-self.returncode} ({signal.Signals(-self.returncode).name})"
        return "ok" if self.returncode == 0 else f"exit {self.returncode}"

    def tracebacks(self) -> int:
        return self.stderr.count("Traceback")

    def log_lines(self) -> list[str]:
        """What the module wrote to stderr (the fuzzer's own note on TOKENPORT_HOME aside)."""
        return [
            line for line in self.stderr.splitlines() if line and not line.startswith("p11fuzz:")
        ]

    def findings(self) -> str:
        """The fuzzer's FLAG / CRASH / HANG lines and the last calls it printed."""
        lines = self.stdout.splitlines()
        start = next(
            (i for i, line in enumerate(lines) if re.match(r"(FLAG|CRASH|HANG)", line)), None
        )
        return "\n".join(lines[start : start + 60]) if start is not None else ""

    def summary(self) -> str:
        v = self.values
        return (
            f"seed {self.seed} backend {self.backend}: {self.outcome()}, "
            f"calls {v.get('calls', 0)}, general_errors {v.get('general_errors', '?')}, "
            f"undefined_rvs {v.get('undefined_rvs', '?')}, anomalies {v.get('anomalies', '?')}, "
            f"tracebacks {self.tracebacks()}, stderr lines {len(self.log_lines())}"
        )

    def problems(self, calls: int) -> list[str]:
        found = []
        if self.outcome() != "ok":
            found.append(f"{self.summary()}\n{self.findings()}")
        elif self.values.get("calls", 0) < calls:
            found.append(f"{self.summary()}: fewer calls than {calls}")
        never = [name for name, (n, _) in self.functions.items() if n == 0]
        if len(self.functions) != FUNCTIONS or never:
            found.append(f"{self.summary()}: functions never called: {never}")
        if any(marker in self.stderr for marker in TRACEBACK_MARKERS):
            found.append(f"{self.summary()}: the module logged an error:\n{self.stderr[-4000:]}")
        elif os.environ.get("TOKENPORT_FUZZ_STRICT_STDERR") and self.log_lines():
            found.append(f"{self.summary()}: the module wrote to stderr:\n"
                         + "\n".join(self.log_lines()[:20]))
        return found


def run_fuzzer(
    fuzzer: str,
    module: str,
    home: Path,
    seed: int,
    calls: int,
    *extra: str,
    backend: str = "sqlite",
    env: dict[str, str] | None = None,
) -> FuzzRun:
    """Run p11fuzz with its own TOKENPORT_HOME (and store backend); never raises on failure."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "tokenport.toml").write_text(f'[store]\nbackend = "{backend}"\n')
    environment = dict(os.environ if env is None else env)
    environment["TOKENPORT_HOME"] = str(home)
    environment.pop("TOKENPORT_CONF", None)
    environment["XDG_CONFIG_HOME"] = str(home / "xdg-config")
    command = [fuzzer, "--module", module, "--seed", str(seed), "--calls", str(calls), *extra]
    try:
        proc = subprocess.run(
            command,
            check=False,
            capture_output=True,
            text=True,
            errors="replace",
            env=environment,
            timeout=120 + calls / 100,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else ""
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else ""
        return FuzzRun(seed, backend, None, out, err)
    return FuzzRun(seed, backend, proc.returncode, proc.stdout, proc.stderr)


def parse_seeds(text: str) -> list[int]:
    """'1,2,5-8' -> [1, 2, 5, 6, 7, 8]."""
    seeds: list[int] = []
    for part in text.split(","):
        low, _, high = part.strip().partition("-")
        seeds.extend(range(int(low), int(high or low) + 1))
    return seeds


def fuzz_cases() -> list[tuple[int, str]]:
    """(seed, backend) pairs: TOKENPORT_FUZZ_SEEDS or the short run's seeds; the backends
    take turns (TOKENPORT_FUZZ_BACKEND picks one for all)."""
    text = os.environ.get("TOKENPORT_FUZZ_SEEDS", "")
    seeds: Sequence[int] = parse_seeds(text) if text.strip() else SHORT_SEEDS
    only = os.environ.get("TOKENPORT_FUZZ_BACKEND")
    return [(seed, only or BACKENDS[i % len(BACKENDS)]) for i, seed in enumerate(seeds)]


def test_fuzz_run(fuzzer: str, module_path: str, tmp_path: Path) -> None:
    """Every seed runs clean: no crash, hang, CKR_GENERAL_ERROR, undefined CK_RV, length
    protocol anomaly or logged traceback, and every function-list entry is called."""
    calls = int(os.environ.get("TOKENPORT_FUZZ_CALLS", SHORT_CALLS))
    jobs = int(os.environ.get("TOKENPORT_FUZZ_JOBS", min(2, os.cpu_count() or 1)))
    cases = fuzz_cases()
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        runs = list(
            pool.map(
                lambda case: run_fuzzer(
                    fuzzer, module_path, tmp_path / f"home-{case[0]}", case[0], calls,
                    backend=case[1],
                ),
                cases,
            )
        )
    report = os.environ.get("TOKENPORT_FUZZ_REPORT")
    if report:
        total = sum(run.values.get("calls", 0) for run in runs)
        lines = [run.summary() for run in runs] + [f"total calls {total}", ""]
        for run in runs:
            log = run.log_lines()
            start = next((i for i, line in enumerate(log) if "Traceback" in line), len(log))
            lines += [f"-- seed {run.seed}: findings", run.findings(), "-- stderr"]
            lines += log[:10] + ["..."] * (start > 10) + log[max(start - 1, 10) : start + 60]
            lines += [line for line in run.stdout.splitlines() if line.startswith("  rv ")]
        Path(report).write_text("\n".join(lines) + "\n")
    problems = [problem for run in runs for problem in run.problems(calls)]
    assert not problems, "\n\n".join(problems)


def test_rv_table_is_the_v240_list(fuzzer: str) -> None:
    """The CK_RV values p11fuzz accepts are exactly PKCS #11 v2.40's (vendor codes excluded),
    as tokenport.ck has them and, where it is installed, as p11-kit's header has them."""
    out = subprocess.run([fuzzer, "--list-rv"], capture_output=True, text=True, check=True)
    rows = (line.split() for line in out.stdout.splitlines())
    table = {name: int(value, 16) for name, value in rows}
    v3_only = {CKR.VENDOR_DEFINED, CKR.OPERATION_CANCEL_FAILED, CKR.AEAD_DECRYPT_FAILED,
               CKR.PARAMETER_SET_NOT_SUPPORTED}
    assert table == {f"CKR_{rv.name}": int(rv) for rv in CKR if rv not in v3_only}
    if P11KIT_HEADER.is_file():
        defined = {
            name: int(value, 0)
            for name, value in re.findall(
                r"#define\s+(CKR_\w+)\s+\(\s*(0x[0-9a-fA-F]+|\d+)UL\s*\)",
                P11KIT_HEADER.read_text(),
            )
        }
        assert table == defined


# -- the fuzzer notices faults (a deliberately broken module) ------------------------------------


def _bad_run(fuzzer: str, bad_module: str, tmp_path: Path, mode: str, *extra: str) -> FuzzRun:
    env = dict(os.environ)
    env["BADMODULE_MODE"] = mode
    return run_fuzzer(fuzzer, bad_module, tmp_path / mode, 7, 3000, *extra, env=env)


def test_a_faultless_module_runs_clean(fuzzer: str, bad_module: str, tmp_path: Path) -> None:
    run = _bad_run(fuzzer, bad_module, tmp_path, "none")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr
    assert run.values["calls"] >= 3000
    assert run.values["general_errors"] == 0


def test_general_error_is_flagged(fuzzer: str, bad_module: str, tmp_path: Path) -> None:
    run = _bad_run(fuzzer, bad_module, tmp_path, "general")
    assert run.returncode == 1
    assert "FLAG GENERAL_ERROR: CKR_GENERAL_ERROR in C_GetInfo at call" in run.stdout
    assert run.values["general_errors"] == run.functions["C_GetInfo"][0] > 0


def test_undefined_return_value_is_flagged(fuzzer: str, bad_module: str, tmp_path: Path) -> None:
    run = _bad_run(fuzzer, bad_module, tmp_path, "undefined")
    assert run.returncode == 1
    assert "FLAG UNDEFINED_RV: undefined CK_RV 0x12345 in C_GetSessionInfo" in run.stdout
    assert "rv UNDEFINED" in run.stdout


def test_writing_past_a_buffer_is_caught(fuzzer: str, bad_module: str, tmp_path: Path) -> None:
    """One byte too many: a canary notices it, or a guard page turns it into SIGSEGV."""
    run = _bad_run(fuzzer, bad_module, tmp_path, "overflow")
    assert run.returncode in (1, -signal.SIGSEGV), run.stdout[-3000:]
    assert "C_GenerateRandom: the module wrote past the end" in run.stdout or (
        "CRASH signal 11 in C_GenerateRandom" in run.stdout
    )


def test_crash_is_reported_with_the_call(fuzzer: str, bad_module: str, tmp_path: Path) -> None:
    run = _bad_run(fuzzer, bad_module, tmp_path, "crash")
    assert run.returncode == -signal.SIGSEGV
    assert "CRASH signal 11 in C_GetInfo at call" in run.stdout
    assert re.search(r"#\d+ C_GetInfo\(info\)$", run.stdout, re.MULTILINE)


def test_hang_is_reported(fuzzer: str, bad_module: str, tmp_path: Path) -> None:
    run = _bad_run(fuzzer, bad_module, tmp_path, "hang", "--call-timeout", "1")
    assert run.returncode == 3
    assert "HANG: no return within the call timeout: C_GetInfo at call" in run.stdout
