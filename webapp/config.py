"""Configuration from the environment, declared once, with a testing variant."""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in ("1", "true", "yes", "on")


def _minutes(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else default


# Limits of the database-backed counters (webapp/ratelimit.py): bucket -> [(hits, window in seconds), ...].
RATE_LIMITS: dict[str, list[tuple[int, int]]] = {
    "login-account": [(10, 15 * 60)],  # login attempts per username without a success in between
    "login-ip": [(30, 15 * 60)],  # failed logins per client address
    "token": [(20, 60)],  # API token requests per address (on top of the two above)
    "track": [(30, 60), (300, 3600)],  # public status lookups per address
    "intake": [(5, 60), (50, 24 * 3600)],  # petitions submitted per enterprise user (officers are not limited)
    "register": [(5, 3600)],  # enterprise registrations per address
    "open311": [(60, 60), (2000, 24 * 3600)],  # Open311 requests created per address
}


def parse_rate_limits(spec: str) -> dict[str, list[tuple[int, int]]]:
    """Parse `bucket=hits/seconds[+hits/seconds],...` (PETITIONS_RATE_LIMITS) over the defaults."""
    limits = {bucket: list(pairs) for bucket, pairs in RATE_LIMITS.items()}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        bucket, _, rules = item.partition("=")
        pairs = [rule.split("/", 1) for rule in rules.split("+")]
        limits[bucket.strip()] = [(int(hits), int(seconds)) for hits, seconds in pairs]
    return limits


def _secret_key(instance_path: Path) -> str:
    if key := os.environ.get("PETITIONS_SECRET_KEY"):
        return key
    path = instance_path / "secret_key"
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


@dataclass
class Settings:
    """Every setting the app reads, with its environment variable."""

    database_url: str
    secret_key: str
    secure_cookies: bool = True
    # Read only by `petitions serve`: run the timer ticker in the web process (the default). Set
    # PETITIONS_RUN_SCHEDULER=0 with several web processes plus one `petitions scheduler`. create_app never
    # starts a scheduler itself.
    run_scheduler: bool = True
    # A session ends after this long without a request, and in any case this long after login.
    session_idle_minutes: int = 30
    session_max_minutes: int = 12 * 60
    rate_limits: dict[str, list[tuple[int, int]]] = field(default_factory=lambda: parse_rate_limits(""))
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, instance_path: Path) -> Settings:
        """Read PETITIONS_* variables; the default database is a SQLite file under instance/."""
        default_db = f"sqlite:///{instance_path / 'petitions.sqlite'}"
        return cls(
            database_url=os.environ.get("PETITIONS_DATABASE_URL", default_db),
            secret_key=_secret_key(instance_path),
            # Plain-HTTP demos on another host than localhost need PETITIONS_INSECURE_COOKIES=1.
            secure_cookies=not _flag("PETITIONS_INSECURE_COOKIES", False),
            run_scheduler=_flag("PETITIONS_RUN_SCHEDULER", True),
            session_idle_minutes=_minutes("PETITIONS_SESSION_IDLE_MINUTES", 30),
            session_max_minutes=_minutes("PETITIONS_SESSION_MAX_MINUTES", 12 * 60),
            rate_limits=parse_rate_limits(os.environ.get("PETITIONS_RATE_LIMITS", "")),
        )

    def flask_config(self) -> dict[str, Any]:
        """Return the Flask config keys derived from these settings (overriding Flask's unsafe defaults)."""
        return {
            "SECRET_KEY": self.secret_key,
            "SESSION_COOKIE_SECURE": self.secure_cookies,
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            # The __Host- prefix makes browsers refuse the cookie unless Secure, Path=/ and no Domain
            # (webapp.auth falls back to "session" when cookies are not Secure).
            "SESSION_COOKIE_NAME": "__Host-session" if self.secure_cookies else "session",
            "REMEMBER_COOKIE_SECURE": self.secure_cookies,
            "REMEMBER_COOKIE_HTTPONLY": True,
            "PERMANENT_SESSION_LIFETIME": self.session_max_minutes * 60,
            "PETITIONS_SESSION_IDLE_SECONDS": self.session_idle_minutes * 60,
            "PETITIONS_SESSION_MAX_SECONDS": self.session_max_minutes * 60,
            "PETITIONS_RATE_LIMITS": self.rate_limits,
            "MAX_CONTENT_LENGTH": 20 * 1024 * 1024,
            "WTF_CSRF_TIME_LIMIT": 12 * 3600,
            "BABEL_DEFAULT_LOCALE": "vi",
            "BABEL_DEFAULT_TIMEZONE": "Asia/Ho_Chi_Minh",
            "JSON_SORT_KEYS": False,
            "PETITIONS_DATABASE_URL": self.database_url,
            "PETITIONS_RUN_SCHEDULER": self.run_scheduler,
        }
