"""The store is shared by processes: what one client writes, another (later or already running)
sees; concurrent writers lose nothing; the PIN failure counter is persistent state.

Every process here is a real client (pkcs11-tool, python-pkcs11) loading the real module.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from .tools import (
    Token,
    init_with_cli,
    init_with_pkcs11_tool,
    needs_python_pkcs11,
    output,
    skip_without,
    unwrap_ec_point,
)

pytestmark = [needs_python_pkcs11, skip_without("pkcs11-tool")]


def test_objects_written_by_pkcs11_tool_are_found_by_later_processes(
    fresh_token: Token, tmp_path: Path
) -> None:
    tok = fresh_token
    init_with_pkcs11_tool(tok)
    tok.tool_ok(
        "--keypairgen",
        "--key-type",
        "EC:prime256v1",
        "--id",
        "a1",
        "--label",
        "persist-ec",
        login=True,
    )
    data = tmp_path / "data.bin"
    data.write_bytes(b"written by pkcs11-tool")
    tok.tool_ok(
        "--write-object", str(data), "--type", "data", "--label", "persist-data", login=True
    )

    # A new process, a different client: python-pkcs11 finds both and uses the key.
    result = tok.python(
        r"""
with token.open(user_pin=PIN) as s:
    priv = s.get_key(object_class=ObjectClass.PRIVATE_KEY, label="persist-ec", id=b"\xa1")
    pub = s.get_key(object_class=ObjectClass.PUBLIC_KEY, id=b"\xa1")
    data = [o[Attribute.VALUE] for o in s.get_objects({Attribute.CLASS: ObjectClass.DATA,
                                                         Attribute.LABEL: "persist-data"})]
    emit(sig=priv.sign(b"after a restart", mechanism=Mechanism.ECDSA_SHA256),
         point=pub[Attribute.EC_POINT], data=data, label=priv[Attribute.LABEL])
"""
    )
    assert result["data"] == [b"written by pkcs11-tool"]
    assert result["label"] == "persist-ec"
    key = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), unwrap_ec_point(result["point"])
    )
    sig = result["sig"]
    key.verify(
        encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")),
        b"after a restart",
        ec.ECDSA(hashes.SHA256()),
    )
    # Yet another process (pkcs11-tool again) still lists exactly those objects.
    listed = tok.tool_ok("-O", login=True).stdout
    assert len(re.findall(r"^Private Key Object; EC", listed, re.MULTILINE)) == 1, listed
    assert len(re.findall(r"^Data object", listed, re.MULTILINE | re.IGNORECASE)) == 1, listed
    # The store is the file under TOKENPORT_HOME, not anything inside the installed package.
    assert (tok.home / "tokenport.sqlite3").is_file()
    package_dir = Path(tok.module).parent
    assert not list(package_dir.glob("*.sqlite3*"))


LIVE_WORKER = r"""
session = token.open(rw=True, user_pin=PIN)
held = None
emit(ready=True)
for line in sys.stdin:
    command, _, arg = line.strip().partition(" ")
    if command == "count":
        found = list(session.get_objects({Attribute.LABEL: arg}))
        emit(count=len(found), classes=sorted(o[Attribute.CLASS] for o in found))
    elif command == "value":
        emit(values=[o[Attribute.VALUE] for o in session.get_objects({Attribute.LABEL: arg})])
    elif command == "hold":
        held = next(iter(session.get_objects({Attribute.LABEL: arg})))
        emit(held=True)
    elif command == "read-held":
        emit(outcome=raised(lambda: held[Attribute.VALUE]))
    else:
        emit(error=f"unknown command {command!r}")
session.close()
"""


def test_running_process_sees_objects_another_process_creates_and_destroys(
    fresh_token: Token, tmp_path: Path
) -> None:
    tok = fresh_token
    init_with_cli(tok)
    live = tok.worker(LIVE_WORKER)  # initialized once; it never calls C_Initialize again
    try:
        assert live.read() == {"ready": True}
        assert live.ask("count live-data")["count"] == 0

        data = tmp_path / "data.bin"
        data.write_bytes(b"from another process")
        tok.tool_ok(
            "--write-object", str(data), "--type", "data", "--label", "live-data", login=True
        )
        assert live.ask("count live-data") == {"count": 1, "classes": [0]}
        assert live.ask("value live-data") == {"values": [b"from another process"]}
        assert live.ask("hold live-data") == {"held": True}
        assert live.ask("read-held") == {"outcome": "no exception"}

        # A private object, written by python-pkcs11 in a third process.
        tok.python(
            r"""
with token.open(rw=True, user_pin=PIN) as s:
    s.create_object({Attribute.CLASS: ObjectClass.DATA, Attribute.LABEL: "live-private",
                     Attribute.VALUE: b"secret data", Attribute.PRIVATE: True, Attribute.TOKEN: True})
"""
        )
        assert live.ask("value live-private") == {"values": [b"secret data"]}

        tok.tool_ok("--delete-object", "--type", "data", "--label", "live-data", login=True)
        assert live.ask("count live-data")["count"] == 0
        assert live.ask("read-held") == {"outcome": "ObjectHandleInvalid"}
        assert live.ask("count live-private")["count"] == 1
    finally:
        code = live.close()
    assert code == 0, live.stderr()


WRITER = r"""
import time
with token.open(rw=True, user_pin=PIN) as s:
    emit(ready=True)
    prefix = sys.stdin.readline().strip()
    start = time.monotonic()
    for i in range(100):
        label = f"{prefix}-{i:03d}"
        s.create_object({Attribute.CLASS: ObjectClass.DATA, Attribute.LABEL: label,
                         Attribute.VALUE: label.encode(), Attribute.PRIVATE: True,
                         Attribute.TOKEN: True})
    emit(start=start, end=time.monotonic())
"""


def test_two_processes_writing_at_once_lose_nothing(fresh_token: Token) -> None:
    tok = fresh_token
    init_with_cli(tok)
    writers = [tok.worker(WRITER), tok.worker(WRITER)]
    try:
        for writer in writers:
            assert writer.read() == {"ready": True}  # both logged in, waiting
        for n, writer in enumerate(writers):
            writer.send(f"w{n}")
        spans = [writer.read() for writer in writers]
    finally:
        codes = [writer.close() for writer in writers]
    assert codes == [0, 0], [w.stderr() for w in writers]
    # The writes really overlapped in time (monotonic clocks are system-wide on Linux).
    assert spans[0]["start"] < spans[1]["end"] and spans[1]["start"] < spans[0]["end"], spans

    result = tok.python(
        r"""
with token.open(user_pin=PIN) as s:
    objects = [(o[Attribute.LABEL], o[Attribute.VALUE]) for o in s.get_objects({Attribute.CLASS: ObjectClass.DATA})]
emit(objects=objects)
"""
    )
    labels = [label for label, _ in result["objects"]]
    expected = {f"w{n}-{i:03d}" for n in range(2) for i in range(100)}
    assert len(labels) == 200
    assert set(labels) == expected
    assert all(value == label.encode() for label, value in result["objects"])


def test_pin_lockout_counter_persists_across_processes(fresh_token: Token, tmp_path: Path) -> None:
    tok = fresh_token
    conf = tmp_path / "conf" / "tokenport.toml"
    conf.parent.mkdir()
    conf.write_text("[token]\nmax_pin_attempts = 3\n")
    tok.extra_env["TOKENPORT_CONF"] = str(conf)
    init_with_pkcs11_tool(tok)

    def flags() -> str:
        proc = tok.tool("-L", by_label=False)
        assert proc.returncode == 0, output(proc)
        match = re.search(r"token flags\s+: (.*)\n", proc.stdout)
        assert match, proc.stdout
        return match.group(1)

    wrong = "wrong-pin-9999"
    # Failure 1 (pkcs11-tool), 2 (python-pkcs11), 3 (pkcs11-tool): three separate processes.
    first = tok.tool("--login", "--pin", wrong, "-O")
    assert first.returncode != 0 and "CKR_PIN_INCORRECT" in first.stdout + first.stderr, output(
        first
    )
    assert "user PIN count low" in flags() and "user PIN locked" not in flags()

    second = tok.python(
        r"""
emit(outcome=raised(token.open, user_pin=os.environ["WRONG"]))
""",
        env={"WRONG": wrong},
    )
    assert second["outcome"] == "PinIncorrect"
    assert "final user PIN try" in flags()

    third = tok.tool("--login", "--pin", wrong, "-O")
    assert third.returncode != 0, output(third)
    assert re.search(r"CKR_PIN_(INCORRECT|LOCKED)", third.stdout + third.stderr), output(third)
    assert "user PIN locked" in flags()

    # The right PIN no longer opens the token, in any new process, with any client.
    locked = tok.python(
        r"""
emit(outcome=raised(token.open, user_pin=PIN),
     locked=bool(token.flags & TokenFlag.USER_PIN_LOCKED))
"""
    )
    assert locked == {"outcome": "PinLocked", "locked": True}
    right = tok.tool("-O", login=True)
    assert right.returncode != 0 and "CKR_PIN_LOCKED" in right.stdout + right.stderr, output(right)

    # The SO resets the user PIN, which unlocks it (the counter is cleared for good).
    tok.tool_ok(
        "--init-pin", "--login", "--login-type", "so", "--so-pin", tok.so_pin, "--pin", tok.pin
    )
    assert "user PIN locked" not in flags()
    assert tok.tool("-O", login=True).returncode == 0


def test_store_lives_in_tokenport_home_and_is_private(fresh_token: Token) -> None:
    """A client on an empty TOKENPORT_HOME sees a free slot; after initialization by another
    process the token is there, the store is in TOKENPORT_HOME only, readable by its owner only."""
    tok = fresh_token
    before = tok.tool("-L", by_label=False)
    assert before.returncode == 0, output(before)
    assert "token state:   uninitialized" in before.stdout, output(before)
    init_with_cli(tok)
    after = tok.tool("-L", by_label=False)
    assert re.search(r"token label\s+: fresh\n", after.stdout), output(after)
    assert list(tok.workdir.iterdir()) == []  # nothing written to the working directory
    files = sorted(tok.home.iterdir())
    assert tok.home / "tokenport.sqlite3" in files, files
    for path in files:
        assert path.name.startswith("tokenport.sqlite3"), files
        assert os.stat(path).st_mode & 0o077 == 0, (path, oct(os.stat(path).st_mode))


RACER = r"""
emit(ready=True)
sys.stdin.readline()
emit(outcome=raised(token.open, user_pin=os.environ["WRONG"]))
"""


def test_concurrent_wrong_pins_cannot_exceed_max_pin_attempts(
    fresh_token: Token, tmp_path: Path
) -> None:
    """Ten processes try a wrong PIN at the same moment, with max_pin_attempts = 3: at most
    three of them may get a PIN check (CKR_PIN_INCORRECT), the others must get CKR_PIN_LOCKED;
    otherwise parallel guessing multiplies the number of guesses the lockout allows."""
    tok = fresh_token
    (tok.home / "tokenport.toml").write_text("[token]\nmax_pin_attempts = 3\n")
    init_with_cli(tok)
    racers = [tok.worker(RACER, env={"WRONG": "wrong-pin-0000"}) for _ in range(10)]
    try:
        for racer in racers:
            assert racer.read() == {"ready": True}
        for racer in racers:
            racer.send("go")
        outcomes = [racer.read()["outcome"] for racer in racers]
    finally:
        for racer in racers:
            racer.close()
    assert set(outcomes) <= {"PinIncorrect", "PinLocked"}, outcomes
    assert outcomes.count("PinIncorrect") <= 3, outcomes
    locked = tok.python(
        r"""
emit(locked=bool(token.flags & TokenFlag.USER_PIN_LOCKED), outcome=raised(token.open, user_pin=PIN))
"""
    )
    assert locked == {"locked": True, "outcome": "PinLocked"}


LOGIN_LOOP = r"""
import select
results = []
emit(ready=True)
while not select.select([sys.stdin], [], [], 0)[0]:
    results.append(raised(lambda: token.open(user_pin=os.environ["OLD"]).close()))
emit(results=results)
"""


def test_pin_change_is_not_undone_by_a_concurrent_login(fresh_token: Token) -> None:
    """One process keeps logging in with the old PIN while another changes the PIN
    (C_SetPIN returns CKR_OK): afterwards the new PIN must work and the old one must not."""
    tok = fresh_token
    (tok.home / "tokenport.toml").write_text("[token]\nmax_pin_attempts = 1000\n")
    init_with_cli(tok)
    old, new = tok.pin, "changed-pin-5678"
    loop = tok.worker(LOGIN_LOOP, env={"OLD": old})
    try:
        assert loop.read() == {"ready": True}
        changed = tok.python(
            r"""
import time
time.sleep(0.3)  # the other process is logging in meanwhile
with token.open(rw=True, user_pin=PIN) as s:
    s.set_pin(PIN, os.environ["NEW"])
emit(changed=True)
""",
            env={"NEW": new},
        )
        assert changed == {"changed": True}
        loop.send("stop")
        results = loop.read()["results"]
    finally:
        loop.close()
    assert "no exception" in results  # the loop did log in while the PIN was being changed
    after = tok.python(
        r"""
emit(new=raised(lambda: token.open(user_pin=os.environ["NEW"]).close()),
     old=raised(lambda: token.open(user_pin=PIN).close()))
""",
        env={"NEW": new},
    )
    assert after == {"new": "no exception", "old": "PinIncorrect"}
