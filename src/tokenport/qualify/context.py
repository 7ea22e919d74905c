"""What a test sees: the client, the chosen slot, the configuration, the credentials, the
session opened by the group setup, and helpers shared by the groups (sessions, finding
objects, off-token verification, worker threads).

Every object the run creates carries the run's marker as CKA_ID (``Context.mark``), a value
no other object can have (``MARKER_PREFIX`` and 16 random bytes in hex). The run destroys only
objects with that marker: ``check_destroy`` is the client's ``destroy_check``, so every
C_DestroyObject of the suite is checked, and refusing one fails the test that asked for it.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from tokenport.ck import CKA, CKF, CKO, CKR, CKU
from tokenport.qualify.assertions import (
    Failure,
    Outcome,
    expect_equal,
    expect_ok,
    expect_rv_in,
    fail,
    location_of,
)
from tokenport.qualify.config import Config
from tokenport.qualify.credentials import Credentials, PrivateKey, PublicKey
from tokenport.qualify.p11 import Client, MechanismInfo, Template, rv_name

RW_SESSION = int(CKF.SERIAL_SESSION | CKF.RW_SESSION)
RO_SESSION = int(CKF.SERIAL_SESSION)

#: worker threads of the multi-threaded tests, and iterations per thread (the FreeRTOS
#: suite's PKCS11_TEST_MULTI_THREAD_TASK_COUNT / _LOOP_COUNT)
THREAD_COUNT = 2
THREAD_LOOPS = 10
THREAD_TIMEOUT = 300.0

RSA = "RSA"
EC = "EC"

#: CKA_ID of every object a run creates starts with this, followed by the run's random part
MARKER_PREFIX = b"tokenport-qualify:"


def new_marker() -> bytes:
    """A fresh run marker (CKA_ID value): the prefix and 16 random bytes in hex."""
    return MARKER_PREFIX + secrets.token_hex(16).encode()


@dataclass
class FamilyState:
    """What the suite knows about the device credentials of one key family."""

    source: str = "none"  # "imported", "generated", "preprovisioned" or "none"
    private_key: PrivateKey | None = None  # the off-token copy, when imported
    certificate_der: bytes | None = None  # what the suite stored as the device certificate


@dataclass
class RunState:
    """State carried from test to test within one run (as the token's objects are)."""

    families: dict[str, FamilyState] = field(
        default_factory=lambda: {RSA: FamilyState(), EC: FamilyState()}
    )


@dataclass
class Context:
    client: Client
    config: Config
    slot: int
    pin: bytes | None
    so_pin: bytes | None
    credentials: Credentials
    state: RunState
    session: int = 0
    notes: list[str] = field(default_factory=list)
    cleanups: list[Callable[[], None]] = field(default_factory=list)
    #: CKA_ID of every object this run creates, and the proof that the run created it
    marker: bytes = field(default_factory=new_marker)

    # -- bookkeeping --------------------------------------------------------------------

    def note(self, text: str) -> None:
        """An informational line printed after the test's result line."""
        self.notes.append(text)

    def defer(self, action: Callable[[], None]) -> None:
        """Run ``action`` after the test body, even when it fails (last deferred first)."""
        self.cleanups.append(action)

    def family(self, name: str) -> FamilyState:
        return self.state.families[name]

    # -- sessions -----------------------------------------------------------------------

    def initialize(self) -> None:
        expect_ok(self.client.initialize(), "C_Initialize")

    def open_session(self, flags: int = RW_SESSION) -> int:
        rv, session = self.client.open_session(self.slot, flags)
        expect_ok(rv, "C_OpenSession")
        return session

    def login(self, session: int) -> None:
        """Log the user in (when a PIN was given); already logged in is fine."""
        if self.pin is None:
            return
        rv = self.client.login(session, CKU.USER, self.pin)
        expect_rv_in(rv, (CKR.OK, CKR.USER_ALREADY_LOGGED_IN), "C_Login(CKU_USER)")

    def start(self) -> None:
        """The setup of the object groups: a clean C_Initialize, a R/W session, the login."""
        self.client.finalize()  # a known state; CKR_CRYPTOKI_NOT_INITIALIZED is expected
        self.initialize()
        self.session = self.open_session()
        self.login(self.session)

    def stop(self) -> None:
        """The teardown: close the session and finalize, both must succeed."""
        session, self.session = self.session, 0
        if session:
            expect_ok(self.client.close_session(session), "C_CloseSession")
        expect_ok(self.client.finalize(), "C_Finalize")

    def mechanism(self, mechanism: int, flag: int = 0) -> MechanismInfo | None:
        """The mechanism's info when the token offers it (with ``flag``), else None."""
        rv, info = self.client.get_mechanism_info(self.slot, mechanism)
        expect_rv_in(rv, (CKR.OK, CKR.MECHANISM_INVALID), f"C_GetMechanismInfo(0x{mechanism:X})")
        if info is None or (flag and not info.flags & flag):
            return None
        return info

    # -- objects ------------------------------------------------------------------------

    def find(self, template: Template, session: int | None = None) -> list[int]:
        rv, found = self.client.find(self.session if session is None else session, template)
        expect_ok(rv, "C_FindObjectsInit/C_FindObjects/C_FindObjectsFinal")
        return found

    def find_labelled(self, label: str, cls: int, session: int | None = None) -> list[int]:
        return self.find([(CKA.LABEL, label), (CKA.CLASS, cls)], session)

    def find_one(self, label: str, cls: int, session: int | None = None) -> int:
        found = self.find_labelled(label, cls, session)
        if len(found) != 1:
            raise fail(
                f"Expected 1 object Was {len(found)}. {CKO(cls).name} labelled {label!r}"
            )
        return found[0]

    def mark(self, template: Template) -> Template:
        """``template`` with the run's marker as CKA_ID (every template of an object the run
        asks the token to create or generate goes through here)."""
        return [*[(k, v) for k, v in template if k != CKA.ID], (CKA.ID, self.marker)]

    def create(self, template: Template, what: str, session: int | None = None) -> int:
        rv, handle = self.client.create_object(self.session if session is None else session,
                                               self.mark(template))
        expect_ok(rv, f"C_CreateObject({what})")
        if handle == 0:
            raise fail(f"C_CreateObject({what}) returned CKR_OK and the invalid handle 0")
        return handle

    def generate_key_pair(self, session: int, mechanism: int, public: Template,
                          private: Template) -> tuple[int, int, int]:
        """C_GenerateKeyPair with the run's marker in both templates."""
        return self.client.generate_key_pair(session, mechanism, self.mark(public), self.mark(private))

    def check_destroy(self, session: int, handle: int) -> None:
        """The client's check before C_DestroyObject (PKCS #11 v2.40 s5.7): the object must be
        one this run created (its CKA_ID is the run's marker), or name no object at all (a
        test of an invalid or destroyed handle). Anything else is refused with a Failure and
        the call is never sent."""
        if handle == 0:
            return  # CK_INVALID_HANDLE names no object
        results: list[int] = []
        for candidate in dict.fromkeys(s for s in (session, self.session) if s):
            rv, value = self.client.get_attribute(candidate, handle, CKA.ID)
            if rv == CKR.OK:
                if value == self.marker:
                    return
                raise fail(f"refusing C_DestroyObject of object {handle}: this run did not create it "
                           "(its CKA_ID is not the run's marker)", skip=_GUARD_FILES)
            if rv == CKR.OBJECT_HANDLE_INVALID:
                return
            results.append(rv)
        raise fail(f"refusing C_DestroyObject of object {handle}: cannot tell whether this run created it "
                   f"(C_GetAttributeValue(CKA_ID) returned {', '.join(rv_name(rv) for rv in results) or 'nothing'})",
                   skip=_GUARD_FILES)

    def destroy_later(self, handle: int) -> None:
        """Destroy ``handle`` after the test (it must still exist then)."""

        def destroy() -> None:
            session = self.session or self.open_session()
            expect_ok(self.client.destroy_object(session, handle), "C_DestroyObject (cleanup)")

        self.defer(destroy)

    def remove_labelled(self, label: str, cls: int) -> None:
        """Destroy every object with this label and class that this run created earlier (an
        object the run did not create is never destroyed: the test fails instead)."""
        for handle in self.find_labelled(label, cls):
            expect_ok(self.client.destroy_object(self.session, handle),
                      f"C_DestroyObject of the {CKO(cls).name} labelled {label!r} an earlier test stored")

    def get(self, handle: int, kind: int, session: int | None = None) -> bytes:
        rv, value = self.client.get_attribute(self.session if session is None else session, handle, kind)
        expect_ok(rv, f"C_GetAttributeValue(CKA_{CKA(kind).name})")
        assert value is not None
        return value

    def get_ulong(self, handle: int, kind: int, session: int | None = None) -> int:
        rv, value = self.client.get_ulong(self.session if session is None else session, handle, kind)
        expect_ok(rv, f"C_GetAttributeValue(CKA_{CKA(kind).name})")
        assert value is not None
        return value


#: where check_destroy's failures are not reported (the line that asked to destroy is)
_GUARD_FILES = ("p11.py", "context.py:check_destroy")


# -- off-token verification ------------------------------------------------------------------


def verify_rsa_pkcs1(public: PublicKey, signature: bytes, message: bytes,
                     algorithm: hashes.HashAlgorithm, what: str) -> None:
    """An RSA PKCS #1 v1.5 signature over ``message`` must verify with pyca/cryptography."""
    if not isinstance(public, rsa.RSAPublicKey):
        raise fail(f"{what}: the public key is not an RSA key")
    try:
        public.verify(signature, message, padding.PKCS1v15(), algorithm)
    except InvalidSignature:
        raise fail(f"{what}: pyca/cryptography rejects the signature") from None


def verify_ecdsa_raw(public: PublicKey, signature: bytes, digest: bytes, what: str) -> None:
    """A raw r||s P-256 signature over a SHA-256 ``digest`` must verify off the token."""
    if not isinstance(public, ec.EllipticCurvePublicKey):
        raise fail(f"{what}: the public key is not an EC key")
    expect_equal(len(signature), 64, f"{what}: length of the raw r||s signature")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    try:
        public.verify(utils.encode_dss_signature(r, s), digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    except InvalidSignature:
        raise fail(f"{what}: pyca/cryptography rejects the signature") from None


def flip_bit(data: bytes, index: int = 0, bit: int = 0) -> bytes:
    """``data`` with one bit inverted."""
    out = bytearray(data)
    out[index] ^= 1 << bit
    return bytes(out)


# -- threads ---------------------------------------------------------------------------------


def run_threads(body: Callable[[int], None], count: int = THREAD_COUNT) -> None:
    """Run ``body(index)`` in ``count`` threads at once; the first failure is re-raised with
    its own file:line, prefixed with the thread number."""
    outcomes: list[BaseException | None] = [None] * count
    start = threading.Barrier(count)

    def worker(index: int) -> None:
        try:
            start.wait(timeout=THREAD_TIMEOUT)
            body(index)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            outcomes[index] = exc

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for index, thread in enumerate(threads):
        thread.join(THREAD_TIMEOUT)
        if thread.is_alive():
            raise fail(f"Multi thread task {index} did not finish within {THREAD_TIMEOUT:.0f} s")
    for index, outcome in enumerate(outcomes):
        if isinstance(outcome, Outcome):
            raise type(outcome)(f"Multi thread task {index}: {outcome.message}",
                                (outcome.file, outcome.line))
        if outcome is not None:
            raise Failure(f"Multi thread task {index}: {type(outcome).__name__}: {outcome}",
                          location_of(outcome))
