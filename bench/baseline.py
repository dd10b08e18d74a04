"""The benchmarks' yardstick: the bare argon2id hash rate with the platform's parameters."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher

from services.accounts.rules.passwords import make_hasher
from services.accounts.settings import AccountsSettings

PASSWORD = "Spring2027a"  # the password tests.support.family registers with


def argon2_defaults() -> tuple[int, int, int]:
    fields = AccountsSettings.model_fields
    return tuple(fields[name].default for name in
                 ("ARGON2_MEMORY_KIB", "ARGON2_TIME_COST", "ARGON2_PARALLELISM"))


def platform_hasher() -> PasswordHasher:
    return make_hasher(*argon2_defaults())


def hash_rate(hashes: int, threads: int) -> tuple[float, float]:
    """Bare argon2id hashes/s with the platform's parameters (argon2-cffi releases the GIL),
    and the cores the hashing got meanwhile (below `threads`: others took CPU time)."""
    hasher = platform_hasher()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(hasher.hash, [PASSWORD] * threads))  # start the threads, touch memory
        cpu, started = time.process_time(), time.perf_counter()
        list(pool.map(hasher.hash, [PASSWORD] * hashes))
        wall = time.perf_counter() - started
        return hashes / wall, (time.process_time() - cpu) / wall
