"""Class → XPM field mappings: typed YAML, a pure row mapper, payload hashes and column lineage."""

from __future__ import annotations

from classxpm.mapping.apply import map_row
from classxpm.mapping.hashing import payload_hash, sensitive_digest
from classxpm.mapping.lineage import column_lineage
from classxpm.mapping.loader import DefaultMappings, MappingError, load_default_mappings, load_mapping
from classxpm.mapping.models import ELEMENTS, Element, FieldMapping, Mapping
from classxpm.mapping.records import FieldValues, MappedRecord, RecordProblem

__all__ = [
    "ELEMENTS",
    "DefaultMappings",
    "Element",
    "FieldMapping",
    "FieldValues",
    "MappedRecord",
    "Mapping",
    "MappingError",
    "RecordProblem",
    "column_lineage",
    "load_default_mappings",
    "load_mapping",
    "map_row",
    "payload_hash",
    "sensitive_digest",
]
