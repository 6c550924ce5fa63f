"""Online backup and restore of the database: SQLite's backup API, PostgreSQL's pg_dump / pg_restore.

- SQLite: `sqlite3.Connection.backup` copies a consistent snapshot page by page while the application keeps
  running (never copy the file itself: the WAL holds committed pages the main file does not have yet).
  Restoring writes the backup into the configured file; stop the application first.
- PostgreSQL: `pg_dump --format=custom` (a consistent snapshot, also while the application runs) and
  `pg_restore --clean --if-exists --no-owner` into the configured database (an empty one, or one whose tables
  it replaces). The client tools must be at least the server's major version. A password in the URL is
  passed as PGPASSWORD, never on the command line.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import URL, make_url

from engine.errors import EngineError


class BackupFailed(EngineError):
    """A backup or restore could not be made (a missing tool, an unreadable file, a failed dump)."""


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupFailed("an in-memory SQLite database cannot be backed up")
    return Path(url.database)


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """Return a libpq connection URI without the password, and the environment carrying it."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql")._replace(password=None)  # URL.set ignores None
    return plain.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupFailed(f"{name} is not installed (Debian: apt-get install postgresql-client)")
    return found


def _run(args: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(args, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupFailed(f"{Path(args[0]).name} failed: {result.stderr.strip()[-2000:]}")


def backup(database_url: str, target: Path) -> Path:
    """Write a consistent backup of the database to `target` (a file); return it."""
    url = make_url(database_url)
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if url.get_backend_name() == "sqlite":
        source = _sqlite_path(url)
        if not source.exists():
            raise BackupFailed(f"{source} does not exist")
        with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
            src.backup(dst)
        return target
    if url.get_backend_name() == "postgresql":
        conninfo, env = _libpq(url)
        _run([_tool("pg_dump"), "--format=custom", "--file", str(target), "--dbname", conninfo], env)
        return target
    raise BackupFailed(f"no backup method for {url.get_backend_name()}")


def restore(source: Path, database_url: str) -> None:
    """Restore a backup made by `backup` into the database (stop the application first)."""
    url = make_url(database_url)
    source = Path(source)
    if not source.is_file():
        raise BackupFailed(f"{source} is not a backup file")
    if url.get_backend_name() == "sqlite":
        target = _sqlite_path(url)
        with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
            src.backup(dst)
        return
    if url.get_backend_name() == "postgresql":
        conninfo, env = _libpq(url)
        _run([_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--exit-on-error", "--dbname", conninfo,
              str(source)], env)
        return
    raise BackupFailed(f"no restore method for {url.get_backend_name()}")
