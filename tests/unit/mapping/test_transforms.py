from __future__ import annotations

import pytest

from classxpm.mapping.transforms import TRANSFORMS, TransformProblem, clean


@pytest.mark.parametrize(
    ("text", "multiline", "expected"),
    [
        ("Plain & <simple>", False, ("Plain & <simple>", False)),
        ("Tab\tand\nbreak", False, ("Tab and break", True)),
        ("Bell\x07", False, ("Bell", True)),
        ("Line 1\r\nLine 2", True, ("Line 1\nLine 2", False)),
        ("Line 1\rLine 2\u2028Line 3", True, ("Line 1\nLine 2\nLine 3", True)),
        ("Null\x00 and DEL\x7f", True, ("Null and DEL", True)),
        ("Zero\u200dwidth joiner stays", False, ("Zero\u200dwidth joiner stays", False)),
    ],
)
def test_clean(text, multiline, expected):
    assert clean(text, multiline=multiline) == expected


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("strip", "  a b \n", "a b"),
        ("collapse_whitespace", "  a   b \n\n  c  ", "a b\nc"),
        ("upper", "vic", "VIC"),
        ("digits_only", "51 824-753 556", "51824753556"),
        ("digits_only", "", ""),
    ],
)
def test_transforms(name, text, expected):
    assert TRANSFORMS[name](text) == expected


@pytest.mark.parametrize(
    "text", ["12345678a", "\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff12", "12.345"]
)
def test_digits_only_refuses_anything_but_separators(text):
    with pytest.raises(TransformProblem, match="must hold only digits, spaces and hyphens"):
        TRANSFORMS["digits_only"](text)
