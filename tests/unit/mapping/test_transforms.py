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


def test_the_fast_path_of_clean_agrees_with_the_character_walk():
    import random
    import unicodedata

    from classxpm.mapping import transforms

    def walk(text: str, multiline: bool) -> tuple[str, bool]:
        breaks = transforms._LINE_BREAKS if multiline else transforms._WORD_BREAKS
        spaced = breaks.sub("\n", text).replace("\t", " ") if multiline else breaks.sub(" ", text)
        unsendable = {"Cc", "Cs"}
        kept = "".join(
            ch
            for ch in spaced
            if ch == "\n" or (unicodedata.category(ch) not in unsendable and ch not in "\ufffe\uffff")
        )
        return kept, kept != (text.replace("\r\n", "\n") if multiline else text)

    rng = random.Random(20261127)
    pool = [chr(c) for c in range(0x250)] + list("\u2028\u2029\x85\ufffe\uffff\ud800\u200b\ufeffễ😀")
    for _ in range(20_000):
        text = "".join(rng.choice(pool) for _ in range(rng.randint(0, 8)))
        for multiline in (True, False):
            assert transforms.clean(text, multiline=multiline) == walk(text, multiline), repr(text)
