"""Hardened parsing of untrusted BPMN: XML attacks are refused, model errors become readable problems."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from lxml import etree

from engine.bpmn_xml import MAX_BPMN_BYTES, get_spec, parse_bpmn_files, parse_untrusted_xml
from engine.errors import BpmnRejected, Problem

ROOT = Path(__file__).resolve().parents[2]
SECRET = "canary-secret-4f1c"
OPEN = ('<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="defs" '
        'targetNamespace="urn:test">\n')


def model(body: str, process_id: str = "p") -> str:
    """Return a BPMN document (without XML declaration) holding one executable process."""
    return OPEN + f' <bpmn:process id="{process_id}" isExecutable="true">\n{body}\n </bpmn:process>\n</bpmn:definitions>\n'


VALID_BODY = """  <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
  <bpmn:userTask id="review" name="Review"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
  <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
  <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review"/>
  <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="end"/>"""
DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'


def rejected(data: bytes, name: str = "up.bpmn") -> list[Problem]:
    """Return the problems reported for a file that must be refused by `parse_bpmn_files`."""
    with pytest.raises(BpmnRejected) as info:
        get_spec(parse_bpmn_files({name: data}), "p")
    assert info.value.problems
    return info.value.problems


def line_of(text: str, needle: str) -> int:
    """Return the 1-based line number of the first line containing `needle`."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.fixture
def canary(tmp_path: Path) -> Path:
    """A local file whose text must never reach the parsed model or an error message."""
    path = tmp_path / "canary.txt"
    path.write_text(SECRET)
    return path


# ---- XML attacks --------------------------------------------------------------------------------------


def test_lxml_is_at_least_version_5() -> None:
    assert etree.LXML_VERSION >= (5,)


def test_xxe_with_a_canary_file_is_refused_and_the_file_is_not_read(canary: Path) -> None:
    body = VALID_BODY.replace('name="Review">', 'name="Review"><bpmn:documentation>&xxe;</bpmn:documentation>')
    data = (DECL + f'<!DOCTYPE bpmn:definitions [<!ENTITY xxe SYSTEM "file://{canary}">]>\n' + model(body)).encode()
    problems = rejected(data)
    assert "DOCTYPE declarations are not allowed" in problems[0].message
    assert all(SECRET not in str(p) for p in problems)


def test_parameter_entity_with_external_dtd_is_refused(canary: Path) -> None:
    data = (DECL + f'<!DOCTYPE d [<!ENTITY % ext SYSTEM "file://{canary}"> %ext;]>\n' + model(VALID_BODY)).encode()
    assert "DOCTYPE" in rejected(data)[0].message


def test_billion_laughs_is_refused_quickly() -> None:
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    body = VALID_BODY.replace('name="Review">', 'name="Review"><bpmn:documentation>&lol9;</bpmn:documentation>')
    data = (DECL + f"<!DOCTYPE bpmn:definitions [{entities}]>\n" + model(body)).encode()
    started = time.monotonic()
    assert "DOCTYPE" in rejected(data)[0].message
    assert time.monotonic() - started < 1


def test_internal_entity_is_refused() -> None:
    body = VALID_BODY.replace('name="Review"', 'name="&who;"')
    data = (DECL + '<!DOCTYPE bpmn:definitions [<!ENTITY who "Mallory">]>\n' + model(body)).encode()
    problems = rejected(data)
    assert problems == [Problem("DOCTYPE declarations are not allowed in BPMN files", "up.bpmn", 1)]


def test_doctype_hidden_after_a_long_comment_or_in_utf16_is_refused() -> None:
    hidden = DECL + "<!--" + "x" * 10_000 + "-->\n<!DOCTYPE d [<!ENTITY e 'v'>]>\n" + model(VALID_BODY)
    assert "DOCTYPE" in rejected(hidden.encode())[0].message
    utf16 = '<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE d [<!ENTITY e "v">]>\n' + model(VALID_BODY)
    assert "DOCTYPE" in rejected(utf16.encode("utf-16"))[0].message


def test_xinclude_is_refused(canary: Path) -> None:
    body = VALID_BODY.replace(
        'name="Review">',
        'name="Review"><bpmn:documentation><xi:include xmlns:xi="http://www.w3.org/2001/XInclude" '
        f'href="file://{canary}" parse="text"/></bpmn:documentation>')
    text = DECL + model(body)
    problems = rejected(text.encode())
    assert problems[0].message == "XInclude elements are not allowed in BPMN files"
    assert problems[0].line == line_of(text, "xi:include")
    assert all(SECRET not in str(p) for p in problems)


def test_malformed_xml_gives_a_clear_message_with_the_line() -> None:
    text = DECL + model(VALID_BODY).replace("</bpmn:userTask>", "</bpmn:userTsk>")
    [problem] = rejected(text.encode())
    assert problem.message.startswith("File is not well-formed XML:")
    assert problem.line == line_of(text, "</bpmn:userTsk>")
    assert f"(line {problem.line})" in problem.message


@pytest.mark.parametrize(("data", "message"), [
    (b"", "File is empty"),
    (b"  \n ", "File is empty"),
    (b"this is not xml", "File is not well-formed XML"),
])
def test_empty_and_non_xml_files_are_refused(data: bytes, message: str) -> None:
    assert rejected(data)[0].message.startswith(message)


def test_file_over_two_megabytes_is_refused() -> None:
    text = (DECL + model(VALID_BODY)).encode()
    data = text + b" " * (MAX_BPMN_BYTES + 1 - len(text))
    assert len(data) == MAX_BPMN_BYTES + 1
    assert "too large" in rejected(data)[0].message
    parse_untrusted_xml(data[:-1], "limit.bpmn")  # exactly 2 MB is still accepted


def test_root_element_must_be_bpmn_definitions() -> None:
    assert "bpmn:definitions" in rejected(b"<definitions/>")[0].message


# ---- model errors -------------------------------------------------------------------------------------


def test_valid_file_parses_into_a_spec() -> None:
    spec, subprocess_specs = get_spec(parse_bpmn_files({"ok.bpmn": (DECL + model(VALID_BODY)).encode()}), "p")
    assert {"start", "review", "end"} <= {s.bpmn_id for s in spec.task_specs.values()}
    assert subprocess_specs == {}


def test_the_shipped_petition_model_parses() -> None:
    files = {"petition.bpmn": (ROOT / "bpmn" / "petition.bpmn").read_bytes()}
    spec, _ = get_spec(parse_bpmn_files(files), "petition")
    assert "register" in {s.bpmn_id for s in spec.task_specs.values()}


def test_xsd_invalid_element_gives_a_problem_with_its_line() -> None:
    text = DECL + model(VALID_BODY + '\n  <bpmn:bogus id="b"/>')
    [problem] = rejected(text.encode())
    assert problem.file == "up.bpmn" and problem.line == line_of(text, "bpmn:bogus")
    assert "bpmn:bogus" in problem.message and "{http" not in problem.message


def test_xsd_validation_can_be_skipped() -> None:
    text = DECL + model(VALID_BODY + '\n  <bpmn:bogus id="b"/>')
    get_spec(parse_bpmn_files({"up.bpmn": text.encode()}, validate=False), "p")


def test_unsupported_complex_gateway_names_the_element() -> None:
    body = VALID_BODY.replace('<bpmn:userTask id="review" name="Review">', '<bpmn:complexGateway id="g" name="Mix">')
    body = body.replace("</bpmn:userTask>", "</bpmn:complexGateway>").replace('targetRef="review"', 'targetRef="g"')
    body = body.replace('sourceRef="review"', 'sourceRef="g"')
    text = DECL + model(body)
    [problem] = rejected(text.encode())
    assert (problem.element_id, problem.element_name) == ("g", "Mix")
    assert problem.line == line_of(text, "complexGateway id")
    assert "complexGateway is not supported" in problem.message


def test_flow_to_a_missing_node_gives_a_readable_message() -> None:
    text = DECL + model(VALID_BODY.replace('sourceRef="review" targetRef="end"', 'sourceRef="review" targetRef="ghost"'))
    [problem] = rejected(text.encode())
    assert problem.element_id == "f2" and problem.line == line_of(text, 'id="f2"')
    assert problem.message == "Sequence flow 'f2' from 'review' goes to 'ghost', which is not an element of this process"
    assert "perhaps a form" not in str(problem)


def test_message_event_without_a_defined_message_is_a_problem_not_a_type_error() -> None:
    body = """  <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
  <bpmn:intermediateCatchEvent id="wait" name="Wait"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
   <bpmn:messageEventDefinition id="md" messageRef="nope"/></bpmn:intermediateCatchEvent>
  <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
  <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait"/>
  <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="end"/>"""
    text = DECL + model(body)
    [problem] = rejected(text.encode())
    assert (problem.element_id, problem.line) == ("wait", line_of(text, "messageRef"))
    assert problem.message == "Message event refers to message 'nope', which is not defined"


def test_very_long_chain_is_reported_instead_of_crashing() -> None:
    n = 600
    parts = ['<bpmn:startEvent id="s"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>']
    for i in range(n):
        source = "s" if i == 0 else f"t{i - 1}"
        parts.append(f'<bpmn:task id="t{i}"><bpmn:incoming>f{i}</bpmn:incoming><bpmn:outgoing>f{i + 1}</bpmn:outgoing>'
                     f'</bpmn:task><bpmn:sequenceFlow id="f{i}" sourceRef="{source}" targetRef="t{i}"/>')
    parts.append(f'<bpmn:endEvent id="e"><bpmn:incoming>f{n}</bpmn:incoming></bpmn:endEvent>'
                 f'<bpmn:sequenceFlow id="f{n}" sourceRef="t{n - 1}" targetRef="e"/>')
    [problem] = rejected((DECL + model("\n".join(parts))).encode())
    assert "too long" in problem.message


def test_unknown_process_id_is_a_problem() -> None:
    with pytest.raises(BpmnRejected) as info:
        get_spec(parse_bpmn_files({"ok.bpmn": (DECL + model(VALID_BODY)).encode()}), "other")
    assert "'other' was not found" in info.value.problems[0].message


def test_problems_of_every_file_are_reported_together() -> None:
    with pytest.raises(BpmnRejected) as info:
        parse_bpmn_files({"a.bpmn": b"", "b.bpmn": b"<broken", "c.bpmn": (DECL + model(VALID_BODY)).encode()})
    assert [p.file for p in info.value.problems] == ["a.bpmn", "b.bpmn"]
