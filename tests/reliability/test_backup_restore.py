"""`petitions db backup` / `db restore` (SQLite backup API, pg_dump / pg_restore): a backup taken while the
app holds the database restores into a fresh database, which verifies, and its petition runs to the end."""
from __future__ import annotations

import os

from sqlalchemy import func, select

from engine.audit import verify_chain
from engine.db import make_engine, session_factory
from engine.models import AuditEvent, HumanTask, InstanceStatus, ProcessInstance, TaskStatus
from tests.integration.support import Lifecycle
from tests.reliability.driving import drive_to_end
from tests.reliability.invariants import check_invariants
from tests.reliability.servers import petitions_cli
from workflows.models import Petition


def test_backup_restores_into_a_fresh_database_and_the_petition_continues(db_kind, db_url, fresh_url, app, session,
                                                                          runtime, make_user, tmp_path) -> None:
    life = Lifecycle(session, runtime, make_user)
    petition = life.submit()
    life.to_assignment(petition)
    code = petition.tracking_code
    events = session.scalar(select(func.count()).select_from(AuditEvent))
    session.rollback()  # SQLite: the backup reads while the app's engine is open, but not mid-write

    backup_file = tmp_path / "backup.dump"
    assert "backup written" in petitions_cli(db_url, "db", "backup", str(backup_file))
    life.do(life.leader, petition, "assign", lead_unit="QHXD", coordinating_agencies=[], working_days=10)  # after
    session.rollback()
    assert "restored" in petitions_cli(fresh_url, "db", "restore", "--yes", str(backup_file))

    engine = make_engine(fresh_url)
    try:
        sessions = session_factory(engine)
        with sessions() as restored:
            assert restored.scalar(select(func.count()).select_from(AuditEvent)) == events  # the backup's moment
            assert verify_chain(restored) is None
            assert restored.scalar(select(Petition.tracking_code).where(Petition.tracking_code == code)) == code
            open_steps = restored.scalars(select(HumanTask.bpmn_id).where(
                HumanTask.business_key == code, HumanTask.status == TaskStatus.OPEN)).all()
            assert open_steps == ["assign"]
            steps = drive_to_end(restored, runtime, code)
            assert steps[0] == "assign"  # the restored database never saw the later assignment
            instance = restored.scalar(select(ProcessInstance).where(ProcessInstance.business_key == code))
            assert instance.status == InstanceStatus.COMPLETED
            restored.rollback()
        check_invariants(sessions, runtime)
    finally:
        engine.dispose()
    # The live database went on independently.
    assert os.path.getsize(backup_file) > 0
    assert session.scalar(select(func.count()).select_from(AuditEvent)) > events
