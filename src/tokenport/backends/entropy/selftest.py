"""The entropy self-test behind ``tokenport entropy selftest``: known-answer tests of both
DRBGs, health-test self-checks, and a start-up of every configured random source.

Known answers: one vector of each NIST CAVP DRBG response file (CAVS 14.3,
drbgtestvectors.zip: no_reseed, pr_false, pr_true), COUNT = 0 of the group with a
256-bit personalization string and 256-bit additional input, from the sections
``[AES-256 use df]`` (CTR_DRBG) and ``[SHA-256]`` (HMAC_DRBG). The unit tests check every
vector of those sections; these few prove at run time that the installed code still
computes the same.

``cavp_returned_bits`` plays one CAVP test case (the call sequence each response file
describes) and is shared with the unit tests.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from tokenport import errors
from tokenport.backends.entropy.drbg import DRBGS
from tokenport.backends.entropy.drbg_source import DrbgRandomSource
from tokenport.backends.entropy.health import STARTUP_SAMPLES, HealthTestFailure, HealthTests
from tokenport.backends.entropy.sources import OsEntropySource

VARIANTS = ("no_reseed", "pr_false", "pr_true")
FieldList = tuple[tuple[str, str], ...]


def cavp_returned_bits(drbg: str, variant: str, fields: FieldList) -> bytes:
    """Run one COUNT block of a CAVP DRBG response file; returns the second output.

    ``fields`` are the block's ``(name, hex)`` lines in file order. The sequences:
    no_reseed: instantiate, generate, generate; pr_false: instantiate, reseed, generate,
    generate; pr_true: instantiate (prediction resistance on), then two generates with
    prediction resistance, each reseeding from the next EntropyInputPR first.
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown CAVP variant {variant!r}")
    values: dict[str, list[bytes]] = {}
    for name, text in fields:
        values.setdefault(name, []).append(bytes.fromhex(text))
    entropy: Iterator[bytes] = iter(
        values["EntropyInput"] + values.get("EntropyInputReseed", [])
        + values.get("EntropyInputPR", [])
    )
    prediction_resistance = variant == "pr_true"
    instance = DRBGS[drbg](lambda bits: next(entropy), prediction_resistance=prediction_resistance)
    instance.instantiate(values["Nonce"][0], values["PersonalizationString"][0])
    if variant == "pr_false":
        instance.reseed(values["AdditionalInputReseed"][0])
    length = len(values["ReturnedBits"][0])
    first, second = values["AdditionalInput"]
    instance.generate(length, first, prediction_resistance=prediction_resistance)
    output = instance.generate(length, second, prediction_resistance=prediction_resistance)
    instance.uninstantiate()
    return output


def _vector(*pairs: str) -> FieldList:
    return tuple((pairs[i], pairs[i + 1]) for i in range(0, len(pairs), 2))


KNOWN_ANSWERS: Mapping[tuple[str, str], FieldList] = MappingProxyType({
    ("ctr", "no_reseed"): _vector(
        "EntropyInput", "87b56e964eba227154724bb9484b812d3e2c0c43b3d17f6098d9526e16e6d0ef",
        "Nonce", "9bea6a7ff2358df142e6c23e2157fb83",
        "PersonalizationString", "9860b432edd58d1ccbfeecbce99ffaee7d935a614860d4e965bd67041403096b",
        "AdditionalInput", "99a5cc87924e8ea65a596f81fd17d63f5b4542fe6e8e1511b5d35c835dfadb0b",
        "AdditionalInput", "9a8dec54734a34582a2332f3452e82313524c3e0dfb485faeac6ca5fc0ff504d",
        "ReturnedBits", "dbc6a2330b19b5cddd8cd6392ec1fb508678c805e87d1aca07ac265007632503"
        "044a00610c79d98375afa7ab4cca1a90989cbfe7c674af5d823ced11c47e9af6",
    ),
    ("ctr", "pr_false"): _vector(
        "EntropyInput", "174b46250051a9e3d80c56ae7163dafe7e54481a56cafd3b8625f99bbb29c442",
        "Nonce", "98ffd99c466e0e94a45da7e0e82dbc6b",
        "PersonalizationString", "7095268e99938b3e042734b9176c9aa051f00a5f8d2a89ada214b89beef18ebf",
        "EntropyInputReseed", "e88be1967c5503f65d23867bbc891bd679db03b4878663f6c877592df25f0d9a",
        "AdditionalInputReseed", "cdf6ad549e45b6aa5cd67d024931c33cd133d52d5ae500c3015020beb30da063",
        "AdditionalInput", "c7228e90c62f896a09e11684530102f926ec90a3255f6c21b857883c75800143",
        "AdditionalInput", "76a94f224178fe4cbf9e2b8acc53c9dc3e50bb613aac8936601453cda3293b17",
        "ReturnedBits", "1a6d8dbd642076d13916e5e23038b60b26061f13dd4e006277e0268698ffb2c8"
        "7e453bae1251631ac90c701a9849d933995e8b0221fe9aca1985c546c2079027",
    ),
    ("ctr", "pr_true"): _vector(
        "EntropyInput", "534346a3e0baa65d7a51871b6d633a6f1efa9ff55dfde3212c95029adf2387d9",
        "Nonce", "0cbe99821509975d824fd826c47d2abc",
        "PersonalizationString", "020d7340569e68d992e6e8ddfbead9f993c74d971e4339fe91074f87e9d7d777",
        "AdditionalInput", "f41040eff2a7010287c2a76d7867a66e61299be1e1247a6b22a64b829ada8624",
        "EntropyInputPR", "286091709d2e91bfef6654b8449d5e5564b6c2fe1f3e4e6e59fe776461bfb0dc",
        "AdditionalInput", "94efe68e2185646a17bb8a83268142a7b7a02786c1ee90ab8f7399ccf543de26",
        "EntropyInputPR", "e68e127b2e5b9d6539c26f7e78bec13314e37febdb7105d1d65f0bde23c87d38",
        "ReturnedBits", "da6389d151e3b2b332fbcc02b2cc5af4f69835e9fbbe19130f91cbf30a3c2458"
        "0ebfb4311b3487e9d6a61de9dc2842c107152158b0e75a932c38e5b8ddff10e6",
    ),
    ("hmac", "no_reseed"): _vector(
        "EntropyInput", "5d3286bc53a258a53ba781e2c4dcd79a790e43bbe0e89fb3eed39086be34174b",
        "Nonce", "c5422294b7318952ace7055ab7570abf",
        "PersonalizationString", "2dba094d008e150d51c4135bb2f03dcde9cbf3468a12908a1b025c120c985b9d",
        "AdditionalInput", "793a7ef8f6f0482beac542bb785c10f8b7b406a4de92667ab168ecc2cf7573c6",
        "AdditionalInput", "2238cdb4e23d629fe0c2a83dd8d5144ce1a6229ef41dabe2a99ff722e510b530",
        "ReturnedBits", "d04678198ae7e1aeb435b45291458ffde0891560748b43330eaf866b5a6385e7"
        "4c6fa5a5a44bdb284d436e98d244018d6acedcdfa2e9f499d8089e4db86ae89a"
        "6ab2d19cb705e2f048f97fb597f04106a1fa6a1416ad3d859118e079a0c319eb"
        "95686f4cbcce3b5101c7a0b010ef029c4ef6d06cdfac97efb9773891688c37cf",
    ),
    ("hmac", "pr_false"): _vector(
        "EntropyInput", "cdb0d9117cc6dbc9ef9dcb06a97579841d72dc18b2d46a1cb61e314012bdf416",
        "Nonce", "d0c0d01d156016d0eb6b7e9c7c3c8da8",
        "PersonalizationString", "6f0fb9eab3f9ea7ab0a719bfa879bf0aaed683307fda0c6d73ce018b6e34faaa",
        "EntropyInputReseed", "8ec6f7d5a8e2e88f43986f70b86e050d07c84b931bcf18e601c5a3eee3064c82",
        "AdditionalInputReseed", "1ab4ca9014fa98a55938316de8ba5a68c629b0741bdd058c4d70c91cda5099b3",
        "AdditionalInput", "16e2d0721b58d839a122852abd3bf2c942a31c84d82fca74211871880d7162ff",
        "AdditionalInput", "53686f042a7b087d5d2eca0d2a96de131f275ed7151189f7ca52deaa78b79fb2",
        "ReturnedBits", "dda04a2ca7b8147af1548f5d086591ca4fd951a345ce52b3cd49d47e84aa31a1"
        "83e31fbc42a1ff1d95afec7143c8008c97bc2a9c091df0a763848391f68cb4a3"
        "66ad89857ac725a53b303ddea767be8dc5f605b1b95f6d24c9f06be65a973a08"
        "9320b3cc42569dcfd4b92b62a993785b0301b3fc452445656fce22664827b88f",
    ),
    ("hmac", "pr_true"): _vector(
        "EntropyInput", "4294671d493dc085b5184607d7de2ff2b6aceb734a1b026f6cfee7c5a90f03da",
        "Nonce", "d071544e599235d5eb38b64b551d2a6e",
        "PersonalizationString", "63bc769ae1d95a98bde870e4db7776297041d37c8a5c688d4e024b78d83f4d78",
        "AdditionalInput", "28848becd3f47696f124f4b14853a456156f69be583a7d4682cff8d44b39e1d3",
        "EntropyInputPR", "db9b4790b62336fbb9a684b82947065393eeef8f57bd2477141ad17e776dac34",
        "AdditionalInput", "8bfce0b7132661c3cd78175d83926f643e36f7608eec2c5dac3ddcbacc8c2182",
        "EntropyInputPR", "4a9abe80f6f522f29878bedf8245b27940a76471006fb4a4110beb4decb6c341",
        "ReturnedBits", "e580dc969194b2b18a97478aef9d1a72390aff14562747bf080d741527a6655c"
        "e7fc135325b457483a9f9c70f91165a811cf4524b50d51199a0df3bd60d12aba"
        "c27d0bf6618e6b114e05420352e23f3603dfe8a225dc19b3d1fff1dc245dc6b1"
        "df24c741744bec3f9437dbbf222df84881a457a589e7815ef132f686b760f012",
    ),
})
"""(drbg, variant) -> the CAVP block, from the response files named in the module docstring."""


@dataclass
class Check:
    """One line of the report."""

    group: str
    name: str
    passed: bool
    detail: str = ""


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(check.passed for check in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [check for check in self.checks if not check.passed]

    def add(self, group: str, name: str, run: Callable[[], str]) -> None:
        """Run one check: ``run`` returns a detail line or raises to fail."""
        try:
            detail = run()
        except (errors.PKCS11Error, AssertionError, ValueError, OSError) as exc:
            self.checks.append(Check(group, name, False, str(exc) or type(exc).__name__))
        else:
            self.checks.append(Check(group, name, True, detail))


# -- the checks --------------------------------------------------------------------------------


def known_answer_checks(report: Report) -> None:
    for (drbg, variant), fields in KNOWN_ANSWERS.items():
        expected = bytes.fromhex(dict(fields)["ReturnedBits"])

        def run(drbg: str = drbg, variant: str = variant, fields: FieldList = fields,
                expected: bytes = expected) -> str:
            got = cavp_returned_bits(drbg, variant, fields)
            if got != expected:
                raise AssertionError("output differs from the CAVP ReturnedBits")
            return f"{len(expected) * 8} bits as expected"

        report.add("Known-answer tests (NIST CAVP)", f"{DRBGS[drbg].name}, {variant}", run)


def _stuck(length: int) -> bytes:
    return bytes(length)


def _biased(length: int) -> bytes:
    """0x00 at every other sample, random non-zero values between: never two equal
    samples in a row (the repetition count test cannot see it), min-entropy < 1 bit."""
    noise = os.urandom(length)
    return bytes(0 if i % 2 == 0 else noise[i] | 1 for i in range(length))


def health_checks(report: Report, min_entropy: float, healthy_bytes: int = 1 << 20) -> None:
    group = f"Health tests (SP 800-90B 4.4, alpha = 2^-20, H = {min_entropy:g} bits/byte)"
    probe = HealthTests(min_entropy)
    report.add(group, "cutoffs", lambda: (
        f"repetition count {probe.rct_cutoff}, adaptive proportion {probe.apt_cutoff} "
        f"in {probe.window}"
    ))

    def caught(make: Callable[[int], bytes], expect: str) -> Callable[[], str]:
        def run() -> str:
            tests = HealthTests(min_entropy)
            try:
                tests.feed(make(STARTUP_SAMPLES))
            except HealthTestFailure as exc:
                if expect not in str(exc):
                    raise AssertionError(f"caught by the wrong test: {exc}") from None
                return f"caught by the {expect} test after {tests.samples_tested} samples"
            raise AssertionError("not caught in the start-up test")
        return run

    report.add(group, "stuck source", caught(_stuck, "repetition count"))
    report.add(group, "biased source", caught(_biased, "adaptive proportion"))

    def healthy() -> str:
        tests = HealthTests(min_entropy)
        tests.feed(OsEntropySource().read(healthy_bytes))
        return f"{tests.samples_tested} samples of the OS source, no alarm"

    report.add(group, "healthy source", healthy)


def source_check(report: Report, name: str, source: DrbgRandomSource) -> None:
    """Start one configured random source and draw from it."""
    raw = source.source
    health = source.health
    group = "Configured random sources"

    def run() -> str:
        try:
            source.start()
            first = source.random_bytes(32)
            bulk = source.random_bytes(1 << 16)
            if first == source.random_bytes(32) or len(bulk) != 1 << 16:
                raise AssertionError("the source repeats itself")
        finally:
            source.close()
        return (
            f"{source.mechanism} over {raw.name} (H = {raw.min_entropy_per_sample:g} "
            f"bits/sample; cutoffs {health.rct_cutoff}, {health.apt_cutoff}/{health.window}): "
            f"start-up test, instantiation, {health.samples_tested} samples tested, "
            f"{(1 << 16) + 64} bytes generated"
        )

    report.add(group, name, run)
