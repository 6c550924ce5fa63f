"""Bulk copies of a real petition (PostgreSQL, INSERT ... SELECT over generate_series): fast volume.

A template petition is driven through the engine to some wait state; `clone_petition` then copies its
process_instance, petition, open human_task and unfired timer rows N times in four statements. Every UUID in
the copy (task ids in the serialized state, the task row ids, the timer rows' task ids) gets the copy's number
as its last 12 hex digits, and the tracking code becomes `BT.<number>`, so copies are independent instances the
engine loads, fires and completes like the original.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import inspect, text

UUID_TAIL = r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-)[0-9a-f]{12}"


def code_sql(number: str) -> str:
    """SQL expression of the tracking code of copy `number`."""
    return f"('BT.' || lpad(({number})::text, 9, '0'))"


def _tail(number: str) -> str:
    return f"lpad(to_hex({number}), 12, '0')"


def _columns(conn: Any, table: str) -> list[str]:
    return [c["name"] for c in inspect(conn).get_columns(table)]


def _copy(conn: Any, table: str, where: str, overrides: dict[str, str], n: int, start: int, skip: tuple[str, ...] = ()
          ) -> int:
    cols = [c for c in _columns(conn, table) if c not in skip]
    select = ", ".join(overrides.get(c, f"t.{c}") for c in cols)
    sql = (f"INSERT INTO {table} ({', '.join(cols)}) SELECT {select} FROM {table} t, "
           f"generate_series(CAST(:start AS integer), CAST(:stop AS integer)) AS g WHERE {where}")
    return conn.execute(text(sql), {"start": start, "stop": start + n - 1}).rowcount


def _setval(conn: Any, table: str) -> None:
    conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))


def clone_petition(conn: Any, tracking_code: str, n: int, start: int = 1) -> None:
    """Copy the petition `tracking_code` with its instance, open tasks and unfired timers as copies start..start+n-1."""
    instance_id = conn.execute(text("SELECT instance_id FROM petition WHERE tracking_code = :c"),
                               {"c": tracking_code}).scalar_one()
    base_i = conn.execute(text("SELECT max(id) FROM process_instance")).scalar_one()
    base_p = conn.execute(text("SELECT max(id) FROM petition")).scalar_one()
    code = code_sql("g")
    state = f"regexp_replace(replace(t.state, '{tracking_code}', {code}), '{UUID_TAIL}', '\\1' || {_tail('g')}, 'g')"
    conn.execute(text("SET LOCAL synchronous_commit = off"))
    _copy(conn, "process_instance", f"t.id = {instance_id}",
          {"id": f"{base_i} + g", "business_key": code, "state": state}, n, start)
    _copy(conn, "petition", f"t.tracking_code = '{tracking_code}'",
          {"id": f"{base_p} + g", "tracking_code": code, "instance_id": f"{base_i} + g"}, n, start)
    _copy(conn, "human_task", f"t.instance_id = {instance_id} AND t.status = 'open'",
          {"id": f"left(t.id, 24) || {_tail('g')}", "instance_id": f"{base_i} + g", "business_key": code}, n, start)
    _copy(conn, "timer", f"t.instance_id = {instance_id} AND t.fired_at IS NULL",
          {"instance_id": f"{base_i} + g", "task_id": f"left(t.task_id, 24) || {_tail('g')}"}, n, start, skip=("id",))
    for table in ("process_instance", "petition"):
        _setval(conn, table)
