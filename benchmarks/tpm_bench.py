#!/usr/bin/env python3
"""Benchmark tokenport-on-TPM against tpm2-pkcs11 on the same TPM 2.0 simulator (issue 13).

Starts its own swtpm (state in a temporary directory, two free adjacent ports on 127.0.0.1:
the swtpm TCTI wants the control port at port + 1; tests/tpm/swtpm.py does it) and, in
front of it, tpm2-abrmd (the user-space resource manager, on a private D-Bus session bus),
which is what /dev/tpmrm0 is on a real host: tpm2-pkcs11 cannot run on a bare simulator (it
keeps objects loaded, and a simulator has three object slots). Then, on that one
simulator, in one run:

* tokenport with ``[crypto] backend = "tpm2"`` and ``[crypto.tpm2] tcti`` naming the TPM
  (a temporary TOKENPORT_HOME; ``tokenport token init``). Without the tpm2 crypto port
  installed its rows read "n/a (tpm2 crypto port not installed)";
* tpm2-pkcs11 (libtpm2_pkcs11.so): a fresh store made by ``tpm2_ptool init`` and
  ``tpm2_ptool addtoken``, with TPM2_PKCS11_STORE (a temporary directory), TPM2_PKCS11_TCTI
  and TPM2TOOLS_TCTI naming the same TPM.

Each module runs in a process of its own (never both at once), driven by the same client,
PyKCS11, through the module's C ABI: log in as user on a R/W session, then for each row a
warm-up (untimed) and a timed loop; the result is operations per second of wall time and
milliseconds per operation, one thread, one session. Rows:

* EC P-256 key pair generation: ``C_GenerateKeyPair(CKM_EC_KEY_PAIR_GEN)``, token objects
  (CKA_TOKEN=TRUE: a device key lives in the store); the pairs are destroyed after the
  timed loop, untimed;
* ECDSA P-256 sign: ``C_SignInit(CKM_ECDSA)`` + ``C_Sign`` of a 32-byte hash;
* RSA-2048 sign: ``C_SignInit(CKM_SHA256_RSA_PKCS)`` + ``C_Sign`` of 64 bytes.

The templates are the same minimal ones for both modules (class, key type, CKA_TOKEN,
CKA_PRIVATE, CKA_SENSITIVE, CKA_SIGN / CKA_VERIFY, the label, the curve or modulus size).

    python benchmarks/tpm_bench.py [--seconds 3] [--warmup 0.5] [--only tokenport|tpm2-pkcs11]
                                   [--rows ec-p256-keygen,ecdsa-p256-sign,rsa2048-sign]
                                   [--json FILE] [--keep]

Needs: swtpm, tpm2-tools, tpm2-pytss, PyKCS11, tpm2-abrmd and dbus-daemon (without them
the tokenport column runs on the bare simulator and the tpm2-pkcs11 column reads n/a);
libtpm2-pkcs11-1 and libtpm2-pkcs11-tools for the tpm2-pkcs11 column. Nothing outside the
temporary directory is read or written.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

TOKEN_LABEL = "tpmbench"
SO_PIN = "bench-so-pin"
USER_PIN = "bench-user-pin"
TPM2_PKCS11_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so",
    "/usr/lib/aarch64-linux-gnu/pkcs11/libtpm2_pkcs11.so",
    "/usr/lib/pkcs11/libtpm2_pkcs11.so",
    "/usr/local/lib/pkcs11/libtpm2_pkcs11.so",
)
ROWS = {
    "ec-p256-keygen": "EC P-256 key pair generation (token objects)",
    "ecdsa-p256-sign": "ECDSA P-256 sign (CKM_ECDSA, 32 B hash)",
    "rsa2048-sign": "RSA-2048 sign (CKM_SHA256_RSA_PKCS, 64 B)",
}
NO_PORT = "n/a (tpm2 crypto port not installed)"


# -- the worker: one module, in a process of its own -----------------------------------------


def _timed(op: Callable[[], Any], seconds: float, warmup: float,
           cleanup: Callable[[], None] | None = None) -> dict[str, float]:
    """Run ``op`` for ``warmup`` seconds, then time it until ``seconds`` of its own run
    time have passed. ``cleanup`` (untimed) runs after every BATCH operations and at the
    end: generated keys are destroyed in batches, so no module holds hundreds of them."""
    end = time.perf_counter() + warmup
    done = 0
    while time.perf_counter() < end:
        op()
        done += 1
        if cleanup is not None and done % BATCH == 0:
            cleanup()
    if cleanup is not None:
        cleanup()
    count = 0
    elapsed = 0.0
    while elapsed < seconds:
        start = time.perf_counter()
        op()
        elapsed += time.perf_counter() - start
        count += 1
        if cleanup is not None and count % BATCH == 0:
            cleanup()
    if cleanup is not None:
        cleanup()
    return {"ops": count, "seconds": elapsed, "ops_per_s": count / elapsed,
            "ms_per_op": 1000 * elapsed / count}


BATCH = 40
"""Key pairs generated between two untimed clean-ups. tpm2-pkcs11 (1.9) keeps two TPM
objects loaded for every key pair it generated until C_Finalize (destroying the keys or
closing the session does not flush them), and tpm2-abrmd allows 100 transient objects per
client: its 51st key generation in a process fails. So the clean-up, for both modules,
destroys the pairs, logs out, closes the session, calls C_Finalize and C_Initialize, and
opens a new logged-in session."""
P256 = bytes.fromhex("06082a8648ce3d030107")  # DER OID prime256v1


class Client:
    """One module through PyKCS11: a logged-in R/W session on the token TOKEN_LABEL."""

    def __init__(self, module: str) -> None:
        import PyKCS11

        self.P = PyKCS11
        self.lib = PyKCS11.PyKCS11Lib()
        self.lib.load(module)
        self.made: list[Any] = []
        self._open()

    def _open(self) -> None:
        P = self.P
        slot = next(s for s in self.lib.getSlotList(tokenPresent=True)
                    if self.lib.getTokenInfo(s).label.strip() == TOKEN_LABEL)
        self.session = self.lib.openSession(slot, P.CKF_SERIAL_SESSION | P.CKF_RW_SESSION)
        self.session.login(USER_PIN)

    def pair(self, key_type: int, label: str, public_extra: list[tuple[int, Any]]
             ) -> tuple[Any, Any]:
        """C_GenerateKeyPair with the minimal templates (same for both modules:
        tpm2-pkcs11 refuses templates that disagree with the TPM object's attributes,
        such as CKA_DECRYPT=FALSE)."""
        P = self.P
        public = [(P.CKA_CLASS, P.CKO_PUBLIC_KEY), (P.CKA_KEY_TYPE, key_type),
                  (P.CKA_TOKEN, True), (P.CKA_VERIFY, True), (P.CKA_LABEL, label),
                  *public_extra]
        private = [(P.CKA_CLASS, P.CKO_PRIVATE_KEY), (P.CKA_KEY_TYPE, key_type),
                   (P.CKA_TOKEN, True), (P.CKA_PRIVATE, True), (P.CKA_SENSITIVE, True),
                   (P.CKA_SIGN, True), (P.CKA_LABEL, label)]
        mechanism = P.CKM_EC_KEY_PAIR_GEN if key_type == P.CKK_EC else P.CKM_RSA_PKCS_KEY_PAIR_GEN
        keys = self.session.generateKeyPair(public, private, P.Mechanism(mechanism))
        self.made.extend(keys)
        return keys[0], keys[1]

    def destroy_made(self) -> None:
        for key in self.made:
            self.session.destroyObject(key)
        self.made.clear()

    def restart(self) -> None:
        """Destroy the generated keys, C_Finalize, C_Initialize, log in again."""
        self.destroy_made()
        self.close()
        self.lib.lib.C_Initialize()
        self._open()

    def close(self) -> None:
        self.session.logout()
        self.session.closeSession()
        self.lib.lib.C_Finalize()


def worker(module: str, seconds: float, warmup: float, rows: list[str]) -> dict[str, Any]:
    """Log in to the token TOKEN_LABEL of ``module`` and time each row. A row that fails
    reads "failed: <CKR>" (the other rows still run, on a new C_Initialize)."""
    client = Client(module)
    P = client.P
    results: dict[str, Any] = {}

    def keygen() -> dict[str, float]:
        return _timed(lambda: client.pair(P.CKK_EC, "bench-keygen", [(P.CKA_EC_PARAMS, P256)]),
                      seconds, warmup, client.restart)

    def sign(key_type: int, extra: list[tuple[int, Any]], mechanism: int, data: bytes,
             size: int) -> dict[str, float]:
        public, private = client.pair(key_type, "bench-sign", extra)
        how = P.Mechanism(mechanism)
        signature = bytes(client.session.sign(private, data, how))
        if len(signature) != size or not client.session.verify(public, data, signature, how):
            raise RuntimeError("the module's signature does not verify")
        return _timed(lambda: client.session.sign(private, data, how), seconds, warmup)

    measurements: dict[str, Callable[[], dict[str, float]]] = {
        "ec-p256-keygen": keygen,
        "ecdsa-p256-sign": lambda: sign(P.CKK_EC, [(P.CKA_EC_PARAMS, P256)], P.CKM_ECDSA,
                                        bytes(range(32)), 64),
        "rsa2048-sign": lambda: sign(P.CKK_RSA, [(P.CKA_MODULUS_BITS, 2048),
                                                 (P.CKA_PUBLIC_EXPONENT, (1, 0, 1))],
                                     P.CKM_SHA256_RSA_PKCS, bytes(range(64)), 256),
    }
    for row in rows:
        try:
            results[row] = measurements[row]()
            client.destroy_made()
        except (P.PyKCS11Error, RuntimeError) as exc:
            results[row] = f"failed: {exc}"
            try:
                client.restart()
            except P.PyKCS11Error:
                client = Client(module)
    client.destroy_made()
    client.close()
    return results


# -- setup of each module --------------------------------------------------------------------


def _run(args: list[str], env: dict[str, str], what: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600,
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed ({' '.join(args[:3])} ...): "
                           f"{(proc.stderr or proc.stdout).strip()[-800:]}")
    return proc


class Broker:
    """tpm2-abrmd (the user-space TPM resource manager) on a private D-Bus session bus, in
    front of the simulator: what /dev/tpmrm0 is on a real host. tpm2-pkcs11 needs one (a
    simulator has three object slots and no resource manager of its own); both modules
    go through it, so both pay the same extra hop."""

    def __init__(self, work: Path, swtpm_tcti: str) -> None:
        self.bus = work / "dbus-session"
        self.name = f"com.intel.tss2.Tabrmd.bench{os.getpid()}"
        self.tcti = f"tabrmd:bus_type=session,bus_name={self.name}"
        self.env = {"DBUS_SESSION_BUS_ADDRESS": f"unix:path={self.bus}"}
        self.dbus_pid = 0
        self.abrmd: subprocess.Popen[bytes] | None = None
        pid = _run(["dbus-daemon", "--session", "--fork", "--nosyslog", "--print-pid=1",
                    f"--address=unix:path={self.bus}"], dict(os.environ), "dbus-daemon")
        self.dbus_pid = int(pid.stdout.split()[0])
        env = {**os.environ, **self.env, "TSS2_LOG": "all+NONE"}
        self.abrmd = subprocess.Popen(
            ["tpm2-abrmd", "--session", "--allow-root", "--flush-all", "--max-transients=100",
             f"--dbus-name={self.name}", f"--tcti={swtpm_tcti}"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            probe = subprocess.run(["tpm2_getrandom", "--tcti", self.tcti, "4"], env=env,
                                   capture_output=True, check=False)
            if probe.returncode == 0:
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("tpm2-abrmd did not answer")

    @staticmethod
    def missing() -> str | None:
        for tool in ("tpm2-abrmd", "dbus-daemon"):
            if shutil.which(tool) is None:
                return tool
        return None

    def stop(self) -> None:
        if self.abrmd is not None:
            self.abrmd.terminate()
            try:
                self.abrmd.wait(10)
            except subprocess.TimeoutExpired:
                self.abrmd.kill()
            self.abrmd = None
        if self.dbus_pid:
            try:
                os.kill(self.dbus_pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            self.dbus_pid = 0


def _quiet_env(tcti: str, extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ, TSS2_LOG="all+NONE", TPM2TOOLS_TCTI=tcti, **extra)
    env.pop("TOKENPORT_CONF", None)
    return env


def setup_tpm2_pkcs11(work: Path, tcti: str, extra: dict[str, str]
                      ) -> tuple[str | None, dict[str, str], str]:
    """(module, environment, why not) for tpm2-pkcs11 with a fresh store on ``tcti``:
    ``tpm2_ptool init`` (a persistent primary key) and ``addtoken``."""
    module = next((p for p in TPM2_PKCS11_CANDIDATES if Path(p).is_file()), None)
    if module is None:
        return None, {}, "n/a (libtpm2-pkcs11-1 not installed)"
    if shutil.which("tpm2_ptool") is None:
        return None, {}, "n/a (tpm2_ptool not installed: libtpm2-pkcs11-tools)"
    if not tcti.startswith("tabrmd:"):
        return None, {}, "n/a (needs a resource manager: apt install tpm2-abrmd)"
    store = work / "tpm2-pkcs11"
    store.mkdir()
    env = _quiet_env(tcti, extra)
    env.update(TPM2_PKCS11_STORE=str(store), TPM2_PKCS11_TCTI=tcti, TPM2_PKCS11_LOG_LEVEL="0",
               HOME=str(work / "home-tpm2-pkcs11"))
    made = _run(["tpm2_ptool", "init", "--path", str(store)], env, "tpm2_ptool init")
    pid = next((line.split(":", 1)[1].strip() for line in made.stdout.splitlines()
                if line.startswith("id:")), "1")
    _run(["tpm2_ptool", "addtoken", "--pid", pid, "--label", TOKEN_LABEL, "--sopin", SO_PIN,
          "--userpin", USER_PIN, "--path", str(store)], env, "tpm2_ptool addtoken")
    return module, env, ""


def setup_tokenport(work: Path, tcti: str, extra: dict[str, str], backend: str = "tpm2"
                    ) -> tuple[str | None, dict[str, str], str]:
    """(module, environment, why not) for tokenport with the tpm2 crypto port on ``tcti``
    (``backend``: another crypto port, to check this script or for a software baseline)."""
    sys.path.insert(0, str(ROOT / "src"))
    import tokenport
    from tokenport import plugins
    from tokenport.abi import module_path

    if not plugins.exists("crypto", backend):
        return None, {}, NO_PORT if backend == "tpm2" else f"n/a (no crypto port {backend!r})"
    home = work / "tokenport-home"
    home.mkdir()
    options = f'\n[crypto.tpm2]\ntcti = "{tcti}"\n' if backend == "tpm2" else ""
    (home / "tokenport.toml").write_text(
        f'[crypto]\nbackend = "{backend}"\n{options}', encoding="utf-8")
    env = _quiet_env(tcti, extra)
    package_site = str(Path(tokenport.__file__).resolve().parent.parent)
    env.update(TOKENPORT_HOME=str(home), XDG_CONFIG_HOME=str(work / "xdg"),
               XDG_DATA_HOME=str(work / "xdg-data"), TOKENPORT_SO_PIN=SO_PIN,
               TOKENPORT_PIN=USER_PIN,
               PYTHONPATH=os.pathsep.join(filter(None, [package_site, env.get("PYTHONPATH")])))
    _run([sys.executable, "-m", "tokenport", "token", "init", "--label", TOKEN_LABEL], env,
         "tokenport token init")
    return module_path(), env, ""


def measure(module: str, env: dict[str, str], opts: argparse.Namespace) -> dict[str, Any]:
    """Run the worker for one module in a process of its own."""
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker", module,
         "--seconds", str(opts.seconds), "--warmup", str(opts.warmup),
         "--rows", ",".join(opts.rows)],
        env=env, capture_output=True, text=True, timeout=3600, check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"the benchmark of {module} failed: {proc.stderr.strip()[-1500:]}")
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


# -- the report ------------------------------------------------------------------------------


def _cell(result: dict[str, Any] | str | None) -> tuple[str, str]:
    if isinstance(result, dict):
        return f"{result['ops_per_s']:,.1f}", f"{result['ms_per_op']:.2f}"
    return (result or "n/a"), ""


def table(columns: dict[str, dict[str, Any] | str], rows: list[str]) -> str:
    names = list(columns)
    lines = ["| operation | " + " | ".join(f"{n} ops/s | {n} ms/op" for n in names) + " |",
             "|---|" + "--:|--:|" * len(names)]
    for row in rows:
        cells = []
        for name in names:
            column = columns[name]
            ops, ms = _cell(column.get(row) if isinstance(column, dict) else column)
            cells += [ops, ms]
        lines.append(f"| {ROWS[row]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine() -> str:
    from bench import cpu_model  # benchmarks/bench.py, next to this script

    cpu = cpu_model()
    swtpm = subprocess.run(["swtpm", "--version"], capture_output=True, text=True,
                           check=False).stdout.strip().splitlines()
    return (f"{cpu}, {os.cpu_count()} cores; {platform.platform()}; Python "
            f"{platform.python_version()}; {swtpm[0] if swtpm else 'swtpm'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="timed seconds per row")
    parser.add_argument("--warmup", type=float, default=0.5, help="warm-up seconds per row")
    parser.add_argument("--only", choices=("tokenport", "tpm2-pkcs11"),
                        help="benchmark one module only")
    parser.add_argument("--rows", default=",".join(ROWS),
                        help=f"comma-separated rows (default all: {', '.join(ROWS)})")
    parser.add_argument("--json", metavar="FILE", help="also save the results as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--tokenport-backend", default="tpm2", metavar="PORT",
                        help="tokenport's crypto port (default tpm2; pyca gives a software "
                             "baseline)")
    parser.add_argument("--worker", metavar="MODULE", help=argparse.SUPPRESS)
    opts = parser.parse_args(argv)
    opts.rows = [r for r in opts.rows.split(",") if r]
    unknown = [r for r in opts.rows if r not in ROWS]
    if unknown:
        parser.error(f"unknown rows: {', '.join(unknown)} (known: {', '.join(ROWS)})")
    if opts.worker:
        print(json.dumps(worker(opts.worker, opts.seconds, opts.warmup, opts.rows)))
        return 0

    sys.path.insert(0, str(ROOT))
    from tests.tpm.swtpm import Swtpm, missing_reason

    reason = missing_reason()
    if reason is not None:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="tpm-bench-"))
    tpm = Swtpm.start(work / "swtpm")
    broker: Broker | None = None
    columns: dict[str, dict[str, Any] | str] = {}
    try:
        tcti, extra, path = tpm.tcti, {}, "swtpm directly"
        lacking = Broker.missing()
        if lacking is None:
            broker = Broker(work, tpm.tcti)
            tcti, extra, path = broker.tcti, broker.env, "tpm2-abrmd -> swtpm"
        else:
            print(f"{lacking} not found: no resource manager", file=sys.stderr)
        print(f"TPM: {path} ({tcti}); {opts.seconds:g} s per row after {opts.warmup:g} s of "
              "warm-up", file=sys.stderr)
        setups = {"tokenport-on-TPM": setup_tokenport, "tpm2-pkcs11": setup_tpm2_pkcs11}
        for name, setup in setups.items():
            if opts.only and not name.startswith(opts.only):
                continue
            if setup is setup_tokenport:
                module, env, why_not = setup_tokenport(work, tcti, extra, opts.tokenport_backend)
                if opts.tokenport_backend != "tpm2":
                    name = f"tokenport ({opts.tokenport_backend}, software)"
            else:
                module, env, why_not = setup(work, tcti, extra)
            if module is None:
                columns[name] = why_not
                print(f"{name}: {why_not}", file=sys.stderr)
                continue
            print(f"{name}: {module}", file=sys.stderr)
            columns[name] = measure(module, env, opts)
    finally:
        if broker is not None:
            broker.stop()
        tpm.stop()
        if opts.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\nTPM 2.0: {path}; one thread, one session, PyKCS11 client; {machine()}\n")
    print(table(columns, opts.rows))
    if opts.json:
        Path(opts.json).write_text(json.dumps({"machine": machine(), "results": columns},
                                              indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
