"""p11-kit: a module config that p11-kit and GnuTLS's p11tool read, and tokenport served by
`p11-kit server` to a client that loads p11-kit-client.so, so the key never enters the
client's process."""

from __future__ import annotations

import functools
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..integration.tools import isolated_env, output, run, skip_without
from .tlstools import ENGINE, HTTP_GET, P11_KIT_CLIENT, Device, Server, TlsServer, engine_config


@functools.cache
def unprivileged_prefix() -> list[str] | None:
    """How to run a command so that getuid() is not 0: p11-kit ignores user module configs
    in programs running as root (its own rule), so as root the commands run in a user
    namespace that maps root to uid 1000 (files keep their real owner). None if impossible."""
    if os.getuid() != 0:
        return []
    prefix = ["unshare", "--user", "--map-user=1000"]
    try:
        probe = subprocess.run([*prefix, "id", "-u"], capture_output=True, text=True, timeout=30,
                               check=False)
    except FileNotFoundError:
        return None
    return prefix if probe.returncode == 0 and probe.stdout.strip() == "1000" else None


@pytest.fixture
def user_config(device: Device, tmp_path: Path) -> dict[str, str]:
    """An environment whose p11-kit user config registers tokenport, as a user would:
    ``echo "module: $(tokenport module-path)" > ~/.config/pkcs11/modules/tokenport.module``."""
    home = tmp_path / "user-home"
    modules = home / ".config" / "pkcs11" / "modules"
    modules.mkdir(parents=True)
    (modules / "tokenport.module").write_text(f"module: {device.module}\n")
    env = isolated_env(device.home, HOME=str(home))
    env["XDG_CONFIG_HOME"] = str(home / ".config")
    return env


@skip_without("p11-kit", "p11tool")
def test_module_config_is_seen_by_p11_kit_and_p11tool(user_config: dict[str, str]) -> None:
    prefix = unprivileged_prefix()
    if prefix is None:
        pytest.skip("running as root without user namespaces: p11-kit reads no user config")
    modules = run([*prefix, "p11-kit", "list-modules"], user_config, timeout=60)
    assert modules.returncode == 0, output(modules)
    assert "tokenport: " in modules.stdout and "token: dev-ec" in modules.stdout, output(modules)
    assert "token: dev-rsa" in modules.stdout
    listing = run([*prefix, "p11tool", "--list-all", "pkcs11:token=dev-ec"], user_config,
                  timeout=60)
    assert listing.returncode == 0, output(listing)
    for expected in ("object=Device%20Cert;type=cert", "Label: Root Cert",
                     "object=Device%20Pub%20TLS%20Key;type=public"):
        assert expected in listing.stdout, output(listing)


@pytest.fixture
def p11_kit_server(device: Device, tmp_path: Path) -> Iterator[Path]:
    """`p11-kit server` exporting both device tokens of tokenport on a Unix socket."""
    socket = tmp_path / "p11-kit.sock"
    server = Server(["p11-kit", "server", "--foreground", "--provider", device.module,
                     "--name", str(socket), "pkcs11:manufacturer=tokenport"],
                    tmp_path / "p11-kit-server.log", env=isolated_env(device.home))
    try:
        server.wait_for("P11_KIT_SERVER_ADDRESS=")
        yield socket
    finally:
        server.stop()


@skip_without("p11-kit", "openssl")
@pytest.mark.skipif(not P11_KIT_CLIENT.is_file() or not ENGINE.is_file(),
                    reason="p11-kit-client.so or libengine-pkcs11-openssl is not installed")
@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_tls_through_p11_kit_server(device: Device, server: TlsServer, p11_kit_server: Path,
                                    tmp_path: Path, kind: str) -> None:
    """openssl s_client signs the handshake through p11-kit-client.so; the client process
    never loads tokenport (its dynamic loader says so) and its TOKENPORT_HOME is empty: the
    tokens it sees are the server's."""
    config = tmp_path / "client.cnf"
    config.write_text(engine_config(str(P11_KIT_CLIENT)))
    empty = tmp_path / "no-store-here"
    empty.mkdir()
    env = isolated_env(empty, OPENSSL_CONF=str(config),
                       P11_KIT_SERVER_ADDRESS=f"unix:path={p11_kit_server}",
                       LD_DEBUG="files", LD_DEBUG_OUTPUT=str(tmp_path / "ld-debug"))
    proc = run(["openssl", "s_client", "-connect", f"127.0.0.1:{server.port}", "-tls1_3",
                "-engine", "pkcs11", "-keyform", "engine", "-key", device.key_uri(kind),
                "-cert", str(device.cert_file(kind)), "-CAfile", str(device.pki.ca_file),
                "-verify_return_error", "-quiet", "-ign_eof"], env, input=HTTP_GET, timeout=60)
    text = output(proc)
    assert proc.returncode == 0, text
    assert device.subject(kind) in text, text
    loaded = "".join(p.read_text(errors="replace") for p in tmp_path.glob("ld-debug.*"))
    assert "p11-kit-client.so" in loaded
    assert Path(device.module).name not in loaded, "tokenport was loaded into the client"

