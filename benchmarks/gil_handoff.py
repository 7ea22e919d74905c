#!/usr/bin/env python3
"""How much Python per operation two threads can afford before signing stops scaling.

pyca/cryptography (47 and later) releases the GIL while OpenSSL signs. This script signs
ECDSA P-256 hashes in one thread, then in two, adding a fixed amount of pure-Python work
(a busy loop) before each signature, and prints the 2-thread / 1-thread ratio for each
amount: the ceiling any Python PKCS #11 layer over pyca faces on this machine, whatever it
does (benchmarks/README.md, "After issue 10").

    python benchmarks/gil_handoff.py [--ops 10000] [--loops 0,100,300,600]
"""

from __future__ import annotations

import argparse
import threading
import time

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=10_000, help="signatures per thread")
    parser.add_argument("--loops", default="0,100,300,600",
                        help="busy-loop iterations of Python work per signature")
    args = parser.parse_args()
    key = ec.generate_private_key(ec.SECP256R1())
    algorithm = ec.ECDSA(utils.Prehashed(hashes.SHA256()))
    digest = b"\x01" * 32
    print("| Python work per op (us) | 1 thread (us per op) | 2 threads / 1 thread |")
    print("|--:|--:|--:|")
    for loops in (int(n) for n in args.loops.split(",")):

        def work(count: int, loops: int = loops) -> None:
            for _ in range(count):
                total = 0
                for i in range(loops):
                    total += i
                key.sign(digest, algorithm)

        start = time.perf_counter()
        busy = 0
        for i in range(loops * 1000):
            busy += i
        python_us = (time.perf_counter() - start) / 1000 * 1e6
        start = time.perf_counter()
        work(args.ops)
        one = (time.perf_counter() - start) / args.ops
        threads = [threading.Thread(target=work, args=(args.ops,)) for _ in range(2)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        two = (time.perf_counter() - start) / (2 * args.ops)
        print(f"| {python_us:.1f} | {one * 1e6:.1f} | {one / two:.2f}x |")


if __name__ == "__main__":
    main()
