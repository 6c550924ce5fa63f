"""Reference data of the petition domain, loaded once from `reference-data.yaml`.

Codes are unique within their own list only (`THUE` is a category and an agency, `KHCN` a category and a
unit), so every lookup names its list.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

import yaml

REFERENCE_FILE = Path(__file__).with_name("reference-data.yaml")
LANGUAGES = ("vi", "en")

# The YAML gives statuses in English only; the Vietnamese names follow DOMAIN.md section 7.
STATUS_NAMES_VI: Mapping[str, str] = MappingProxyType({
    "MOI_TIEP_NHAN": "Mới tiếp nhận",
    "DA_PHAN_LOAI": "Đã phân loại",
    "DA_GIAO": "Đã giao xử lý",
    "DANG_XU_LY": "Đang xử lý",
    "CHO_PHOI_HOP": "Chờ phối hợp",
    "CHO_BO_SUNG": "Chờ bổ sung",
    "DU_THAO_TRA_LOI": "Dự thảo trả lời",
    "DA_DUYET": "Đã duyệt",
    "DA_TRA_LOI": "Đã trả lời",
    "DA_CONG_KHAI": "Đã công khai",
    "DONG": "Đã đóng",
    "MO_LAI": "Mở lại",
    "KHONG_TIEP_NHAN": "Không tiếp nhận",
    "CHUYEN_CO_QUAN_KHAC": "Chuyển cơ quan khác",
    "TRUNG_LAP": "Trùng lặp",
    "RUT": "Rút",
})


@dataclass(frozen=True)
class Label:
    """A coded entry of a simple list (priorities, channels, statuses...)."""

    code: str
    name_vi: str
    name_en: str


@dataclass(frozen=True)
class Zone(Label):
    """A high-tech park or industrial zone managed by the Board."""

    kind: str
    former_district: str | None


@dataclass(frozen=True)
class Unit(Label):
    """An internal unit (phòng chuyên môn) of the Board."""

    topics: tuple[str, ...]


@dataclass(frozen=True)
class Agency(Label):
    """An external agency the Board coordinates with."""

    kind: str
    topics: tuple[str, ...]


@dataclass(frozen=True)
class Category(Label):
    """A topic category (lĩnh vực) with its default routing."""

    lead_unit: str
    coordinating_agencies: tuple[str, ...]
    default_working_days: int
    urgent_capable: bool


@dataclass(frozen=True)
class PetitionType(Label):
    """A petition type (loại đơn), the first triage dimension."""

    in_scope: bool
    default_working_days: int | None


@dataclass(frozen=True)
class ZoneOverride:
    """A per-zone change to a category's default routing; `condition` is free text for people."""

    category: str
    lead_unit: str | None
    coordinating_agencies: tuple[str, ...] | None
    working_days: int | None
    condition: str | None


@dataclass(frozen=True)
class Routing:
    """The proposed lead unit, coordinating agencies and deadline of a petition."""

    lead_unit: str
    coordinating_agencies: tuple[str, ...]
    working_days: int


@dataclass(frozen=True)
class CalendarSettings:
    """The calendar section: make-up working days, extra days off, cut-off and time zone."""

    extra_working_days: tuple[dt.date, ...]
    extra_days_off: tuple[dt.date, ...]
    cutoff: dt.time
    timezone: str


@dataclass(frozen=True)
class Reference:
    """All reference lists, each a read-only mapping from code to entry in file order."""

    zones: Mapping[str, Zone]
    units: Mapping[str, Unit]
    agencies: Mapping[str, Agency]
    categories: Mapping[str, Category]
    petition_types: Mapping[str, PetitionType]
    rejection_reasons: Mapping[str, Label]
    priorities: Mapping[str, Label]
    channels: Mapping[str, Label]
    result_types: Mapping[str, Label]
    satisfaction_levels: Mapping[str, Label]
    statuses: Mapping[str, Label]
    zone_overrides: Mapping[str, tuple[ZoneOverride, ...]]
    deadline_rules: Mapping[str, Any]
    calendar: CalendarSettings

    def options(self, kind: str, lang: str) -> list[tuple[str, str]]:
        """Return (code, label) pairs of one list in `lang`; raise ValueError on an unknown kind or language."""
        if kind not in OPTION_KINDS:
            raise ValueError(f"Unknown reference list {kind!r}; expected one of {', '.join(OPTION_KINDS)}.")
        if lang not in LANGUAGES:
            raise ValueError(f"Unknown language {lang!r}; expected one of {', '.join(LANGUAGES)}.")
        entries: Mapping[str, Label] = getattr(self, kind)
        return [(code, entry.name_vi if lang == "vi" else entry.name_en) for code, entry in entries.items()]

    def label(self, kind: str, code: str, lang: str) -> str:
        """Return the label of one code; raise ValueError when the code is not in the list."""
        labels = dict(self.options(kind, lang))
        if code not in labels:
            raise ValueError(f"Unknown {kind} code {code!r}.")
        return labels[code]

    def route(self, category: str, zone: str | None) -> Routing:
        """Return the category's default routing with the zone's overrides applied (None: no zone).

        Raises ValueError on an unknown category or zone code.
        """
        cat = _lookup(self.categories, category, "category")
        if zone is not None:
            _lookup(self.zones, zone, "zone")
        routing = Routing(cat.lead_unit, cat.coordinating_agencies, cat.default_working_days)
        for override in self.zone_overrides.get(zone or "", ()):
            if override.category == category:
                routing = Routing(
                    override.lead_unit or routing.lead_unit,
                    routing.coordinating_agencies if override.coordinating_agencies is None
                    else override.coordinating_agencies,
                    override.working_days or routing.working_days,
                )
        return routing


OPTION_KINDS = (
    "zones", "units", "agencies", "categories", "petition_types", "rejection_reasons",
    "priorities", "channels", "result_types", "satisfaction_levels", "statuses",
)

E = TypeVar("E")
L = TypeVar("L", bound=Label)


def _lookup(entries: Mapping[str, E], code: object, list_name: str) -> E:
    if not isinstance(code, str) or code not in entries:
        raise ValueError(f"Unknown {list_name} code {code!r}; expected one of {', '.join(entries)}.")
    return entries[code]


def _by_code(entries: list[L]) -> Mapping[str, L]:
    return MappingProxyType({entry.code: entry for entry in entries})


def _frozen(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({key: _frozen(item) for key, item in value.items()})
    if isinstance(value, list):
        return tuple(_frozen(item) for item in value)
    return value


def _label(raw: Mapping[str, Any]) -> Label:
    return Label(raw["code"], raw["name_vi"], raw["name_en"])


def _status(raw: Mapping[str, Any]) -> Label:
    code = raw["code"]
    if code not in STATUS_NAMES_VI:
        raise ValueError(f"Status {code!r} in the reference data has no Vietnamese name in STATUS_NAMES_VI.")
    return Label(code, STATUS_NAMES_VI[code], raw["name_en"])


def _zone(raw: Mapping[str, Any]) -> Zone:
    return Zone(raw["code"], raw["name_vi"], raw["name_en"], raw["kind"], raw.get("former_district"))


def _unit(raw: Mapping[str, Any]) -> Unit:
    return Unit(raw["code"], raw["name_vi"], raw["name_en"], tuple(raw.get("topics") or ()))


def _agency(raw: Mapping[str, Any]) -> Agency:
    return Agency(raw["code"], raw["name_vi"], raw["name_en"], raw["kind"], tuple(raw.get("topics") or ()))


def _category(raw: Mapping[str, Any]) -> Category:
    return Category(
        raw["code"], raw["name_vi"], raw["name_en"], raw["lead_unit"],
        tuple(raw.get("coordinating_agencies") or ()), int(raw["default_working_days"]),
        bool(raw.get("urgent_capable", False)),
    )


def _petition_type(raw: Mapping[str, Any]) -> PetitionType:
    days = raw.get("default_working_days")
    return PetitionType(raw["code"], raw["name_vi"], raw["name_en"], bool(raw["in_scope"]),
                        None if days is None else int(days))


def _zone_override(raw: Mapping[str, Any]) -> ZoneOverride:
    agencies = raw.get("coordinating_agencies")
    days = raw.get("working_days")
    return ZoneOverride(raw["category"], raw.get("lead_unit"), None if agencies is None else tuple(agencies),
                        None if days is None else int(days), raw.get("condition"))


def _calendar(raw: Mapping[str, Any], timezone: str, cutoff: str) -> CalendarSettings:
    return CalendarSettings(
        tuple(item["date"] for item in raw.get("extra_working_days") or ()),
        tuple(item["date"] if isinstance(item, Mapping) else item for item in raw.get("extra_days_off") or ()),
        dt.time.fromisoformat(cutoff),
        timezone,
    )


def parse_reference(raw: Mapping[str, Any]) -> Reference:
    """Build a Reference from the parsed YAML document; raise ValueError when it is inconsistent."""
    rules = raw["deadline_rules"]
    ref = Reference(
        zones=_by_code([_zone(z) for z in raw["zones"]]),
        units=_by_code([_unit(u) for u in raw["units"]]),
        agencies=_by_code([_agency(a) for a in raw["agencies"]]),
        categories=_by_code([_category(c) for c in raw["categories"]]),
        petition_types=_by_code([_petition_type(p) for p in raw["petition_types"]]),
        rejection_reasons=_by_code([_label(r) for r in raw["rejection_reasons"]]),
        priorities=_by_code([_label(p) for p in raw["priorities"]]),
        channels=_by_code([_label(c) for c in raw["channels"]]),
        result_types=_by_code([_label(r) for r in raw["result_types"]]),
        satisfaction_levels=_by_code([_label(s) for s in raw["satisfaction_levels"]]),
        statuses=_by_code([_status(s) for s in raw["statuses"]]),
        zone_overrides=MappingProxyType({
            zone: tuple(_zone_override(o) for o in overrides)
            for zone, overrides in (raw.get("zone_overrides") or {}).items()
        }),
        deadline_rules=_frozen(rules),
        calendar=_calendar(raw["calendar"], raw["meta"]["timezone"], rules["counting"]["cut_off_local_time"]),
    )
    _check_routing_codes(ref)
    return ref


def _check_routing_codes(ref: Reference) -> None:
    routings = [(c.code, c.lead_unit, c.coordinating_agencies) for c in ref.categories.values()]
    for zone, overrides in ref.zone_overrides.items():
        _lookup(ref.zones, zone, "zone")
        for o in overrides:
            _lookup(ref.categories, o.category, "category")
            routings.append((o.category, o.lead_unit or ref.categories[o.category].lead_unit,
                             o.coordinating_agencies or ()))
    for category, unit, agencies in routings:
        if unit not in ref.units or any(a not in ref.agencies for a in agencies):
            raise ValueError(f"Routing of category {category!r} names an unknown unit or agency.")


def load_reference(path: Path = REFERENCE_FILE) -> Reference:
    """Read and parse a reference-data YAML file."""
    with path.open(encoding="utf-8") as handle:
        return parse_reference(yaml.safe_load(handle))


@lru_cache(maxsize=1)
def get_reference() -> Reference:
    """Return the reference data of this installation, read once per process."""
    return load_reference()


def route(category: str, zone: str | None) -> Routing:
    """Return the routing proposed for a category in a zone; raise ValueError on unknown codes."""
    return get_reference().route(category, zone)
