from __future__ import annotations

from classxpm.ui.reports import masked


def test_valid_tfns_are_masked_and_other_numbers_kept():
    text = '{"tfn": "123456782", "spaced": "123 456 782", "count": 123456789, "date": "20260501"}'

    assert (
        masked(text) == '{"tfn": "******782", "spaced": "******782", "count": 123456789, "date": "20260501"}'
    )
