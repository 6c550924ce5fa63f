"""Fixtures of the reliability tests."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import make_url, text

from engine.db import make_engine
from tests.conftest import PG_SERVER_URL


@pytest.fixture
def fresh_url(db_kind: str, db_url: str, tmp_path: Path) -> Iterator[str]:
    """A second, empty database of the same kind as `db_url` (a restore or migration target)."""
    if db_kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'second.sqlite'}"
        return
    url = make_url(db_url)
    url = url.set(database=f"{url.database}_second")
    admin = make_engine(PG_SERVER_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    yield url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    admin.dispose()

