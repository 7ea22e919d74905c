"""A Cryptoki core on the ``tpm2`` crypto port and a swtpm, for the TPM key tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType

from tokenport.backends.storage.memory import MemoryObjectStore
from tokenport.ck import CKA, CKF, CKM, CKU
from tokenport.config import Config
from tokenport.core.module import Module
from tokenport.mechanisms.params import Mechanism
from tokenport.wiring import build_module

SO_PIN = b"so-secret-1"
USER_PIN = b"user-pin-1"
RW = int(CKF.SERIAL_SESSION | CKF.RW_SESSION)
P256_OID = bytes.fromhex("06082a8648ce3d030107")
P384_OID = bytes.fromhex("06052b81040022")
P521_OID = bytes.fromhex("06052b81040023")
ED25519_PARAMS = bytes.fromhex("06032b6570")


def tpm_config(tcti: str, store_dir: Path) -> Config:
    return Config(store_backend="memory", store_dir=store_dir, crypto_backend="tpm2",
                  crypto_options=MappingProxyType({"tcti": tcti}))


@contextmanager
def tpm_module(tcti: str, store_dir: Path, store: MemoryObjectStore | None = None,
               *, initialize_token: bool = True) -> Iterator[Module]:
    """An initialized module on the tpm2 port with slot 0's token ready (user PIN set)."""
    module = build_module(tpm_config(tcti, store_dir), store=store or MemoryObjectStore())
    module.initialize()
    try:
        if initialize_token:
            module.init_token(0, SO_PIN, b"tpm".ljust(32))
            session = module.open_session(0, RW)
            module.login(session, CKU.SO, SO_PIN)
            module.init_pin(session, USER_PIN)
            module.close_session(session)
        yield module
    finally:
        if module.initialized:
            module.finalize()


def user_session(module: Module) -> int:
    session = module.open_session(0, RW)
    module.login(session, CKU.USER, USER_PIN)
    return session


def ec_pair(module: Module, session: int, params: bytes = P256_OID, *,
            private: list[tuple[int, object]] | None = None, label: bytes = b"ec") -> tuple[int, int]:
    return module.generate_key_pair(
        session, Mechanism(CKM.EC_KEY_PAIR_GEN),
        [(CKA.EC_PARAMS, params), (CKA.LABEL, label), (CKA.TOKEN, True)],
        [(CKA.LABEL, label), (CKA.TOKEN, True), (CKA.DERIVE, True), *(private or [])],  # type: ignore[list-item]
    )


def rsa_pair(module: Module, session: int, bits: int = 2048, *,
             private: list[tuple[int, object]] | None = None, label: bytes = b"rsa") -> tuple[int, int]:
    return module.generate_key_pair(
        session, Mechanism(CKM.RSA_PKCS_KEY_PAIR_GEN),
        [(CKA.MODULUS_BITS, bits), (CKA.LABEL, label), (CKA.TOKEN, True)],
        [(CKA.LABEL, label), (CKA.TOKEN, True), *(private or [])],  # type: ignore[list-item]
    )
