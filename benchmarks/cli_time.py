"""Wall time of everyday `tokenport` commands (issue 12: "a fast command line").

Runs each command several times in fresh processes against a throw-away store holding one
token with a few objects, and prints the median and the best wall time per command, beside
`python -c pass` (the interpreter's own start) and, when installed, `softhsm2-util
--show-slots`. Usage:

    python benchmarks/cli_time.py [--runs 9] [--tokenport PATH]

Needs tokenport installed for this Python (`pip install .`); the goal of issue 12 is at
most 100 ms for `token list` and `object list` on the machine of benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SO_PIN, USER_PIN = "12345678", "1234"


def timed(cmd: list[str], env: dict[str, str], runs: int) -> tuple[float, float]:
    """(median, best) wall time in ms of ``cmd`` over ``runs`` fresh processes."""
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        samples.append((time.perf_counter() - start) * 1000)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.strip()}")
    return statistics.median(samples), min(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="fresh processes per command")
    parser.add_argument("--tokenport", default=shutil.which("tokenport") or "",
                        help="the tokenport command (default: the one on PATH)")
    opts = parser.parse_args()
    tokenport = [opts.tokenport] if opts.tokenport else [sys.executable, "-m", "tokenport"]
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, TOKENPORT_HOME=str(Path(tmp) / "store"),
                   XDG_CONFIG_HOME=str(Path(tmp) / "config"), TOKENPORT_PIN=USER_PIN,
                   TOKENPORT_SO_PIN=SO_PIN)
        subprocess.run([*tokenport, "token", "init", "--label", "bench"], env=env, check=True,
                       capture_output=True)
        for i in range(3):
            subprocess.run([*tokenport, "key", "generate", "--type", "ec", "--label", f"k{i}"],
                           env=env, check=True, capture_output=True)
        public = {k: v for k, v in env.items() if k not in ("TOKENPORT_PIN", "TOKENPORT_SO_PIN")}
        rows = [
            ("python -c pass (interpreter start)", [sys.executable, "-c", "pass"], public),
            ("tokenport --help", [*tokenport, "--help"], public),
            ("tokenport token list", [*tokenport, "token", "list"], public),
            ("tokenport object list (public objects)", [*tokenport, "object", "list"], public),
            ("tokenport object list, logged in (TOKENPORT_PIN: PBKDF2)",
             [*tokenport, "object", "list"], env),
            ("tokenport mechanisms", [*tokenport, "mechanisms"], public),
        ]
        softhsm = shutil.which("softhsm2-util")
        if softhsm:
            rows.append(("softhsm2-util --show-slots", [softhsm, "--show-slots"], public))
        print("| command | median (ms) | best (ms) |\n|---|--:|--:|")
        for name, cmd, environment in rows:
            median, best = timed(cmd, environment, opts.runs)
            print(f"| {name} | {median:.0f} | {best:.0f} |")


if __name__ == "__main__":
    main()
