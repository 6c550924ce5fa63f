"""The `petitions` command line: init, demo, users, serve."""
from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from engine.errors import EngineError, ValidationFailed


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
    with _session() as session:
        definition = deploy_shipped(session)
        session.commit()
        click.echo(f"schema up to date; process '{definition.process_id}' version {definition.version} deployed")


@cli.command("init")
@with_appcontext
def init_command() -> None:
    """Create or upgrade the schema, deploy bpmn/ and check the reference data."""
    from workflows.reference import get_reference

    initialise()
    ref = get_reference()
    click.echo(f"reference data: {len(ref.zones)} zones, {len(ref.units)} units, {len(ref.agencies)} agencies, "
               f"{len(ref.categories)} categories")


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


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@with_appcontext
def serve_command(host: str, port: int, threads: int) -> None:
    """Serve the app with waitress (a production WSGI server)."""
    from waitress import serve

    click.echo(f"serving on http://{host}:{port}/")
    serve(current_app._get_current_object(), host=host, port=port, threads=threads)  # type: ignore[attr-defined]


def main() -> None:
    """Run the command line."""
    cli(prog_name="petitions")
