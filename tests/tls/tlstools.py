"""Helpers of the mutual-TLS tests: the provisioned device tokens, servers on free ports.

Every server and client runs in a subprocess with a timeout; servers listen on 127.0.0.1
only, on a port the kernel picks (``openssl s_server -accept 127.0.0.1:0`` prints it) or,
for mosquitto, on a port found free just before; each is killed when its test is done.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..integration.tools import USER_PIN, isolated_env, output, run
from ..provisioning.pki import TestPki, pem

ENGINE = Path("/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so")
P11_KIT_CLIENT = Path("/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so")
KEY_LABEL = "Device%20Priv%20TLS%20Key"
CERT_LABEL = "Device%20Cert"
KINDS = {"ec": ("dev-ec", "ec", "CN=device-ec"), "rsa": ("dev-rsa", "rsa", "CN=device-rsa")}
"""key family -> (token label, --generate value, certificate subject)"""


def engine_config(module: str) -> str:
    """An OpenSSL config that loads the libp11 engine with ``module`` (as in the README)."""
    return (
        "openssl_conf = openssl_init\n[openssl_init]\nengines = engine_section\n"
        "[engine_section]\npkcs11 = pkcs11_section\n[pkcs11_section]\nengine_id = pkcs11\n"
        f"dynamic_path = {ENGINE}\nMODULE_PATH = {module}\ninit = 0\n"
    )


@dataclass
class Device:
    """Two tokens in one store, "dev-ec" (EC P-256) and "dev-rsa" (RSA 2048), each
    provisioned with the tokenport command the factory way: key generated inside the token,
    CSR, certificate issued by the test CA, certificate attached, root CA stored."""

    module: str
    home: Path
    work: Path
    pki: TestPki

    @property
    def env(self) -> dict[str, str]:
        """A client environment: this store, and OpenSSL configured for the engine."""
        return isolated_env(self.home, OPENSSL_CONF=str(self.work / "engine.cnf"),
                            TOKENPORT_PIN=USER_PIN)

    def tokenport(self, *args: str) -> subprocess.CompletedProcess[str]:
        proc = run([sys.executable, "-m", "tokenport", *args], self.env, cwd=self.work)
        assert proc.returncode == 0, output(proc)
        return proc

    def key_uri(self, kind: str, *, pin: bool = True) -> str:
        """The libp11-style URI of the device key, with the PIN when ``pin``."""
        uri = f"pkcs11:token={KINDS[kind][0]};object={KEY_LABEL};type=private"
        return uri + (f";pin-value={USER_PIN}" if pin else "")

    def cert_uri(self, kind: str) -> str:
        return f"pkcs11:token={KINDS[kind][0]};object={CERT_LABEL};type=cert"

    def cert_file(self, kind: str) -> Path:
        return self.work / f"{KINDS[kind][0]}.pem"

    def subject(self, kind: str) -> str:
        """How the server's page shows the device certificate's subject."""
        return "Subject: " + KINDS[kind][2]

    @classmethod
    def provision(cls, module: str, base: Path, pki: TestPki) -> Device:
        home, work = base / "home", base / "work"
        home.mkdir(parents=True)
        work.mkdir()
        (work / "engine.cnf").write_text(engine_config(module))
        device = cls(module, home, work, pki)
        for kind, (token, generate, subject) in KINDS.items():
            device.tokenport("token", "init", "--label", token, "--so-pin", "so-pin-1234")
            csr = work / f"{token}.csr"
            device.tokenport("provision", "--token", token, "--generate", generate,
                             "--csr", str(csr), "--subject", subject)
            cert = pki.ca.issue_for_csr(csr.read_bytes())
            device.cert_file(kind).write_bytes(pem(cert))
            device.tokenport("provision", "--token", token, "--cert", str(device.cert_file(kind)),
                             "--root-ca", str(pki.ca_file))
        return device


class Server:
    """A server process whose output goes to a file (``log``); killed by ``stop``.

    ``text()`` is that output, followed by ``log_file`` for a server that writes its log there.
    """

    def __init__(self, args: Sequence[str], log: Path, env: Mapping[str, str] | None = None,
                 cwd: Path | None = None, log_file: Path | None = None) -> None:
        self.log = log
        self.log_file = log_file
        with log.open("wb") as stream:
            self.proc = subprocess.Popen(list(args), stdout=stream, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=cwd,
                                         env=dict(env) if env is not None else None)

    def text(self) -> str:
        extra = self.log_file.read_text(errors="replace") if self.log_file and \
            self.log_file.exists() else ""
        return self.log.read_text(errors="replace") + extra

    def wait_for(self, marker: str, timeout: float = 15) -> str:
        """The log once ``marker`` is in it (fails if the process dies or time runs out)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.text()
            if marker in text:
                return text
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}:\n{text}")
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"no {marker!r} from the server in {timeout}s:\n{self.text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


class TlsServer(Server):
    """``openssl s_server -www`` requiring a client certificate that chains to ``ca_file``;
    each connection gets a status page that names the client certificate's subject."""

    def __init__(self, pki: TestPki, ca_file: Path, log: Path) -> None:
        super().__init__(
            ["openssl", "s_server", "-accept", "127.0.0.1:0", "-cert", str(pki.server_cert_file),
             "-key", str(pki.server_key_file), "-CAfile", str(ca_file), "-Verify", "1",
             "-verify_return_error", "-www"], log, env=_without_openssl_conf())
        line = next(l for l in self.wait_for("ACCEPT 127.0.0.1:").splitlines()
                    if l.startswith("ACCEPT "))
        self.port = int(line.rpartition(":")[2])


def _without_openssl_conf() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "OPENSSL_CONF"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited {proc.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


HTTP_GET = "GET / HTTP/1.0\r\n\r\n"
