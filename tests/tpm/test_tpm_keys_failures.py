"""TPM-held keys when the TPM fails: reset mid-run, restart, a stopped simulator, and the
dictionary-attack lockout. Every outcome is a clear CKR code, never CKR_OK or a crash."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tokenport.ck import CKA, CKM, CKR
from tokenport.core.module import Module
from tokenport.errors import DeviceError, PinIncorrect, PinLocked
from tokenport.mechanisms.params import Mechanism

from .swtpm import Swtpm
from .tpm_token import ED25519_PARAMS, ec_pair, tpm_module, user_session

TPM2_DICTIONARYLOCKOUT = shutil.which("tpm2_dictionarylockout")


def _sign(module: Module, session: int, key: int) -> bytes:
    module.sign_init(session, Mechanism(CKM.ECDSA_SHA256), key)
    return module.sign(session, b"data")


def test_reset_mid_run_is_a_device_error_until_the_tpm_is_started(fresh_swtpm: Swtpm, tmp_path: Path) -> None:
    with tpm_module(fresh_swtpm.tcti, tmp_path) as module:
        session = user_session(module)
        _public, private = ec_pair(module, session)
        assert len(_sign(module, session, private)) == 64
        fresh_swtpm.reset()
        with pytest.raises(DeviceError, match="reset and has not been started") as failure:
            _sign(module, session, private)
        assert failure.value.rv == CKR.DEVICE_ERROR
        fresh_swtpm.startup()
        assert len(_sign(module, session, private)) == 64  # new context, new primary key
        fresh_swtpm.restart()  # a power cycle: the primary key's handle is gone
        assert len(_sign(module, session, private)) == 64


def test_stopped_simulator_fails_at_first_use_and_software_keys_still_work(
    fresh_swtpm: Swtpm, tmp_path: Path
) -> None:
    tcti = fresh_swtpm.tcti
    fresh_swtpm.stop()
    with tpm_module(tcti, tmp_path) as module:  # C_Initialize does not need the TPM
        session = user_session(module)
        with pytest.raises(DeviceError, match="cannot open TCTI") as failure:
            ec_pair(module, session)
        assert failure.value.rv == CKR.DEVICE_ERROR
        _public, private = module.generate_key_pair(
            session, Mechanism(CKM.EC_EDWARDS_KEY_PAIR_GEN), [(CKA.EC_PARAMS, ED25519_PARAMS)], [])
        module.sign_init(session, Mechanism(CKM.EDDSA), private)
        assert len(module.sign(session, b"data")) == 64


@pytest.mark.skipif(TPM2_DICTIONARYLOCKOUT is None, reason="tpm2-tools is not installed")
def test_wrong_authorization_counts_towards_the_tpm_lockout(fresh_swtpm: Swtpm, tmp_path: Path) -> None:
    assert TPM2_DICTIONARYLOCKOUT is not None
    subprocess.run([TPM2_DICTIONARYLOCKOUT, "--setup-parameters", "--max-tries=2",
                    "--recovery-time=600", "--lockout-recovery-time=600", "-T", fresh_swtpm.tcti],
                   check=True, capture_output=True)
    with tpm_module(fresh_swtpm.tcti, tmp_path) as module:
        session = user_session(module)
        _public, good = ec_pair(module, session, label=b"good")
        _public, tampered = ec_pair(module, session, label=b"tampered")
        assert len(_sign(module, session, good)) == 64
        # a key whose authorization value is not the TPM object's (as a store edited offline)
        obj = module.state.object(module.state.session(session), tampered)
        obj.attrs[CKA.TOKENPORT_TPM_AUTH] = b"\x00" * 32
        obj.cache.clear()
        with pytest.raises(PinIncorrect) as failure:
            _sign(module, session, tampered)
        assert failure.value.rv == CKR.PIN_INCORRECT
        outcomes = []
        for _ in range(3):
            try:
                _sign(module, session, tampered)
            except (PinIncorrect, PinLocked) as exc:
                outcomes.append(exc.rv)
        assert outcomes[-1] == CKR.PIN_LOCKED
        # in lockout the TPM refuses every DA-protected key, the good one too
        with pytest.raises(PinLocked) as locked:
            _sign(module, session, good)
        assert locked.value.rv == CKR.PIN_LOCKED


def test_tpm_key_under_a_software_port_is_a_device_error(swtpm: Swtpm, tmp_path: Path) -> None:
    from tokenport.backends.storage.memory import MemoryObjectStore
    from tokenport.ck import CKO, CKU
    from tokenport.config import Config
    from tokenport.wiring import build_module

    from .tpm_token import RW, USER_PIN

    store = MemoryObjectStore()
    with tpm_module(swtpm.tcti, tmp_path, store) as module:
        ec_pair(module, user_session(module), label=b"held")
    software = build_module(Config(store_backend="memory", store_dir=tmp_path), store=store)
    software.initialize()
    try:
        session = software.open_session(0, RW)
        software.login(session, CKU.USER, USER_PIN)
        software.find_objects_init(session, [(CKA.LABEL, b"held"), (CKA.CLASS, CKO.PRIVATE_KEY)])
        (private,) = software.find_objects(session, 2)
        with pytest.raises(DeviceError, match="held in hardware") as failure:
            _sign(software, session, private)
        assert failure.value.rv == CKR.DEVICE_ERROR
    finally:
        software.finalize()


def test_deferred_tpm2_port_offers_its_hardware(tmp_path: Path) -> None:
    from tokenport.backends.crypto.tpm2_keys import Tpm2Keys
    from tokenport.config import Config
    from tokenport.ports.crypto.hardware import hardware_of
    from tokenport.wiring import DeferredCrypto, build_module

    module = build_module(Config(store_backend="memory", store_dir=tmp_path, crypto_backend="tpm2"))
    assert isinstance(module.crypto, DeferredCrypto)  # no options: opened at first use
    assert isinstance(hardware_of(module.crypto), Tpm2Keys)


def test_a_store_moved_to_another_tpm_cannot_use_its_keys(
    swtpm: Swtpm, fresh_swtpm: Swtpm, tmp_path: Path
) -> None:
    from tokenport.backends.storage.memory import MemoryObjectStore
    from tokenport.ck import CKO, CKU

    from .tpm_token import RW, USER_PIN

    store = MemoryObjectStore()
    with tpm_module(swtpm.tcti, tmp_path, store) as module:
        ec_pair(module, user_session(module), label=b"bound")
    with tpm_module(fresh_swtpm.tcti, tmp_path, store, initialize_token=False) as other:
        session = other.open_session(0, RW)
        other.login(session, CKU.USER, USER_PIN)  # the PIN is right: the TPM is another one
        other.find_objects_init(session, [(CKA.LABEL, b"bound"), (CKA.CLASS, CKO.PRIVATE_KEY)])
        (private,) = other.find_objects(session, 2)
        with pytest.raises(DeviceError, match="TPM_RC") as failure:
            _sign(other, session, private)
        assert failure.value.rv == CKR.DEVICE_ERROR
