"""C_WrapKey, C_UnwrapKey and C_DeriveKey run their crypto with no tokenport lock held (issue
10: "crypto runs with no tokenport lock held"), like every other operation; they look the keys
up before and store the new key after under the state lock, re-checking the session.

Must never: hold the state lock while the crypto port works; store a key for a session
closed in the meantime."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from tokenport.ck import CKA, CKK, CKM, CKO
from tokenport.core.module import Module
from tokenport.errors import SessionClosed, SessionHandleInvalid
from tokenport.mechanisms.params import Ecdh1DeriveParams, Mechanism

P256 = bytes.fromhex("06082a8648ce3d030107")


def aes_key(module: Module, session: int, value: bytes = bytes(range(16)), **attrs: Any) -> int:
    template = [(CKA.CLASS, int(CKO.SECRET_KEY)), (CKA.KEY_TYPE, int(CKK.AES)),
                (CKA.VALUE, value), *[(getattr(CKA, k), v) for k, v in attrs.items()]]
    return module.create_object(session, template)


def run_blocked(module: Module, method: str, call: Callable[[], Any],
                after_start: Callable[[], None] | None = None) -> list[Any]:
    """Run ``call`` in a thread while the crypto port's ``method`` is held up; meanwhile this
    thread takes the state lock (it must be free) and runs ``after_start``."""
    crypto = module.crypto
    original = getattr(crypto, method)
    started, release = threading.Event(), threading.Event()

    def slow(*args: Any, **kwargs: Any) -> Any:
        started.set()
        assert release.wait(10)
        return original(*args, **kwargs)

    setattr(crypto, method, slow)
    outcome: list[Any] = []

    def worker() -> None:
        try:
            outcome.append(call())
        except Exception as exc:  # noqa: BLE001 - the test looks at it
            outcome.append(exc)

    thread = threading.Thread(target=worker)
    try:
        thread.start()
        assert started.wait(10), "the crypto port was never called"
        free = module.state.lock.acquire(timeout=2)
        assert free, "the state lock is held while the crypto port works"
        module.state.lock.release()
        if after_start is not None:
            after_start()
    finally:
        release.set()
        thread.join(10)
        setattr(crypto, method, original)
    return outcome


def test_wrap_runs_without_the_lock(module: Module, user: int) -> None:
    kek = aes_key(module, user, WRAP=True, TOKEN=False)
    key = aes_key(module, user, EXTRACTABLE=True, SENSITIVE=False, TOKEN=False)
    (wrapped,) = run_blocked(module, "aes_key_wrap",
                             lambda: module.wrap_key(user, Mechanism(CKM.AES_KEY_WRAP), kek, key))
    assert isinstance(wrapped, bytes) and len(wrapped) == 24


def test_unwrap_runs_without_the_lock_and_refuses_a_closed_session(
    module: Module, user: int, slot: int
) -> None:
    other = module.open_session(slot, 6)
    kek = aes_key(module, user, bytes(16), WRAP=True, UNWRAP=True, ENCRYPT=False, DECRYPT=False,
                  TOKEN=True)
    key = aes_key(module, user, EXTRACTABLE=True, SENSITIVE=False, TOKEN=False)
    wrapped = module.wrap_key(user, Mechanism(CKM.AES_KEY_WRAP), kek, key)
    template = [(CKA.CLASS, int(CKO.SECRET_KEY)), (CKA.KEY_TYPE, int(CKK.AES))]
    (handle,) = run_blocked(
        module, "aes_key_unwrap",
        lambda: module.unwrap_key(user, Mechanism(CKM.AES_KEY_WRAP), kek, wrapped, template))
    assert isinstance(handle, int)
    # the session closed while the key was being unwrapped: no key is stored for it
    (refused,) = run_blocked(
        module, "aes_key_unwrap",
        lambda: module.unwrap_key(other, Mechanism(CKM.AES_KEY_WRAP), kek, wrapped, template),
        after_start=lambda: module.close_session(other))
    assert isinstance(refused, (SessionClosed, SessionHandleInvalid))


def test_derive_runs_without_the_lock(module: Module, user: int) -> None:
    pub, priv = module.generate_key_pair(
        user, Mechanism(CKM.EC_KEY_PAIR_GEN), [(CKA.EC_PARAMS, P256)], [(CKA.DERIVE, True)])
    (point,) = [r.value for r in module.get_attribute_value(user, pub, [CKA.EC_POINT])]
    assert isinstance(point, bytes)
    raw = point[2:]  # the DER OCTET STRING's content: the uncompressed point
    params = Ecdh1DeriveParams(0x1, b"", raw)
    template = [(CKA.CLASS, int(CKO.SECRET_KEY)), (CKA.KEY_TYPE, int(CKK.GENERIC_SECRET)),
                (CKA.VALUE_LEN, 32)]
    (handle,) = run_blocked(
        module, "ecdh",
        lambda: module.derive_key(user, Mechanism(CKM.ECDH1_DERIVE, params), priv, template))
    assert isinstance(handle, int)


@pytest.mark.parametrize("method", ["aes_key_wrap"])
def test_the_helper_notices_a_held_lock(module: Module, user: int, method: str) -> None:
    """The check above can fail: with the lock taken around the call, it reports it."""
    kek = aes_key(module, user, WRAP=True, TOKEN=False)
    key = aes_key(module, user, EXTRACTABLE=True, SENSITIVE=False, TOKEN=False)

    def locked() -> bytes:
        with module.state.lock:
            return module.wrap_key(user, Mechanism(CKM.AES_KEY_WRAP), kek, key)

    with pytest.raises(AssertionError, match="state lock is held"):
        run_blocked(module, method, locked)
