#!/usr/bin/env python3
"""Benchmark tokenport against SoftHSMv2 through the PKCS #11 C ABI.

Compiles benchmarks/p11bench.c with gcc into a temporary directory, prepares a fresh
tokenport store (temporary TOKENPORT_HOME) and a fresh SoftHSMv2 token directory
(temporary SOFTHSM2_CONF), initializes one token in each the same way (p11bench
--init-token: C_InitToken, C_Login as SO, C_InitPIN), runs p11bench against each module in
turn and prints a table: operation | tokenport ops/s | SoftHSMv2 ops/s | ratio. Then
C_Initialize is timed in fresh p11bench processes (median), pyca's ECDSA sign and verify
are timed in this process, and a second table gives issue 10's figures: 2 threads / 1
thread, per-op cost over pyca, C_FindObjects per call at 1k and 16k matches, C_Initialize.

    python benchmarks/bench.py [--seconds 3] [--only tokenport|softhsm] [--objects 1000]
                               [--init-runs 7] [--json FILE]

Needs: tokenport installed (``pip install .``), gcc; SoftHSMv2 (``apt install softhsm2``)
for its column: without it the tokenport column is printed alone, with the reason.
Nothing outside the temporary directory is read or written (the user's tokenport store
and SoftHSM configuration are never used).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import importlib.metadata
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = (HERE / "p11bench.c", HERE / "p11bench_runs.c")  # and p11bench.h

TOKEN_LABEL = "p11bench"
SO_PIN = "bench-so-pin"
USER_PIN = "bench-user-pin"

SOFTHSM_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
    "/usr/lib/pkcs11/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
    "/opt/homebrew/lib/softhsm/libsofthsm2.so",
)

# p11bench measurement name -> what the table calls it
ROWS = {
    "ecdsa-p256-sign": "ECDSA P-256 sign (32 B hash)",
    "ecdsa-p256-sign-2t": "ECDSA P-256 sign, 2 threads on 2 sessions",
    "ecdsa-p256-sign-token": "ECDSA P-256 sign, token key (CKA_TOKEN=TRUE)",
    "ecdsa-p256-verify": "ECDSA P-256 verify",
    "ecdsa-p256-verify-2t": "ECDSA P-256 verify, 2 threads on 2 sessions",
    "rsa2048-sha256-sign": "RSA-2048 SHA256-RSA-PKCS sign (64 B)",
    "rsa2048-sha256-sign-2t": "RSA-2048 sign, 2 threads on 2 sessions",
    "rsa2048-sha256-verify": "RSA-2048 SHA256-RSA-PKCS verify",
    "sha256-64B": "SHA-256 digest, 64 B",
    "sha256-1KiB": "SHA-256 digest, 1 KiB",
    "sha256-64KiB": "SHA-256 digest, 64 KiB",
    "find-by-label": "find by label ({objects} token objects)",
    "random-32B": "C_GenerateRandom 32 B",
    "get-session-info": "C_GetSessionInfo (per-call floor)",
    "ec-p256-keygen": "EC P-256 key pair generation",
    "find-objects-1k": "C_FindObjects calls, 10 of 1,024 matches",
    "find-objects-16k": "C_FindObjects calls, 10 of 16,384 matches",
    "create-token-object": "C_CreateObject token data object (setup)",
}

# measurement -> its one-thread counterpart (the "2 threads / 1 thread" figures)
THREADED = {
    "ecdsa-p256-sign-2t": "ecdsa-p256-sign",
    "rsa2048-sha256-sign-2t": "rsa2048-sha256-sign",
    "ecdsa-p256-verify-2t": "ecdsa-p256-verify",
}

TOKENS = {"tokenport": "tokenport", "softhsm": "SoftHSMv2"}


class BenchError(Exception):
    """A step failed; the message says which and why."""


@dataclass
class TokenRun:
    """What one module gave: measurements, setup facts, library info."""

    name: str
    module: str | None = None
    skipped: str | None = None
    library: str = ""
    results: dict[str, dict[str, float]] = field(default_factory=dict)
    checks: dict[str, str] = field(default_factory=dict)


# -- preparing -------------------------------------------------------------------------------


def compile_p11bench(workdir: Path) -> Path:
    cc = os.environ.get("CC", "gcc")
    if shutil.which(cc) is None:
        raise BenchError(f"no C compiler ({cc}) found: install gcc (apt install gcc)")
    exe = workdir / "p11bench"
    cmd = [cc, "-O2", "-Wall", "-Wextra", "-std=c11", "-pthread", "-o", str(exe)]
    cmd += [*map(str, SOURCES), "-ldl"]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BenchError(f"compiling p11bench failed:\n{proc.stderr}")
    return exe


def tokenport_module(explicit: str | None) -> tuple[str | None, str | None]:
    """(path, None) or (None, why not)."""
    if explicit:
        return (explicit, None) if Path(explicit).is_file() else (None, f"{explicit} not found")
    for cmd in ([sys.executable, "-m", "tokenport", "module-path"], ["tokenport", "module-path"]):
        try:
            proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            continue
        path = proc.stdout.strip()
        if proc.returncode == 0 and path and Path(path).is_file():
            return path, None
    return None, "tokenport is not installed for this Python (run `pip install .` in the repo)"


def softhsm_module(explicit: str | None) -> tuple[str | None, str | None]:
    if explicit:
        return (explicit, None) if Path(explicit).is_file() else (None, f"{explicit} not found")
    for candidate in SOFTHSM_CANDIDATES:
        if Path(candidate).is_file():
            return candidate, None
    return None, "SoftHSMv2 is not installed (apt install softhsm2), libsofthsm2.so not found"


def clean_env() -> dict[str, str]:
    """The environment without anything that would point a module at the user's own store."""
    env = dict(os.environ)
    for key in list(env):
        if key.startswith("TOKENPORT_") or key == "SOFTHSM2_CONF":
            del env[key]
    return env


def token_env(name: str, workdir: Path) -> dict[str, str]:
    env = clean_env()
    home = workdir / name
    home.mkdir()
    if name == "tokenport":
        env["TOKENPORT_HOME"] = str(home / "store")
        # no ~/.config/tokenport/tokenport.toml either: defaults only
        env["XDG_CONFIG_HOME"] = str(home / "config")
        env["XDG_DATA_HOME"] = str(home / "data")
    else:
        tokens = home / "tokens"
        tokens.mkdir()
        conf = home / "softhsm2.conf"
        conf.write_text(
            f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n",
            encoding="utf-8",
        )
        env["SOFTHSM2_CONF"] = str(conf)
    return env


# -- running ---------------------------------------------------------------------------------


def run_p11bench(exe: Path, args: list[str], env: dict[str, str], timeout: float) -> list[str]:
    """Run p11bench, echoing its lines to stderr as they come; its stdout lines."""
    cmd = [str(exe), *args]
    lines: list[str] = []
    with subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        deadline = time.monotonic() + timeout
        assert proc.stdout is not None and proc.stderr is not None
        for line in proc.stdout:
            line = line.rstrip("\n")
            lines.append(line)
            print(f"    {line}", file=sys.stderr, flush=True)
            if time.monotonic() > deadline:
                proc.kill()
                raise BenchError(f"p11bench took more than {timeout:.0f} s")
        err = proc.stderr.read()
        code = proc.wait()
    if code != 0:
        raise BenchError(f"p11bench {' '.join(args[:2])}... exited {code}: {err.strip()}")
    return lines


def parse(lines: list[str], run: TokenRun) -> None:
    for line in lines:
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "info" and parts[1] == "library":
            run.library = f"{' '.join(parts[4:])} {parts[3]} (Cryptoki {parts[2]})"
        elif parts[0] == "check":
            run.checks[parts[1]] = parts[2]
        elif parts[0] == "result":
            name, ops, seconds, rate = parts[1], int(parts[2]), float(parts[3]), float(parts[4])
            run.results[name] = {"ops": ops, "seconds": seconds, "ops_per_s": rate}
        elif parts[0] == "setup" and parts[1] == "create-token-object":
            ops, seconds, rate = int(parts[2]), float(parts[3]), float(parts[4])
            run.results["create-token-object"] = {"ops": ops, "seconds": seconds, "ops_per_s": rate}


def verify_checks(run: TokenRun) -> None:
    """The digests the module computed must equal hashlib's on the same bytes."""
    data64 = bytes(range(64))
    data1k = bytes(((i * 13 + 5) & 0xFF) for i in range(1024))
    data64k = bytes(((i * 31 + (i >> 8)) & 0xFF) for i in range(65536))
    want = {
        "sha256-64B": hashlib.sha256(data64).hexdigest(),
        "sha256-1KiB": hashlib.sha256(data1k).hexdigest(),
        "sha256-64KiB": hashlib.sha256(data64k).hexdigest(),
    }
    for key, value in want.items():
        if run.checks.get(key) != value:
            raise BenchError(f"{run.name}: SHA-256 known answer {key} wrong: {run.checks.get(key)}")


def bench_token(exe: Path, run: TokenRun, workdir: Path, opts: argparse.Namespace) -> None:
    assert run.module is not None
    env = token_env(run.name, workdir)
    print(f"== {TOKENS[run.name]}: {run.module}", file=sys.stderr, flush=True)
    base = ["--module", run.module, "--label", TOKEN_LABEL, "--pin", USER_PIN]
    run_p11bench(exe, [*base, "--init-token", "--so-pin", SO_PIN], env, timeout=300)
    args = [
        *base,
        "--seconds",
        str(opts.seconds),
        "--warmup",
        str(opts.warmup),
        "--objects",
        str(opts.objects),
    ]
    if opts.tests:
        args += ["--tests", opts.tests]
    if opts.public_objects:
        args.append("--public-objects")
    timeout = 600 + 40 * (opts.seconds + opts.warmup) + opts.objects * 0.1
    parse(run_p11bench(exe, args, env, timeout=timeout), run)
    verify_checks(run)
    if selected_test(opts, "initialize"):
        run.results["initialize"] = time_initialize(exe, run.module, env, opts.init_runs)


def selected_test(opts: argparse.Namespace, name: str) -> bool:
    return not opts.tests or name in opts.tests.split(",")


def time_initialize(exe: Path, module: str, env: dict[str, str], runs: int) -> dict[str, float]:
    """C_Initialize + C_Finalize, each time in a fresh p11bench process started after the
    store holds its token objects; the median of every figure over ``runs`` processes (ms)."""
    columns = ("dlopen_ms", "initialize_ms", "slots_ms", "finalize_ms")
    samples: dict[str, list[float]] = {name: [] for name in (*columns, "init_finalize_ms")}
    for _ in range(runs):
        lines = run_p11bench(exe, ["--module", module, "--init-time"], env, timeout=120)
        words = next((line.split() for line in lines if line.startswith("initialize ")), None)
        if words is None or len(words) != 5:
            raise BenchError(f"p11bench --init-time printed no timing: {lines}")
        values = dict(zip(columns, map(float, words[1:]), strict=True))
        for name, value in values.items():
            samples[name].append(value)
        samples["init_finalize_ms"].append(values["initialize_ms"] + values["finalize_ms"])
    result = {name: statistics.median(values) for name, values in samples.items()}
    result["runs"] = runs
    return result


# -- the same ECDSA calls made in-process through pyca/cryptography ----------------------------


def pyca_ecdsa(seconds: float, warmup: float) -> dict[str, float]:
    """Per-op microseconds of pyca's ECDSA P-256 sign and verify of a 32-byte hash
    (``ECDSA(Prehashed(SHA256()))``), the calls tokenport's C_Sign/C_Verify wrap; one thread."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, utils

    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    hash32 = bytes((i * 7 + 1) & 0xFF for i in range(32))
    algorithm = ec.ECDSA(utils.Prehashed(hashes.SHA256()))
    signature = key.sign(hash32, algorithm)

    def sign() -> None:
        key.sign(hash32, algorithm)

    def verify() -> None:
        public.verify(signature, hash32, algorithm)

    out = {}
    for name, call in (("sign_us", sign), ("verify_us", verify)):
        end = time.perf_counter() + warmup
        while time.perf_counter() < end:
            call()
        ops = 0
        start = time.perf_counter()
        end = start + seconds
        while True:
            call()
            ops += 1
            now = time.perf_counter()
            if now >= end:
                break
        out[name] = (now - start) / ops * 1e6
    return out


# -- reporting -------------------------------------------------------------------------------


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), else what the platform module knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, str]:
    os_name = platform.system()
    try:
        release = platform.freedesktop_os_release()
        os_name = release.get("PRETTY_NAME", os_name)
    except OSError:
        pass
    cpu = cpu_model()
    return {
        "cores": str(os.cpu_count()),
        "cpu": cpu,
        "os": os_name,
        "python": platform.python_version(),
        "cryptography": package_version("cryptography"),
        "tokenport": package_version("tokenport"),
        "date": datetime.date.today().isoformat(),
    }


def package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def fmt_rate(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:,.1f}"


def table(runs: dict[str, TokenRun], objects: int) -> str:
    names = [n for n in ROWS if any(n in r.results for r in runs.values())]
    header = ["operation", *(f"{TOKENS[t]} ops/s" for t in runs)]
    both = len(runs) == 2
    if both:
        header.append("ratio (tokenport / SoftHSMv2)")
    rows = [header]
    for name in names:
        values = [runs[t].results.get(name, {}).get("ops_per_s") for t in runs]
        row = [ROWS[name].format(objects=f"{objects:,}"), *(fmt_rate(v) for v in values)]
        if both:
            a, b = values
            row.append(f"{a / b:.2f}x" if a and b else "-")
        rows.append(row)
    return markdown(rows)


def derived(
    runs: dict[str, TokenRun], pyca: dict[str, float] | None
) -> dict[str, dict[str, float]]:
    """The figures issue 10's goals are stated in, per module: 2 threads / 1 thread,
    C_FindObjects per call (us) at 1k and 16k matches and their ratio, C_Initialize (ms),
    and tokenport's SignInit+Sign / VerifyInit+Verify minus the same pyca call (us per op)."""
    out: dict[str, dict[str, float]] = {}
    for name, run in runs.items():
        rate = {k: v["ops_per_s"] for k, v in run.results.items() if "ops_per_s" in v}
        fig: dict[str, float] = {}
        for threaded, single in THREADED.items():
            if rate.get(threaded) and rate.get(single):
                fig[f"{threaded}/1t"] = rate[threaded] / rate[single]
        for key in ("find-objects-1k", "find-objects-16k"):
            if rate.get(key):
                fig[f"{key}-us"] = 1e6 / rate[key]
        if "find-objects-1k-us" in fig and "find-objects-16k-us" in fig:
            fig["find-objects-16k/1k"] = fig["find-objects-16k-us"] / fig["find-objects-1k-us"]
        init = run.results.get("initialize")
        if init:
            fig["init-finalize-ms"] = init["init_finalize_ms"]
            fig["initialize-ms"] = init["initialize_ms"]
        if name == "tokenport" and pyca:
            for op, key, pyca_op in (("sign", "ecdsa-p256-sign", "sign"),
                                     ("sign-token", "ecdsa-p256-sign-token", "sign"),
                                     ("verify", "ecdsa-p256-verify", "verify")):
                if rate.get(key):
                    fig[f"ecdsa-{op}-us"] = 1e6 / rate[key]
                    fig[f"ecdsa-{op}-minus-pyca-us"] = 1e6 / rate[key] - pyca[f"{pyca_op}_us"]
        out[name] = fig
    return out


# figure key -> (what the goals table calls it, format, goal of issue 10)
FIGURES = {
    "ecdsa-p256-sign-2t/1t": ("ECDSA P-256 sign, 2 threads / 1 thread", "{:.2f}x", ">= 1.4x"),
    "rsa2048-sha256-sign-2t/1t": ("RSA-2048 sign, 2 threads / 1 thread", "{:.2f}x", ">= 1.8x"),
    "ecdsa-p256-verify-2t/1t": ("ECDSA P-256 verify, 2 threads / 1 thread", "{:.2f}x", ""),
    "ecdsa-sign-us": ("SignInit + Sign, ECDSA P-256 (us per op)", "{:.1f}", ""),
    "ecdsa-sign-minus-pyca-us": ("  minus pyca sign in-process (us)", "{:.1f}", "<= 6"),
    "ecdsa-sign-token-us": ("SignInit + Sign, ECDSA P-256 token key (us per op)", "{:.1f}", ""),
    "ecdsa-sign-token-minus-pyca-us": ("  minus pyca sign in-process (us)", "{:.1f}", "<= 6"),
    "ecdsa-verify-us": ("VerifyInit + Verify, ECDSA P-256 (us per op)", "{:.1f}", ""),
    "ecdsa-verify-minus-pyca-us": ("  minus pyca verify in-process (us)", "{:.1f}", "<= 6"),
    "find-objects-1k-us": ("C_FindObjects per call, 1,024 matches (us)", "{:.2f}", ""),
    "find-objects-16k-us": ("C_FindObjects per call, 16,384 matches (us)", "{:.2f}", ""),
    "find-objects-16k/1k": ("  per-call cost 16k / 1k", "{:.2f}x", "~1.0x"),
    "init-finalize-ms": ("C_Initialize + C_Finalize, {objects} token objects (ms)", "{:.1f}", ""),
    "initialize-ms": ("  of which C_Initialize (ms)", "{:.1f}", "<= 35"),
}


def goals_table(figures: dict[str, dict[str, float]], objects: int) -> str:
    names = list(figures)
    keys = [k for k in FIGURES if any(k in figures[n] for n in names)]
    rows = [["figure", *(TOKENS[n] for n in names), "goal (tokenport)"]]
    for key in keys:
        label, fmt, goal = FIGURES[key]
        cells = [fmt.format(figures[n][key]) if key in figures[n] else "-" for n in names]
        rows.append([label.format(objects=f"{objects:,}"), *cells, goal])
    return markdown(rows)


def markdown(rows: list[list[str]]) -> str:
    header = rows[0]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    out = []
    for k, row in enumerate(rows):
        cells = [
            row[i].ljust(widths[i]) if i == 0 else row[i].rjust(widths[i]) for i in range(len(row))
        ]
        out.append("| " + " | ".join(cells) + " |")
        if k == 0:
            out.append(
                "|"
                + "|".join("-" * (w + 1) + (":" if i else "-") for i, w in enumerate(widths))
                + "|"
            )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="timed seconds per measurement")
    parser.add_argument("--warmup", type=float, default=0.5, help="warm-up seconds per measurement")
    parser.add_argument("--only", choices=sorted(TOKENS), help="benchmark one module only")
    parser.add_argument("--objects", type=int, default=1000, help="token objects for find-by-label")
    parser.add_argument(
        "--public-objects",
        action="store_true",
        help="make the find-by-label objects public (default: CKA_PRIVATE=TRUE)",
    )
    parser.add_argument("--tests", help="comma-separated p11bench measurement names (default all)")
    parser.add_argument("--json", metavar="FILE", help="also save the results as JSON")
    parser.add_argument(
        "--tokenport-module", help="tokenport module (default: tokenport module-path)"
    )
    parser.add_argument("--softhsm-module", help="SoftHSMv2 module (default: the usual places)")
    parser.add_argument(
        "--init-runs",
        type=int,
        default=7,
        help="fresh processes timing C_Initialize (the median is reported)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    opts = parser.parse_args(argv)
    if opts.seconds <= 0 or opts.warmup < 0 or opts.objects < 1 or opts.init_runs < 1:
        parser.error("--seconds must be > 0, --warmup >= 0, --objects >= 1, --init-runs >= 1")

    wanted = [opts.only] if opts.only else list(TOKENS)
    runs = {name: TokenRun(name) for name in wanted}
    finders = {
        "tokenport": lambda: tokenport_module(opts.tokenport_module),
        "softhsm": lambda: softhsm_module(opts.softhsm_module),
    }
    for name, run in runs.items():
        run.module, run.skipped = finders[name]()

    workdir = Path(tempfile.mkdtemp(prefix="tokenport-bench-"))
    try:
        exe = compile_p11bench(workdir)
        for run in runs.values():
            if run.module is not None:
                bench_token(exe, run, workdir, opts)
    except BenchError as exc:
        print(f"bench.py: {exc}", file=sys.stderr)
        return 1
    finally:
        if opts.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    pyca: dict[str, float] | None = None
    pyca_note = ""
    if "tokenport" in runs and (
        selected_test(opts, "ecdsa-p256-sign") or selected_test(opts, "ecdsa-p256-verify")
    ):
        try:
            pyca = pyca_ecdsa(opts.seconds, opts.warmup)
        except ImportError as exc:
            pyca_note = f"pyca/cryptography not importable here ({exc}): no in-process figures"

    done = {name: run for name, run in runs.items() if run.skipped is None}
    info = machine()
    print()
    print(
        f"Machine: {info['cores']} cores ({info['cpu']}), {info['os']}, "
        f"Python {info['python']}, cryptography {info['cryptography']}, "
        f"tokenport {info['tokenport']}, {info['date']}"
    )
    print(
        f"Each measurement: {opts.warmup:g} s warm-up, then {opts.seconds:g} s timed; "
        f"find-by-label among {opts.objects:,} "
        f"{'public' if opts.public_objects else 'private'} token objects."
    )
    for run in runs.values():
        if run.skipped:
            print(f"{TOKENS[run.name]}: not measured: {run.skipped}")
        else:
            print(f"{TOKENS[run.name]}: {run.library}, {run.module}")
    print()
    figures = derived(done, pyca)
    if done:
        print(table(done, opts.objects))
        if any(figures.values()):
            print()
            if "initialize" in {k for r in done.values() for k in r.results}:
                print(
                    f"C_Initialize: median of {opts.init_runs} fresh processes started after "
                    "the store was filled."
                )
            if pyca:
                print(
                    f"pyca in-process, one thread: ECDSA P-256 sign {pyca['sign_us']:.1f} us, "
                    f"verify {pyca['verify_us']:.1f} us per op."
                )
            print()
            print(goals_table(figures, opts.objects))
    else:
        print("nothing was measured")
    if pyca_note:
        print(pyca_note)

    if opts.json:
        payload = {
            "machine": info,
            "settings": {
                "seconds": opts.seconds,
                "warmup": opts.warmup,
                "objects": opts.objects,
                "private_objects": not opts.public_objects,
                "init_runs": opts.init_runs,
            },
            "pyca_in_process_us": pyca,
            "derived": figures,
            "tokens": {
                name: {
                    "module": run.module,
                    "library": run.library,
                    "skipped": run.skipped,
                    "results": run.results,
                }
                for name, run in runs.items()
            },
        }
        Path(opts.json).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main())
