"""The enterprise portal through the workflows layer: accounts, files, duplicates, conferences, restricted
items, publication and the enterprise's own steps."""
from __future__ import annotations

import datetime as dt
import io
import os
import zipfile
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit import Actor
from engine.errors import Conflict, NotFound, ValidationFailed
from engine.models import AuditEvent, OutboxMessage
from tests.conftest import TEST_PASSWORD
from tests.integration.support import Lifecycle
from workflows import attachments, conferences, enterprises, intake, petitions, portal, publication, tasks
from workflows.attachments import FilesRefused, Upload
from workflows.demo import samples
from workflows.models import Enterprise, Petition, PetitionSource, User
from workflows.users import authenticate, create_user

SECRET = "test-secret"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64


def _docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def _registration(**changes: str) -> enterprises.Registration:
    values = dict(tax_code="0312345678", enterprise_name="Công ty TNHH Delta", zone="TL", contact_name="Lê Văn A",
                  email="a@delta.example.vn", username="delta_a", password=TEST_PASSWORD)
    return enterprises.Registration(**(values | changes))


# ---- accounts ---------------------------------------------------------------------------------------------


def test_registration_waits_for_the_email_link(session: Session) -> None:
    user = enterprises.register(session, _registration(tax_code="0312345678-001"))
    enterprises.send_verification(session, SECRET, user, lambda token: f"https://x/verify/{token}")
    session.commit()
    assert not user.active and authenticate(session, "delta_a", TEST_PASSWORD) is None
    enterprise = session.get(Enterprise, user.enterprise_id)
    assert enterprise.tax_code == "0312345678001" and enterprise.contact_email == "a@delta.example.vn"
    mail = session.scalar(select(OutboxMessage).where(OutboxMessage.recipient == "a@delta.example.vn"))
    token = mail.body_text.split("https://x/verify/")[1].split()[0]
    enterprises.verify(session, SECRET, token)
    session.commit()
    assert authenticate(session, "delta_a", TEST_PASSWORD) is not None
    with pytest.raises(ValidationFailed):
        enterprises.verify(session, SECRET, token[:-2] + "xx")
    with pytest.raises(ValidationFailed):
        enterprises.verify(session, "another-secret", token)


def test_a_deactivated_account_is_not_revived_by_an_old_link(session: Session) -> None:
    user = enterprises.register(session, _registration())
    token = enterprises.verification_token(SECRET, user)
    enterprises.verify(session, SECRET, token)
    user.active = False
    enterprises.verify(session, SECRET, token)
    assert user.active is False


def test_registration_checks_every_field_at_once(session: Session) -> None:
    with pytest.raises(ValidationFailed) as caught:
        enterprises.register(session, _registration(tax_code="12345", zone="XX", email="not-mail", password="short",
                                                    enterprise_name=""))
    assert set(caught.value.errors) == {"tax_code", "zone", "email", "password", "enterprise_name"}


def test_a_known_tax_code_cannot_be_claimed_by_a_stranger(session: Session, make_user: Any) -> None:
    make_user("dn_x", "enterprise", tax_code="0311111111", enterprise_name="Công ty X")
    with pytest.raises(ValidationFailed) as caught:
        enterprises.register(session, _registration(tax_code="0311111111"))
    assert caught.value.errors["tax_code"] == enterprises.HAS_ACCOUNT
    session.add(Enterprise(tax_code="0322222222", name="Công ty Y", contact_email="lienhe@y.example.vn"))
    session.flush()
    with pytest.raises(ValidationFailed) as caught:
        enterprises.register(session, _registration(tax_code="0322222222"))
    assert caught.value.errors["tax_code"] == enterprises.KNOWN_ENTERPRISE
    user = enterprises.register(session, _registration(tax_code="0322222222", email="LienHe@y.example.vn"))
    assert session.get(Enterprise, user.enterprise_id).name == "Công ty Y"


def test_a_colleague_joins_by_invitation_once(session: Session, make_user: Any) -> None:
    inviter = make_user("dn_inv", "enterprise", tax_code="0333333333", enterprise_name="Công ty Z")
    inviter = session.merge(inviter)
    token = enterprises.invite(session, SECRET, inviter, "b@z.example.vn", "Trần B", lambda t: f"https://x/{t}")
    colleague = enterprises.accept_invitation(session, SECRET, token, "dn_inv_b", TEST_PASSWORD)
    session.commit()
    assert colleague.enterprise_id == inviter.enterprise_id and colleague.active
    assert [u.username for u in enterprises.colleagues(session, inviter)] == ["dn_inv", "dn_inv_b"]
    with pytest.raises(Conflict):
        enterprises.accept_invitation(session, SECRET, token, "dn_inv_c", TEST_PASSWORD)


# ---- attachments ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "data", "problem"), [
    ("ban-ve.pdf", EXE, attachments.FORGED),
    ("setup.exe", EXE, attachments.WRONG_TYPE),
    ("anh.png", PDF, attachments.FORGED),
    ("hop-dong.docx", b"PK\x03\x04not a zip", attachments.FORGED),
    ("trong.pdf", b"", attachments.EMPTY),
    ("lon.pdf", b"%PDF-" + b"0" * attachments.MAX_FILE_BYTES, attachments.TOO_LARGE),
])
def test_files_are_checked_by_content_and_size(name: str, data: bytes, problem: str) -> None:
    with pytest.raises(FilesRefused) as caught:
        attachments.check_uploads([Upload("ok.pdf", PDF), Upload(name, data)])
    assert caught.value.problems == [(name, problem)]


def test_accepted_files_and_their_normalized_names() -> None:
    checked = attachments.check_uploads([Upload("../../etc/passwd.pdf", PDF), Upload("C:\\tmp\\Ảnh chụp.PNG", PNG),
                                         Upload("Hợp đồng.docx", _docx())])
    assert [(f.original_name, f.content_type) for f in checked] == [
        ("passwd.pdf", "application/pdf"), ("Ảnh chụp.PNG", "image/png"),
        ("Hợp đồng.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document")]


def test_the_per_petition_quota_counts_earlier_files() -> None:
    with pytest.raises(FilesRefused) as caught:
        attachments.check_uploads([Upload("a.pdf", PDF)], already=(10, 1000))
    assert caught.value.problems == [("", attachments.TOO_MANY)]


def test_files_are_stored_durably_under_random_names(session: Session, runtime: Any, make_user: Any,
                                                     tmp_path: Path) -> None:
    life = Lifecycle(session, runtime, make_user)
    petition = life.submit()
    rows = attachments.attach(session, tmp_path, petition, attachments.check_uploads(
        [Upload("../../etc/passwd.pdf", PDF)]), "petition", "dn")
    session.commit()
    stored = attachments.path_of(tmp_path, rows[0].key)
    assert stored.read_bytes() == PDF and stored.parent.parent == tmp_path
    assert rows[0].original_name == "passwd.pdf" and len(rows[0].key) == 32
    assert not list(stored.parent.glob(".tmp-*"))
    with pytest.raises(NotFound):
        attachments.path_of(tmp_path, "../../etc/passwd")
    orphan = attachments.path_of(tmp_path, "ab" * 16)
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(PDF)
    old = (dt.datetime.now() - dt.timedelta(hours=2)).timestamp()
    os.utime(orphan, (old, old))
    os.utime(stored, (old, old))
    assert attachments.sweep_orphans(session, tmp_path) == 1
    assert stored.exists() and not orphan.exists()


# ---- intake: channels and duplicates -----------------------------------------------------------------------


def _enterprise(session: Session, tax_code: str = "0344444444") -> Enterprise:
    from workflows.users import get_or_create_enterprise

    return get_or_create_enterprise(session, tax_code, f"Công ty {tax_code}", "TL")


def test_a_paper_letter_needs_its_number_and_date(session: Session, runtime: Any) -> None:
    sub = petitions.Submission(title="Công văn", content="Nội dung", zone="TL", channel="VAN_BAN")
    with pytest.raises(ValidationFailed) as caught:
        intake.register(session, runtime, Actor("tn", "intake"), _enterprise(session), sub)
    assert set(caught.value.errors) == {"incoming_doc_no", "incoming_doc_date"}
    source = intake.Source(incoming_doc_no="45/2025/CV-LBP", incoming_doc_date=dt.date(2025, 12, 22))
    petition = intake.register(session, runtime, Actor("tn", "intake"), _enterprise(session), sub, source=source)
    assert session.get(PetitionSource, petition.id).incoming_doc_no == "45/2025/CV-LBP"


def test_similar_petition_of_the_same_enterprise_is_flagged(session: Session, runtime: Any) -> None:
    actor, ent = Actor("dn", "enterprise"), _enterprise(session)
    first = intake.register(session, runtime, actor, ent, petitions.Submission(
        title="Đề nghị cấp điện ổn định cho nhà xưởng số 2", content="Nhà xưởng mất điện ba lần trong tuần.",
        zone="TL"))
    again = petitions.Submission(title="Đề nghị cấp điện ổn định cho nhà xưởng số 2!", content="Khác hẳn.", zone="TL")
    with pytest.raises(intake.PossibleDuplicate) as caught:
        intake.register(session, runtime, actor, ent, again)
    assert caught.value.similar == [first]
    other = intake.register(session, runtime, actor, _enterprise(session, "0355555555"), again)
    assert other.id != first.id
    unrelated = petitions.Submission(title="Hướng dẫn thủ tục môi trường", content="Nội dung khác.", zone="TL")
    assert intake.register(session, runtime, actor, ent, unrelated).id != first.id
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=31)
    assert intake.register(session, runtime, actor, ent, again, received_at=later).id != first.id
    assert intake.register(session, runtime, actor, ent, again, allow_duplicate=True).id != first.id


def test_similarity_ignores_diacritics_case_and_punctuation() -> None:
    assert intake.normalize_text("Đất đai: KCN Thăng Long!") == "dat dai kcn thang long"
    assert intake.similarity("Ngập úng đường nội bộ", "ngap ung duong noi bo") == 1.0


def test_receipt_expects_the_answer_after_the_categorys_working_days(session: Session, runtime: Any) -> None:
    sub = petitions.Submission(title="Đất", content="Nội dung", zone="TL", category_hint="DD")
    received = dt.datetime(2025, 12, 18, 9, 30, tzinfo=petitions.HANOI)
    petition = intake.register(session, runtime, Actor("dn", "enterprise"), _enterprise(session), sub,
                               received_at=received)
    receipt = intake.receipt(session, petition)
    assert receipt.expected_answer == dt.date(2026, 1, 16)  # 20 working days (DOMAIN.md section 9.3)
    other = intake.register(session, runtime, Actor("dn", "enterprise"), _enterprise(session, "0366666666"),
                            petitions.Submission(title="Khác", content="Nội dung", zone="TL"), received_at=received)
    assert intake.receipt(session, other).expected_answer == dt.date(2026, 1, 2)  # default 10 working days


# ---- conferences --------------------------------------------------------------------------------------------


def _conference(session: Session, code: str = "HOINGHI-20251218") -> Any:
    return conferences.create(session, Actor("tn", "intake"), conferences.ConferenceInput(
        code=code, title="Hội nghị đối thoại", held_on=dt.date(2025, 12, 18), zones=("HHTP", "TL", "QM")))


HEADER = ["Mã số doanh nghiệp", "Tên doanh nghiệp", "KCN", "Lĩnh vực", "Tiêu đề", "Nội dung", "Người liên hệ",
          "Email", "Điện thoại"]


def sample_rows() -> list[list[Any]]:
    """Return the twelve sample petitions as spreadsheet rows."""
    return [[s["enterprise"]["tax_code"], s["enterprise"]["name"], s["zone"], s["category"], s["title_vi"],
             s["content_vi"].strip(), s["contact"]["name"], s["contact"]["email"], s["contact"]["phone"]]
            for s in samples()["petitions"]]


def xlsx(rows: list[list[Any]], header: list[str] = HEADER) -> bytes:
    """Return a workbook with a header row and the rows."""
    book = Workbook()
    book.active.append(header)
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_the_twelve_samples_are_imported_as_one_conference(db_kind: str, session: Session, runtime: Any) -> None:
    conference = _conference(session)
    check = conferences.check_rows(session, conferences.read_rows("hoinghi.xlsx", xlsx(sample_rows())))
    assert check.bad == [] and len(check.good) == 12
    registered = conferences.register_rows(session, runtime, Actor("tn", "intake"), conference, check.good)
    session.commit()
    assert [p.tracking_code for p in registered] == [f"KN.20251218.{i:04d}" for i in range(1, 13)]
    assert {p.channel for p in registered} == {"HOI_NGHI"}
    by_code = {p.tracking_code: session.get(Enterprise, p.enterprise_id).tax_code for p in registered}
    assert list(by_code.values()) == [str(s["enterprise"]["tax_code"]) for s in samples()["petitions"]]
    assert len(conferences.enterprises_of(session, conference)) == 11  # #3 and #8 are the same company
    assert conferences.petitions_of(session, conference) == registered
    again = conferences.register_rows(session, runtime, Actor("tn", "intake"), conference, check.good)
    assert again == registered  # the same rows are registered once


def test_bad_rows_are_reported_with_their_line_and_reason(session: Session, runtime: Any) -> None:
    rows = sample_rows()
    rows[1][0] = "12345"            # line 3: tax code
    rows[4][2] = "KCN Mặt Trăng"    # line 6: zone
    rows[7][5] = ""                 # line 9: content
    rows.append([])                 # a blank line is skipped, not reported
    rows.append(list(rows[0]))      # line 15: repeats line 2
    check = conferences.check_rows(session, conferences.read_rows("hoinghi.xlsx", xlsx(rows)))
    assert [(p.row.line, [m for m, _ in p.messages]) for p in check.bad] == [
        (3, ["The tax code must have 10 or 13 digits."]),
        (6, ["Unknown zone."]),
        (9, ["The content is required."]),
        (15, ["The same petition appears twice (see line %(line)s)."]),
    ]
    assert check.bad[-1].messages[0][1] == {"line": 2}
    assert len(check.good) == 9


def test_csv_with_semicolons_and_zone_names(session: Session) -> None:
    text = "tax code;enterprise;zone;title;content\n0377777777;Công ty Q;KCN Thăng Long;Tiêu đề;Nội dung\n"
    rows = conferences.read_rows("x.csv", text.encode("utf-8-sig"))
    check = conferences.check_rows(session, rows)
    assert [(r.line, r.zone) for r in check.good] == [(2, "TL")]
    with pytest.raises(ValidationFailed):
        conferences.read_rows("x.csv", b"a;b\n1;2\n")
    with pytest.raises(ValidationFailed):
        conferences.read_rows("x.xlsx", b"not a workbook")


def test_follow_up_report_totals(session: Session, runtime: Any, make_user: Any) -> None:
    life = Lifecycle(session, runtime, make_user)
    conference = _conference(session)
    rows = conferences.check_rows(session, conferences.read_rows("h.xlsx", xlsx(sample_rows()[:3]))).good
    first, second, third = conferences.register_rows(session, runtime, Actor("tn", "intake"), conference, rows)
    session.commit()
    for petition in (first, second):
        life.to_assignment(petition)
        life.do(life.leader, petition, "assign", lead_unit="QHXD", coordinating_agencies=[], working_days=10)
    life.do(life.unit, first, "handle", handling_notes="Đã xử lý.")
    life.do(life.unit, first, "draft_answer", answer_text="Trả lời.", result_type="DA_GIAI_QUYET")
    life.answer_and_send(first)
    report = conferences.follow_up(session, conference, today=dt.date(2026, 3, 1))
    assert report.totals == {"total": 3, "answered": 1, "in_progress": 2, "overdue": 1, "closed": 0}
    line = report.lines[0]
    assert (line.result_type, line.answer_document_no, line.petition.lead_unit) == ("DA_GIAI_QUYET", "12/BQL-QHXD",
                                                                                    "QHXD")
    sheet = load_workbook(io.BytesIO(conferences.follow_up_xlsx(report))).active
    values = [[c for c in row] for row in sheet.iter_rows(values_only=True)]
    totals = {row[0]: row[1] for row in values if row and row[0] in conferences.TOTAL_LABELS_VI.values()}
    assert totals == {"Tổng số kiến nghị": 3, "Đã trả lời": 1, "Đang xử lý": 2, "Quá hạn": 1, "Đã đóng": 0}
    header = values.index(next(r for r in values if r and r[0] == "STT"))
    assert [r[1] for r in values[header + 1:header + 4]] == [first.tracking_code, second.tracking_code,
                                                             third.tracking_code]
    assert values[header + 1][7] == "Phòng Quản lý Quy hoạch và Xây dựng"


# ---- denunciations -----------------------------------------------------------------------------------------


def test_denunciations_are_visible_only_to_inspectors_and_the_submitter(
    db_kind: str, session: Session, runtime: Any, make_user: Any
) -> None:
    life = Lifecycle(session, runtime, make_user)
    inspector = make_user("thanhtra", "intake", "inspector")
    auditor = make_user("kiemtra", "auditor")
    denunciation, ordinary = life.submit("Tố cáo cán bộ"), life.submit("Mất điện", category_hint="DIEN")
    life.to_assignment(denunciation, petition_type="TC")
    assert denunciation.petition_type == "TC" and petitions.is_restricted(denunciation)
    for user, sees in ((life.intake, False), (life.leader, False), (auditor, False), (inspector, True),
                       (life.enterprise_user, True), (life.other_enterprise_user, False)):
        user = session.merge(user)
        assert petitions.can_view(session, user, denunciation) is sees, user.username
        assert (denunciation in petitions.visible(session, user)) is sees, user.username
    assert ordinary in petitions.visible(session, session.merge(life.intake))
    assert [p.id for p in petitions.visible(session, make_user("tt2", "inspector"))] == [denunciation.id]
    assert not [t for t in tasks.inbox(session, runtime, session.merge(life.intake))
                if t.task.business_key == denunciation.tracking_code]
    task = next(t for t in tasks.inbox(session, runtime, session.merge(inspector))
                if t.task.business_key == denunciation.tracking_code)
    assert task.task.bpmn_id == "record_out_of_track"
    with pytest.raises(NotFound):
        tasks.detail(session, runtime, session.merge(life.intake), task.task.id)
    with pytest.raises(NotFound):
        tasks.claim(session, runtime, session.merge(life.intake), task.task.id)
    assert petitions.public_status(session, denunciation.tracking_code)["stage"] is None
    tasks.complete(session, runtime, session.merge(inspector), task.task.id,
                   {"guidance": "Chuyển Thanh tra thành phố theo Luật Tố cáo 2018."})
    session.commit()
    extras = portal.extras(session, runtime, session.merge(life.enterprise_user), denunciation)
    assert extras.guidance == "Chuyển Thanh tra thành phố theo Luật Tố cáo 2018."


# ---- the enterprise's steps and publication ----------------------------------------------------------------


def test_enterprise_answers_information_request_and_reopens_once(session: Session, runtime: Any, make_user: Any,
                                                                  tmp_path: Path) -> None:
    life = Lifecycle(session, runtime, make_user)
    petition = life.submit()
    ent = session.merge(life.enterprise_user)
    life.do(life.intake, petition, "register", register_decision="request_info", info_request="Gửi bản vẽ.")
    extras = portal.extras(session, runtime, ent, petition)
    assert extras.info_request == "Gửi bản vẽ." and extras.info_task is not None
    assert portal.extras(session, runtime, session.merge(life.other_enterprise_user), petition).info_task is None
    files = attachments.check_uploads([Upload("ban-ve.pdf", PDF)])
    portal.supply_info(session, runtime, ent, petition, "Đã gửi bản vẽ.", files, tmp_path)
    session.commit()
    assert [a.kind for a in attachments.of_petition(session, petition)] == ["supply_info"]
    with pytest.raises(Conflict):
        portal.supply_info(session, runtime, ent, petition, "Lần nữa")
    life.to_answer(petition)
    life.answer_and_send(petition)
    extras = portal.extras(session, runtime, ent, petition)
    assert extras.confirm_task is not None and extras.reopen_left
    with pytest.raises(ValidationFailed):
        portal.rate(session, runtime, ent, petition, "khong_hai_long", "")
    session.rollback()
    portal.rate(session, runtime, ent, petition, "khong_hai_long", "Chưa giải quyết dứt điểm.")
    session.commit()
    session.refresh(petition)
    assert petition.status == "MO_LAI"
    life.do(life.unit, petition, "draft_answer", answer_text="Trả lời lần 2.", result_type="DA_GIAI_QUYET")
    life.answer_and_send(petition)
    assert not portal.extras(session, runtime, ent, petition).reopen_left
    portal.rate(session, runtime, ent, petition, "hai_long", "")
    session.commit()
    session.refresh(petition)
    assert petition.status == "DONG" and petition.closed_at is not None


def test_publication_redacts_and_is_audited(session: Session, runtime: Any, make_user: Any) -> None:
    life = Lifecycle(session, runtime, make_user)
    enterprise = session.get(Enterprise, life.enterprise_user.enterprise_id)
    enterprise.contact_email = "giamdoc@congtya.example.vn"
    petition = life.submit(title="Công ty TNHH A đề nghị cấp điện", category_hint="DIEN")
    with pytest.raises(Conflict):
        publication.draft(session, petition)
    life.to_answer(petition)
    tasks_answer = "Đã làm việc với Công ty TNHH A (MST 0100000001, giamdoc@congtya.example.vn, 0912 345 678)."
    life.do(life.leader, petition, "approve", decision="return", return_reason="Bổ sung")
    life.do(life.unit, petition, "draft_answer", answer_text=tasks_answer, result_type="DA_GIAI_QUYET")
    life.answer_and_send(petition)
    draft = publication.draft(session, petition)
    assert draft.title == "[…] đề nghị cấp điện"
    assert draft.answer_text == "Đã làm việc với […] (MST […], […], […])."
    actor = Actor("tn", "intake")
    row = publication.save(session, actor, petition, draft.title, draft.question, draft.answer_text, publish=True)
    session.commit()
    assert row.published and row.category == "DIEN" and row.answer_document_no == "12/BQL-QHXD"
    assert publication.search(session, "cap dien", "DIEN", "TL") == [row]
    assert publication.search(session, "", "DD") == [] and publication.search(session, "", "", "NB") == []
    publication.unpublish(session, actor, petition)
    session.commit()
    assert publication.search(session) == []
    with pytest.raises(NotFound):
        publication.public(session, row.id)
    actions = [e.action for e in session.scalars(select(AuditEvent).where(
        AuditEvent.business_key == petition.tracking_code, AuditEvent.action.like("ANSWER_%")))]
    assert actions == ["ANSWER_PUBLISHED", "ANSWER_UNPUBLISHED"]


def test_complaints_are_never_published(session: Session, runtime: Any, make_user: Any) -> None:
    life = Lifecycle(session, runtime, make_user)
    petition = life.submit()
    life.to_assignment(petition, petition_type="KNAI")
    with pytest.raises(Conflict):
        publication.draft(session, petition)


# ---- demo and schema ---------------------------------------------------------------------------------------


def test_demo_links_the_first_three_samples_to_the_conference(session: Session, runtime: Any) -> None:
    from workflows.demo import load_demo

    load_demo(session, runtime)
    session.commit()
    conference = conferences.get(session, "HOINGHI-20251218")
    assert [p.tracking_code for p in conferences.petitions_of(session, conference)] == [
        "KN.20251218.0001", "KN.20251218.0002", "KN.20251218.0003"]
    assert conference.zones == ["HHTP", "TL", "QM"] and conference.is_demo
    letter = session.scalar(select(PetitionSource).join(Petition, Petition.id == PetitionSource.petition_id)
                            .where(Petition.tracking_code == "KN.20251222.0004"))
    assert letter.incoming_doc_no == "45/2025/CV-LBP"
    assert session.scalar(select(User).where(User.username == "thanhtra")).roles == ["intake", "inspector"]


def test_migration_0006_matches_the_portal_models(app: Any) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from engine.db import Base

    ours = {"attachment", "conference", "conference_enterprise", "email_verification", "petition_source",
            "published_answer", "open311_client"}
    with app.extensions["petitions.engine"].connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    touching = [d for d in diff if any(name in repr(d) for name in ours)]
    assert touching == []


def test_create_user_accepts_the_inspector_role(session: Session) -> None:
    assert create_user(session, "tt", TEST_PASSWORD, ["inspector"]).roles == ["inspector"]
