"""C_Finalize closes the tpm2 crypto port's TPM connection, and C_Initialize after it works.

Must never: keep a TPM connection per C_Initialize/C_Finalize cycle (a resource manager
such as tabrmd refuses a client's connections past its limit, so a long-lived process
that re-initializes would end in CKR_DEVICE_ERROR); lose the token's TPM keys by closing.
"""

from __future__ import annotations

from pathlib import Path

from tokenport.backends.storage.memory import MemoryObjectStore
from tokenport.ck import CKA, CKM, CKO
from tokenport.mechanisms.params import Mechanism

from .swtpm import Swtpm
from .tpm_token import ec_pair, tpm_module, user_session


def _connection_open(module: object) -> bool:
    crypto = module.crypto  # type: ignore[attr-defined]
    return crypto.hardware._conn._esapi is not None  # type: ignore[no-any-return]


def test_finalize_closes_the_tpm_connection_and_keys_survive(swtpm: Swtpm, tmp_path: Path) -> None:
    store = MemoryObjectStore()
    with tpm_module(swtpm.tcti, tmp_path, store) as module:
        session = user_session(module)
        _, private = ec_pair(module, session)
        module.sign_init(session, Mechanism(CKM.ECDSA), private)
        assert len(module.sign(session, b"\x01" * 32)) == 64
        assert _connection_open(module)
        for _ in range(3):
            module.finalize()
            assert not _connection_open(module), "C_Finalize left the TPM connection open"
            module.initialize()
            session = user_session(module)
            module.find_objects_init(session, [(CKA.CLASS, CKO.PRIVATE_KEY), (CKA.LABEL, b"ec")])
            [private] = module.find_objects(session, 2)
            module.find_objects_final(session)
            module.sign_init(session, Mechanism(CKM.ECDSA), private)
            assert len(module.sign(session, b"\x02" * 32)) == 64
