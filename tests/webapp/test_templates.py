"""Static checks of the templates and the Vietnamese catalog."""
from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

from engine.forms import _MESSAGES
from webapp.messages import ALL_MESSAGES

WEBAPP = Path(__file__).resolve().parents[2] / "webapp"
TEMPLATES = sorted((WEBAPP / "templates").glob("*.html"))


def test_templates_never_mark_text_safe_nor_inline_code() -> None:
    assert TEMPLATES
    for path in TEMPLATES:
        text = path.read_text(encoding="utf-8")
        assert "|safe" not in text.replace(" ", ""), path.name
        assert "Markup(" not in text, path.name
        assert "<script" not in text, path.name
        assert "<style" not in text and not re.search(r"\sstyle=", text), path.name
        assert not re.search(r"\son[a-z]+=", text), path.name


def test_every_post_form_in_templates_has_a_csrf_field() -> None:
    for path in TEMPLATES:
        text = path.read_text(encoding="utf-8")
        for form in re.findall(r'<form[^>]*method="post".*?</form>', text, re.S):
            assert "csrf_token()" in form, (path.name, form[:100])


def _catalog():  # type: ignore[no-untyped-def]
    with (WEBAPP / "translations" / "vi" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale="vi")


def test_vietnamese_catalog_translates_every_message() -> None:
    catalog = _catalog()
    untranslated = [m.id for m in catalog if m.id and (m.fuzzy or not all(m.string if isinstance(m.string, tuple)
                                                                            else [m.string]))]
    assert untranslated == []


def test_engine_and_domain_messages_are_in_the_catalog() -> None:
    assert set(_MESSAGES.values()) <= set(ALL_MESSAGES)
    catalog = _catalog()
    assert [m for m in ALL_MESSAGES if catalog.get(m) is None] == []
