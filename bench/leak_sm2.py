"""Leak check (not a test): RSS over 100 000 SM2 operations through the libcrypto backend.

Run: .venv/bin/python bench/leak_sm2.py [--ops 100000]

Signs, verifies a good and a bad signature, and makes a fresh key object (so a fresh EVP_PKEY)
every round; prints RSS every tenth of the run to stderr and one JSON object last on stdout.
Flat RSS after the first sample means every EVP_MD_CTX, EVP_PKEY_CTX and EVP_PKEY is freed.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys

from watertel.crypto import SM2PrivateKey, SM2PublicKey, use_backend


def rss_kib() -> int:
    gc.collect()
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGESIZE") // 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=100_000, help="operations (3 per round)")
    args = parser.parse_args()
    base = SM2PrivateKey.generate()
    samples, rounds = [], args.ops // 3
    with use_backend("openssl"):
        for i in range(rounds):
            key = SM2PrivateKey(base.secret, SM2PublicKey(base.public.point))
            message = b"reading %d" % i
            signature = key.sign(message)
            assert key.public.verify(signature, message) and not key.public.verify(signature, b"x")
            if i % (rounds // 10) == 0 or i == rounds - 1:
                samples.append(rss_kib())
                print(f"  round {i + 1}/{rounds}: RSS {samples[-1]} KiB", file=sys.stderr)
    print(json.dumps({"bench": "leak_sm2", "ops": rounds * 3, "rss_kib": samples,
                      "growth_after_first_tenth_kib": samples[-1] - samples[1]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
