"""The shortcuts mapping takes for speed hold for every input they claim to cover."""

from __future__ import annotations

import re
import unicodedata

from classxpm.mapping import Mapping, apply, load_default_mappings, map_row, transforms

MAPPINGS = load_default_mappings()
BMP = [chr(code) for code in range(0x10000)]


def _class_members(pattern: re.Pattern[str]) -> list[str]:
    return [char for char in BMP if pattern.fullmatch(char)]


def test_every_character_clean_could_change_is_not_printable():
    # map_row calls clean only for text that str.isprintable refuses.
    changeable = _class_members(transforms._MAY_NEED_CLEANING)
    assert len(changeable) == 32 + 33 + 2 + 2048 + 2
    assert [char for char in changeable if char.isprintable()] == []


def test_the_unsendable_classes_are_unicode_cc_cs_and_the_two_noncharacters():
    unsendable = {char for char in BMP if unicodedata.category(char) in {"Cc", "Cs"}} | {"\ufffe", "\uffff"}
    assert set(_class_members(transforms._UNSENDABLE)) == unsendable
    assert set(_class_members(transforms._UNSENDABLE_BUT_LINE_BREAK)) == unsendable - {"\n"}
    assert set(_class_members(transforms._MAY_NEED_CLEANING_MULTILINE)) == set(
        _class_members(transforms._MAY_NEED_CLEANING)
    ) - {"\n"}


def test_two_mappings_alive_at_once_each_map_by_their_own_rules():
    data = MAPPINGS.client.model_dump(by_alias=True)
    data["fields"]["Fax"]["on_blank"] = "clear"
    clearing = Mapping.model_validate(data)
    row = {"fund_id": "f-1", "scope_description": "Fund", "fax": None}
    for _ in range(2):
        assert map_row(clearing, row).values["Fax"] == ""
        assert "Fax" not in map_row(MAPPINGS.client, row).values


def test_plans_are_compiled_again_once_the_cache_is_full():
    rows = {"fund_id": "f-1", "scope_description": "Fund", "fax": None}
    copies = [Mapping.model_validate(MAPPINGS.client.model_dump(by_alias=True)) for _ in range(150)]
    records = [map_row(mapping, rows) for mapping in copies + copies[:3]]
    assert all(record == records[0] for record in records)
    assert len(apply._PLANS) <= apply._MAX_PLANS
