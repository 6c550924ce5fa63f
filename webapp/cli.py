"""The `petitions` command line: init, db, demo, users, serve, scheduler, outbox, mail-test."""
from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import threading
from collections.abc import Callable

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from engine.errors import EngineError, ValidationFailed
from webapp.bpmn_cli import bpmn_group


def _app() -> Flask:
    from webapp import create_app

    return create_app()


def _session():  # type: ignore[no-untyped-def]
    return current_app.extensions["petitions.sessions"]()


def _fail(exc: EngineError) -> None:
    if isinstance(exc, ValidationFailed):
        for field, message in exc.errors.items():
            click.echo(f"error: {field}: {message}", err=True)
    else:
        click.echo(f"error: {exc}", err=True)
    sys.exit(1)


@click.group(cls=FlaskGroup, create_app=_app, add_default_commands=False, add_version_option=False)
def cli() -> None:
    """Petition handling for the Hanoi High-Tech Parks and Industrial Zones Management Board."""


def initialise() -> None:
    """Upgrade the schema and deploy the shipped BPMN (idempotent)."""
    from workflows.database import deploy_shipped, upgrade

    upgrade(current_app.extensions["petitions.engine"])
    from workflows.calendar import seed_overrides

    with _session() as session:
        definition = deploy_shipped(session)
        seeded = seed_overrides(session)
        session.commit()
        click.echo(f"schema up to date; process '{definition.process_id}' version {definition.version} deployed")
        if seeded:
            click.echo(f"calendar: {seeded} day(s) added from the reference data")


@cli.command("init")
@with_appcontext
def init_command() -> None:
    """Create or upgrade the schema, deploy bpmn/ and check the reference data."""
    from workflows.reference import get_reference

    initialise()
    ref = get_reference()
    click.echo(f"reference data: {len(ref.zones)} zones, {len(ref.units)} units, {len(ref.agencies)} agencies, "
               f"{len(ref.categories)} categories")


@cli.group("db")
def db_group() -> None:
    """The database: schema upgrades, backup and restore."""


def _database_url() -> str:
    return current_app.config["PETITIONS_DATABASE_URL"]


def _revision() -> str | None:
    from alembic.runtime.migration import MigrationContext

    with current_app.extensions["petitions.engine"].connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="the Alembic revision to upgrade to")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Apply the schema migrations up to REVISION (head: the newest); data is kept."""
    from alembic import command

    from workflows.database import alembic_config

    before = _revision()
    engine = current_app.extensions["petitions.engine"]
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    click.echo(f"schema upgraded from {before or 'empty'} to {_revision()}")


@db_group.command("current")
@with_appcontext
def db_current() -> None:
    """Print the database's schema revision."""
    click.echo(_revision() or "empty (run `petitions db upgrade`)")


@db_group.command("backup")
@click.argument("target", type=click.Path(dir_okay=False, writable=True))
@with_appcontext
def db_backup(target: str) -> None:
    """Write a consistent backup of the running database to TARGET (SQLite backup API or pg_dump -Fc)."""
    from pathlib import Path

    from engine.backup import backup

    try:
        written = backup(_database_url(), Path(target))
    except EngineError as exc:
        _fail(exc)
    click.echo(f"backup written to {written} ({written.stat().st_size} bytes)")


@db_group.command("restore")
@click.argument("source", type=click.Path(exists=True, dir_okay=False))
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@with_appcontext
def db_restore(source: str, yes: bool) -> None:
    """Restore SOURCE (made by `db backup`) into the configured database; stop the app first."""
    from pathlib import Path

    from engine.backup import restore

    if not yes:
        click.confirm("This replaces the data of the configured database. Continue?", abort=True)
    current_app.extensions["petitions.engine"].dispose()
    try:
        restore(Path(source), _database_url())
    except EngineError as exc:
        _fail(exc)
    click.echo(f"restored {source}; schema revision {_revision()} (run `petitions db upgrade` if older)")


@cli.command("demo")
@with_appcontext
def demo_command() -> None:
    """Load demo users for every role and the sample petitions at realistic stages."""
    from workflows.demo import load_demo

    initialise()
    with _session() as session:
        summary = load_demo(session, current_app.extensions["petitions.runtime"])
        session.commit()
    click.echo(summary)


@cli.group("users")
def users_group() -> None:
    """Manage users."""


@users_group.command("add")
@click.argument("username")
@click.option("--role", "role_names", required=True, multiple=True, help="intake, leader, unit, agency, enterprise, "
              "designer, auditor or admin (repeatable)")
@click.option("--unit", default=None, help="unit code for role unit")
@click.option("--agency", default=None, help="agency code for role agency")
@click.option("--enterprise", "tax_code", default=None, help="tax code for role enterprise")
@click.option("--enterprise-name", default=None, help="creates the enterprise when the tax code is new")
@click.option("--full-name", default="", help="display name")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@with_appcontext
def users_add(username: str, role_names: tuple[str, ...], unit: str | None, agency: str | None,
              tax_code: str | None, enterprise_name: str | None, full_name: str, password: str) -> None:
    """Add a user with a role and its scope."""
    from workflows.users import create_user, get_or_create_enterprise

    with _session() as session:
        try:
            enterprise = get_or_create_enterprise(session, tax_code, enterprise_name) if tax_code else None
            user = create_user(session, username, password, list(role_names), full_name=full_name, unit=unit,
                               agency=agency, enterprise=enterprise)
        except EngineError as exc:
            _fail(exc)
        session.commit()
        click.echo(f"user {user.username} added with roles {', '.join(user.roles)}")


def _sweeper(stop: threading.Event, batch: int) -> Callable[[], int]:
    """Return the tick: one sweep of due timers with the app's sessions and runtime, its count logged."""
    from engine.timers import fire_due_timers

    sessions = current_app.extensions["petitions.sessions"]
    runtime = current_app.extensions["petitions.runtime"]
    logger = logging.getLogger("petitions.scheduler")
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    # Timers fired per transaction (engine.timers): fewer commits and chain appends; 1 = one per transaction.
    per_transaction = max(1, int(os.environ.get("PETITIONS_TIMERS_PER_TRANSACTION", "10")))

    def tick() -> int:
        fired = fire_due_timers(sessions, runtime, batch=batch, stop=stop, per_transaction=per_transaction)
        logger.info("sweep: %d timer(s) fired", fired)
        _deliver_quietly(app, logger)
        return fired

    return tick


def _log_to_stderr() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("petitions.scheduler").setLevel(logging.INFO)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # not a line per job run; errors still show


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@click.option("--scheduler/--no-scheduler", "with_scheduler", default=True, show_default=True,
              help="run the timer ticker in this process; use --no-scheduler (or PETITIONS_RUN_SCHEDULER=0) "
                   "with several web processes and one `petitions scheduler`")
@click.option("--interval", default=10.0, show_default=True, type=float, help="seconds between timer sweeps")
@with_appcontext
def serve_command(host: str, port: int, threads: int, with_scheduler: bool, interval: float) -> None:
    """Serve the app with waitress (a production WSGI server), with the timer ticker in-process."""
    from waitress import serve

    from engine.scheduler import make_scheduler

    scheduler, stop = None, threading.Event()
    if with_scheduler and current_app.config.get("PETITIONS_RUN_SCHEDULER", True):
        _log_to_stderr()
        scheduler = make_scheduler(_sweeper(stop, 100), interval)
        scheduler.start()
        click.echo(f"timer ticker running in-process (every {interval:g} s)")
    click.echo(f"serving on http://{host}:{port}/")
    try:
        serve(current_app._get_current_object(), host=host, port=port, threads=threads)  # type: ignore[attr-defined]
    finally:
        if scheduler is not None:
            stop.set()
            scheduler.shutdown(wait=True)


@cli.command("scheduler")
@click.option("--interval", default=10.0, show_default=True, type=float, help="seconds between timer sweeps")
@click.option("--batch", default=100, show_default=True, type=int, help="most timers fired per sweep")
@with_appcontext
def scheduler_command(interval: float, batch: int) -> None:
    """Run the timer ticker alone (the dedicated scheduler process); stops cleanly on SIGTERM."""
    from engine.scheduler import run_blocking

    _log_to_stderr()
    stop = threading.Event()
    click.echo(f"scheduler: sweeping due timers every {interval:g} s")
    run_blocking(_sweeper(stop, batch), interval, stop=stop)
    click.echo("scheduler stopped")


@cli.group("incidents")
def incidents_group() -> None:
    """Background steps that failed 3 times: list them, resolve them once the cause is fixed."""


@incidents_group.command("list")
@with_appcontext
def incidents_list() -> None:
    """List the open incidents, oldest first."""
    from engine.models import ProcessInstance
    from engine.timers import open_incidents

    with _session() as session:
        incidents = open_incidents(session)
        for incident in incidents:
            instance = session.get(ProcessInstance, incident.instance_id)
            click.echo(f"#{incident.id} {instance.business_key} {incident.kind} since "
                       f"{incident.created_at:%Y-%m-%d %H:%M} UTC: {incident.message}")
        click.echo(f"{len(incidents)} open incident(s)")


@incidents_group.command("resolve")
@click.argument("incident_id", type=int)
@click.option("--by", "by", required=True, help="the admin's user name (recorded in the audit log)")
@with_appcontext
def incidents_resolve(incident_id: int, by: str) -> None:
    """Resolve an incident after fixing its cause; its timer fires again on the next sweep."""
    from engine.audit import Actor
    from engine.timers import resolve_incident

    with _session() as session:
        try:
            resolve_incident(session, current_app.extensions["petitions.runtime"], incident_id, Actor(by, "admin"))
        except EngineError as exc:
            _fail(exc)
        session.commit()
    click.echo(f"incident #{incident_id} resolved; the instance runs again from the next sweep")


def deliver_outbox(app: Flask, now: dt.datetime | None = None) -> int:
    """Run one outbox delivery pass for the app (SMTP settings from the environment); return how many were sent.

    Safe to call on every scheduler tick and from several processes at once (rows are claimed one by one).
    """
    from engine.outbox import SmtpSender, deliver_pending

    sender = app.extensions.get("petitions.mail_sender") or SmtpSender.from_env()
    return deliver_pending(app.extensions["petitions.sessions"], sender, now=now)


def _deliver_quietly(app: Flask, logger: logging.Logger) -> None:
    """Run an outbox pass on the ticker; a failure is logged and never stops the timer sweeps."""
    try:
        sent = deliver_outbox(app)
    except Exception:  # noqa: BLE001 - the next tick tries again; the messages stay queued
        logger.exception("outbox delivery failed")
        return
    if sent:
        logger.info("outbox: %d e-mail(s) sent", sent)


@cli.command("outbox")
@with_appcontext
def outbox_command() -> None:
    """Send the queued e-mails once (for cron or by hand); the scheduler does this on every tick."""
    from engine.outbox import pending_count

    sent = deliver_outbox(current_app._get_current_object())  # type: ignore[attr-defined]
    with _session() as session:
        waiting = pending_count(session)
    click.echo(f"sent {sent} message(s); {waiting} still queued")


@cli.command("mail-test")
@click.argument("address")
@with_appcontext
def mail_test_command(address: str) -> None:
    """Send a test e-mail to ADDRESS right now with the SMTP settings from the environment."""
    from email.utils import make_msgid

    from engine.outbox import Mail, SmtpSender

    sender = SmtpSender.from_env()
    if not sender.configured:
        click.echo("error: no SMTP host configured (set PETITIONS_SMTP_HOST)", err=True)
        sys.exit(1)
    mail = Mail(0, make_msgid(domain=sender.domain), address, "Thư thử nghiệm của hệ thống kiến nghị",
                "Hệ thống tiếp nhận, xử lý kiến nghị đã gửi được thư điện tử qua máy chủ SMTP này.")
    try:
        sender.send(mail)
    except Exception as exc:  # noqa: BLE001 - any failure is reported to the operator, not raised
        click.echo(f"error: sending to {address} through {sender.host}:{sender.port} failed: {exc}", err=True)
        sys.exit(1)
    finally:
        sender.close()
    click.echo(f"test e-mail sent to {address} through {sender.host}:{sender.port} ({mail.message_id})")


@cli.group("audit")
def audit_group() -> None:
    """The hash-chained audit log."""


@audit_group.command("verify")
@with_appcontext
def audit_verify() -> None:
    """Verify the audit chain: exit 0 when intact, 1 with the first broken chain index otherwise."""
    from workflows.audit_trail import verify

    with _session() as session:
        report = verify(session)
    if report.intact:
        click.echo(f"audit chain intact: {report.events} event(s), head #{report.head_index} {report.head_hash}")
        return
    click.echo(f"audit chain BROKEN at chain index {report.broken_at} "
               f"({'row changed' if report.broken_event is not None else 'row missing'})", err=True)
    sys.exit(1)


@cli.group("open311")
def open311_group() -> None:
    """Manage the city platforms allowed to POST Open311 requests."""


@open311_group.command("add-client")
@click.argument("name")
@click.option("--channel", default="IHANOI", show_default=True, type=click.Choice(["IHANOI", "CONG_DVC"]),
              help="channel of the petitions the client creates")
@with_appcontext
def open311_add_client(name: str, channel: str) -> None:
    """Register a client and print its api_key (shown once; only its hash is stored)."""
    from workflows.open311 import add_client

    with _session() as session:
        try:
            client, key = add_client(session, name, channel)
        except EngineError as exc:
            _fail(exc)
        session.commit()
        click.echo(f"client {client.name} added (channel {client.channel}); api_key: {key}")
        click.echo("Keep the key now: it cannot be shown again.")


@cli.command("generate-history")
@click.option("--petitions", "count", type=click.IntRange(1, 500_000), default=20_000, show_default=True)
@click.option("--years", type=click.FloatRange(0.1, 20), default=2.0, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@with_appcontext
def generate_history_command(count: int, years: float, seed: int) -> None:
    """Write a realistic history of generated petitions (marked is_demo) for the dashboard and its benchmark."""
    import time

    from workflows.dashboard.history import generate_history

    initialise()
    started = time.monotonic()
    with _session() as session:
        try:
            result = generate_history(session, count, years, seed)
        except LookupError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        session.commit()
    click.echo(f"{result.petitions} petitions ({result.open_petitions} still open), {result.tasks} task rows, "
               f"{result.events} audit events, received {result.first_day:%d/%m/%Y} – {result.last_day:%d/%m/%Y}; "
               f"slow step: {result.slow_step}; {time.monotonic() - started:.1f} s")


cli.add_command(bpmn_group)  # `petitions bpmn validate|deploy` (webapp/bpmn_cli.py)


def main() -> None:
    """Run the command line."""
    cli(prog_name="petitions")
