"""`tokenport openssl-conf` and `tokenport p11-kit-module`: the files they write are used,
unedited, by a real openssl (libp11 engine) and by p11-kit and GnuTLS's p11tool."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tokenport.cli.setup_files import find_engine

from .tools import SO_PIN, USER_PIN, isolated_env, output, run, skip_without

P11_KIT_CLIENT = Path("/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so")
KEY_URI = ("pkcs11:token=tokenport;object=Device%20Priv%20TLS%20Key;type=private"
           f";pin-value={USER_PIN}")


def tokenport(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-m", "tokenport", *args], env)


@pytest.fixture
def quickstarted(tmp_path: Path) -> dict[str, str]:
    """A store with the quickstart token ("tokenport", with the device key pair)."""
    home = tmp_path / "home"
    home.mkdir()
    env = isolated_env(home, TOKENPORT_PIN=USER_PIN, TOKENPORT_SO_PIN=SO_PIN)
    proc = tokenport(env, "quickstart")
    assert proc.returncode == 0, output(proc)
    return env


@skip_without("openssl")
@pytest.mark.skipif(find_engine() is None, reason="libengine-pkcs11-openssl is not installed")
def test_openssl_conf_signs_through_the_engine(quickstarted: dict[str, str], tmp_path: Path,
                                               module_path: str) -> None:
    conf = tmp_path / "tokenport-openssl.cnf"
    proc = tokenport(quickstarted, "openssl-conf", "--out", str(conf))
    assert proc.returncode == 0, output(proc)
    text = conf.read_text()
    assert f"MODULE_PATH = {module_path}\n" in text
    assert f"dynamic_path = {find_engine()}\n" in text
    env = {**quickstarted, "OPENSSL_CONF": str(conf)}
    cert = tmp_path / "device.pem"
    req = run(["openssl", "req", "-new", "-x509", "-engine", "pkcs11", "-keyform", "engine",
               "-key", KEY_URI, "-subj", "/CN=device", "-days", "1", "-out", str(cert)],
              env, cwd=tmp_path)
    assert req.returncode == 0, output(req)
    # The self-signed certificate's signature was made by the token key: openssl checks it.
    verify = run(["openssl", "verify", "-CAfile", str(cert), str(cert)], quickstarted)
    assert verify.returncode == 0 and f"{cert}: OK" in verify.stdout, output(verify)


def test_openssl_conf_prints_without_out(quickstarted: dict[str, str], module_path: str) -> None:
    engine = Path(quickstarted["TOKENPORT_HOME"]).parent / "pkcs11.so"
    engine.write_bytes(b"")
    proc = tokenport(quickstarted, "openssl-conf", "--engine", str(engine))
    assert proc.returncode == 0, output(proc)
    assert proc.stdout.startswith("# OpenSSL configuration")
    assert f"dynamic_path = {engine}\nMODULE_PATH = {module_path}\ninit = 0\n" in proc.stdout


def test_openssl_conf_module_option(quickstarted: dict[str, str], tmp_path: Path) -> None:
    engine = tmp_path / "pkcs11.so"
    engine.write_bytes(b"")
    other = tmp_path / "p11-kit-client.so"
    other.write_bytes(b"")
    proc = tokenport(quickstarted, "openssl-conf", "--engine", str(engine), "--module", str(other))
    assert proc.returncode == 0, output(proc)
    assert f"\nMODULE_PATH = {other}\n" in proc.stdout
    missing = tokenport(quickstarted, "openssl-conf", "--engine", str(engine),
                        "--module", str(tmp_path / "none.so"))
    assert missing.returncode == 1
    assert missing.stderr == f"Error: no such module file: {tmp_path / 'none.so'}\n"


def test_openssl_conf_missing_engine_is_one_line(quickstarted: dict[str, str],
                                                 tmp_path: Path) -> None:
    proc = tokenport(quickstarted, "openssl-conf", "--engine", str(tmp_path / "nope.so"))
    assert proc.returncode == 1
    assert proc.stderr == f"Error: no such engine file: {tmp_path / 'nope.so'}\n"
    out = tmp_path / "no-such-dir" / "x.cnf"
    proc = tokenport(quickstarted, "openssl-conf", "--out", str(out))
    if find_engine() is not None:
        assert proc.returncode == 1 and "does not exist" in proc.stderr, output(proc)
        assert "Traceback" not in proc.stderr


def test_missing_engine_message_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from tokenport.cli import app, setup_files

    monkeypatch.setattr(setup_files, "ENGINE_GLOBS", ("/nonexistent/engines-3/pkcs11.so",))
    result = CliRunner().invoke(app, ["openssl-conf"])
    assert result.exit_code == 1
    assert "libengine-pkcs11-openssl" in result.output and "--engine" in result.output


@functools.cache
def unprivileged_prefix() -> list[str] | None:
    """p11-kit ignores user module files in programs running as root (its own rule): as root,
    run p11-kit in a user namespace mapping root to uid 1000. None if impossible."""
    if os.getuid() != 0:
        return []
    prefix = ["unshare", "--user", "--map-user=1000"]
    try:
        probe = subprocess.run([*prefix, "id", "-u"], capture_output=True, text=True,
                               timeout=30, check=False)
    except FileNotFoundError:
        return None
    return prefix if probe.returncode == 0 and probe.stdout.strip() == "1000" else None


@skip_without("p11-kit", "p11tool")
def test_p11_kit_module_is_found_without_flags(quickstarted: dict[str, str], tmp_path: Path,
                                               module_path: str) -> None:
    prefix = unprivileged_prefix()
    if prefix is None:
        pytest.skip("running as root without user namespaces: p11-kit reads no user config")
    user_home = tmp_path / "user-home"
    user_home.mkdir()
    env = {**quickstarted, "HOME": str(user_home), "XDG_CONFIG_HOME": str(user_home / ".config")}
    proc = tokenport(env, "p11-kit-module", "--user")
    written = user_home / ".config" / "pkcs11" / "modules" / "tokenport.module"
    assert proc.returncode == 0, output(proc)
    assert f"Wrote {written}" in proc.stdout
    assert written.read_text().endswith(f"\nmodule: {module_path}\n")
    modules = run([*prefix, "p11-kit", "list-modules"], env, timeout=60)
    assert modules.returncode == 0, output(modules)
    assert "tokenport: " in modules.stdout and "token: tokenport" in modules.stdout, \
        output(modules)
    tokens = run([*prefix, "p11tool", "--list-tokens"], env, timeout=60)
    assert tokens.returncode == 0, output(tokens)
    assert "Label: tokenport" in tokens.stdout and "Manufacturer: tokenport" in tokens.stdout, \
        output(tokens)


def test_p11_kit_module_out_and_print(quickstarted: dict[str, str], tmp_path: Path,
                                      module_path: str) -> None:
    folder = tmp_path / "modules"
    folder.mkdir()
    proc = tokenport(quickstarted, "p11-kit-module", "--out", str(folder))
    assert proc.returncode == 0, output(proc)
    assert (folder / "tokenport.module").read_text().endswith(f"\nmodule: {module_path}\n")
    printed = tokenport(quickstarted, "p11-kit-module", "--print")
    assert printed.returncode == 0 and printed.stdout.endswith(f"\nmodule: {module_path}\n")
    # --out names an existing folder: a typo never creates folders
    refused = tokenport(quickstarted, "p11-kit-module", "--out", str(tmp_path / "typo" / "sub"))
    assert refused.returncode != 0 and "does not exist" in refused.stderr
    assert not (tmp_path / "typo").exists()


SERVER_LINES = (
    'SOCKET="${XDG_RUNTIME_DIR:-/tmp}/tokenport-$(id -u).sock"\n'
    'exec p11-kit server --foreground --provider "$(tokenport module-path)" \\\n'
    '    --name "$SOCKET" "pkcs11:manufacturer=tokenport"\n'
)


def test_docs_socket_path_defaults_to_tmp_without_a_runtime_dir(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    first = SERVER_LINES.splitlines()[0]
    assert first in (Path(__file__).parents[2] / "docs" / "tls.md").read_text()
    proc = run(["sh", "-c", first + '\necho "$SOCKET"'], env)
    assert proc.stdout == f"/tmp/tokenport-{os.getuid()}.sock\n", output(proc)


@skip_without("p11-kit")
def test_docs_p11_kit_server_binds_its_socket(quickstarted: dict[str, str], tmp_path: Path) -> None:
    """The docs' server command, as written, binds its socket (as root too: CI is root)."""
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    bindir = tmp_path / "bin"
    bindir.mkdir()
    launcher = bindir / "tokenport"
    launcher.write_text(f'#!/bin/sh\nexec {sys.executable} -m tokenport "$@"\n')
    launcher.chmod(0o755)
    env = {**quickstarted, "XDG_RUNTIME_DIR": str(runtime),
           "PATH": f"{bindir}:{os.environ['PATH']}"}
    socket = runtime / f"tokenport-{os.getuid()}.sock"
    server = subprocess.Popen(["sh", "-c", SERVER_LINES], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not socket.exists() and server.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert socket.exists(), server.communicate(timeout=5)[0] if server.poll() is not None \
            else "no socket after 60 s"
        if P11_KIT_CLIENT.is_file() and shutil.which("pkcs11-tool"):
            listing = run(["pkcs11-tool", "--module", str(P11_KIT_CLIENT), "-L"],
                          {**env, "P11_KIT_SERVER_ADDRESS": f"unix:path={socket}"}, timeout=60)
            assert listing.returncode == 0, output(listing)
            assert "token label        : tokenport" in listing.stdout, output(listing)
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_client_extra_installs_python_pkcs11() -> None:
    import tomllib

    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert project["project"]["optional-dependencies"]["client"] == ["python-pkcs11>=0.10.1"]


def test_quickstart_hint_names_the_extra_and_runs(quickstarted: dict[str, str]) -> None:
    proc = tokenport(quickstarted, "quickstart")
    assert proc.returncode == 0, output(proc)
    hint = next(line for line in proc.stdout.splitlines() if "import pkcs11" in line)
    assert hint.endswith("# needs: pip install 'tokenport[client]'")
    command = hint.strip().split("   # ")[0]
    ran = run(["sh", "-c", command.replace("python ", f"{sys.executable} ", 1)], quickstarted)
    assert ran.returncode == 0, output(ran)
    assert "<Token (label='tokenport' " in ran.stdout, output(ran)
