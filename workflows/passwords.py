"""Password hashing (argon2id) and the password policy (ASVS 6.2: length 12..128, no common passwords)."""
from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 12
MAX_LENGTH = 128
# Words of this system and of Vietnamese habits that the international list below does not know.
_LOCAL_COMMON = frozenset({
    "matkhau12345", "matkhau123456", "matkhaumoi123", "123456789abc", "admin1234567", "administrator",
    "administrator1", "kiennghi12345", "kiennghi2026", "phananh12345", "hanoi1234567", "hanoi12345678",
    "vietnam12345", "vietnam123456", "doanhnghiep123", "doanhnghiep1", "banquanly123", "banquanly1234",
    "hoalac123456", "thanglong123", "123456789000", "qwertyuiop12", "password1234", "password12345",
})


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """Return the lower-cased common passwords: zxcvbn's 30,000 most frequent plus local ones (no network)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"]) | _LOCAL_COMMON


@lru_cache(maxsize=1)
def hasher() -> PasswordHasher:
    """Return the argon2id hasher with the library's recommended parameters (RFC 9106 second profile)."""
    return PasswordHasher()


def policy_problem(password: str) -> str | None:
    """Return why a password is not acceptable, or None."""
    if len(password) < MIN_LENGTH:
        return f"Password must have at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"Password must have at most {MAX_LENGTH} characters."
    if password.lower() in common_passwords() or len(set(password)) < 4:
        return "This password is too common."
    return None


def hash_password(password: str) -> str:
    """Return the argon2id hash of a password."""
    return hasher().hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Check a password; with no stored hash, spend the same time and fail (no user enumeration by timing)."""
    try:
        return hasher().verify(stored or _DUMMY_HASH(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Tell whether a hash was made with other parameters (or another algorithm) than the current hasher's."""
    try:
        return hasher().check_needs_rehash(stored)
    except (InvalidHashError, ValueError):
        return True


@lru_cache(maxsize=1)
def _DUMMY_HASH() -> str:  # noqa: N802 - a lazily computed constant
    return hasher().hash("not-a-real-password-for-timing")
