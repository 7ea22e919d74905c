"""SP 800-90B s4.4 health tests: the cutoffs, a stuck and a biased source caught, the tests'
continuity, and the false-alarm rate of a good source measured against alpha = 2^-20."""

from __future__ import annotations

import math
import os
import random
from fractions import Fraction

import pytest

from tokenport import errors
from tokenport.backends.entropy.health import (
    ALPHA_LOG2,
    STARTUP_SAMPLES,
    HealthTestFailure,
    HealthTests,
    apt_cutoff,
    binomial_tail,
    rct_cutoff,
)

ALPHA = 2.0**-ALPHA_LOG2


def poisson_bound(mean: float, p: float = 1e-9) -> int:
    """The smallest k with P(Poisson(mean) >= k) < p: more alarms than this would mean
    the rate is above ``mean`` per run (a false test failure has probability < p)."""
    k, term, below = 0, math.exp(-mean), 0.0
    while 1.0 - below >= p:
        below += term
        k += 1
        term *= mean / k
    return k


# -- cutoffs ------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("h", "rct", "apt_non_binary", "apt_binary"),
    [
        (8, 4, 13, None),
        (4, 6, 62, None),
        (2, 11, 177, None),
        (1, 21, 311, 589),
        (0.5, 41, 410, 793),
    ],
)
def test_cutoffs(h: float, rct: int, apt_non_binary: int, apt_binary: int | None) -> None:
    """RCT: 1 + ceil(20 / H); APT: 1 + CRITBINOM(W, 2^-H, 1 - 2^-20) (SP 800-90B Table 2
    lists 589 (binary, H = 1) and 13 (W = 512, H = 8), for example)."""
    assert rct_cutoff(h) == rct
    assert apt_cutoff(h, 512) == apt_non_binary
    if apt_binary is not None:
        assert apt_cutoff(h, 1024) == apt_binary
    tests = HealthTests(h)
    assert (tests.rct_cutoff, tests.apt_cutoff, tests.window) == (rct, apt_non_binary, 512)


@pytest.mark.parametrize(("h", "window"), [(8, 512), (4, 512), (1, 1024)])
def test_apt_cutoff_is_the_exact_binomial_critical_value(h: int, window: int) -> None:
    """Recomputed with exact fractions: the tail at the cutoff is at most alpha, one below it
    is more."""
    p = Fraction(1, 2**h)

    def tail(k: int) -> Fraction:  # P(X >= k), X ~ Binomial(window, p)
        return sum(
            (math.comb(window, j) * p**j * (1 - p) ** (window - j) for j in range(k, window + 1)),
            Fraction(0),
        )

    cutoff = apt_cutoff(h, window)
    alpha = Fraction(1, 2**ALPHA_LOG2)
    assert tail(cutoff) <= alpha < tail(cutoff - 1)


@pytest.mark.parametrize(("h", "binary"), [(0, False), (-1, False), (8.5, False), (1.5, True)])
def test_bad_min_entropy(h: float, binary: bool) -> None:
    with pytest.raises(errors.ArgumentsBad):
        HealthTests(h, binary=binary)


# -- failures are caught -------------------------------------------------------------------------

@pytest.mark.parametrize("h", [8, 4, 1])
def test_stuck_source_is_caught_by_the_repetition_count_test(h: float) -> None:
    tests = HealthTests(h)
    with pytest.raises(HealthTestFailure, match="repetition count") as info:
        tests.feed(b"\x5a" * STARTUP_SAMPLES)
    assert tests.samples_tested == rct_cutoff(h)  # caught at the C-th identical sample
    assert isinstance(info.value, errors.DeviceError)


def test_stuck_binary_source() -> None:
    tests = HealthTests(1, binary=True)
    with pytest.raises(HealthTestFailure, match="repetition count"):
        tests.feed(b"\xff" * (STARTUP_SAMPLES // 8))
    assert tests.samples_tested == 21


def test_biased_source_the_rct_cannot_see_is_caught_by_the_apt() -> None:
    """0x00 at every other sample: never two equal samples in a row, so only the adaptive
    proportion test can notice it -- within the first window."""
    rng = random.Random(1)
    data = bytes(0 if i % 2 == 0 else rng.randrange(1, 256) for i in range(STARTUP_SAMPLES))
    tests = HealthTests(4)
    with pytest.raises(HealthTestFailure, match="adaptive proportion"):
        tests.feed(data)
    assert tests.samples_tested <= tests.window


@pytest.mark.parametrize("claimed", [8.0, 6.0])
def test_source_weaker_than_claimed_is_caught(claimed: float) -> None:
    """A source claiming H bits per byte that delivers 4 (16 equally likely values): the
    adaptive proportion test sees about 32 repeats per window where at most 12 (H = 8) or
    30 (H = 6) are allowed."""
    rng = random.Random(2)
    data = bytes(rng.randrange(16) for _ in range(4 * STARTUP_SAMPLES))
    with pytest.raises(HealthTestFailure):
        HealthTests(claimed).feed(data)


def test_biased_binary_source() -> None:
    rng = random.Random(3)
    bits = [1 if rng.random() < 0.7 else 0 for _ in range(8 * STARTUP_SAMPLES)]
    data = bytes(int("".join(map(str, bits[i:i + 8])), 2) for i in range(0, len(bits), 8))
    with pytest.raises(HealthTestFailure, match="adaptive proportion"):
        HealthTests(1, binary=True).feed(data)


def test_tests_are_continuous_across_reads() -> None:
    """A run split over several reads is one run."""
    tests = HealthTests(8)
    tests.feed(os.urandom(100) + b"\x00\x00")
    with pytest.raises(HealthTestFailure, match="repetition count"):
        tests.feed(b"\x00\x00")


def test_a_good_start_up_passes() -> None:
    tests = HealthTests(4)
    tests.feed(os.urandom(STARTUP_SAMPLES))
    assert tests.samples_tested == STARTUP_SAMPLES
    assert "RCT cutoff 6" in repr(tests)


# -- false alarms of a good source ---------------------------------------------------------------

def test_no_false_alarm_at_the_claimed_min_entropy_of_the_os_source() -> None:
    """The os and nv-seed sources claim H = 4 (cutoffs 6 and 62/512). Over 8 MiB of
    os.urandom the expected number of alarms is about
    RCT: 2^23 samples x 2^-40 (5 more equal bytes) = 7.6e-6,
    APT: 2^14 windows x P(Bin(511, 1/256) >= 61) = 2^14 x 1.7e-68 ~ 0,
    so a single alarm would mean a broken test or a broken OS source."""
    tests = HealthTests(4)
    assert binomial_tail(511, 1 / 256, tests.apt_cutoff - 1) < 1e-60
    assert tests.count_alarms(os.urandom(8 << 20)) == (0, 0)


def test_false_alarm_rate_at_the_design_point_bytes() -> None:
    """Uniform bytes have exactly H = 8, where the false-alarm probability of each test
    decision reaches alpha. Over N = 2^23 bytes:
    expected RCT alarms = N x 255/256 x 2^-24 ~ 0.50 (a run of 4 equal bytes),
    expected APT alarms = N/512 x P(Bin(511, 1/256) >= 12) = 16384 x 1.22e-6 ~ 0.02;
    the standard allows up to alpha per decision: N x 2^-20 + N/512 x 2^-20 ~ 8.02.
    The bounds are the counts a Poisson variable with that mean reaches with probability
    < 1e-9: fewer than 10 alarms (expected rate) and fewer than 31 (allowed rate)."""
    n = 8 << 20
    tests = HealthTests(8)
    rct, apt = tests.count_alarms(os.urandom(n))
    expected = n * 255 / 256 * 2.0**-24 + n / 512 * binomial_tail(511, 1 / 256, 12)
    allowed = n * ALPHA + n / 512 * ALPHA
    assert rct + apt < poisson_bound(expected), (rct, apt)
    assert rct + apt < poisson_bound(allowed), (rct, apt)


def test_false_alarm_rate_at_the_design_point_bits() -> None:
    """Fair bits have exactly H = 1 (cutoffs 21 and 589/1024). Over N = 2^21 bits:
    expected RCT alarms ~ N x 2^-21 = 1 (a change, then 20 more equal bits),
    APT = N/1024 x P(Bin(1023, 1/2) >= 588) = 2048 x 9.6e-7 ~ 0.002;
    allowed N x 2^-20 + N/1024 x 2^-20 ~ 2.0. Bounds (as above): 13 and 16."""
    n_bytes = 1 << 18
    tests = HealthTests(1, binary=True)
    rct, apt = tests.count_alarms(os.urandom(n_bytes))
    n = 8 * n_bytes
    expected = n * 2.0**-21 + n / 1024 * binomial_tail(1023, 0.5, 588)
    assert rct + apt < poisson_bound(expected), (rct, apt)
    assert rct + apt < poisson_bound(n * ALPHA + n / 1024 * ALPHA), (rct, apt)


def test_alarm_rate_matches_theory_at_a_larger_alpha() -> None:
    """The counting is right, not just quiet: at alpha = 2^-10 (RCT cutoff 11 for bits)
    2^22 fair bits raise about 2^22 x 2^-11 = 2048 RCT alarms (sd ~ 45)."""
    tests = HealthTests(1, binary=True, alpha_log2=10)
    rct, _ = tests.count_alarms(os.urandom(1 << 19))
    assert abs(rct - 2048) < 6 * math.sqrt(2048), rct
