"""Process designers' pages (blueprint `designer`, role `designer` only): versions, drafts in the bpmn-js
Modeler, form editor with preview, validation, deployment, diff between versions, migration of instances.

Policies:
- every endpoint is `@roles("designer")`; deploying, (de)activating and migrating are audited by the engine;
- uploads are at most 2 MB of BPMN (the request at most `UPLOAD_REQUEST_LIMIT`); a hostile or malformed
  file gives the list of problems, never a server error, and is not stored;
- the editor saves through `fetch` with the CSRF token in the `X-CSRFToken` header; all JavaScript is in
  static files (bpmn-js from webapp/static/vendor, never a CDN). The app's CSP applies unchanged
  (`script-src 'self'; style-src 'self'`): bpmn-js 18 styles its SVG through the CSSOM, which CSP allows, and the
  browser test checks that no CSP violation is reported.
"""
from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from lxml import etree

from engine import definitions, drafts, migration
from engine.audit import Actor
from engine.bpmn_xml import MAX_BPMN_BYTES, parse_untrusted_xml
from engine.errors import BpmnRejected, EngineError, Problem, ValidationFailed
from engine.forms import check_schema
from engine.models import ProcessDefinition, ProcessDraft
from engine.validation import MSG_FORM_JSON, MSG_TOO_LARGE, Finding, Report, check, from_problem, render
from webapp import db
from webapp.auth import current_user, roles
from webapp.filters import current_lang
from webapp.formdata import field_widgets
from webapp.messages import N_
from webapp.views.common import runtime
from workflows.designer import validation_rules
from workflows.lanes import LANES

bp = Blueprint("designer", __name__, url_prefix="/designer")

DESIGNER = "designer"
UPLOAD_REQUEST_LIMIT = MAX_BPMN_BYTES + 1024 * 1024  # the BPMN file, its forms and the multipart envelope
BLANK_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="definitions_new" targetNamespace="urn:bql-hanoi:petitions">
  <bpmn:process id="new_process" name="New process" isExecutable="true">
    <bpmn:startEvent id="start" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="diagram_new">
    <bpmndi:BPMNPlane id="plane_new" bpmnElement="new_process">
      <bpmndi:BPMNShape id="start_di" bpmnElement="start">
        <dc:Bounds x="180" y="160" width="36" height="36" />
      </bpmndi:BPMNShape>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""

MESSAGES = (
    N_("draft not found"), N_("process version not found"),
    N_("the last active version of a process cannot be deactivated"),
    N_("The BPMN must be text."), N_("Forms must be an object of JSON Schema objects."),
    N_("The forms are too large."), N_("Form names must be plain file names such as step.json."),
    N_("Choose a .bpmn file to upload."), N_("The forms cannot be used: %(detail)s"),
)


def _actor() -> Actor:
    user = current_user()
    return Actor(user.username, DESIGNER)


def _translate(msgid: str) -> str:
    return gettext(msgid) if msgid else msgid


def problem_json(problem: Problem) -> dict[str, Any]:
    """Describe one problem for the page, translated into the request's language."""
    return {"file": problem.file, "line": problem.line, "element_id": problem.element_id,
            "element_name": problem.element_name, "message": render(problem, _translate)}


def _problems(problems: list[Problem]) -> list[dict[str, Any]]:
    return [problem_json(from_problem(p)) for p in problems]


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400)
    return body


def _draft(draft_id: int) -> ProcessDraft:
    return drafts.get(db.session(), draft_id)


def _definition(definition_id: int) -> ProcessDefinition:
    return definitions.get_definition(db.session(), definition_id)


# ---- list, versions ---------------------------------------------------------------------------------


@bp.get("/")
@roles(DESIGNER)
def index() -> Any:
    """List the deployed versions of every process and the drafts."""
    session = db.session()
    versions = definitions.versions(session)
    by_process: dict[str, list[definitions.VersionInfo]] = {}
    for info in versions:
        by_process.setdefault(info.definition.process_id, []).append(info)
    return render_template("designer/index.html", processes=by_process, drafts=drafts.drafts(session),
                           upload_limit=MAX_BPMN_BYTES)


@bp.get("/versions/<int:definition_id>/bpmn")
@roles(DESIGNER)
def version_bpmn(definition_id: int) -> Any:
    """Return a version's main BPMN file (as a download with ?download=1)."""
    definition = _definition(definition_id)
    name = definitions.main_file(definition)
    response = Response(definition.bpmn_files[name], mimetype="application/xml")
    if request.args.get("download"):
        stem = name.rsplit(".", 1)[0]
        response.headers["Content-Disposition"] = f'attachment; filename="{stem}-v{definition.version}.bpmn"'
    return response


@bp.post("/versions/<int:definition_id>/edit")
@roles(DESIGNER)
def edit_version(definition_id: int) -> Any:
    """Open a deployed version as a new draft."""
    session = db.session()
    draft = drafts.from_version(session, _definition(definition_id), current_user().username)
    session.commit()
    return redirect(url_for(".edit", draft_id=draft.id))


@bp.post("/versions/<int:definition_id>/activate")
@roles(DESIGNER)
def activate(definition_id: int) -> Any:
    """Let new instances start on this version again (when it is the newest active one)."""
    definition = definitions.set_active(db.session(), definition_id, True, _actor())
    db.session().commit()
    flash(gettext("Version %(version)s of %(process)s is active.", version=definition.version,
                  process=definition.process_id), "success")
    return redirect(url_for(".index"))


@bp.post("/versions/<int:definition_id>/deactivate")
@roles(DESIGNER)
def deactivate(definition_id: int) -> Any:
    """Stop new instances from starting on this version; running instances carry on."""
    definition = definitions.set_active(db.session(), definition_id, False, _actor())
    db.session().commit()
    flash(gettext("Version %(version)s of %(process)s is deactivated; its running instances carry on.",
                  version=definition.version, process=definition.process_id), "success")
    return redirect(url_for(".index"))


# ---- drafts -----------------------------------------------------------------------------------------


@bp.post("/drafts/new")
@roles(DESIGNER)
def new_draft() -> Any:
    """Start a draft from a blank diagram."""
    session = db.session()
    draft = drafts.create(session, current_user().username, BLANK_BPMN, {}, "new_process.bpmn")
    session.commit()
    return redirect(url_for(".edit", draft_id=draft.id))


def _read_upload() -> tuple[str, bytes, dict[str, Any], list[Problem]]:
    """Return (file name, BPMN bytes, forms, problems) of an upload; problems when it cannot be used."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return "", b"", {}, [Finding.make(N_("Choose a .bpmn file to upload."))]
    name = upload.filename.replace("\\", "/").rsplit("/", 1)[-1][:150] or "process.bpmn"
    data = upload.stream.read(MAX_BPMN_BYTES + 1)
    if len(data) > MAX_BPMN_BYTES:
        return name, b"", {}, [Finding.make(MSG_TOO_LARGE, name, size=f"> {MAX_BPMN_BYTES}", limit=MAX_BPMN_BYTES)]
    forms: dict[str, Any] = {}
    problems: list[Problem] = []
    for form in request.files.getlist("forms"):
        if not form or not form.filename:
            continue
        form_name = form.filename.replace("\\", "/").rsplit("/", 1)[-1]
        try:
            forms[form_name] = json.loads(form.stream.read(MAX_BPMN_BYTES + 1).decode("utf-8"))
        except (UnicodeError, ValueError):
            problems.append(Finding.make(MSG_FORM_JSON, form_name, form=form_name))
    return name, data, forms, problems


def _as_text(data: bytes, name: str) -> str:
    """Return the BPMN as text (re-serialized by lxml when it is not UTF-8); raise BpmnRejected."""
    root = parse_untrusted_xml(data, name)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return etree.tostring(root, encoding="unicode")


@bp.post("/upload")
@roles(DESIGNER)
def upload() -> Any:
    """Upload a .bpmn file (and optionally its JSON forms) as a new draft, then validate it."""
    if (request.content_length or 0) > UPLOAD_REQUEST_LIMIT:
        return _upload_refused([Finding.make(MSG_TOO_LARGE, "", size=request.content_length, limit=MAX_BPMN_BYTES)],
                               413)
    name, data, forms, problems = _read_upload()
    if problems:
        return _upload_refused(problems)
    try:
        text = _as_text(data, name)
    except BpmnRejected as exc:
        return _upload_refused(exc.problems)
    session = db.session()
    process_id, _ = drafts.describe(text, name)
    latest = next((info.definition for info in definitions.versions(session, process_id) if process_id), None)
    all_forms = {**(latest.forms if latest else {}), **forms}
    try:
        # The upload is the whole model: the latest version only lends its forms (not its other files).
        draft = drafts.create(session, current_user().username, text, all_forms, name)
    except (BpmnRejected, ValidationFailed) as exc:
        session.rollback()
        problems = exc.problems if isinstance(exc, BpmnRejected) else [
            Finding.make(N_("The forms cannot be used: %(detail)s"), name, detail="; ".join(exc.errors.values()))]
        return _upload_refused(problems)
    session.commit()
    flash(gettext("The file is uploaded as a draft; the problems to fix are listed next to the diagram."), "success")
    return redirect(url_for(".edit", draft_id=draft.id, validate=1))


def _upload_refused(problems: list[Problem], status: int = 400) -> Any:
    session = db.session()
    session.rollback()
    versions = definitions.versions(session)
    by_process: dict[str, list[definitions.VersionInfo]] = {}
    for info in versions:
        by_process.setdefault(info.definition.process_id, []).append(info)
    return render_template("designer/index.html", processes=by_process, drafts=drafts.drafts(session),
                           upload_limit=MAX_BPMN_BYTES, upload_problems=_problems(problems)), status


@bp.get("/drafts/<int:draft_id>")
@roles(DESIGNER)
def edit(draft_id: int) -> Any:
    """The modeler page of a draft."""
    draft = _draft(draft_id)
    return render_template("designer/edit.html", draft=draft, lanes=sorted(LANES),
                           validate_on_load=bool(request.args.get("validate")))


@bp.get("/drafts/<int:draft_id>/data")
@roles(DESIGNER)
def draft_data(draft_id: int) -> Any:
    """Return the draft's BPMN and forms as JSON (what the modeler page loads)."""
    draft = _draft(draft_id)
    return jsonify({"bpmn": draft.bpmn, "forms": draft.forms, "filename": draft.filename,
                    "process_id": draft.process_id})


@bp.get("/drafts/<int:draft_id>/bpmn")
@roles(DESIGNER)
def draft_bpmn(draft_id: int) -> Any:
    """Download the draft's BPMN file."""
    draft = _draft(draft_id)
    response = Response(draft.bpmn, mimetype="application/xml")
    response.headers["Content-Disposition"] = f'attachment; filename="{draft.filename}"'
    return response


def _save_from_body(draft: ProcessDraft) -> None:
    body = _json_body()
    bpmn, forms = body.get("bpmn"), body.get("forms")
    drafts.save(db.session(), draft, bpmn if isinstance(bpmn, str) else None, forms if forms is not None else None,
                current_user().username)


def _json_error(exc: EngineError) -> Any:
    db.session().rollback()
    if isinstance(exc, BpmnRejected):
        return jsonify({"ok": False, "problems": _problems(exc.problems)}), 400
    if isinstance(exc, ValidationFailed):
        return jsonify({"ok": False, "error": "; ".join(gettext(m) for m in exc.errors.values())}), 400
    return jsonify({"ok": False, "error": gettext(exc.message) if exc.message else str(exc.http_status)}), \
        exc.http_status


@bp.post("/drafts/<int:draft_id>/save")
@roles(DESIGNER)
def save(draft_id: int) -> Any:
    """Save the draft's BPMN and forms (JSON body; CSRF token in the X-CSRFToken header)."""
    draft = _draft(draft_id)
    try:
        _save_from_body(draft)
    except EngineError as exc:
        return _json_error(exc)
    db.session().commit()
    return jsonify({"ok": True, "process_id": draft.process_id, "updated_at": draft.updated_at.isoformat()})


def _validate_draft(draft: ProcessDraft) -> Report:
    return check(drafts.files(db.session(), draft), draft.forms, validation_rules(), draft.process_id)


@bp.post("/drafts/<int:draft_id>/validate")
@roles(DESIGNER)
def validate(draft_id: int) -> Any:
    """Save what the page sends (if anything) and return every problem of the draft."""
    draft = _draft(draft_id)
    try:
        if request.get_json(silent=True):
            _save_from_body(draft)
    except EngineError as exc:
        return _json_error(exc)
    db.session().commit()
    report = _validate_draft(draft)
    return jsonify({"ok": report.ok, "process_id": report.process_id, "problems": _problems(report.problems)})


@bp.post("/drafts/<int:draft_id>/deploy")
@roles(DESIGNER)
def deploy(draft_id: int) -> Any:
    """Validate the draft and deploy it as a new version (audited); JSON answer for the page."""
    session = db.session()
    draft = _draft(draft_id)
    try:
        if request.get_json(silent=True):
            _save_from_body(draft)
        report = _validate_draft(draft)
        if not report.ok or report.process_id is None:
            session.commit()  # keep what was saved
            return jsonify({"ok": False, "problems": _problems(report.problems)}), 400
        files = drafts.files(session, draft)
        digest = definitions.content_hash(files, draft.forms)
        existed = any(i.definition.content_hash == digest for i in definitions.versions(session, report.process_id))
        definition = definitions.deploy(session, report.process_id, files, draft.forms, _actor(), validation_rules())
    except EngineError as exc:
        return _json_error(exc)
    draft.base_definition_id = definition.id
    session.commit()
    message = (gettext("This content is already deployed as version %(version)s.", version=definition.version)
               if existed else gettext("Deployed as version %(version)s of %(process)s.", version=definition.version,
                                       process=definition.process_id))
    return jsonify({"ok": True, "version": definition.version, "definition_id": definition.id, "message": message,
                    "created": not existed, "url": url_for(".index")})


@bp.post("/drafts/<int:draft_id>/delete")
@roles(DESIGNER)
def delete_draft(draft_id: int) -> Any:
    """Delete a draft (deployed versions are not affected)."""
    drafts.delete(db.session(), _draft(draft_id))
    db.session().commit()
    flash(gettext("The draft is deleted."), "success")
    return redirect(url_for(".index"))


@bp.post("/preview")
@roles(DESIGNER)
def preview() -> Any:
    """Render a form schema (JSON body {schema}) with the task page's renderer, as an HTML fragment."""
    body = _json_body()
    schema = body.get("schema")
    errors: list[str] = []
    if not isinstance(schema, dict):
        errors.append(gettext("The form must be a JSON object."))
        schema = {}
    else:
        errors += check_schema(schema)[:5]
    try:
        prepared = runtime().hooks.prepare_form(schema) if not errors else schema
        fields = field_widgets(prepared, {}, current_lang()) if not errors else []
    except Exception as exc:  # noqa: BLE001 - a half-written schema must not break the editor
        errors.append(f"{type(exc).__name__}: {exc}")
        fields = []
    return render_template("designer/_preview.html", fields=fields, schema_errors=errors)


# ---- diff and migration -----------------------------------------------------------------------------


@bp.get("/diff")
@roles(DESIGNER)
def diff() -> Any:
    """Show what changed between two versions, in words and on both diagrams."""
    old = _definition(request.args.get("old", type=int) or 0)
    new = _definition(request.args.get("new", type=int) or 0)
    result = migration.diff_versions(old, new)
    marks = {"added": result.ids("added"), "removed": result.ids("removed"), "changed": result.ids("changed")}
    return render_template("designer/diff.html", diff=result, old=old, new=new, marks=marks,
                           aspect_labels=migration.ASPECT_LABELS)


@bp.get("/versions/<int:definition_id>/migrate")
@roles(DESIGNER)
def migrate_report(definition_id: int) -> Any:
    """Dry run: for each running instance of other versions, can it move to this version, and why (not)."""
    session = db.session()
    target = _definition(definition_id)
    verdicts = migration.dry_run(session, runtime(), target)
    session.rollback()  # the dry run changes nothing; make sure of it
    return render_template("designer/migrate.html", target=target, verdicts=verdicts, render=_render_finding)


def _render_finding(finding: Finding) -> str:
    return render(finding, _translate)


@bp.post("/versions/<int:definition_id>/migrate")
@roles(DESIGNER)
def migrate(definition_id: int) -> Any:
    """Migrate the selected instances (or all migratable ones with all=1); each one audited."""
    session = db.session()
    target = _definition(definition_id)
    if request.form.get("all"):
        ids = [v.instance_id for v in migration.dry_run(session, runtime(), target) if v.migratable]
        session.rollback()
    else:
        ids = [int(v) for v in request.form.getlist("instance") if v.isdigit()]
    if not ids:
        flash(gettext("Select at least one instance to migrate."), "error")
        return redirect(url_for(".migrate_report", definition_id=definition_id))
    verdicts = migration.migrate(session, runtime(), target, ids, _actor())
    session.commit()
    done = sum(1 for v in verdicts if v.migrated)
    refused = len(verdicts) - done
    flash(ngettext("%(num)s instance migrated to version %(version)s.",
                   "%(num)s instances migrated to version %(version)s.", done, version=target.version), "success")
    if refused:
        flash(ngettext("%(num)s instance could not migrate and is unchanged.",
                       "%(num)s instances could not migrate and are unchanged.", refused), "error")
    return render_template("designer/migrate.html", target=target, verdicts=verdicts, render=_render_finding,
                           results=True)
