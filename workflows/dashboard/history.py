"""Generate a realistic petition history in bulk (`petitions generate-history`), for the dashboard and its benchmark.

Rows are written straight into the tables the engine fills (petition, process_instance, human_task,
audit_event) with bulk inserts, so 20,000 petitions take seconds rather than the hours the engine would need.
They match what the engine writes: the same step ids, lanes, scopes, due-date rules, status projection and
dashboard facts, so the dashboard reads generated and real petitions alike. Audit events are appended through
`engine.audit.record_many`, which extends the hash chain (`petitions audit verify` still passes).

Generated rows are marked: petitions and enterprises carry `is_demo`, and their instances
`serializer_version = "generated"` with an empty state: they can be read (lists, history, figures) but never
advanced by the engine.
"""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from engine import audit
from engine.db import utcnow
from engine.models import HumanTask, InstanceStatus, ProcessDefinition, ProcessInstance
from workflows.calendar import HANOI, WorkingCalendar, load_calendar
from workflows.dashboard import stages
from workflows.dashboard.simulation import SLOW_STEP, Clock, PetitionRun, Profile, Simulated
from workflows.models import Enterprise, Petition, TrackingCounter
from workflows.reference import get_reference
from workflows.wiring import PROCESS_ID

GENERATED = "generated"  # serializer_version of generated instances


@dataclass(frozen=True)
class GeneratedHistory:
    """What one run wrote."""

    petitions: int
    open_petitions: int
    tasks: int
    events: int
    first_day: dt.date
    last_day: dt.date
    slow_step: str


def _profile(rng: random.Random) -> Profile:
    ref = get_reference()
    zones, categories = list(ref.zones), list(ref.categories)
    routing = {}
    for category in categories:
        for zone in zones:
            route = ref.route(category, zone)
            routing[(category, zone)] = (route.lead_unit, list(route.coordinating_agencies), route.working_days)
    return Profile(
        zones=zones, zone_weights=[rng.uniform(0.3, 3.0) for _ in zones],
        channels=list(ref.channels), channel_weights=[rng.uniform(0.5, 4.0) for _ in ref.channels],
        categories=categories, category_weights=[rng.uniform(0.3, 3.0) for _ in categories],
        routing=routing, unit_speed={unit: rng.uniform(0.6, 1.7) for unit in ref.units},
    )


def _enterprises(session: Session, rng: random.Random, count: int, seed: int) -> list[tuple[int, str, str]]:
    codes = [f"98{seed % 100:02d}{i:06d}" for i in range(count)]
    known = set(session.scalars(select(Enterprise.tax_code).where(Enterprise.tax_code.in_(codes))))
    names = ("Công ty TNHH", "Công ty CP", "Công ty TNHH MTV")
    rows = [{"tax_code": code, "name": f"{rng.choice(names)} Sản xuất {i + 1}", "is_demo": True,
             "created_at": utcnow()} for i, code in enumerate(codes) if code not in known]
    if rows:
        session.execute(insert(Enterprise), rows)
    found = session.execute(select(Enterprise.id, Enterprise.tax_code, Enterprise.zone)
                            .where(Enterprise.tax_code.in_(codes)))
    return [(row.id, row.tax_code, row.zone or "") for row in found]


def _receipts(rng: random.Random, calendar: WorkingCalendar, count: int, start: dt.datetime,
              now: dt.datetime) -> list[tuple[dt.datetime, dt.date]]:
    span = (now - start).total_seconds()
    moments = []
    for _ in range(count):
        # Slightly more petitions lately (the Board's volume grows), in office hours on the day drawn.
        when = start + dt.timedelta(seconds=span * (rng.random() ** 0.85))
        local = when.astimezone(HANOI)
        local = local.replace(hour=rng.choice((8, 9, 10, 11, 13, 14, 15, 16, 17, 19)), minute=rng.randint(0, 59))
        moment = min(local.astimezone(dt.timezone.utc), now - dt.timedelta(minutes=1))
        moments.append(moment)
    moments.sort()
    return [(m, calendar.receipt_date(m)) for m in moments]


def _next_numbers(session: Session, count: int) -> int:
    counter = session.get(TrackingCounter, "KN")
    if counter is None:
        counter = TrackingCounter(series="KN", last=0)
        session.add(counter)
    first = counter.last + 1
    counter.last += count
    session.flush()
    return first


def _simulate(rng: random.Random, clock: Clock, now: dt.datetime, profile: Profile,
              petition: dict[str, Any], instance_id: int) -> Simulated:
    run = PetitionRun(rng, clock, now, petition, instance_id)
    enterprise = f"dn_{petition['tax_code']}"
    run.last_actor = (enterprise, "enterprise")
    run.event(petition["received_at"], enterprise, "enterprise", "PETITION_RECEIVED",
              data={"channel": petition["channel"], "enterprise": petition["tax_code"], "title": petition["title"],
                    "received_date": petition["received_date"].isoformat()})
    run.event(petition["received_at"], enterprise, "enterprise", "PROCESS_STARTED")
    routing = profile.routing[(petition["category"], petition["zone"])]
    speed = profile.unit_speed.get(routing[0], 1.0)
    if stages.register(run, enterprise) and stages.classify(run) and stages.assign_and_handle(run, routing, speed) \
            and stages.answer(run, speed):
        stages.rate(run, speed)
    return run.out


def _petition_values(rng: random.Random, profile: Profile, code: str, received: tuple[dt.datetime, dt.date],
                     enterprise: tuple[int, str, str], pid: int, iid: int) -> dict[str, Any]:
    category = rng.choices(profile.categories, profile.category_weights)[0]
    ref = get_reference()
    return {
        "id": pid, "tracking_code": code, "enterprise_id": enterprise[0], "tax_code": enterprise[1],
        "instance_id": iid, "title": f"Kiến nghị về {ref.categories[category].name_vi.lower()}",
        "content": "Doanh nghiệp đề nghị Ban Quản lý xem xét, giải quyết.",
        "zone": rng.choices(profile.zones, profile.zone_weights)[0],
        "channel": rng.choices(profile.channels, profile.channel_weights)[0],
        "category_hint": category if rng.random() < 0.7 else None, "category": category,
        "received_at": received[0], "received_date": received[1], "created_by": f"dn_{enterprise[1]}",
        "is_demo": True, "status": "MOI_TIEP_NHAN", "reopen_count": 0,
        # Every row has every key, so that the bulk insert sends one statement per batch.
        **dict.fromkeys(("petition_type", "priority", "lead_unit", "due_date", "rating", "closed_at", "answered_at",
                         "answer_due_date", "within_authority", "result_type")),
    }


_NOT_COLUMNS = ("tax_code", "working_days")


def _instance_row(sim: Simulated, definition_id: int) -> dict[str, Any]:
    petition = sim.petition
    last = max([e["at"] for e in sim.events])
    return {"id": petition["instance_id"], "definition_id": definition_id, "business_key": petition["tracking_code"],
            "status": InstanceStatus.RUNNING if sim.open_ else InstanceStatus.COMPLETED,
            "business_status": petition["status"], "serializer_version": GENERATED, "state": "{}",
            "end_event": sim.end_event, "version": 1, "created_at": petition["received_at"], "updated_at": last}


def _fix_sequences(session: Session) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return
    for table in ("petition", "process_instance"):
        session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                             f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"))
    # Fresh statistics after a bulk load, so that the planner picks the dashboard's indexes at once.
    session.execute(text("ANALYZE petition, human_task"))


def generate_history(session: Session, petitions: int, years: float, seed: int,
                     now: dt.datetime | None = None) -> GeneratedHistory:
    """Write `petitions` simulated petitions received over the last `years` years, reproducibly from `seed`.

    Raises LookupError when the petition process has not been deployed (run `petitions init`).
    """
    now = now or utcnow()
    rng = random.Random(seed)
    definition = session.scalar(select(ProcessDefinition).where(ProcessDefinition.process_id == PROCESS_ID)
                                .order_by(ProcessDefinition.version.desc()).limit(1))
    if definition is None:
        raise LookupError("the petition process is not deployed; run `petitions init` first")
    calendar = load_calendar(session)
    start = now - dt.timedelta(days=365.25 * years)
    clock = Clock(calendar, start.date(), now.date())
    profile = _profile(rng)
    enterprises = _enterprises(session, rng, max(40, petitions // 20), seed)
    receipts = _receipts(rng, calendar, petitions, start, now)
    first_number = _next_numbers(session, petitions)
    pid = (session.scalar(select(func.max(Petition.id))) or 0) + 1
    iid = (session.scalar(select(func.max(ProcessInstance.id))) or 0) + 1
    sims = []
    for n, received in enumerate(receipts):
        code = f"KN.{received[0].astimezone(HANOI):%Y%m%d}.{first_number + n:04d}"
        values = _petition_values(rng, profile, code, received, rng.choice(enterprises), pid + n, iid + n)
        sims.append(_simulate(rng, clock, now, profile, values, iid + n))
    return _write(session, sims, definition.id, receipts)


def _write(session: Session, sims: list[Simulated], definition_id: int,
           receipts: list[tuple[dt.datetime, dt.date]]) -> GeneratedHistory:
    for chunk in range(0, len(sims), 2000):
        part = sims[chunk:chunk + 2000]
        session.execute(insert(ProcessInstance.__table__), [_instance_row(s, definition_id) for s in part])
        session.execute(insert(Petition.__table__), [{k: v for k, v in s.petition.items() if k not in _NOT_COLUMNS}
                                                     for s in part])
        tasks = [t for s in part for t in s.tasks]
        if tasks:
            session.execute(insert(HumanTask.__table__), tasks)
    _fix_sequences(session)
    events = audit.record_many(session, (e for s in sims for e in s.events))
    session.flush()
    return GeneratedHistory(
        petitions=len(sims), open_petitions=sum(1 for s in sims if s.open_), tasks=sum(len(s.tasks) for s in sims),
        events=events, first_day=receipts[0][1] if receipts else dt.date.today(),
        last_day=receipts[-1][1] if receipts else dt.date.today(), slow_step=SLOW_STEP,
    )
