"""`petitions bpmn validate|deploy FILE...`: the designer pages' validation and deployment for pipelines.

Files that call each other's processes (call activities) are validated and deployed together; other files
each form a model of their own. Forms are read from `--forms DIR` (default: a `forms/` directory next to the
file, as in `bpmn/forms`). Problems print as `file:line: [element id] message`, in Vietnamese or English
(`--lang`, else the locale from LC_ALL / LC_MESSAGES / LANG). Exit status: 0 when every model is deployable
(or deployed), 1 when one is not (then `deploy` deploys nothing), 2 on usage errors.
"""
from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from engine.bpmn_xml import BPMN_NS, MAX_BPMN_BYTES, parse_untrusted_xml
from engine.errors import BpmnRejected, EngineError, Problem
from engine.validation import MSG_FORM_JSON, MSG_TOO_LARGE, N_, Finding, check, render_line

CATALOG_DIR = Path(__file__).resolve().parent / "translations"
LANGS = ("vi", "en")
CLI_MESSAGES = (
    N_("%(files)s: deployable (process %(process)s)."),
    N_("Nothing was deployed."),
    N_("Process %(process)s: version %(version)s deployed."),
    N_("Process %(process)s: this content is already deployed as version %(version)s."),
)


def locale_lang(environ: dict[str, str] | None = None) -> str:
    """Return 'vi' or 'en' from the locale variables (the first one set wins); English when unknown."""
    environ = dict(os.environ) if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name, "")
        if value:
            return "vi" if value.lower().startswith("vi") else "en"
    return "en"


def translator(lang: str) -> Callable[[str], str]:
    """Return a gettext for `lang` from the app's catalogs (identity for English)."""
    if lang == "en":
        return lambda message: message
    from babel.support import Translations

    return Translations.load(str(CATALOG_DIR), [lang]).gettext


def _read(path: Path) -> tuple[bytes, list[Problem]]:
    with path.open("rb") as handle:
        data = handle.read(MAX_BPMN_BYTES + 1)
    if len(data) > MAX_BPMN_BYTES:
        return b"", [Finding.make(MSG_TOO_LARGE, str(path), size=path.stat().st_size, limit=MAX_BPMN_BYTES)]
    return data, []


def _forms(directory: Path | None) -> tuple[dict[str, Any], list[Problem]]:
    forms: dict[str, Any] = {}
    problems: list[Problem] = []
    if directory is None or not directory.is_dir():
        return forms, problems
    for path in sorted(directory.glob("*.json")):
        try:
            forms[path.name] = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeError, ValueError):
            problems.append(Finding.make(MSG_FORM_JSON, str(path), form=path.name))
    return forms, problems


def _calls(data: bytes, name: str) -> tuple[set[str], set[str]]:
    """Return (process ids defined, process ids called) of a file; empty sets when it cannot be parsed."""
    try:
        root = parse_untrusted_xml(data, name)
    except BpmnRejected:
        return set(), set()
    defined = {p.get("id", "") for p in root.iter(f"{{{BPMN_NS}}}process")}
    called = {c.get("calledElement", "") for c in root.iter(f"{{{BPMN_NS}}}callActivity")} - {""}
    return defined, called


def group_files(files: dict[str, bytes]) -> list[list[str]]:
    """Group file names so that a file calling another file's process is validated with it."""
    info = {name: _calls(data, name) for name, data in files.items()}
    parent = {name: name for name in files}

    def find(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    for name, (_, called) in info.items():
        for other, (defined, _) in info.items():
            if other != name and called & defined:
                parent[find(name)] = find(other)
    groups: dict[str, list[str]] = {}
    for name in files:
        groups.setdefault(find(name), []).append(name)
    return list(groups.values())


def load_models(paths: tuple[str, ...], forms_dir: str | None) -> list[tuple[dict[str, bytes], dict[str, Any],
                                                                               list[Problem]]]:
    """Return each model to check: (files by path, forms, problems found while reading)."""
    files: dict[str, bytes] = {}
    read_problems: dict[str, list[Problem]] = {}
    for raw in paths:
        data, problems = _read(Path(raw))
        files[raw] = data
        read_problems[raw] = problems
    models = []
    for group in group_files(files):
        directory = Path(forms_dir) if forms_dir else Path(group[0]).parent / "forms"
        forms, problems = _forms(directory)
        problems = [p for name in group for p in read_problems[name]] + problems
        models.append(({name: files[name] for name in group}, forms, problems))
    return models


def _rules() -> Any:
    from workflows.designer import validation_rules

    return validation_rules()


def _report(models: list[tuple[dict[str, bytes], dict[str, Any], list[Problem]]], process_id: str | None,
            gettext: Callable[[str], str]) -> tuple[bool, list[tuple[dict[str, bytes], dict[str, Any], str]]]:
    """Validate every model and print its problems; return (all deployable, [(files, forms, process id)])."""
    ok = True
    deployable = []
    for files, forms, problems in models:
        report = None
        if not problems:
            report = check(files, forms, _rules(), process_id)
            problems = report.problems
        for problem in problems:
            click.echo(render_line(problem, gettext))
        if problems or report is None or report.process_id is None:
            ok = False
        else:
            deployable.append((files, forms, report.process_id))
    return ok, deployable


@click.group("bpmn")
def bpmn_group() -> None:
    """Validate and deploy BPMN models (the same validation as the designer pages)."""


_FILES = click.argument("paths", metavar="FILE...", nargs=-1, required=True,
                        type=click.Path(exists=True, dir_okay=False))
_FORMS = click.option("--forms", "forms_dir", type=click.Path(exists=True, file_okay=False),
                      help="directory of the JSON-Schema forms (default: forms/ next to the file)")
_PROCESS = click.option("--process", "process_id", default=None,
                        help="process id to deploy (default: the file's only executable process)")
_LANG = click.option("--lang", type=click.Choice(LANGS), default=None,
                     help="language of the messages (default: from LC_ALL / LC_MESSAGES / LANG)")


@bpmn_group.command("validate")
@_FILES
@_FORMS
@_PROCESS
@_LANG
def validate_command(paths: tuple[str, ...], forms_dir: str | None, process_id: str | None,
                     lang: str | None) -> None:
    """Print every problem of the models as `file:line: [element id] message`; exit 1 if one is not deployable."""
    gettext = translator(lang or locale_lang())
    ok, deployable = _report(load_models(paths, forms_dir), process_id, gettext)
    for files, _, pid in deployable:
        click.echo(gettext("%(files)s: deployable (process %(process)s).") % {"files": ", ".join(files),
                                                                             "process": pid})
    sys.exit(0 if ok else 1)


@bpmn_group.command("deploy")
@_FILES
@_FORMS
@_PROCESS
@_LANG
@click.option("--actor", default=None, help="name recorded in the audit trail (default: cli:<login name>)")
@with_appcontext
def deploy_command(paths: tuple[str, ...], forms_dir: str | None, process_id: str | None, lang: str | None,
                   actor: str | None) -> None:
    """Validate the models and deploy each as a new version (nothing is deployed if one is not deployable)."""
    from engine import definitions
    from engine.audit import Actor

    gettext = translator(lang or locale_lang())
    ok, deployable = _report(load_models(paths, forms_dir), process_id, gettext)
    if not ok:
        click.echo(gettext("Nothing was deployed."), err=True)
        sys.exit(1)
    who = Actor(actor or f"cli:{getpass.getuser()}", "designer")
    with current_app.extensions["petitions.sessions"]() as session:
        results = []
        try:
            for files, forms, pid in deployable:
                named = {Path(name).name: data for name, data in files.items()}
                before = {i.definition.id for i in definitions.versions(session, pid)}
                definition = definitions.deploy(session, pid, named, forms, who, _rules())
                results.append((definition, definition.id not in before))
        except EngineError as exc:
            session.rollback()
            for problem in getattr(exc, "problems", []) or []:
                click.echo(render_line(problem, gettext))
            click.echo(gettext("Nothing was deployed.") + f" ({exc})", err=True)
            sys.exit(1)
        session.commit()
    for definition, created in results:
        template = ("Process %(process)s: version %(version)s deployed." if created
                    else "Process %(process)s: this content is already deployed as version %(version)s.")
        click.echo(gettext(template) % {"process": definition.process_id, "version": definition.version})
