"""Password hashing with the standard library's scrypt.

A hash is stored as ``scrypt$<n>$<r>$<p>$<salt>$<hash>`` (salt and hash in base64), so
the cost parameters travel with each hash and can be raised later without invalidating
the stored ones. Verification compares in constant time (:func:`hmac.compare_digest`).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import secrets

__all__ = ["dummy_hash", "hash_password", "random_password", "verify_password"]

#: scrypt cost: n=2**15, r=8 needs 32 MiB and ~0.1 s per hash on one core — slow enough to
#: make guessing expensive, cheap enough to verify once a minute per client (the server
#: caches successful checks; see :mod:`tracklet_http.server.auth.service`).
N, R, P = 2**15, 8, 1
_SALT_BYTES = 16
_HASH_BYTES = 32
_MAXMEM = 256 * 1024 * 1024  # refuses absurd parameters read back from a tampered row


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=length, maxmem=_MAXMEM)


def hash_password(password: str) -> str:
    """A new salted hash of ``password``."""
    salt = os.urandom(_SALT_BYTES)
    digest = _scrypt(password, salt, N, R, P, _HASH_BYTES)
    return "$".join(
        ("scrypt", str(N), str(R), str(P), base64.b64encode(salt).decode(), base64.b64encode(digest).decode())
    )


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (False for a malformed or foreign hash)."""
    try:
        scheme, n, r, p, salt_b64, hash_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt, expected = base64.b64decode(salt_b64), base64.b64decode(hash_b64)
        actual = _scrypt(password, salt, int(n), int(r), int(p), len(expected))
    except (ValueError, TypeError, MemoryError):
        return False
    return hmac.compare_digest(actual, expected)


@functools.cache
def dummy_hash() -> str:
    """A hash to verify against when a user does not exist, so an unknown name costs as
    much time as a wrong password and timing does not reveal which names exist."""
    return hash_password(secrets.token_urlsafe(16))


def random_password() -> str:
    """A password for the bootstrap admin when none is configured (~128 bits)."""
    return secrets.token_urlsafe(18)
