"""The crypto port's DesPort (v2.40 Current Mechanisms s2.18-2.19, Historical Mechanisms
(DES)): the same contract on the pyca backend and on the fake twin."""

from __future__ import annotations

import pytest

from tokenport.backends.crypto.fake import FakeCrypto
from tokenport.backends.crypto.pyca import PycaCrypto
from tokenport.errors import DataLenRange, KeySizeRange, MechanismParamInvalid
from tokenport.ports.crypto import DesPort, StreamCipher

KEY = bytes.fromhex("0123456789abcdef23456789abcdef01456789abcdef0123")


@pytest.fixture(params=["pyca", "fake"])
def port(request: pytest.FixtureRequest) -> DesPort:
    return PycaCrypto() if request.param == "pyca" else FakeCrypto()


@pytest.mark.parametrize("size", [8, 16, 24])
def test_round_trips_and_block_rules(port: DesPort, size: int) -> None:
    key, data = KEY[:size], bytes(range(24))

    def ecb(encrypt: bool) -> StreamCipher:
        return port.des_ecb(key, encrypt)

    def cbc(encrypt: bool) -> StreamCipher:
        return port.des_cbc(key, b"i" * 8, encrypt)

    for make in (ecb, cbc):
        encryptor = make(True)
        ct = encryptor.update(data[:5]) + encryptor.update(data[5:]) + encryptor.finalize()
        assert len(ct) == 24 and ct != data
        decryptor = make(False)
        assert decryptor.update(ct) + decryptor.finalize() == data
        partial = make(True)
        assert len(partial.update(b"x" * 12)) == 8
        with pytest.raises(DataLenRange):
            partial.finalize()


def test_key_and_iv_sizes(port: DesPort) -> None:
    for size in (0, 7, 9, 32):
        with pytest.raises(KeySizeRange):
            port.des_ecb(bytes(size), True)
    with pytest.raises(MechanismParamInvalid):
        port.des_cbc(KEY, bytes(16), True)
    with pytest.raises(KeySizeRange):
        port.cmac_des3_new(KEY[:8])


def test_cmac(port: DesPort) -> None:
    mac = port.cmac_des3_new(KEY)
    mac.update(b"abc")
    tag = mac.finalize()
    assert len(tag) == 8
    again = port.cmac_des3_new(KEY)
    again.update(b"abc")
    assert again.finalize() == tag


def test_single_des_is_tdea_with_equal_keys() -> None:
    pyca = PycaCrypto()
    one = pyca.des_ecb(KEY[:8], True).update(bytes(8))
    assert one == pyca.des_ecb(KEY[:8] * 3, True).update(bytes(8))
    assert pyca.des_ecb(KEY[:16], True).update(bytes(8)) == pyca.des_ecb(
        KEY[:16] + KEY[:8], True).update(bytes(8))
