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
        )

    def flask_config(self) -> dict[str, Any]:
        """Return the Flask config keys derived from these settings (overriding Flask's unsafe defaults)."""
        return {
            "SECRET_KEY": self.secret_key,
            "SESSION_COOKIE_SECURE": self.secure_cookies,
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "REMEMBER_COOKIE_SECURE": self.secure_cookies,
            "REMEMBER_COOKIE_HTTPONLY": True,
            "PERMANENT_SESSION_LIFETIME": 12 * 3600,
            "MAX_CONTENT_LENGTH": 20 * 1024 * 1024,
            "WTF_CSRF_TIME_LIMIT": 12 * 3600,
            "BABEL_DEFAULT_LOCALE": "vi",
            "BABEL_DEFAULT_TIMEZONE": "Asia/Ho_Chi_Minh",
            "JSON_SORT_KEYS": False,
            "PETITIONS_DATABASE_URL": self.database_url,
            "PETITIONS_RUN_SCHEDULER": self.run_scheduler,
        }
