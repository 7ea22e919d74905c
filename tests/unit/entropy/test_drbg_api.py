"""SP 800-90A s9 rules of both DRBGs: instantiate / reseed / generate / uninstantiate,
the reseed counter and interval, the maximum request size, prediction resistance,
personalization and additional input, and zeroization on uninstantiate."""

from __future__ import annotations

import itertools

import pytest

from tokenport import errors
from tokenport.backends.entropy import drbg as drbg_module
from tokenport.backends.entropy.drbg import (
    DRBGS,
    MAX_REQUEST_BYTES,
    MAX_RESEED_INTERVAL,
    CtrDrbg,
    DrbgError,
    HmacDrbg,
)

Mechanism = type[CtrDrbg] | type[HmacDrbg]
NONCE = bytes(range(16))


class Entropy:
    """A Get_entropy_input that counts its calls and never returns the same bytes twice."""

    def __init__(self) -> None:
        self.calls = 0
        self.requested: list[int] = []

    def __call__(self, bits: int) -> bytes:
        self.calls += 1
        self.requested.append(bits)
        return self.calls.to_bytes(4, "big") * 8


@pytest.fixture(params=sorted(DRBGS))
def mechanism(request: pytest.FixtureRequest) -> Mechanism:
    return DRBGS[request.param]


def new(mechanism: Mechanism, **kwargs: object) -> tuple[CtrDrbg | HmacDrbg, Entropy]:
    entropy = Entropy()
    instance = mechanism(entropy, **kwargs)  # type: ignore[arg-type]
    instance.instantiate(NONCE)
    return instance, entropy


def test_instantiate_draws_full_strength_entropy(mechanism: Mechanism) -> None:
    instance, entropy = new(mechanism)
    assert instance.instantiated and instance.security_strength == 256
    assert entropy.requested == [256]
    assert instance.reseed_counter == 1 and instance.seed_count == 1
    assert isinstance(DrbgError("x"), errors.GeneralError)


def test_generate_before_instantiate_is_refused(mechanism: Mechanism) -> None:
    instance = mechanism(Entropy())
    with pytest.raises(DrbgError, match="not instantiated"):
        instance.generate(16)
    with pytest.raises(DrbgError, match="not instantiated"):
        instance.reseed()


@pytest.mark.parametrize("length", [0, 1, 15, 16, 17, 1000, MAX_REQUEST_BYTES])
def test_lengths(mechanism: Mechanism, length: int) -> None:
    instance, _ = new(mechanism)
    assert len(instance.generate(length)) == length


def test_maximum_request_size(mechanism: Mechanism) -> None:
    """max_number_of_bits_per_request = 2^19 bits = 65536 bytes; one byte more is refused
    and leaves the state as it was."""
    assert MAX_REQUEST_BYTES * 8 == 2**19
    instance, _ = new(mechanism)
    twin, _ = new(mechanism)
    with pytest.raises(DrbgError, match="at most 65536"):
        instance.generate(MAX_REQUEST_BYTES + 1)
    assert instance.reseed_counter == 1
    assert instance.generate(64) == twin.generate(64)


@pytest.mark.parametrize("length", [-1, 1.5, "8", True, None])
def test_bad_lengths(mechanism: Mechanism, length: object) -> None:
    instance, _ = new(mechanism)
    with pytest.raises(DrbgError):
        instance.generate(length)  # type: ignore[arg-type]


def test_reseed_counter_and_interval(mechanism: Mechanism) -> None:
    """The counter starts at 1, counts requests, and when it passes reseed_interval the
    next request reseeds first (fresh entropy) and the counter starts over."""
    instance, entropy = new(mechanism, reseed_interval=3)
    for expected in (2, 3, 4):
        instance.generate(16)
        assert instance.reseed_counter == expected
    assert entropy.calls == 1
    instance.generate(16)  # counter 4 > 3: reseed required
    assert entropy.calls == 2 and instance.reseed_counter == 2 and instance.seed_count == 2
    instance.reseed(b"extra")
    assert entropy.calls == 3 and instance.reseed_counter == 1


@pytest.mark.parametrize("interval", [0, -1, MAX_RESEED_INTERVAL + 1, True, 2.0])
def test_reseed_interval_limits(mechanism: Mechanism, interval: object) -> None:
    with pytest.raises(DrbgError, match="reseed_interval"):
        mechanism(Entropy(), reseed_interval=interval)  # type: ignore[arg-type]
    assert mechanism(Entropy(), reseed_interval=MAX_RESEED_INTERVAL).reseed_interval == 2**48


def test_reseed_changes_the_stream(mechanism: Mechanism) -> None:
    a, _ = new(mechanism)
    b, _ = new(mechanism)
    a.reseed()
    assert a.generate(32) != b.generate(32)


def test_personalization_and_additional_input_change_the_output(mechanism: Mechanism) -> None:
    outputs = set()
    for personalization, additional in itertools.product([b"", b"p"], [b"", b"a", b"b"]):
        instance = mechanism(Entropy())
        instance.instantiate(NONCE, personalization)
        outputs.add(instance.generate(32, additional))
    assert len(outputs) == 6
    same = mechanism(Entropy())
    same.instantiate(NONCE, b"p")
    assert same.generate(32, b"a") in outputs  # deterministic for the same inputs


def test_nonce_and_strength_rules(mechanism: Mechanism) -> None:
    instance = mechanism(Entropy())
    with pytest.raises(DrbgError, match="nonce"):
        instance.instantiate(bytes(15))
    with pytest.raises(DrbgError, match="security strength"):
        instance.instantiate(NONCE, security_strength=384)
    instance.instantiate(NONCE, security_strength=128)  # served at 256
    with pytest.raises(DrbgError, match="security strength"):
        instance.generate(16, security_strength=512)


def test_short_entropy_input_is_refused(mechanism: Mechanism) -> None:
    with pytest.raises(DrbgError, match="entropy input"):
        mechanism(lambda bits: bytes(31)).instantiate(NONCE)


def test_input_length_limits(mechanism: Mechanism, monkeypatch: pytest.MonkeyPatch) -> None:
    """max_personalization_string_length and max_additional_input_length (2^35 bits; shrunk
    here so the test needs no 4 GiB string)."""
    monkeypatch.setattr(drbg_module, "MAX_INPUT_BYTES", 64)
    instance = mechanism(Entropy())
    with pytest.raises(DrbgError, match="personalization"):
        instance.instantiate(NONCE, bytes(65))
    instance.instantiate(NONCE, bytes(64))
    with pytest.raises(DrbgError, match="additional input"):
        instance.generate(16, bytes(65))
    with pytest.raises(DrbgError, match="additional input"):
        instance.reseed(bytes(65))
    with pytest.raises(DrbgError, match="must be bytes"):
        instance.generate(16, "text")  # type: ignore[arg-type]


def test_prediction_resistance(mechanism: Mechanism) -> None:
    """A request with prediction resistance reseeds from the source first; it is refused
    when the instantiation did not ask for prediction resistance."""
    plain, _ = new(mechanism)
    with pytest.raises(DrbgError, match="prediction resistance"):
        plain.generate(16, prediction_resistance=True)
    resistant, entropy = new(mechanism, prediction_resistance=True)
    assert resistant.prediction_resistance
    for calls in (2, 3, 4):
        resistant.generate(16, prediction_resistance=True)
        assert entropy.calls == calls and resistant.reseed_counter == 2
    resistant.generate(16)  # without the request: no reseed
    assert entropy.calls == 4


def test_reseed_required_with_prediction_resistance_flag(mechanism: Mechanism) -> None:
    """s9.3.1 step 9: when the counter forces a reseed on a prediction-resistant
    instantiation, the reseed is a prediction-resistance reseed (one fresh entropy draw)."""
    instance, entropy = new(mechanism, reseed_interval=1, prediction_resistance=True)
    instance.generate(16)
    assert entropy.calls == 1
    instance.generate(16)
    assert entropy.calls == 2 and instance.reseed_counter == 2


def test_uninstantiate_zeroizes_the_state(mechanism: Mechanism) -> None:
    instance, _ = new(mechanism)
    instance.generate(64)
    buffers = [value for value in vars(instance).values() if isinstance(value, bytearray)]
    assert len(buffers) == 2 and all(any(buffer) for buffer in buffers)
    instance.uninstantiate()
    assert all(buffer == bytes(len(buffer)) for buffer in buffers)  # overwritten in place
    assert not instance.instantiated and instance.reseed_counter == 0
    with pytest.raises(DrbgError):
        instance.generate(16)
    instance.instantiate(NONCE)  # a new instantiation may follow
    assert len(instance.generate(16)) == 16


def test_repr_shows_no_state(mechanism: Mechanism) -> None:
    instance, _ = new(mechanism)
    text = repr(instance)
    for buffer in (v for v in vars(instance).values() if isinstance(v, bytearray)):
        assert buffer.hex() not in text
    assert "reseed_counter=1" in text


def test_the_two_mechanisms_differ() -> None:
    ctr, _ = new(CtrDrbg)
    hmac, _ = new(HmacDrbg)
    assert ctr.generate(32) != hmac.generate(32)
    assert CtrDrbg.name.startswith("CTR_DRBG") and HmacDrbg.name.startswith("HMAC_DRBG")
