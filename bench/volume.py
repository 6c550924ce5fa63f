"""Bulk history for the volume benchmarks (PostgreSQL, INSERT ... SELECT over generate_series).

`populate(conn, petitions, open_tasks)` writes `petitions` petitions with their process_instance rows (a
placeholder state: these rows are never loaded by the measured queries), the newest `open_tasks` of them
still open with one open human task each, spread over the lanes like a real inbox (intake, leader, the
units, the agencies), and `history` completed task rows per petition. Dates span two years. Priorities mix
as at the Board: 5 % KHAN, 15 % CAO, the rest THUONG; each task row carries its petition's rank.
"""
from __future__ import annotations

import time
from typing import Any

from sqlalchemy import inspect, text

from workflows.priority import rank_sql

UNITS = ("QHXD", "TNMT", "DNLD", "KHCN", "QLDT", "VP")
AGENCIES = ("EVNHN", "SCT", "SXD", "THUE", "HQ", "BHXH", "CAPNUOC", "CDT_HT")
ZONES = ("TL", "HHTP", "KCNC_SH", "BTL", "NB")
# Open steps by share of the open tasks: (bpmn id, name, role, scope kind, scope list or None).
STEPS = (
    ("register", "Tiếp nhận", "intake", None, None),
    ("classify", "Phân loại", "intake", None, None),
    ("assign", "Giao xử lý", "leader", None, None),
    ("handle", "Xử lý", "unit", "unit", UNITS),
    ("handle", "Xử lý", "unit", "unit", UNITS),
    ("coordinate", "Phối hợp", "agency", "agency", AGENCIES),
    ("coordinate", "Phối hợp", "agency", "agency", AGENCIES),
    ("draft_answer", "Dự thảo trả lời", "unit", "unit", UNITS),
    ("approve", "Phê duyệt", "leader", None, None),
    ("send_answer", "Gửi trả lời", "intake", None, None),
)


def _array(values: tuple[str, ...] | None) -> str:
    return "ARRAY[" + ", ".join(f"'{v}'" for v in values or ("",)) + "]"


def _case(column: int) -> str:
    """SQL CASE over (g % len(STEPS)) giving the step's value at `column`."""
    parts = []
    for i, step in enumerate(STEPS):
        value = step[column]
        parts.append(f"WHEN {i} THEN " + ("NULL" if value is None else f"'{value}'"))
    return f"(CASE (g % {len(STEPS)}) {' '.join(parts)} END)"


def _scope_value() -> str:
    parts = [f"WHEN {i} THEN ({_array(step[4])})[1 + (g / {len(STEPS)}) % {len(step[4])}]"
             for i, step in enumerate(STEPS) if step[4]]
    return f"(CASE (g % {len(STEPS)}) {' '.join(parts)} ELSE NULL END)"


def code(n: int) -> str:
    """Tracking code of bulk petition number n (as generated in SQL below)."""
    return f"KN.V{n:010d}"


CODE_SQL = "('KN.V' || lpad(g::text, 10, '0'))"
# Petition g's priority, drawn from a hash of g (not from g's residues, which choose the lane and scope), so
# that every lane gets the same mix.
_PERCENT = "mod(hashint4(g)::bigint + 2147483648, 100)"
PRIORITY_SQL = f"(CASE WHEN {_PERCENT} < 5 THEN 'KHAN' WHEN {_PERCENT} < 20 THEN 'CAO' ELSE 'THUONG' END)"


def _insert(conn: Any, table: str, values: dict[str, str], stop: int, start: int = 1) -> None:
    """INSERT ... SELECT over g = start..stop; NOT NULL columns without a default get a zero value."""
    for col in inspect(conn).get_columns(table):
        if col["name"] in values or col["nullable"] or col.get("default") is not None or col["name"] == "id":
            continue
        kind = str(col["type"]).upper()
        values[col["name"]] = "0" if "INT" in kind else "false" if "BOOL" in kind else "'{}'" if "JSON" in kind \
            else "now()" if "TIME" in kind else "''"
    cols = ", ".join(values)
    conn.execute(text(f"INSERT INTO {table} ({cols}) SELECT {', '.join(values.values())} "
                      f"FROM generate_series(CAST({start} AS integer), CAST({stop} AS integer)) AS g"))


def populate(conn: Any, petitions: int, open_tasks: int, history: int = 2) -> dict[str, float]:
    """Bulk-insert the history; return the seconds each part took."""
    timings: dict[str, float] = {}
    definition = conn.execute(text("SELECT max(id) FROM process_definition")).scalar_one()
    enterprise = conn.execute(text("SELECT min(id) FROM enterprise")).scalar_one()
    base_i = conn.execute(text("SELECT coalesce(max(id), 0) FROM process_instance")).scalar_one()
    base_p = conn.execute(text("SELECT coalesce(max(id), 0) FROM petition")).scalar_one()
    first_open = petitions - open_tasks + 1
    conn.execute(text("SET LOCAL synchronous_commit = off"))
    received = f"(timestamptz '2024-11-01 02:00+00' + (g * interval '63 seconds') * {1_000_000 / petitions:.6f})"
    started = time.perf_counter()
    _insert(conn, "process_instance", {
        "id": f"{base_i} + g", "definition_id": str(definition), "business_key": CODE_SQL,
        "status": f"(CASE WHEN g >= {first_open} THEN 'running' ELSE 'completed' END)",
        "business_status": f"(CASE WHEN g >= {first_open} THEN 'DANG_XU_LY' ELSE 'DONG' END)",
        "serializer_version": "'bulk'", "state": "'{}'", "version": "1",
        "created_at": received, "updated_at": received,
    }, petitions)
    timings["process_instance"] = time.perf_counter() - started
    started = time.perf_counter()
    _insert(conn, "petition", {
        "id": f"{base_p} + g", "tracking_code": CODE_SQL, "enterprise_id": str(enterprise),
        "instance_id": f"{base_i} + g", "title": "'Kiến nghị số ' || g", "content": "'Nội dung kiến nghị số ' || g",
        "zone": f"({_array(ZONES)})[1 + g % {len(ZONES)}]", "channel": "'CONG_DVC'", "received_at": received,
        "received_date": f"({received})::date", "created_by": "'bulk'", "is_demo": "false",
        "status": f"(CASE WHEN g >= {first_open} THEN 'DANG_XU_LY' ELSE 'DONG' END)",
        "category": "'DIEN'", "petition_type": "'KN'",
        "priority": PRIORITY_SQL,
        "lead_unit": f"({_array(UNITS)})[1 + g % {len(UNITS)}]",
        "due_date": f"(({received})::date + 20 + g % 30)",
        "closed_at": f"(CASE WHEN g >= {first_open} THEN NULL ELSE {received} + interval '20 days' END)",
    }, petitions)
    timings["petition"] = time.perf_counter() - started
    started = time.perf_counter()
    for h in range(history):
        step = STEPS[h % len(STEPS)]
        _insert(conn, "human_task", {
            "id": f"'h{h}-' || g", "instance_id": f"{base_i} + g", "business_key": CODE_SQL,
            "bpmn_id": f"'{step[0]}'", "name": f"'{step[1]}'", "lane": f"'{step[2]}'", "role": f"'{step[2]}'",
            "scope_kind": "NULL", "scope_value": "NULL", "form": f"'{step[0]}.json'", "status": "'completed'",
            "due_date": f"({received})::date + {h + 1}", "priority": rank_sql(PRIORITY_SQL), "created_at": received,
            "completed_at": f"{received} + interval '{h + 1} days'", "completed_by": "'bulk'", "data": "'{}'",
        }, petitions)
    _insert(conn, "human_task", {
        "id": "'o-' || g", "instance_id": f"{base_i} + g", "business_key": CODE_SQL,
        "bpmn_id": _case(0), "name": _case(1), "lane": _case(2), "role": _case(2), "scope_kind": _case(3),
        "scope_value": _scope_value(), "form": _case(0) + " || '.json'", "status": "'open'",
        "due_date": "(date '2026-12-01' + (g % 60) - 30)", "priority": rank_sql(PRIORITY_SQL), "created_at": received,
    }, petitions, start=first_open)
    timings["human_task"] = time.perf_counter() - started
    started = time.perf_counter()
    for table in ("process_instance", "petition"):
        conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    timings["setval"] = time.perf_counter() - started
    return timings


def analyze(engine: Any) -> float:
    """VACUUM ANALYZE the bulk tables (as autovacuum would); return the seconds it took."""
    started = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("process_instance", "petition", "human_task"):
            conn.execute(text(f"VACUUM ANALYZE {table}"))
    return time.perf_counter() - started
