"""Schema upgrades (Alembic) and first deployment of the shipped BPMN models."""
from __future__ import annotations

import json
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from engine import definitions
from engine.audit import Actor
from engine.models import ProcessDefinition
from workflows.designer import validation_rules
from workflows.wiring import PROCESS_ID

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = ROOT / "migrations"
BPMN_DIR = ROOT / "bpmn"


def alembic_config(url: str) -> Config:
    """Return the Alembic configuration for a database URL."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def shipped_model(bpmn_dir: Path = BPMN_DIR) -> tuple[dict[str, bytes], dict[str, object]]:
    """Return the BPMN files and forms shipped in `bpmn/`."""
    files = {p.name: p.read_bytes() for p in sorted(bpmn_dir.glob("*.bpmn"))}
    forms = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted((bpmn_dir / "forms").glob("*.json"))}
    return files, forms


SYSTEM = Actor("system", "system")


def deploy_shipped(session: Session, actor: Actor = SYSTEM) -> ProcessDefinition:
    """Deploy `bpmn/` (a no-op when the same content is already deployed)."""
    files, forms = shipped_model()
    return definitions.deploy(session, PROCESS_ID, files, forms, actor, validation_rules())
