"""Password hashing with the standard library's scrypt, on the exact bytes of a password.

New hashes are stored as ``scrypt-hmac$<n>$<r>$<p>$<salt>$<hash>`` (salt and hash in
base64), so the cost parameters travel with each hash and can be raised later without
invalidating the stored ones. scrypt's input is HMAC-SHA256(salt, password), not the
password: scrypt keys HMAC with its input, and HMAC pads a key shorter than its block
with zero bytes, so ``""`` and twelve NULs (or ``"secret"`` and ``"secret\\0"``) hashed
alike under plain scrypt. A fixed-length input makes the hash a function of every byte.

Hashes made before that (``scrypt$…``) still verify, but only for a password of at least
:data:`MIN_PASSWORD_LENGTH` bytes without a NUL, the only passwords they cannot confuse;
:func:`needs_rehash` tells the caller to store a new hash once such a password verified.
Verification compares in constant time (:func:`hmac.compare_digest`).

New passwords (:func:`password_problem`): 12 to 4096 characters, no control characters
(no NUL, tab, newline, DEL, C1 controls) and no lone surrogates, which have no UTF-8 bytes.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import secrets
import unicodedata

__all__ = [
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "dummy_hash",
    "hash_password",
    "needs_rehash",
    "password_problem",
    "random_password",
    "verify_password",
]

#: scrypt cost: n=2**15, r=8 needs 32 MiB and ~0.1 s per hash on one core — slow enough to
#: make guessing expensive, cheap enough to verify once a minute per client (the server
#: caches successful checks; see :mod:`tracklet_http.server.auth.service`).
N, R, P = 2**15, 8, 1
#: MLflow's password policy: at least 12 characters.
MIN_PASSWORD_LENGTH = 12
#: Longest password, in characters.
MAX_PASSWORD_LENGTH = 4096
SCHEME = "scrypt-hmac"
_LEGACY_SCHEME = "scrypt"
_SALT_BYTES = 16
_HASH_BYTES = 32
_MAXMEM = 256 * 1024 * 1024  # refuses absurd parameters read back from a tampered row


def _bytes(password: str | bytes) -> bytes:
    # strict: a str that has no UTF-8 form (a lone surrogate) raises rather than being altered
    return password if isinstance(password, bytes) else password.encode("utf-8")


def _scrypt(secret: bytes, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(secret, salt=salt, n=n, r=r, p=p, dklen=length, maxmem=_MAXMEM)


def _prehash(password: bytes, salt: bytes) -> bytes:
    return hmac.new(salt, password, hashlib.sha256).digest()


def hash_password(password: str | bytes) -> str:
    """A new salted hash of ``password`` (a str is hashed as its UTF-8 bytes)."""
    salt = os.urandom(_SALT_BYTES)
    digest = _scrypt(_prehash(_bytes(password), salt), salt, N, R, P, _HASH_BYTES)
    return "$".join(
        (SCHEME, str(N), str(R), str(P), base64.b64encode(salt).decode(), base64.b64encode(digest).decode())
    )


def verify_password(password: str | bytes, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (False for a malformed or foreign hash)."""
    try:
        secret = _bytes(password)
        scheme, n, r, p, salt_b64, hash_b64 = stored.split("$")
        salt, expected = base64.b64decode(salt_b64), base64.b64decode(hash_b64)
        if scheme == SCHEME:
            secret = _prehash(secret, salt)
        elif scheme != _LEGACY_SCHEME or len(secret) < MIN_PASSWORD_LENGTH or b"\0" in secret:
            return False
        actual = _scrypt(secret, salt, int(n), int(r), int(p), len(expected))
    except (ValueError, TypeError, MemoryError):  # UnicodeEncodeError is a ValueError
        return False
    return hmac.compare_digest(actual, expected)


def needs_rehash(stored: str) -> bool:
    """Whether ``stored`` is in an older format, to be replaced after the next successful check."""
    return not stored.startswith(SCHEME + "$")


def password_problem(password: object) -> str | None:
    """What is wrong with ``password`` as a new password, as the end of a sentence, or None."""
    if not isinstance(password, str):
        return "expected a string"
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"a password needs at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"a password has at most {MAX_PASSWORD_LENGTH} characters"
    for position, char in enumerate(password, 1):
        category = unicodedata.category(char)
        if category in ("Cc", "Cs"):
            kind = "control characters" if category == "Cc" else "lone surrogates (no UTF-8 form)"
            return f"a password cannot contain {kind}; found U+{ord(char):04X} at character {position}"
    return None


@functools.cache
def dummy_hash() -> str:
    """A hash to verify against when a user does not exist, so an unknown name costs as
    much time as a wrong password and timing does not reveal which names exist."""
    return hash_password(secrets.token_urlsafe(16))


def random_password() -> str:
    """A password for the bootstrap admin when none is configured (~128 bits)."""
    return secrets.token_urlsafe(18)
