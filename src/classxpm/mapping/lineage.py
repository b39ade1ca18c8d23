"""Which source columns feed which XPM field, for the OpenLineage column-lineage facet."""

from __future__ import annotations

from classxpm.mapping.models import Mapping


def column_lineage(mapping: Mapping) -> dict[str, list[str]]:
    """Return XPM field → the source columns it is computed from, in mapping order.

    Args:
        mapping: A loaded mapping; its columns belong to ``mapping.source_table``.

    Returns:
        For example ``{"Name": ["first_name", "last_name"], "Position": []}``: a constant has no columns.
    """
    return {field: list(spec.columns) for field, spec in mapping.fields.items()}
