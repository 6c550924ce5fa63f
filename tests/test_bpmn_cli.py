"""`petitions bpmn validate|deploy` run as a real subprocess: exit codes, messages in both languages."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.bpmn_cases import CASES, FORM, VALID, forms_json

ROOT = Path(__file__).resolve().parents[1]
PETITIONS = Path(sys.executable).with_name("petitions")


def run(*args: str, lang: str | None = "en_US.UTF-8", cwd: Path | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: val for k, val in os.environ.items() if k not in ("LANG", "LC_ALL", "LC_MESSAGES", "LANGUAGE")}
    if lang:
        environ["LANG"] = lang
    environ.update(env or {})
    return subprocess.run([str(PETITIONS), "bpmn", *args], capture_output=True, text=True, cwd=cwd, env=environ,
                          timeout=300)


@pytest.fixture
def case_files(tmp_path: Path) -> dict[str, Path]:
    """Every broken case as a file in one directory, with a forms/ directory holding the forms they use."""
    (tmp_path / "forms").mkdir()
    for case in CASES:
        (tmp_path / f"{case.name}.bpmn").write_bytes(case.data)
        for name, body in forms_json(case).items():
            if case.name == "bad_form_schema":
                (tmp_path / "bad_forms").mkdir(exist_ok=True)
                (tmp_path / "bad_forms" / name).write_bytes(body)
            else:
                (tmp_path / "forms" / name).write_bytes(body)
    return {case.name: tmp_path / f"{case.name}.bpmn" for case in CASES}


def test_validate_prints_every_problem_with_file_line_and_element_and_fails(case_files: dict[str, Path]) -> None:
    paths = [str(p) for name, p in case_files.items() if name != "bad_form_schema"]
    result = run("validate", *paths)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    for case in CASES:
        if case.name == "bad_form_schema":
            continue
        path = str(case_files[case.name])
        mine = [line for line in lines if line.startswith(path)]
        assert any(case.fragment in line for line in mine), (case.name, mine)
        if case.element:
            assert any(f"[{case.element}] " in line and line.startswith(f"{path}:") and
                       line[len(path) + 1:].split(":", 1)[0].isdigit() for line in mine), (case.name, mine)
    schema = run("validate", str(case_files["bad_form_schema"]), "--forms",
                 str(case_files["bad_form_schema"].parent / "bad_forms"))
    assert schema.returncode == 1 and "is not a valid JSON Schema" in schema.stdout


def test_validate_speaks_vietnamese_by_locale_or_option(case_files: dict[str, Path]) -> None:
    path = str(case_files["unknown_lane"])
    english = run("validate", path)
    assert "Lane 'Reception' does not map to a role" in english.stdout
    vietnamese = run("validate", path, lang="vi_VN.UTF-8")
    assert "Làn 'Reception' không ứng với vai trò nào" in vietnamese.stdout
    assert "Làn 'Reception'" in run("validate", path, "--lang", "vi").stdout
    assert "Lane 'Reception'" in run("validate", path, "--lang", "en", lang="vi_VN.UTF-8").stdout
    assert vietnamese.returncode == english.returncode == 1
    assert run("validate", path, "--lang", "fr").returncode == 2


def test_validate_accepts_the_shipped_model_and_exits_zero(tmp_path: Path) -> None:
    result = run("validate", str(ROOT / "bpmn" / "petition.bpmn"), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "deployable (process petition)" in result.stdout
    vi = run("validate", str(ROOT / "bpmn" / "petition.bpmn"), lang="vi_VN.UTF-8", cwd=tmp_path)
    assert vi.returncode == 0 and "có thể triển khai (quy trình petition)" in vi.stdout


def test_hostile_files_give_a_message_not_a_traceback(case_files: dict[str, Path]) -> None:
    for name in ("xxe", "billion_laughs", "malformed", "too_large", "not_bpmn", "empty"):
        result = run("validate", str(case_files[name]))
        assert result.returncode == 1 and "Traceback" not in result.stdout + result.stderr, name
        assert result.stdout.startswith(str(case_files[name])), name


def test_deploy_validates_then_deploys_as_the_page_does(tmp_path: Path) -> None:
    database = tmp_path / "cli.sqlite"
    env = {"PETITIONS_DATABASE_URL": f"sqlite:///{database}"}
    init = subprocess.run([str(PETITIONS), "init"], capture_output=True, text=True, env={**os.environ, **env},
                          timeout=300, cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    (tmp_path / "forms").mkdir()
    (tmp_path / "forms" / "note.json").write_text(json.dumps(FORM))
    good, bad = tmp_path / "good.bpmn", tmp_path / "bad.bpmn"
    good.write_bytes(VALID)
    bad.write_bytes(CASES[[c.name for c in CASES].index("unknown_lane")].data.replace(b'id="p"', b'id="q"'))
    refused = run("deploy", str(good), str(bad), "--actor", "ci-pipeline", env=env, cwd=tmp_path)
    assert refused.returncode == 1 and "Nothing was deployed" in refused.stderr
    assert "does not map to a role" in refused.stdout
    deployed = run("deploy", str(good), "--actor", "ci-pipeline", env=env, cwd=tmp_path)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert "Process p: version 1 deployed." in deployed.stdout
    again = run("deploy", str(good), "--actor", "ci-pipeline", env=env, lang="vi_VN.UTF-8", cwd=tmp_path)
    assert again.returncode == 0 and "đã được triển khai là phiên bản 1" in again.stdout
    engine = create_engine(f"sqlite:///{database}")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT process_id, version, deployed_by FROM process_definition ORDER BY id")).all()
        audit = conn.execute(text("SELECT actor, role FROM audit_event WHERE action = 'DEFINITION_DEPLOYED' "
                                  "ORDER BY chain_index")).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [("petition", 1, "system"), ("p", 1, "ci-pipeline")]
    assert tuple(audit[-1]) == ("ci-pipeline", "designer")
