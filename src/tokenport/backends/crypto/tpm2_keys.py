"""TPM-held keys: generation, import, loading and the private-key operations of the ``tpm2``
crypto port (TCG TPM 2.0 Library Part 3: TPM2_CreatePrimary, TPM2_Create, TPM2_Import,
TPM2_Load, TPM2_Sign, TPM2_RSA_Decrypt, TPM2_ECDH_ZGen, TPM2_FlushContext).

Keys live under a **storage primary key** of the owner hierarchy made from a fixed template
(ECC P-256, AES-128-CFB, the tpm2-tools ``createprimary`` default). A primary key is derived
from the TPM's storage seed, so the same template gives the same key after every restart:
it is created on first use, cached per connection generation (a new connection, a TPM reset
or a restart drop it) and never made persistent (no NV index is used).

A key's **blob** is ``0x01 || TPM2B_PUBLIC || TPM2B_PRIVATE`` (the marshalled structures of
TPM2_Create or TPM2_Import): the private part is encrypted and integrity-protected under the
primary key, so it is useless on another TPM. Generated keys are ``fixedTPM | fixedParent |
sensitiveDataOrigin | userWithAuth | sign | decrypt`` with the NULL scheme, so one key serves
ECDSA and ECDH (EC) or signatures, OAEP / PKCS #1 v1.5 decryption and the raw RSA operation
(RSA); imported keys cannot be fixedTPM or fixedParent (TPM2_Import refuses them). No key has
``noDA``: a wrong authValue counts towards the TPM's dictionary-attack lockout.

Authorization (``auth_session``): "hmac" (the default) authorizes every use of a key with
an HMAC session (AES-128-CFB parameter encryption) started once per connection: the
authValue never crosses the bus, and the results of TPM2_RSA_Decrypt and TPM2_ECDH_ZGen are
encrypted on the way out (keys derived from the key's random authValue); TPM2_Create runs
in a session salted for the primary key, so the new key's authValue is encrypted on the way
in. "password" sends the authValue in clear in a password session (``ESYS_TR.PASSWORD``):
faster (about 1.5 ms less per operation on swtpm), for a TPM whose bus nobody can probe.
The owner authorization (TPM2_CreatePrimary) always travels in a password session. Imports
are wrapped with an inner AES-128-CFB key and an outer wrapper seeded for the primary key
(``tpm2_pytss.utils.wrap``), so the clear private key never crosses the bus.

Loaded keys: a TPM holds few transient objects (swtpm: three), and without a resource
manager a handle number may be reused by another process's object, so a key is loaded for
each operation and flushed right after it (TPM2_Load of an EC key costs about 0.5 ms on
swtpm); only the primary key and the sessions stay loaded. Behind a resource manager (the
kernel's /dev/tpmrm0, tabrmd), which gives each connection its own view of the TPM and
swaps objects in and out of it, the last ``LOADED_KEYS`` keys used stay loaded
(``keep_loaded``); the least recently used one is flushed when another is loaded. A cached
key's authValue is cleared from ESYS between uses. TPM_RC_OBJECT_MEMORY or
TPM_RC_SESSION_MEMORY flushes every transient object and session and retries once: without
a resource manager (a direct /dev/tpm0 or a swtpm socket) the objects and sessions of
processes that ended stay loaded, and this is what frees them (it also drops those of other
live processes, which then reload theirs as below); behind /dev/tpmrm0 each connection only
sees its own. A command that finds its handle gone (TPM_RC_HANDLE, TPM_RC_REFERENCE_*, an
ESYS bad-reference error: a resource manager restarted, the TPM was reset and started
again) drops the caches and retries once; a failed command also drops the sessions.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from tokenport.backends.tpm.connection import TpmConnection, tpm_error_number
from tokenport.errors import (
    AttributeValueInvalid,
    EncryptedDataInvalid,
    KeyUnextractable,
    MechanismParamInvalid,
)
from tokenport.ports.crypto import CurveName, HashName, RsaPrivateNumbers
from tokenport.ports.crypto.types import DIGEST_SIZES

if TYPE_CHECKING:
    from tpm2_pytss import ESAPI

T = TypeVar("T")

BLOB_FORMAT = 1
EC_CURVES: dict[str, tuple[int, int]] = {"P-256": (32, 0x0003), "P-384": (48, 0x0004)}
"""Curves the TPM keeps: name -> (field size in bytes, TPM_ECC_CURVE)."""
RSA_SIZES = frozenset({2048, 3072})
TPM_HASHES: dict[str, int] = {"sha1": 0x0004, "sha256": 0x000B, "sha384": 0x000C, "sha512": 0x000D}
"""Hashes the TPM signs and decrypts with (TPM_ALG_ID)."""
ECDSA_HASH_BY_SIZE = {32: "sha256", 48: "sha384"}
RC_VALUE = 0x084
RC_FAILURE = 0x101
RC_HANDLE = 0x08B
RC_REFERENCE = frozenset(range(0x910, 0x918))  # TPM_RC_REFERENCE_H0 .. S6 (warnings)
RC_OBJECT_MEMORY = 0x902
RC_SESSION_MEMORY = 0x903
AUTH_SESSIONS = ("hmac", "password")
ESYS_RC_BAD_TR = 0x070018  # TSS2_ESYS_RC_BAD_TR: an ESYS_TR the context no longer knows

LOADED_KEYS = 8
"""How many keys stay loaded behind a resource manager (``keep_loaded``)."""


def behind_resource_manager(tcti: str) -> bool:
    """Whether ``tcti`` reaches the TPM through a resource manager (the kernel's
    /dev/tpmrm*, tabrmd), which isolates this connection's loaded objects from others'."""
    name, _, conf = tcti.partition(":")
    return name == "tabrmd" or (name == "device" and conf.startswith("/dev/tpmrm"))


class TpmKey:
    """A TPM-held private key as a port handle: the blob, the auth, the public part.

    The mechanisms see it as an EcPrivateKeyHandle / RsaPrivateKeyHandle; the ``tpm2``
    backend routes its private-key calls to the TPM and its public-key calls to software
    (``public`` caches the software public key). Its repr names the type and size only.
    """

    __slots__ = ("auth", "blob", "curve", "e", "kind", "n", "point", "public")

    def __init__(
        self, kind: Literal["ec", "rsa"], blob: bytes, auth: bytes, *,
        curve: CurveName | None = None, point: bytes = b"", n: int = 0, e: int = 0,
    ) -> None:
        self.kind = kind
        self.blob = blob
        self.auth = auth
        self.curve = curve
        self.point = point
        self.n = n
        self.e = e
        self.public: object | None = None

    def __repr__(self) -> str:
        size = self.curve if self.kind == "ec" else f"RSA-{self.n.bit_length()}"
        return f"<TpmKey {size}, in the TPM>"

    @property
    def field_size(self) -> int:
        assert self.curve is not None
        return EC_CURVES[self.curve][0]


def _rc_number(exc: BaseException) -> int:
    rc = getattr(exc, "rc", None)
    return tpm_error_number(rc) if isinstance(rc, int) else -1


def _stale_handle(exc: BaseException) -> bool:
    """Whether a command failed because a cached handle is gone."""
    rc = getattr(exc, "rc", None)
    if not isinstance(rc, int):
        return False
    return rc == ESYS_RC_BAD_TR or _rc_number(exc) in RC_REFERENCE or _rc_number(exc) == RC_HANDLE


def _still_working(esys: ESAPI) -> bool:
    """Whether the TPM answers a harmless command: libtpms (swtpm) reports a decryption
    that fails its padding check as TPM_RC_FAILURE without entering failure mode, where
    TPMs answer TPM_RC_VALUE; a TPM really in failure mode refuses this command too."""
    try:
        esys.get_random(1)
    except Exception:  # noqa: BLE001 - any failure: the TPM is not working
        return False
    return True


def split_blob(blob: bytes) -> tuple[Any, Any]:
    """(TPM2B_PUBLIC, TPM2B_PRIVATE) of a blob; AttributeValueInvalid if malformed."""
    from tpm2_pytss.types import TPM2B_PRIVATE, TPM2B_PUBLIC

    if not blob or blob[0] != BLOB_FORMAT:
        raise AttributeValueInvalid("not a tokenport TPM key blob")
    try:
        public, used = TPM2B_PUBLIC.unmarshal(blob[1:])
        private, rest = TPM2B_PRIVATE.unmarshal(blob[1 + used :])
    except Exception:  # noqa: BLE001 - any parse failure is a bad blob
        raise AttributeValueInvalid("malformed TPM key blob") from None
    if 1 + used + rest != len(blob):
        raise AttributeValueInvalid("malformed TPM key blob")
    return public, private


def join_blob(public: Any, private: Any) -> bytes:
    return bytes([BLOB_FORMAT]) + bytes(public.marshal()) + bytes(private.marshal())


def _key_attributes(imported: bool) -> int:
    from tpm2_pytss.constants import TPMA_OBJECT

    attrs = TPMA_OBJECT.SIGN_ENCRYPT | TPMA_OBJECT.DECRYPT | TPMA_OBJECT.USERWITHAUTH
    if not imported:
        attrs |= TPMA_OBJECT.FIXEDTPM | TPMA_OBJECT.FIXEDPARENT | TPMA_OBJECT.SENSITIVEDATAORIGIN
    return int(attrs)


def _template(kind: str, size: str, imported: bool) -> Any:
    from tpm2_pytss.types import TPM2B_PUBLIC

    return TPM2B_PUBLIC.parse(f"{kind}{size}:null:null", objectAttributes=_key_attributes(imported))


def _ec_point(public: Any, size: int) -> bytes:
    unique = public.publicArea.unique.ecc
    return b"\x04" + bytes(unique.x).rjust(size, b"\x00") + bytes(unique.y).rjust(size, b"\x00")


def _rsa_public(public: Any) -> tuple[int, int]:
    area = public.publicArea
    n = int.from_bytes(bytes(area.unique.rsa), "big")
    e = int(area.parameters.rsaDetail.exponent) or 65537
    return n, e


_DIGEST_INFO_OIDS: dict[str, bytes] = {
    "sha224": bytes.fromhex("608648016503040204"),
    "sha512_224": bytes.fromhex("608648016503040205"),
    "sha512_256": bytes.fromhex("608648016503040206"),
    "sha3_224": bytes.fromhex("608648016503040207"),
    "sha3_256": bytes.fromhex("608648016503040208"),
    "sha3_384": bytes.fromhex("608648016503040209"),
    "sha3_512": bytes.fromhex("60864801650304020a"),
    "md5": bytes.fromhex("2a864886f70d0205"),
}


def digest_info(alg: HashName, digest: bytes) -> bytes:
    """The DER DigestInfo of RFC 8017 s9.2 note 1 for the hashes the TPM does not sign."""
    oid = _DIGEST_INFO_OIDS.get(alg)
    if oid is None:  # pragma: no cover - the TPM's own hashes never come here
        raise MechanismParamInvalid("hash not supported for TPM-held RSA keys")
    algorithm = b"\x06" + bytes([len(oid)]) + oid + b"\x05\x00"
    inner = b"\x30" + bytes([len(algorithm)]) + algorithm + b"\x04" + bytes([len(digest)]) + digest
    return b"\x30" + bytes([len(inner)]) + inner


def pss_salt_length(bits: int, alg: HashName) -> int:
    """The salt length a TPM uses for RSASSA-PSS (TPM 2.0 Library Part 1, B.7 and the
    reference code): the digest length, or less when the key is too small for it."""
    h = DIGEST_SIZES[alg]
    em_len = (bits - 1 + 7) // 8
    return min(h, em_len - h - 2)


class Tpm2Keys:
    """The TPM side of the ``tpm2`` port (a HardwareKeyPort)."""

    location = "tpm2"

    def __init__(self, conn: TpmConnection, owner_auth: bytes = b"", *,
                 auth_session: str = "hmac", keep_loaded: bool | None = None) -> None:
        if auth_session not in AUTH_SESSIONS:
            raise ValueError(f"auth_session must be one of {', '.join(map(repr, AUTH_SESSIONS))}")
        self._conn = conn
        self._owner_auth = owner_auth
        self._hmac = auth_session == "hmac"
        self._primary: Any = None
        self._primary_public: Any = None
        self._session: Any = None
        self._salted: Any = None
        self._keep_loaded = behind_resource_manager(conn.tcti) if keep_loaded is None else keep_loaded
        self._loaded: OrderedDict[bytes, Any] = OrderedDict()
        conn.on_reconnect(self._forget)

    def __repr__(self) -> str:
        return f"<Tpm2Keys on {self._conn.tcti}>"

    def close(self) -> None:
        """Close the TPM connection; cached handles are forgotten when it reopens."""
        self._conn.close()

    # -- what the TPM keeps -------------------------------------------------------------------

    def holds_ec(self, curve: CurveName) -> bool:
        return curve in EC_CURVES

    def holds_rsa(self, bits: int) -> bool:
        return bits in RSA_SIZES

    # -- handles and caches -------------------------------------------------------------------

    def _forget(self) -> None:
        """Drop every cached transient handle (called under the connection's lock)."""
        self._primary = None
        self._primary_public = None
        self._session = self._salted = None
        self._loaded.clear()

    def _auth(self, esys: ESAPI, *, encrypt: bool = False, decrypt: bool = False,
              salted: bool = False) -> Any:
        """The session authorizing a key, or the parent in TPM2_Create (``salted``): an HMAC
        session started once per connection, with response (``encrypt``) or command
        (``decrypt``) parameter encryption for this command; ESYS_TR.PASSWORD in
        "password" mode. Sessions for key use are unsalted: their HMAC and parameter
        encryption keys derive from the key's random authValue, which the TPM knows and the
        bus never sees (and ESYS needs no asymmetric crypto, which OpenSSL engine hosts may
        break). The TPM2_Create session is salted for the primary key, whose own auth is
        empty, so that the new key's authValue is encrypted on its way in."""
        from tpm2_pytss.constants import ESYS_TR, TPM2_ALG, TPM2_SE, TPMA_SESSION
        from tpm2_pytss.types import TPMT_SYM_DEF, TPMU_SYM_KEY_BITS, TPMU_SYM_MODE

        if not self._hmac:
            return ESYS_TR.PASSWORD
        session = self._salted if salted else self._session
        if session is None:
            symmetric = TPMT_SYM_DEF(algorithm=TPM2_ALG.AES, keyBits=TPMU_SYM_KEY_BITS(aes=128),
                                     mode=TPMU_SYM_MODE(aes=TPM2_ALG.CFB))
            salt = self._primary_handle(esys) if salted else ESYS_TR.NONE
            session = esys.start_auth_session(salt, ESYS_TR.NONE, TPM2_SE.HMAC, symmetric,
                                              TPM2_ALG.SHA256)
            if salted:
                self._salted = session
            else:
                self._session = session
        attributes = TPMA_SESSION.CONTINUESESSION
        if encrypt:
            attributes |= TPMA_SESSION.ENCRYPT
        if decrypt:
            attributes |= TPMA_SESSION.DECRYPT
        esys.trsess_set_attributes(session, attributes)
        return session

    def _drop_session(self, esys: ESAPI) -> None:
        """Flush the HMAC sessions after a failed command (new ones are started next time)."""
        sessions = (self._session, self._salted)
        self._session = self._salted = None
        for session in sessions:
            if session is not None:
                try:
                    esys.flush_context(session)
                except Exception:  # noqa: BLE001, S110 - the TPM may be gone
                    pass

    def _flush_transient(self, esys: ESAPI) -> None:
        """Flush every transient object the TPM holds (ours and those other processes left
        behind: without a resource manager, a process that ends keeps its objects loaded),
        then forget our cached handles. Behind /dev/tpmrm0 the list is this connection's."""
        from tpm2_pytss.constants import TPM2_CAP, TPM2_HC

        for first in (TPM2_HC.TRANSIENT_FIRST, TPM2_HC.HMAC_SESSION_FIRST,
                      TPM2_HC.POLICY_SESSION_FIRST):
            _more, data = esys.get_capability(TPM2_CAP.HANDLES, first, 64)
            for handle in data.data.handles:
                try:
                    esys.flush_context(esys.tr_from_tpmpublic(handle))
                except Exception:  # noqa: BLE001, S110 - gone meanwhile
                    pass
        self._forget()

    def _primary_handle(self, esys: ESAPI) -> Any:
        if self._primary is None:
            from tpm2_pytss.constants import ESYS_TR, TPMA_OBJECT
            from tpm2_pytss.types import TPM2B_PUBLIC

            template = TPM2B_PUBLIC.parse(
                "ecc256:aes128cfb",
                objectAttributes=TPMA_OBJECT.DEFAULT_TPM2_TOOLS_CREATEPRIMARY_ATTRS,
            )
            esys.tr_set_auth(ESYS_TR.OWNER, self._owner_auth)
            handle, public, *_ = esys.create_primary(None, template, ESYS_TR.OWNER)
            self._primary, self._primary_public = handle, public
        return self._primary

    def _run(self, doing: str, command: Callable[[ESAPI], T]) -> T:
        """``command`` through the connection; a stale cached handle or a full object
        memory drops the caches and retries once."""

        def attempt(esys: ESAPI) -> T:
            try:
                return command(esys)
            except Exception as exc:
                self._drop_session(esys)
                if _stale_handle(exc):
                    self._forget()
                elif _rc_number(exc) in (RC_OBJECT_MEMORY, RC_SESSION_MEMORY):
                    self._flush_transient(esys)
                else:
                    raise
            try:
                return command(esys)
            except Exception:
                self._drop_session(esys)
                raise

        return self._conn.run(doing, attempt)  # type: ignore[no-any-return]

    def _with_key(self, esys: ESAPI, key: TpmKey, use: Callable[[Any], T]) -> T:
        """``use(handle)`` with ``key`` loaded under the primary key, flushed afterwards
        (or kept loaded, behind a resource manager: ``keep_loaded``)."""
        if self._keep_loaded:
            return self._with_cached_key(esys, key, use)
        public, private = split_blob(key.blob)
        handle = esys.load(self._primary_handle(esys), private, public)
        try:
            esys.tr_set_auth(handle, key.auth)
            return use(handle)
        finally:
            try:
                esys.flush_context(handle)
            except Exception:  # noqa: BLE001, S110 - the TPM may be gone (the error is raised)
                pass

    def _with_cached_key(self, esys: ESAPI, key: TpmKey, use: Callable[[Any], T]) -> T:
        handle = self._loaded.get(key.blob)
        if handle is None:
            public, private = split_blob(key.blob)
            handle = esys.load(self._primary_handle(esys), private, public)
            self._loaded[key.blob] = handle
            while len(self._loaded) > LOADED_KEYS:
                _, oldest = self._loaded.popitem(last=False)
                try:
                    esys.flush_context(oldest)
                except Exception:  # noqa: BLE001, S110 - gone already (reset, evicted)
                    pass
        else:
            self._loaded.move_to_end(key.blob)
        esys.tr_set_auth(handle, key.auth)
        try:
            return use(handle)
        finally:
            esys.tr_set_auth(handle, b"")

    # -- generation and import ------------------------------------------------------------------

    def _create(self, esys: ESAPI, template: Any, auth: bytes) -> tuple[Any, Any]:
        from tpm2_pytss.types import TPM2B_AUTH, TPM2B_SENSITIVE_CREATE, TPMS_SENSITIVE_CREATE

        sensitive = TPM2B_SENSITIVE_CREATE(TPMS_SENSITIVE_CREATE(userAuth=TPM2B_AUTH(auth)))
        primary = self._primary_handle(esys)
        private, public, *_ = esys.create(primary, sensitive, template,
                                          session1=self._auth(esys, decrypt=True, salted=True))
        return public, private

    def generate_ec(self, curve: CurveName, auth: bytes) -> tuple[bytes, bytes]:
        size = EC_CURVES[curve][0]
        template = _template("ecc", str(size * 8), imported=False)
        public, private = self._run(
            "generating an EC key", lambda esys: self._create(esys, template, auth)
        )
        return join_blob(public, private), _ec_point(public, size)

    def generate_rsa(self, bits: int, public_exponent: int, auth: bytes) -> tuple[bytes, int, int]:
        if public_exponent != 65537:
            raise AttributeValueInvalid("TPM-held RSA keys use the public exponent 65537")
        template = _template("rsa", str(bits), imported=False)
        public, private = self._run(
            "generating an RSA key", lambda esys: self._create(esys, template, auth)
        )
        n, e = _rsa_public(public)
        return join_blob(public, private), n, e

    def _import(self, doing: str, public: Any, sensitive: Any) -> bytes:
        from tpm2_pytss.constants import TPM2_ALG
        from tpm2_pytss.types import TPMT_SYM_DEF_OBJECT, TPMU_SYM_KEY_BITS, TPMU_SYM_MODE
        from tpm2_pytss.utils import wrap

        symdef = TPMT_SYM_DEF_OBJECT(
            algorithm=TPM2_ALG.AES, keyBits=TPMU_SYM_KEY_BITS(sym=128),
            mode=TPMU_SYM_MODE(sym=TPM2_ALG.CFB),
        )

        def command(esys: ESAPI) -> Any:
            primary = self._primary_handle(esys)
            key, duplicate, seed = wrap(self._primary_public.publicArea, public, sensitive,
                                        None, symdef)
            return esys.import_(primary, key, public, duplicate, seed, symdef)

        private = self._run(doing, command)
        return join_blob(public, private)

    def import_ec(self, curve: CurveName, d: int, point: bytes, auth: bytes) -> bytes:
        from tpm2_pytss.constants import TPM2_ALG
        from tpm2_pytss.types import (
            TPM2B_AUTH,
            TPM2B_ECC_PARAMETER,
            TPM2B_SENSITIVE,
            TPMT_SENSITIVE,
            TPMU_SENSITIVE_COMPOSITE,
        )

        size = EC_CURVES[curve][0]
        public = _template("ecc", str(size * 8), imported=True)
        public.publicArea.unique.ecc.x = TPM2B_ECC_PARAMETER(point[1 : 1 + size])
        public.publicArea.unique.ecc.y = TPM2B_ECC_PARAMETER(point[1 + size :])
        sensitive = TPM2B_SENSITIVE(TPMT_SENSITIVE(
            sensitiveType=TPM2_ALG.ECC, authValue=TPM2B_AUTH(auth),
            sensitive=TPMU_SENSITIVE_COMPOSITE(ecc=TPM2B_ECC_PARAMETER(d.to_bytes(size, "big"))),
        ))
        try:
            return self._import("importing an EC key", public, sensitive)
        finally:
            del sensitive  # best effort: Python cannot zero the bytes it copied

    def import_rsa(self, numbers: RsaPrivateNumbers, auth: bytes) -> bytes:
        from tpm2_pytss.constants import TPM2_ALG
        from tpm2_pytss.types import (
            TPM2B_AUTH,
            TPM2B_PRIVATE_KEY_RSA,
            TPM2B_PUBLIC_KEY_RSA,
            TPM2B_SENSITIVE,
            TPMT_SENSITIVE,
            TPMU_SENSITIVE_COMPOSITE,
        )

        bits = numbers.n.bit_length()
        if numbers.e != 65537:
            raise AttributeValueInvalid("TPM-held RSA keys use the public exponent 65537")
        public = _template("rsa", str(bits), imported=True)
        public.publicArea.unique.rsa = TPM2B_PUBLIC_KEY_RSA(numbers.n.to_bytes(bits // 8, "big"))
        prime = max(numbers.p, numbers.q).to_bytes(bits // 16, "big")
        sensitive = TPM2B_SENSITIVE(TPMT_SENSITIVE(
            sensitiveType=TPM2_ALG.RSA, authValue=TPM2B_AUTH(auth),
            sensitive=TPMU_SENSITIVE_COMPOSITE(rsa=TPM2B_PRIVATE_KEY_RSA(prime)),
        ))
        try:
            return self._import("importing an RSA key", public, sensitive)
        finally:
            del sensitive, prime

    # -- handles -------------------------------------------------------------------------------

    def ec_key(self, curve: CurveName, blob: bytes, auth: bytes) -> Any:
        public, _private = split_blob(blob)
        size, curve_id = EC_CURVES.get(curve, (0, -1))
        area = public.publicArea
        if int(area.type) != 0x0023 or int(area.parameters.eccDetail.curveID) != curve_id:
            raise AttributeValueInvalid("the TPM key blob is not a key on the key's curve")
        return TpmKey("ec", blob, auth, curve=curve, point=_ec_point(public, size))

    def rsa_key(self, blob: bytes, auth: bytes) -> Any:
        n, e = _rsa_public(self._rsa_area(blob))
        return TpmKey("rsa", blob, auth, n=n, e=e)

    def rsa_modulus(self, blob: bytes) -> int:
        return _rsa_public(self._rsa_area(blob))[0]

    @staticmethod
    def _rsa_area(blob: bytes) -> Any:
        public, _private = split_blob(blob)
        if int(public.publicArea.type) != 0x0001:
            raise AttributeValueInvalid("the TPM key blob is not an RSA key")
        return public

    # -- private-key operations -----------------------------------------------------------------

    def ecdsa_sign_hash(self, key: TpmKey, hash_value: bytes) -> tuple[int, int]:
        """ECDSA with TPM2_Sign. The hash is first cut or left-padded to the field size
        (the order's length on P-256 and P-384): the integer e of FIPS 186-4 s6.4 is the
        same, and the TPM takes a digest of its scheme hash's length."""
        from tpm2_pytss.constants import TPM2_ALG, TPM2_RH, TPM2_ST
        from tpm2_pytss.types import TPMT_SIG_SCHEME, TPMT_TK_HASHCHECK

        size = key.field_size
        digest = hash_value[:size].rjust(size, b"\x00")
        scheme = TPMT_SIG_SCHEME(scheme=TPM2_ALG.ECDSA)
        scheme.details.any.hashAlg = TPM_HASHES[ECDSA_HASH_BY_SIZE[size]]
        ticket = TPMT_TK_HASHCHECK(tag=TPM2_ST.HASHCHECK, hierarchy=TPM2_RH.NULL)

        def command(esys: ESAPI) -> tuple[int, int]:
            signature = self._with_key(esys, key, lambda handle: esys.sign(
                handle, digest, scheme, ticket, session1=self._auth(esys)))
            ecdsa = signature.signature.ecdsa
            return (int.from_bytes(bytes(ecdsa.signatureR), "big"),
                    int.from_bytes(bytes(ecdsa.signatureS), "big"))

        return self._run("signing with the TPM key", command)

    def ecdh(self, key: TpmKey, peer_point: bytes) -> bytes:
        """Z (the x coordinate, SEC 1 s3.3.1) from TPM2_ECDH_ZGen."""
        from tpm2_pytss.types import TPM2B_ECC_PARAMETER, TPM2B_ECC_POINT, TPMS_ECC_POINT

        size = key.field_size
        if len(peer_point) != 1 + 2 * size or peer_point[0] != 4:
            raise MechanismParamInvalid("the peer's public value is not a point on the curve")
        point = TPM2B_ECC_POINT(TPMS_ECC_POINT(
            x=TPM2B_ECC_PARAMETER(peer_point[1 : 1 + size]),
            y=TPM2B_ECC_PARAMETER(peer_point[1 + size :]),
        ))

        def command(esys: ESAPI) -> bytes:
            try:
                z = self._with_key(esys, key, lambda handle: esys.ecdh_zgen(
                    handle, point, session1=self._auth(esys, encrypt=True)))
            except Exception as exc:
                if _rc_number(exc) in (0x0A7, 0x154, RC_VALUE):  # ECC_POINT, NO_RESULT, VALUE
                    raise MechanismParamInvalid(
                        "the peer's public value is not a point on the curve") from None
                raise
            return bytes(z.point.x).rjust(size, b"\x00")

        return self._run("deriving with the TPM key", command)

    def _rsa_sign(self, key: TpmKey, scheme_alg: int, alg: HashName, digest: bytes) -> bytes:
        from tpm2_pytss.constants import TPM2_RH, TPM2_ST
        from tpm2_pytss.types import TPMT_SIG_SCHEME, TPMT_TK_HASHCHECK

        scheme = TPMT_SIG_SCHEME(scheme=scheme_alg)
        scheme.details.any.hashAlg = TPM_HASHES[alg]
        ticket = TPMT_TK_HASHCHECK(tag=TPM2_ST.HASHCHECK, hierarchy=TPM2_RH.NULL)
        k = (key.n.bit_length() + 7) // 8

        def command(esys: ESAPI) -> bytes:
            signature = self._with_key(esys, key, lambda handle: esys.sign(
                handle, digest, scheme, ticket, session1=self._auth(esys)))
            return bytes(signature.signature.rsassa.sig).rjust(k, b"\x00")

        return self._run("signing with the TPM key", command)

    def rsa_sign_pkcs1v15(self, key: TpmKey, alg: HashName, digest: bytes) -> bytes:
        """RSASSA-PKCS1-v1_5: TPM2_Sign for SHA-1 / SHA-2 (256, 384, 512); for the other
        hashes the EMSA encoding is built here and signed with the raw operation."""
        from tpm2_pytss.constants import TPM2_ALG

        if alg in TPM_HASHES:
            return self._rsa_sign(key, TPM2_ALG.RSASSA, alg, digest)
        k = (key.n.bit_length() + 7) // 8
        info = digest_info(alg, digest)
        if len(info) > k - 11:
            raise MechanismParamInvalid("digest too long for the key")
        block = b"\x00\x01" + b"\xff" * (k - 3 - len(info)) + b"\x00" + info
        return self.rsa_private_raw(key, block)

    def rsa_sign_pss(
        self, key: TpmKey, alg: HashName, digest: bytes, mgf_alg: HashName, salt_len: int
    ) -> bytes:
        """RSASSA-PSS with TPM2_Sign: the TPM picks the salt length (``pss_salt_length``)
        and uses MGF1 with the message hash, so other parameters are refused."""
        from tpm2_pytss.constants import TPM2_ALG

        wanted = self.rsa_pss_salt(key, alg, mgf_alg)
        if salt_len != wanted:
            raise MechanismParamInvalid(
                f"a TPM-held key signs PSS with a {wanted}-byte salt for this hash and key size")
        return self._rsa_sign(key, TPM2_ALG.RSAPSS, alg, digest)

    def rsa_pss_salt(self, key: object, alg: HashName, mgf_alg: HashName) -> int | None:
        if not isinstance(key, TpmKey) or key.kind != "rsa":
            return None
        if alg not in TPM_HASHES or mgf_alg != alg:
            raise MechanismParamInvalid(
                "a TPM-held key signs PSS with SHA-1/256/384/512 and MGF1 of the same hash")
        return pss_salt_length(key.n.bit_length(), alg)

    def _rsa_decrypt(self, key: TpmKey, data: bytes, scheme: Any, label: bytes | None,
                     doing: str) -> bytes:

        def command(esys: ESAPI) -> bytes:
            try:
                message = self._with_key(esys, key, lambda handle: esys.rsa_decrypt(
                    handle, data, scheme, label, session1=self._auth(esys, encrypt=True)))
            except Exception as exc:
                if _rc_number(exc) == RC_VALUE or (
                    _rc_number(exc) == RC_FAILURE and _still_working(esys)
                ):
                    raise EncryptedDataInvalid("the TPM could not decrypt the data") from None
                raise
            return bytes(message)

        return self._run(doing, command)

    def rsa_decrypt_oaep(
        self, key: TpmKey, data: bytes, alg: HashName, mgf_alg: HashName, label: bytes
    ) -> bytes:
        """RSAES-OAEP with TPM2_RSA_Decrypt: MGF1 of the OAEP hash; a label must be empty
        or end with a zero byte (the TPM's rule, Part 3 s14.3)."""
        from tpm2_pytss.constants import TPM2_ALG
        from tpm2_pytss.types import TPMT_RSA_DECRYPT

        if alg not in TPM_HASHES or mgf_alg != alg:
            raise MechanismParamInvalid(
                "a TPM-held key decrypts OAEP with SHA-1/256/384/512 and MGF1 of the same hash")
        if label and label[-1] != 0:
            raise MechanismParamInvalid("a TPM-held key takes only OAEP labels ending in 0x00")
        scheme = TPMT_RSA_DECRYPT(scheme=TPM2_ALG.OAEP)
        scheme.details.oaep.hashAlg = TPM_HASHES[alg]
        return self._rsa_decrypt(key, data, scheme, label or None, "decrypting with the TPM key")

    def rsa_decrypt_pkcs1v15(self, key: TpmKey, data: bytes) -> bytes:
        """RSAES-PKCS1-v1_5 with TPM2_RSA_Decrypt; bad padding: EncryptedDataInvalid (the
        TPM reports it, unlike the software port's implicit rejection)."""
        from tpm2_pytss.constants import TPM2_ALG
        from tpm2_pytss.types import TPMT_RSA_DECRYPT

        scheme = TPMT_RSA_DECRYPT(scheme=TPM2_ALG.RSAES)
        return self._rsa_decrypt(key, data, scheme, None, "decrypting with the TPM key")

    def rsa_private_raw(self, key: TpmKey, block: bytes) -> bytes:
        """RSADP / RSASP1: TPM2_RSA_Decrypt with the NULL scheme."""
        from tpm2_pytss.constants import TPM2_ALG
        from tpm2_pytss.types import TPMT_RSA_DECRYPT

        scheme = TPMT_RSA_DECRYPT(scheme=TPM2_ALG.NULL)
        k = (key.n.bit_length() + 7) // 8
        result = self._rsa_decrypt(key, block, scheme, None, "using the TPM key")
        return result.rjust(k, b"\x00")


def refuse_export(what: str) -> KeyUnextractable:
    """The error for reading a TPM-held key's private values."""
    return KeyUnextractable(f"the private {what} of a TPM-held key never leaves the TPM")
