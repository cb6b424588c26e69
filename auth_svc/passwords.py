"""argon2id password hashing, always off the event loop (one verify costs tens of milliseconds of CPU; the
C code releases the GIL, so a thread pool keeps /healthz and every other request responsive)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError


@dataclass(frozen=True)
class Verdict:
    valid: bool
    needs_rehash: bool


class Passwords:
    def __init__(self, hasher: PasswordHasher, executor: ThreadPoolExecutor) -> None:
        self._hasher = hasher
        self._executor = executor
        # Verified when the e-mail is unknown, so that answer costs what a wrong password costs.
        self._dummy_hash = hasher.hash("not a real password: only burns the same time as a real verify")

    async def hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> Verdict:
        """Check a password; with `password_hash=None` (unknown user) verify against the dummy and fail."""
        target = password_hash if password_hash is not None else self._dummy_hash
        valid = await asyncio.get_running_loop().run_in_executor(self._executor, self._check, target, password)
        valid = valid and password_hash is not None
        return Verdict(valid=valid, needs_rehash=valid and self._hasher.check_needs_rehash(target))

    def _check(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


def password_hasher(memory_kib: int, time_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(memory_cost=memory_kib, time_cost=time_cost, parallelism=parallelism, type=Type.ID)
