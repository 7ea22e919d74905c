"""Full_PKCS11_NoObject: what needs no key: digests and random numbers."""

from __future__ import annotations

import threading

from tokenport.ck import CKM, CKR
from tokenport.qualify.assertions import expect_equal, expect_ok, expect_rv, expect_true, fail
from tokenport.qualify.context import THREAD_COUNT, THREAD_LOOPS, Context, run_threads
from tokenport.qualify.runner import Group, Test

#: the 896-bit message of FIPS 180 / NIST's SHA-256 examples, and its digest
NIST_MESSAGE = (
    b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnop"
    b"jklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"
)
NIST_SHA256 = bytes.fromhex(
    "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"
)
INVALID_MECHANISM = 0x253  # no mechanism has this number
RANDOM_LENGTH = 32
#: at most this many equal byte positions between two random outputs (about 0.125 expected)
RANDOM_SAME_POSITIONS = 4


def digest(ctx: Context) -> None:
    client, session = ctx.client, ctx.session
    expect_ok(client.digest_init(session, CKM.SHA256), "C_DigestInit(CKM_SHA256)")
    for part in (NIST_MESSAGE[:1], NIST_MESSAGE[1:64], NIST_MESSAGE[64:]):
        expect_ok(client.digest_update(session, part), f"C_DigestUpdate of {len(part)} bytes")
    query = client.digest_final(session, None)
    expect_ok(query.rv, "C_DigestFinal(pDigest NULL)")
    expect_equal(query.length, 32, "the SHA-256 digest length C_DigestFinal reports")
    result = client.digest_final(session, 32)
    expect_ok(result.rv, "C_DigestFinal")
    expect_equal(result.length, 32, "*pulDigestLen")
    expect_equal(result.data, NIST_SHA256, "SHA-256 of the 896-bit NIST message")


def digest_error_conditions(ctx: Context) -> None:
    client, session = ctx.client, ctx.session
    expect_rv(client.digest_init(session, INVALID_MECHANISM), CKR.MECHANISM_INVALID,
              "C_DigestInit with mechanism 0x253")
    expect_rv(client.digest_init(0, CKM.SHA256), CKR.SESSION_HANDLE_INVALID,
              "C_DigestInit on session handle 0")
    expect_rv(client.digest_update(session, NIST_MESSAGE), CKR.OPERATION_NOT_INITIALIZED,
              "C_DigestUpdate without C_DigestInit")
    expect_ok(client.digest_init(session, CKM.SHA256), "C_DigestInit(CKM_SHA256)")
    expect_rv(client.digest_update(0, NIST_MESSAGE), CKR.SESSION_HANDLE_INVALID,
              "C_DigestUpdate on session handle 0")
    expect_ok(client.digest_update(session, NIST_MESSAGE), "C_DigestUpdate")
    short = client.digest_final(session, 31)
    expect_rv(short.rv, CKR.BUFFER_TOO_SMALL, "C_DigestFinal into 31 bytes")
    expect_equal(short.length, 32, "*pulDigestLen after CKR_BUFFER_TOO_SMALL")
    expect_rv(client.digest_final(0, 32).rv, CKR.SESSION_HANDLE_INVALID,
              "C_DigestFinal on session handle 0")
    result = client.digest_final(session, 32)
    expect_ok(result.rv, "C_DigestFinal after CKR_BUFFER_TOO_SMALL (the operation goes on)")
    expect_equal(result.data, NIST_SHA256, "SHA-256 of the 896-bit NIST message")
    expect_rv(client.digest_update(session, NIST_MESSAGE), CKR.OPERATION_NOT_INITIALIZED,
              "C_DigestUpdate after C_DigestFinal")


def _same_positions(a: bytes, b: bytes) -> int:
    return sum(1 for x, y in zip(a, b, strict=True) if x == y)


def generate_random(ctx: Context) -> None:
    client = ctx.client
    outputs = []
    for _ in range(2):
        rv, data = client.generate_random(ctx.session, RANDOM_LENGTH)
        expect_ok(rv, "C_GenerateRandom")
        outputs.append(data)
    expect_ok(client.close_session(ctx.session), "C_CloseSession")
    ctx.session = 0
    ctx.session = ctx.open_session()
    rv, data = client.generate_random(ctx.session, RANDOM_LENGTH)
    expect_ok(rv, "C_GenerateRandom in a new session")
    outputs.append(data)
    expect_true(len(set(outputs)) == 3, "three random outputs are all different")
    for other, where in ((1, "the same session"), (2, "another session")):
        same = _same_positions(outputs[0], outputs[other])
        if same > RANDOM_SAME_POSITIONS:
            raise fail(f"two {RANDOM_LENGTH}-byte random outputs from {where} agree in {same} "
                       f"byte positions (at most {RANDOM_SAME_POSITIONS} expected)")
    expect_true(any(outputs[0]), "a random output is not all zero")


def generate_random_multi_thread(ctx: Context) -> None:
    seen: list[bytes] = []
    lock = threading.Lock()

    def worker(_index: int) -> None:
        session = ctx.open_session()
        try:
            for _ in range(THREAD_LOOPS):
                rv, data = ctx.client.generate_random(session, RANDOM_LENGTH)
                expect_ok(rv, "C_GenerateRandom")
                with lock:
                    seen.append(data)
        finally:
            ctx.client.close_session(session)

    run_threads(worker)
    expect_equal(len(set(seen)), THREAD_COUNT * THREAD_LOOPS,
                 "distinct random outputs of all threads")


GROUP = Group(
    "Full_PKCS11_NoObject",
    (
        Test("PKCS11_Digest", digest),
        Test("PKCS11_Digest_ErrorConditions", digest_error_conditions),
        Test("PKCS11_GenerateRandom", generate_random),
        Test("PKCS11_GenerateRandomMultiThread", generate_random_multi_thread),
    ),
    setup=Context.start,
    teardown=Context.stop,
)
