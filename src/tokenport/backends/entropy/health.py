"""The health tests of NIST SP 800-90B s4.4 on a raw entropy source: the repetition count
test (RCT, s4.4.1) and the adaptive proportion test (APT, s4.4.2).

Cutoffs follow from the source's claimed min-entropy per sample H and the false-positive
probability alpha = 2^-20 (the standard's recommendation):

* RCT: C = 1 + ceil(-log2(alpha) / H). A run of C identical samples fails. A source with
  exactly H bits of min-entropy produces such a run at a given sample with probability at
  most alpha.
* APT: C = 1 + CRITBINOM(W, 2^-H, 1 - alpha), the smallest count whose binomial upper
  tail is at most alpha. Windows are disjoint; the first sample of a window is counted
  together with its repetitions among the next W - 1 samples, and reaching C fails.
  W = 1024 for a binary source, 512 otherwise.

Examples (alpha = 2^-20): byte samples at H = 8 -> RCT 4, APT 13; H = 4 -> RCT 6, APT 62;
binary at H = 1 -> RCT 21, APT 589 -- the values of SP 800-90B's Table 2 where it has them.

``HealthTests.feed`` is the continuous test: its state carries over from one call to the
next, and the first alarm raises ``HealthTestFailure`` (an errors.DeviceError). The
start-up test is ``feed`` over ``STARTUP_SAMPLES`` samples before first use.
``count_alarms`` runs the same tests without stopping (a failing test restarts), to
measure a source's false-alarm rate.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from tokenport import errors

ALPHA_LOG2 = 20
"""alpha = 2^-ALPHA_LOG2, the false-positive probability per test decision."""
NON_BINARY_WINDOW = 512
BINARY_WINDOW = 1024
STARTUP_SAMPLES = 1024
"""SP 800-90B s4.3: start-up testing over at least 1024 consecutive samples."""


class HealthTestFailure(errors.DeviceError):
    """The entropy source failed a health test: it must not be used."""


def rct_cutoff(min_entropy: float, alpha_log2: int = ALPHA_LOG2) -> int:
    """The repetition count test's cutoff C for H = ``min_entropy`` bits per sample."""
    _check_h(min_entropy, 8.0)
    return 1 + math.ceil(alpha_log2 / min_entropy)


def apt_cutoff(min_entropy: float, window: int, alpha_log2: int = ALPHA_LOG2) -> int:
    """The adaptive proportion test's cutoff C = 1 + CRITBINOM(W, 2^-H, 1 - alpha)."""
    _check_h(min_entropy, 8.0)
    return 1 + _critbinom(window, 2.0 ** -min_entropy, 2.0 ** -alpha_log2)


def binomial_tail(n: int, p: float, k: int) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    return sum(_pmf(n, p, j) for j in range(max(k, 0), n + 1))


def _pmf(n: int, p: float, j: int) -> float:
    if p >= 1.0:
        return 1.0 if j == n else 0.0
    log = (
        math.lgamma(n + 1) - math.lgamma(j + 1) - math.lgamma(n - j + 1)
        + j * math.log(p) + (n - j) * math.log1p(-p)
    )
    return math.exp(log)


def _critbinom(n: int, p: float, alpha: float) -> int:
    """The smallest k with P(X <= k) >= 1 - alpha, computed as P(X > k) <= alpha."""
    tail = 0.0  # P(X > k) for the current k
    for k in range(n, -1, -1):
        if tail > alpha:
            return k + 1
        tail += _pmf(n, p, k)
    return 0


def _check_h(min_entropy: float, most: float) -> None:
    if isinstance(min_entropy, bool) or not isinstance(min_entropy, (int, float)):
        raise errors.ArgumentsBad("the min-entropy per sample must be a number")
    if not 0 < min_entropy <= most:
        raise errors.ArgumentsBad(f"the min-entropy per sample must be in (0, {most:g}]")


class HealthTests:
    """RCT and APT over the samples of one source, continuously."""

    def __init__(
        self, min_entropy: float, *, binary: bool = False, alpha_log2: int = ALPHA_LOG2
    ) -> None:
        _check_h(min_entropy, 1.0 if binary else 8.0)
        self.min_entropy = float(min_entropy)
        self.binary = binary
        self.alpha_log2 = alpha_log2
        self.window = BINARY_WINDOW if binary else NON_BINARY_WINDOW
        self.rct_cutoff = rct_cutoff(min_entropy, alpha_log2)
        self.apt_cutoff = apt_cutoff(min_entropy, self.window, alpha_log2)
        self.samples_tested = 0
        self._rct_value = -1
        self._rct_count = 0
        self._apt_value = -1
        self._apt_count = 0
        self._apt_seen = 0  # samples of the current window seen so far (0 = none)

    def __repr__(self) -> str:
        kind = "binary" if self.binary else "non-binary"
        return (
            f"HealthTests(H={self.min_entropy:g}, {kind}, RCT cutoff {self.rct_cutoff}, "
            f"APT cutoff {self.apt_cutoff}/{self.window})"
        )

    def feed(self, data: bytes) -> None:
        """Test ``data`` (continuing from earlier calls); raise at the first alarm."""
        self._run(data, stop=True)

    def count_alarms(self, data: bytes) -> tuple[int, int]:
        """(RCT alarms, APT alarms) over ``data``; each alarm restarts the failed test."""
        return self._run(data, stop=False)

    def _samples(self, data: bytes) -> Iterator[int] | bytes:
        if not self.binary:
            return data
        return ((byte >> shift) & 1 for byte in data for shift in range(7, -1, -1))

    def _run(self, data: bytes, *, stop: bool) -> tuple[int, int]:
        rct_value, rct_count, rct_cut = self._rct_value, self._rct_count, self.rct_cutoff
        apt_value, apt_count, apt_seen = self._apt_value, self._apt_count, self._apt_seen
        apt_cut, window = self.apt_cutoff, self.window
        rct_alarms = apt_alarms = 0
        tested = 0
        failure = ""
        for sample in self._samples(data):
            tested += 1
            if sample == rct_value:
                rct_count += 1
                if rct_count >= rct_cut:
                    rct_alarms += 1
                    rct_count = 1
                    if stop:
                        failure = (
                            f"repetition count test: {rct_cut} identical samples in a row "
                            f"(SP 800-90B 4.4.1, H={self.min_entropy:g})"
                        )
                        break
            else:
                rct_value, rct_count = sample, 1
            if apt_seen == 0:
                apt_value, apt_count, apt_seen = sample, 1, 1
                continue
            apt_seen += 1
            if sample == apt_value:
                apt_count += 1
                if apt_count >= apt_cut:
                    apt_alarms += 1
                    apt_seen = 0
                    if stop:
                        failure = (
                            f"adaptive proportion test: one value {apt_cut} times in a window "
                            f"of {window} (SP 800-90B 4.4.2, H={self.min_entropy:g})"
                        )
                        break
                    continue
            if apt_seen == window:
                apt_seen = 0
        self._rct_value, self._rct_count = rct_value, rct_count
        self._apt_value, self._apt_count, self._apt_seen = apt_value, apt_count, apt_seen
        self.samples_tested += tested
        if failure:
            raise HealthTestFailure(f"entropy source failed the {failure}")
        return rct_alarms, apt_alarms
