"""Before the first test: may the suite run on this token at all?

The token under test may be a device's, holding credentials the suite did not create. The
suite creates, replaces and destroys objects under well-known labels, logs in with the PINs
it was given, and a wrong PIN counts towards the token's lockout (PKCS #11 v2.40 s5.6,
C_Login; CKF_USER_PIN_COUNT_LOW ... CKF_USER_PIN_LOCKED in s5.5 table 9). So before any test:

1. PIN flags: a PIN that is locked, or has one try left (``CKF_*_PIN_FINAL_TRY``), is not
   tried at all.
2. The objects the token holds are listed (C_FindObjects with an empty template): the public
   ones without a login; if the token holds any and nothing allows it, the run is refused
   before any login. Then the user logs in (one C_Login) and the private ones are listed too.
   A PIN refused there stops the run after that one failed login.
3. The SO PIN, when given, is checked by one C_Login(CKU_SO) the same way.
4. Objects on the token are allowed only when the caller says so (``allow_existing``, the
   command's ``--allow-existing-objects``) or the configuration is pre-provisioned (the
   credentials are used, never created or destroyed). With ``allow_existing`` the run still
   refuses a token with an object under a label and class the suite stores its own under:
   it would have to replace that object, and it never destroys what it did not create.

During the run the client itself sends no second C_Login after a PIN failure, and destroys
only objects carrying the run's CKA_ID marker (``p11.Client``, ``context.Context.check_destroy``).
"""

from __future__ import annotations

from dataclasses import dataclass

from tokenport.ck import CKA, CKF, CKO, CKR, CKU
from tokenport.qualify.config import Config
from tokenport.qualify.context import MARKER_PREFIX, RW_SESSION, Context
from tokenport.qualify.groups.robustness import CMAC_LABEL, HMAC_LABEL
from tokenport.qualify.p11 import PIN_FAILURES, Client, TokenInfo, rv_name
from tokenport.qualify.runner import SuiteError

#: how many objects a refusal names before "and N more"
SHOWN = 6


class Refused(SuiteError):
    """The run refuses to start on this token (its objects or its PINs are at risk); nothing
    on the token was changed."""


class PinRefused(SuiteError):
    """A PIN was refused by the one C_Login the run made with it; the run stopped there."""


@dataclass(frozen=True)
class StoredObject:
    """An object found on the token before the run: its class, label and CKA_ID."""

    cls: int | None
    label: str
    id: bytes | None

    def describe(self) -> str:
        try:
            kind = CKO(self.cls).name if self.cls is not None else "object"
        except ValueError:
            kind = f"class 0x{self.cls:X}"
        return f"{kind} {self.label!r}"

    @property
    def left_over(self) -> bool:
        """Created by another (interrupted) run of the suite: its CKA_ID carries a marker."""
        return self.id is not None and self.id.startswith(MARKER_PREFIX)


def token_name(slot: int, token: TokenInfo) -> str:
    """``token 'label' (serial S, slot N)``, as every message about the token names it."""
    return f"token {token.label!r} (serial {token.serial}, slot {slot})"


def labels_in_use(config: Config) -> set[tuple[str, int]]:
    """(CKA_LABEL, CKA_CLASS) of every object the suite may create and later destroy."""
    labels = config.labels
    return {
        (labels.device_private_key, CKO.PRIVATE_KEY),
        (labels.device_public_key, CKO.PUBLIC_KEY),
        (labels.device_certificate, CKO.CERTIFICATE),
        (labels.root_certificate, CKO.CERTIFICATE),
        (labels.jitp_certificate, CKO.CERTIFICATE),
        (labels.code_verify_key, CKO.PUBLIC_KEY),
        (HMAC_LABEL, CKO.SECRET_KEY),
        (CMAC_LABEL, CKO.SECRET_KEY),
    }


def _listing(objects: list[StoredObject]) -> str:
    shown = ", ".join(o.describe() for o in objects[:SHOWN])
    if len(objects) > SHOWN:
        shown += f" and {len(objects) - SHOWN} more"
    return shown


def _check_pin_flags(ctx: Context, token: TokenInfo, name: str) -> None:
    roles = (
        ("user", ctx.pin, CKF.USER_PIN_LOCKED, CKF.USER_PIN_FINAL_TRY),
        ("SO", ctx.so_pin, CKF.SO_PIN_LOCKED, CKF.SO_PIN_FINAL_TRY),
    )
    for role, pin, locked, final_try in roles:
        if pin is None:
            continue
        if token.flags & locked:
            raise Refused(f"the {role} PIN of {name} is locked (CKF_{locked.name}): no login is tried")
        if token.flags & final_try:
            raise Refused(
                f"the {role} PIN of {name} has one try left (CKF_{final_try.name}): qualify does not "
                "risk locking it; log in once with the right PIN elsewhere (a success resets the "
                "count), then run again"
            )


def _login(client: Client, session: int, user: CKU, pin: bytes, name: str) -> None:
    role = "user" if user == CKU.USER else "SO"
    rv = client.login(session, user, pin)
    if rv in (CKR.OK, CKR.USER_ALREADY_LOGGED_IN):
        return
    if rv in PIN_FAILURES:
        raise PinRefused(
            f"the {role} PIN was refused: C_Login(CKU_{user.name}) on {name} returned "
            f"{rv_name(rv)}; stopped after that one login, before any test"
        )
    raise SuiteError(f"C_Login(CKU_{user.name}) on {name} returned {rv_name(rv)}; stopped before any test")


def list_objects(client: Client, session: int) -> list[StoredObject]:
    """Every object the session can see (C_FindObjects with an empty template)."""
    rv, handles = client.find(session, [])
    if rv != CKR.OK:
        raise SuiteError(f"cannot list the objects on the token (C_FindObjects returned {rv_name(rv)}); "
                         "stopped before any test")
    found = []
    for handle in handles:
        _, cls = client.get_ulong(session, handle, CKA.CLASS)
        _, label = client.get_attribute(session, handle, CKA.LABEL)
        _, key_id = client.get_attribute(session, handle, CKA.ID)
        found.append(StoredObject(cls, (label or b"").decode("utf-8", "replace"), key_id))
    return found


def _refuse_objects(name: str, objects: list[StoredObject], logged_in: bool) -> Refused:
    left_over = sum(1 for o in objects if o.left_over)
    note = (f" ({left_over} of them left by an interrupted run of tokenport qualify, CKA_ID "
            f"{MARKER_PREFIX.decode()}...)" if left_over else "")
    scope = "" if logged_in else " (public ones, listed before any login)"
    count = f"{len(objects)} object{'' if len(objects) == 1 else 's'}"
    return Refused(
        f"{name} holds {count} this run did not create{scope}: {_listing(objects)}"
        f"{note}. qualify creates and destroys objects, so it refuses such a token: use a token "
        "for testing, or --allow-existing-objects to run next to them (they are never destroyed), "
        "or preProvisioned Yes in --config to test the credentials on it"
    )


def preflight(ctx: Context, allow_existing: bool = False) -> list[StoredObject]:
    """Check the token of ``ctx`` before the first test (the rules in the module docstring);
    the objects it already holds. Raises Refused, PinRefused or SuiteError to stop the run.

    The module is initialized for the check and finalized after it."""
    client = ctx.client
    client.finalize()
    rv = client.initialize()
    if rv != CKR.OK:
        raise SuiteError(f"C_Initialize returned {rv_name(rv)}")
    try:
        rv, token = client.get_token_info(ctx.slot)
        if rv != CKR.OK or token is None:
            raise SuiteError(f"C_GetTokenInfo of slot {ctx.slot} returned {rv_name(rv)}")
        name = token_name(ctx.slot, token)
        _check_pin_flags(ctx, token, name)
        tolerated = allow_existing or ctx.config.preprovisioned
        rv, session = client.open_session(ctx.slot, RW_SESSION)
        if rv != CKR.OK:
            raise SuiteError(f"C_OpenSession(CKF_RW_SESSION) on {name} returned {rv_name(rv)}")
        found = list_objects(client, session)
        if found and not tolerated:
            raise _refuse_objects(name, found, logged_in=False)
        if ctx.pin is not None:
            _login(client, session, CKU.USER, ctx.pin, name)
            found = list_objects(client, session)
            if found and not tolerated:
                raise _refuse_objects(name, found, logged_in=True)
            client.logout(session)
        if not ctx.config.preprovisioned:
            in_use = labels_in_use(ctx.config)
            clash = [o for o in found if o.cls is not None and (o.label, o.cls) in in_use]
            if clash:
                raise Refused(
                    f"{name} holds objects under labels this run stores its own under: "
                    f"{_listing(clash)}. The suite would have to replace them and never destroys "
                    "what it did not create: give it other labels in --config (the pkcs11Label... "
                    "settings) or use preProvisioned Yes"
                )
        if ctx.so_pin is not None:
            _login(client, session, CKU.SO, ctx.so_pin, name)
            client.logout(session)
        return found
    finally:
        client.finalize()


def describe_existing(objects: list[StoredObject], config: Config) -> str:
    """The header line about the objects found on the token before the run."""
    why = ("preProvisioned: used, never destroyed" if config.preprovisioned
           else "--allow-existing-objects: never destroyed")
    return f"existing objects: {len(objects)} ({why}): {_listing(objects)}"


__all__ = [
    "PinRefused",
    "Refused",
    "StoredObject",
    "describe_existing",
    "labels_in_use",
    "list_objects",
    "preflight",
    "token_name",
]
