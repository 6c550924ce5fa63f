"""Password hashing (argon2id) and the password policy."""
from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 12
MAX_LENGTH = 128
_COMMON = {"password123", "123456789012", "qwertyuiop12", "password1234", "matkhau12345", "admin1234567"}


@lru_cache(maxsize=1)
def hasher() -> PasswordHasher:
    """Return the argon2id hasher with the library's recommended parameters."""
    return PasswordHasher()


def policy_problem(password: str) -> str | None:
    """Return why a password is not acceptable, or None."""
    if len(password) < MIN_LENGTH:
        return f"Password must have at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"Password must have at most {MAX_LENGTH} characters."
    if password.lower() in _COMMON:
        return "This password is too common."
    return None


def hash_password(password: str) -> str:
    """Return the argon2id hash of a password."""
    return hasher().hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Check a password; with no stored hash, spend the same time and fail (no user enumeration by timing)."""
    try:
        return hasher().verify(stored or _DUMMY_HASH(), password)
    except (VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _DUMMY_HASH() -> str:  # noqa: N802 - a lazily computed constant
    return hasher().hash("not-a-real-password-for-timing")
