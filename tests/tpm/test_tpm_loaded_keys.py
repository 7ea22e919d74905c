"""Keys kept loaded behind a resource manager (``Tpm2Keys(keep_loaded=...)``).

Must never: keep keys loaded on a TCTI without a resource manager unless told (another
process could reach a reused handle number); use a stale handle after a TPM reset instead
of loading the key again; leave a key's authValue in ESYS between uses.
"""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature
from cryptography.hazmat.primitives.hashes import SHA256

from tokenport.backends.crypto.tpm2_keys import Tpm2Keys, behind_resource_manager
from tokenport.backends.tpm.connection import TpmConnection

from .swtpm import Swtpm

AUTH = b"k" * 32


@pytest.mark.parametrize(
    ("tcti", "expected"),
    [
        ("device:/dev/tpmrm0", True),
        ("tabrmd:bus_type=system", True),
        ("device:/dev/tpm0", False),
        ("swtpm:host=127.0.0.1,port=2321", False),
        ("mssim:host=localhost", False),
    ],
)
def test_only_a_resource_manager_keeps_keys_loaded(tcti: str, expected: bool) -> None:
    assert behind_resource_manager(tcti) is expected


def _transient_handles(conn: TpmConnection) -> int:
    from tpm2_pytss.constants import TPM2_CAP, TPM2_HC

    def count(esys):  # type: ignore[no-untyped-def]
        _more, data = esys.get_capability(TPM2_CAP.HANDLES, TPM2_HC.TRANSIENT_FIRST, 64)
        return len(data.data.handles)

    return int(conn.run("counting handles", count))


def _verify(point: bytes, digest: bytes, rs: tuple[int, int]) -> None:
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    public.verify(encode_dss_signature(*rs), digest, ec.ECDSA(Prehashed(SHA256())))


@pytest.mark.parametrize("keep_loaded", [True, False])
def test_kept_loaded_key_signs_and_survives_a_reset(fresh_swtpm: Swtpm, keep_loaded: bool) -> None:
    conn = TpmConnection(fresh_swtpm.tcti)
    keys = Tpm2Keys(conn, keep_loaded=keep_loaded)
    try:
        blob, point = keys.generate_ec("P-256", AUTH)
        key = keys.ec_key("P-256", blob, AUTH)
        for message in (b"one", b"two"):
            digest = hashlib.sha256(message).digest()
            _verify(point, digest, keys.ecdsa_sign_hash(key, digest))
        # the primary key, plus the device key only when it is kept loaded
        assert _transient_handles(conn) == (2 if keep_loaded else 1)
        if keep_loaded:
            [handle] = keys._loaded.values()
            with conn.esapi() as esys:
                assert bytes(esys.tr_get_name(handle))  # still a live object
        fresh_swtpm.reset()
        fresh_swtpm.startup()
        digest = hashlib.sha256(b"after the reset").digest()
        _verify(point, digest, keys.ecdsa_sign_hash(key, digest))
    finally:
        conn.close()


def test_authvalue_is_cleared_between_uses(fresh_swtpm: Swtpm) -> None:
    conn = TpmConnection(fresh_swtpm.tcti)
    keys = Tpm2Keys(conn, keep_loaded=True)
    try:
        blob, _point = keys.generate_ec("P-256", AUTH)
        key = keys.ec_key("P-256", blob, AUTH)
        keys.ecdsa_sign_hash(key, b"\x01" * 32)
        [handle] = keys._loaded.values()
        with conn.esapi() as esys:
            # a command on the cached handle without setting its auth again is refused
            from tpm2_pytss.constants import TPM2_ALG, TPM2_RH, TPM2_ST
            from tpm2_pytss.types import TPMT_SIG_SCHEME, TPMT_TK_HASHCHECK

            scheme = TPMT_SIG_SCHEME(scheme=TPM2_ALG.ECDSA)
            scheme.details.any.hashAlg = TPM2_ALG.SHA256
            ticket = TPMT_TK_HASHCHECK(tag=TPM2_ST.HASHCHECK, hierarchy=TPM2_RH.NULL)
            with pytest.raises(Exception, match="auth"):
                esys.sign(handle, b"\x02" * 32, scheme, ticket)
    finally:
        conn.close()
