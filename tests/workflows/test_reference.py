"""Reference data: loading, labels and the routing table against the sample petitions."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from workflows.calendar import default_calendar
from workflows.reference import (
    OPTION_KINDS,
    REFERENCE_FILE,
    STATUS_NAMES_VI,
    Reference,
    Routing,
    get_reference,
    load_reference,
    parse_reference,
    route,
)

SAMPLES_FILE = REFERENCE_FILE.with_name("sample-petitions.yaml")
SAMPLES: list[dict[str, Any]] = yaml.safe_load(SAMPLES_FILE.read_text(encoding="utf-8"))["petitions"]

# Samples whose coordinating agencies differ on purpose from the category default (see the header of
# sample-petitions.yaml; #1-#3 are not listed there but are subsets of the default, i.e. dropped agencies).
AGENCIES_ADJUSTED_BY_HAND = {
    "KN.20251218.0001", "KN.20251218.0002", "KN.20251218.0003", "KN.20251222.0004",
    "KN.20260108.0007", "KN.20260119.0011", "KN.20260121.0012",
}


@pytest.fixture
def ref() -> Reference:
    return get_reference()


@pytest.fixture
def raw() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(REFERENCE_FILE.read_text(encoding="utf-8"))
    return document


def _ids(samples: list[dict[str, Any]]) -> list[str]:
    return [s["tracking_code"] for s in samples]


def test_reference_is_loaded_once(ref: Reference) -> None:
    assert get_reference() is ref


def test_entries_are_frozen(ref: Reference) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        ref.categories["DD"].lead_unit = "VP"  # type: ignore[misc]
    with pytest.raises(TypeError):
        ref.categories["XX"] = ref.categories["DD"]  # type: ignore[index]
    with pytest.raises(TypeError):
        ref.deadline_rules["urgent"]["acknowledge_wd"] = 2


def test_category_carries_its_default_routing(ref: Reference) -> None:
    dien = ref.categories["DIEN"]
    assert (dien.name_vi, dien.name_en) == ("Cấp điện", "Electricity supply")
    assert dien.lead_unit == "QHXD"
    assert dien.coordinating_agencies == ("EVNHN", "SCT")
    assert dien.default_working_days == 10
    assert dien.urgent_capable
    assert not ref.categories["DD"].urgent_capable


def test_same_code_in_different_lists_stays_apart(ref: Reference) -> None:
    assert ref.categories["THUE"].name_en == "Taxes and fees"
    assert ref.agencies["THUE"].name_en == "Hanoi Tax"
    assert ref.units["KHCN"].name_en != ref.categories["KHCN"].name_en


def test_petition_types_mark_what_is_in_scope(ref: Reference) -> None:
    assert [c for c, t in ref.petition_types.items() if t.in_scope] == ["KN", "PA", "HD"]
    assert ref.petition_types["HD"].default_working_days == 10
    assert ref.petition_types["KN"].default_working_days is None


def test_deadline_rules_and_calendar_settings_are_loaded(ref: Reference) -> None:
    assert ref.deadline_rules["coordination_request_wd"] == 7
    assert ref.deadline_rules["urgent"]["first_action_wd"] == 3
    assert ref.calendar.timezone == "Asia/Ho_Chi_Minh"
    assert ref.calendar.cutoff.isoformat() == "17:00:00"
    assert ref.calendar.extra_days_off == ()
    assert [d.isoformat() for d in ref.calendar.extra_working_days] == ["2024-05-04", "2025-04-26", "2026-08-22"]


@pytest.mark.parametrize("kind", OPTION_KINDS)
def test_every_option_list_has_labels_in_both_languages(ref: Reference, kind: str) -> None:
    vi, en = ref.options(kind, "vi"), ref.options(kind, "en")
    assert vi and [code for code, _ in vi] == [code for code, _ in en]
    assert all(label.strip() for _, label in vi + en)


def test_options_keep_file_order_and_language(ref: Reference) -> None:
    assert ref.options("priorities", "vi") == [("THUONG", "Thường"), ("CAO", "Cao"), ("KHAN", "Khẩn")]
    assert ref.options("priorities", "en") == [("THUONG", "Normal"), ("CAO", "High"), ("KHAN", "Urgent")]
    assert ref.options("zones", "en")[0] == ("HHTP", "Hoa Lac Hi-Tech Park")


def test_statuses_get_vietnamese_names_from_code(ref: Reference) -> None:
    statuses = dict(ref.options("statuses", "vi"))
    assert statuses == dict(STATUS_NAMES_VI)
    assert statuses["DONG"] == "Đã đóng"
    assert dict(ref.options("statuses", "en"))["DONG"] == "Closed"


def test_label_returns_one_code_in_one_language(ref: Reference) -> None:
    assert ref.label("channels", "IHANOI", "vi") == "Ứng dụng iHanoi"
    assert ref.label("satisfaction_levels", "KHONG_HAI_LONG", "en") == "Dissatisfied"
    with pytest.raises(ValueError, match="Unknown channels code 'FAX'"):
        ref.label("channels", "FAX", "vi")


def test_options_refuse_an_unknown_kind_or_language(ref: Reference) -> None:
    with pytest.raises(ValueError, match="Unknown reference list 'roles'"):
        ref.options("roles", "vi")
    with pytest.raises(ValueError, match="Unknown language 'fr'"):
        ref.options("zones", "fr")


def test_route_applies_the_category_default(ref: Reference) -> None:
    assert ref.route("DD", "QM") == Routing("TNMT", ("SNNMT", "THUE", "UBND_XA", "CDT_HT"), 20)


def test_route_applies_the_hoa_lac_overrides(ref: Reference) -> None:
    assert ref.route("VTHONG", "HHTP").lead_unit == "KHCN"
    assert ref.route("VTHONG", "TL").lead_unit == "QHXD"
    assert ref.route("NUOC", "HHTP").lead_unit == "TTDV_HL"
    assert ref.route("HTTR", "HHTP").lead_unit == "TTDV_HL"
    assert ref.route("HTTR", "HHTP").coordinating_agencies == ("CDT_HT",)


def test_route_without_zone_gives_the_category_default(ref: Reference) -> None:
    assert ref.route("VTHONG", None).lead_unit == "QHXD"


def test_route_refuses_unknown_codes(ref: Reference) -> None:
    with pytest.raises(ValueError, match="Unknown category code 'NOPE'"):
        ref.route("NOPE", "TL")
    with pytest.raises(ValueError, match="Unknown zone code 'XX'"):
        route("DD", "XX")


@pytest.mark.parametrize("sample", SAMPLES, ids=_ids(SAMPLES))
def test_route_proposes_the_sample_lead_unit_and_deadline(sample: dict[str, Any]) -> None:
    expected = sample["expected_routing"]
    proposed = route(sample["category"], sample["zone"])
    assert proposed.lead_unit == expected["lead_unit"]
    assert proposed.working_days == expected["working_days"]


@pytest.mark.parametrize("sample", SAMPLES, ids=_ids(SAMPLES))
def test_sample_agencies_come_from_the_primary_or_secondary_categories(sample: dict[str, Any]) -> None:
    expected = sample["expected_routing"]["coordinating_agencies"]
    categories = [sample["category"], *sample["secondary_categories"]]
    offered = {a for c in categories for a in route(c, sample["zone"]).coordinating_agencies}
    assert set(expected) <= offered
    if sample["tracking_code"] not in AGENCIES_ADJUSTED_BY_HAND:
        assert tuple(expected) == route(sample["category"], sample["zone"]).coordinating_agencies


@pytest.mark.parametrize("sample", SAMPLES, ids=_ids(SAMPLES))
def test_sample_due_date_is_received_date_plus_working_days(sample: dict[str, Any]) -> None:
    expected = sample["expected_routing"]
    due = default_calendar().add_working_days(sample["received_at"], expected["working_days"])
    assert due == expected["expected_due_date"]


def test_urgent_sample_acknowledge_and_first_action_dates(ref: Reference) -> None:
    urgent = next(s for s in SAMPLES if s["priority"] == "KHAN")
    rules, calendar = ref.deadline_rules["urgent"], default_calendar()
    received = urgent["received_at"]
    assert calendar.add_working_days(received, rules["acknowledge_wd"]) == urgent["expected_routing"]["acknowledge_by"]
    assert calendar.add_working_days(received, rules["first_action_wd"]) == urgent["expected_routing"]["first_action_by"]


def test_every_sample_code_is_known(ref: Reference) -> None:
    for sample in SAMPLES:
        assert sample["zone"] in ref.zones
        assert sample["channel"] in ref.channels
        assert sample["priority"] in ref.priorities
        assert sample["petition_type"] in ref.petition_types
        assert all(a in ref.agencies for a in sample["expected_routing"]["coordinating_agencies"])


def test_load_reference_reads_a_given_file(tmp_path: Path, raw: dict[str, Any]) -> None:
    path = tmp_path / "reference.yaml"
    raw["categories"] = [c for c in raw["categories"] if c["code"] != "KHAC"]
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    assert "KHAC" not in load_reference(path).categories
    assert load_reference(path).categories.keys() == get_reference().categories.keys() - {"KHAC"}


def test_parse_refuses_a_status_without_vietnamese_name(raw: dict[str, Any]) -> None:
    raw["statuses"].append({"code": "LUU_TRU", "name_en": "Archived"})
    with pytest.raises(ValueError, match="LUU_TRU"):
        parse_reference(raw)


def test_parse_refuses_routing_to_an_unknown_unit(raw: dict[str, Any]) -> None:
    raw["zone_overrides"]["HHTP"].append({"category": "MT", "lead_unit": "NOWHERE"})
    with pytest.raises(ValueError, match="'MT'"):
        parse_reference(raw)
