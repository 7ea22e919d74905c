"""What qualify must never do to a token it did not prepare (issue 9 item 12).

The suite creates and destroys objects under the porting guide's well-known labels, and
logs in many times. Run by mistake against a provisioned device, or with the wrong PIN, it
must not cost the device anything. So, before the first test:

* ``preflight`` logs in once as the SO (when an SO PIN is given) and once as the user: a
  refused PIN (CKR_PIN_INCORRECT, CKR_PIN_LOCKED ...) stops the run there, with exactly one
  failed login counted on the token;
* it lists every object the token holds (private ones too, when the user PIN is given) and
  takes their fingerprints; a token holding objects is refused unless the caller allows it
  explicitly (``--allow-existing-objects``) or the configuration says the device is
  provisioned (``preProvisioned``);
* ``GuardedClient`` then refuses to destroy any object whose fingerprint was there before:
  the test that tried is ignored, with the reason, and the object stays.

The suite never calls C_InitToken, C_InitPIN, C_SetPIN, C_SetAttributeValue or
C_CopyObject, so destroying is the only way it could change what it did not create.
"""

from __future__ import annotations

from dataclasses import dataclass

from tokenport.ck import CKA, CKF, CKO, CKR, CKU
from tokenport.qualify.assertions import Ignore
from tokenport.qualify.p11 import Client, Template, rv_name

PIN_REFUSED = frozenset(
    int(r) for r in (
        CKR.PIN_INCORRECT, CKR.PIN_LOCKED, CKR.PIN_LEN_RANGE, CKR.PIN_INVALID, CKR.PIN_EXPIRED,
        CKR.USER_PIN_NOT_INITIALIZED,
    )
)
"""Login results that stop the run before any test: another try could only cost a PIN."""

_FINGERPRINT = (CKA.CLASS, CKA.LABEL, CKA.ID, CKA.UNIQUE_ID, CKA.CERTIFICATE_TYPE, CKA.KEY_TYPE)


class PreflightError(Exception):
    """The run must not start on this token (a refused PIN, objects qualify did not create)."""


class RunStopped(BaseException):
    """A PIN was refused in the middle of the run (another process changed it): stop at
    once, past every test's own error handling, rather than count more failures."""


@dataclass(frozen=True)
class Fingerprint:
    """What identifies an object across sessions and C_Initialize calls: its class, label,
    ID, CKA_UNIQUE_ID (where the module has it) and certificate or key type."""

    values: tuple[bytes | None, ...]

    def describe(self) -> str:
        cls, label = self.values[0], self.values[1]
        name = "object"
        if cls is not None and len(cls) in (4, 8):
            try:
                name = CKO(int.from_bytes(cls, "little")).name.lower().replace("_", " ")
            except ValueError:
                pass
        text = label.decode("utf-8", "replace") if label else ""
        return f"{name} {text!r}" if text else name


def fingerprint(client: Client, session: int, handle: int) -> Fingerprint | None:
    """The object's fingerprint, or None when the handle names no object in ``session``."""
    values: list[bytes | None] = []
    for kind in _FINGERPRINT:
        rv, value = client.get_attribute(session, handle, kind)
        if rv in (CKR.OBJECT_HANDLE_INVALID, CKR.SESSION_HANDLE_INVALID,
                  CKR.CRYPTOKI_NOT_INITIALIZED):
            return None
        values.append(value if rv == CKR.OK else None)
    return Fingerprint(tuple(values))


def _login(client: Client, session: int, role: int, pin: bytes, what: str) -> None:
    rv = client.login(session, role, pin)
    if rv in PIN_REFUSED:
        raise PreflightError(
            f"the {what} was refused ({rv_name(rv)}); qualify stopped before any test, so this"
            " one failed login is all it cost the token"
        )
    if rv not in (CKR.OK, CKR.USER_ALREADY_LOGGED_IN):
        raise PreflightError(f"C_Login as the {what.split()[0]} returned {rv_name(rv)}")


def preflight(client: Client, slot: int, pin: bytes | None,
              so_pin: bytes | None) -> frozenset[Fingerprint]:
    """Check the PINs (one login each) and take the fingerprints of every object on the
    token; the module is initialized for this and finalized after."""
    client.finalize()
    rv = client.initialize()
    if rv != CKR.OK:
        raise PreflightError(f"C_Initialize returned {rv_name(rv)}")
    try:
        rv, session = client.open_session(slot, int(CKF.SERIAL_SESSION | CKF.RW_SESSION))
        if rv != CKR.OK:
            raise PreflightError(f"C_OpenSession returned {rv_name(rv)}")
        if so_pin is not None:
            _login(client, session, int(CKU.SO), so_pin, "SO PIN")
            client.logout(session)
        if pin is not None:
            _login(client, session, int(CKU.USER), pin, "user PIN")
        rv, handles = client.find(session, [])
        if rv != CKR.OK:
            raise PreflightError(f"listing the token's objects failed with {rv_name(rv)}")
        found = (fingerprint(client, session, handle) for handle in handles)
        return frozenset(f for f in found if f is not None)
    finally:
        client.finalize()


def refusal(existing: frozenset[Fingerprint], token: str) -> str:
    """Why qualify does not run on a token holding objects it did not create."""
    names = sorted(f.describe() for f in existing)
    shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
    return (
        f"{token} holds {len(names)} object(s) qualify did not create ({shown}); the tests"
        " create and destroy objects under the porting guide's labels. Run them on a test"
        " token, or pass --allow-existing-objects (or configure preProvisioned) to run"
        " without touching those objects"
    )


class GuardedClient(Client):
    """A Client that never destroys an object that was on the token before the run, and
    remembers what the run created (``created``) so that ``clean_up`` can remove it."""

    def __init__(self, path: str, existing: frozenset[Fingerprint] = frozenset()) -> None:
        super().__init__(path)
        self.existing = existing
        self.created: set[Fingerprint] = set()

    def _remember(self, session: int, *handles: int) -> None:
        for handle in handles:
            found = fingerprint(self, session, handle) if handle else None
            if found is not None and found not in self.existing:
                self.created.add(found)

    def create_object(self, session: int, template: Template) -> tuple[int, int]:
        rv, handle = super().create_object(session, template)
        if rv == CKR.OK:
            self._remember(session, handle)
        return rv, handle

    def generate_key_pair(
        self, session: int, mechanism: int, public: Template, private: Template,
        parameter: bytes | None = None,
    ) -> tuple[int, int, int]:
        rv, pub, priv = super().generate_key_pair(session, mechanism, public, private, parameter)
        if rv == CKR.OK:
            self._remember(session, pub, priv)
        return rv, pub, priv

    def clean_up(self, slot: int, pin: bytes | None) -> int:
        """Destroy what the run created and left on the token (never what was there
        before); returns how many objects went. The module is finalized afterwards."""
        if not self.created:
            return 0
        self.finalize()
        if self.initialize() != CKR.OK:
            return 0
        removed = 0
        try:
            rv, session = self.open_session(slot, int(CKF.SERIAL_SESSION | CKF.RW_SESSION))
            if rv != CKR.OK:
                return 0
            if pin is not None and self.login(session, int(CKU.USER), pin) not in (
                CKR.OK, CKR.USER_ALREADY_LOGGED_IN,
            ):
                return 0
            rv, handles = self.find(session, [])
            for handle in handles if rv == CKR.OK else []:
                found = fingerprint(self, session, handle)
                if found in self.created and found not in self.existing:
                    removed += self.destroy_object(session, handle) == CKR.OK
        finally:
            self.finalize()
        return removed

    def was_there(self, session: int, handle: int) -> bool:
        """Was this object on the token before the run?"""
        return bool(self.existing) and fingerprint(self, session, handle) in self.existing

    def destroy_object(self, session: int, handle: int) -> int:
        if self.existing:
            found = fingerprint(self, session, handle)
            if found is not None and found in self.existing:
                raise Ignore(
                    f"the {found.describe()} was on the token before the run: qualify never"
                    " destroys what it did not create"
                )
        return super().destroy_object(session, handle)

