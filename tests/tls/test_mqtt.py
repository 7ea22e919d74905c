"""MQTT over mutual TLS: a real mosquitto broker, and mosquitto_pub / mosquitto_sub using the
device keys inside tokenport through the libp11 engine."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..integration.tools import output, run
from .tlstools import ENGINE, Device, Server, free_port, wait_for_port

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto"
                                           if Path("/usr/sbin/mosquitto").is_file() else None)
pytestmark = [
    pytest.mark.skipif(MOSQUITTO is None or not shutil.which("mosquitto_pub"),
                       reason="not installed: mosquitto, mosquitto-clients (CI installs them)"),
    pytest.mark.skipif(not ENGINE.is_file(), reason="libengine-pkcs11-openssl is not installed"),
]
TOPIC = "devices/tokenport/telemetry"


def broker_config(device: Device, port: int, log: Path) -> str:
    """Mutual TLS on 127.0.0.1:port; the client certificate's CN becomes the user name.

    ``user`` is the account the test runs as: started as root, mosquitto would otherwise
    drop to the "mosquitto" user, which cannot read the test's private temporary files.
    """
    pki = device.pki
    return (
        f"user {pwd.getpwuid(os.getuid()).pw_name}\n"
        f"listener {port} 127.0.0.1\n"
        f"cafile {pki.ca_file}\ncertfile {pki.server_cert_file}\nkeyfile {pki.server_key_file}\n"
        "require_certificate true\nuse_identity_as_username true\nallow_anonymous false\n"
        f"log_dest file {log}\nlog_type all\n"  # (written line by line; stdout is buffered)
    )


@pytest.fixture
def broker(device: Device, tmp_path: Path) -> Iterator[tuple[Server, int]]:
    for _attempt in range(3):
        port = free_port()
        config = tmp_path / "mosquitto.conf"
        config.write_text(broker_config(device, port, tmp_path / "mosquitto.log"))
        assert MOSQUITTO is not None
        server = Server([MOSQUITTO, "-c", str(config)], tmp_path / "mosquitto.out",
                        log_file=tmp_path / "mosquitto.log")
        try:
            wait_for_port(port, server.proc)
        except AssertionError:
            server.stop()
            if "Address already in use" in server.text():
                continue
            raise AssertionError(server.text()) from None
        yield server, port
        server.stop()
        return
    pytest.fail("no free port for mosquitto")


def client_args(device: Device, kind: str, port: int, workdir: Path) -> list[str]:
    """TLS options of mosquitto_pub / _sub for the token key of ``kind``.

    Debian's mosquitto 2.0.11 clients check that --key names an existing file even with
    --keyform engine: an empty file named exactly like the pkcs11: URI satisfies the check.
    """
    uri = device.key_uri(kind)
    (workdir / uri).touch()
    return ["-h", "localhost", "-p", str(port), "--cafile", str(device.pki.ca_file),
            "--cert", str(device.cert_file(kind)), "--key", uri, "--keyform", "engine",
            "--tls-engine", "pkcs11"]


def test_publish_and_receive_with_token_keys(device: Device, broker: tuple[Server, int],
                                             tmp_path: Path) -> None:
    server, port = broker
    # the clients do not read OPENSSL_CONF: libp11 takes the module from PKCS11_MODULE_PATH
    env = {**device.env, "PKCS11_MODULE_PATH": device.module}
    with (tmp_path / "sub.out").open("wb") as out:
        subscriber = subprocess.Popen(
            ["mosquitto_sub", *client_args(device, "ec", port, tmp_path), "-t", TOPIC,
             "-C", "1", "-W", "60", "-d"],
            cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while f"\t{TOPIC} (QoS 0)" not in server.text():  # the broker logged the SUBSCRIBE
            assert subscriber.poll() is None, (tmp_path / "sub.out").read_text()
            assert time.monotonic() < deadline, "the subscriber never subscribed:\n" + server.text()
            time.sleep(0.05)
        published = run(["mosquitto_pub", *client_args(device, "rsa", port, tmp_path),
                         "-t", TOPIC, "-m", "hello from the token"], env, cwd=tmp_path, timeout=60)
        assert published.returncode == 0, output(published) + server.text()
        assert subscriber.wait(timeout=60) == 0
    finally:
        if subscriber.poll() is None:
            subscriber.kill()
            subscriber.wait(timeout=10)
    received = (tmp_path / "sub.out").read_text()
    assert "hello from the token" in received, received
    log = server.text()
    assert "u'device-ec'" in log and "u'device-rsa'" in log, log
