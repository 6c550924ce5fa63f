"""Migration 0009 fills the dashboard's facts of petitions that existed before it from their task rows, with the
same values the engine hook writes for new petitions."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from sqlalchemy import text

from tests.integration.support import Lifecycle

MIGRATION = Path(__file__).resolve().parents[2] / "migrations" / "versions" / "0009_dashboard.py"
FACTS = "answered_at, answer_due_date, within_authority, result_type, reopen_count"


def _migration() -> Any:
    spec = importlib.util.spec_from_file_location("migration_0009", MIGRATION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _facts(session: Any) -> dict[str, tuple[Any, ...]]:
    rows = session.execute(text(f"SELECT tracking_code, {FACTS} FROM petition ORDER BY tracking_code"))
    return {row[0]: tuple(row[1:]) for row in rows}


def test_backfill_restores_what_the_engine_hook_wrote(app, session, runtime, make_user, db_kind) -> None:
    life = Lifecycle(session, runtime, make_user)
    answered, reopened, waiting = life.submit(), life.submit(), life.submit()
    for petition in (answered, reopened):
        life.to_answer(petition, agencies=())
        life.answer_and_send(petition)
    life.do(life.enterprise_user, answered, "confirm", rating="chap_nhan")
    life.do(life.enterprise_user, reopened, "confirm", rating="khong_hai_long", comment="Chưa rõ.")
    life.to_assignment(waiting, within_authority=False)
    written = _facts(session)
    assert written[reopened.tracking_code][4] == 1 and written[answered.tracking_code][0] is not None
    session.execute(text("UPDATE petition SET answered_at = NULL, answer_due_date = NULL, within_authority = NULL, "
                         "result_type = NULL, reopen_count = 0"))
    _migration()._backfill(session.connection())
    restored = _facts(session)
    for code, values in written.items():
        # The hook stamps the answer in its own step, a moment after the task row's completion time.
        assert restored[code][1:] == values[1:], code
        if values[0] is None:
            assert restored[code][0] is None
        else:
            assert abs((_moment(restored[code][0]) - _moment(values[0])).total_seconds()) < 5
    assert restored[waiting.tracking_code][2] in (False, 0)


def _moment(value: Any) -> Any:
    import datetime as dt

    value = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value
