"""Lineage of the sync: Airflow Assets and OpenLineage datasets for Class tables and XPM records.

Class tables are ``class://<business_id>/funds`` and ``.../members``; XPM records are
``xpm://<tenant_id>/clients`` and ``.../contacts``. The ids are only known at run time, so tasks report
them through Airflow's hook-lineage collector (inputs and outputs of the OpenLineage events) and through
asset aliases (asset events, so other DAGs can schedule on them).

So that Airflow's asset graph shows where the sync reads as well as where it writes, the Class source
tables are also declared statically, as inlets of the tasks that read them: ``class://class_db/funds`` and
``class://class_db/members``, named after the ``class_db`` connection id, never read from the connection
(nothing is looked up at parse time). Airflow records them as the tasks' inlet references when it parses
the DAG; they carry no events. The provider entry point registers
``to_openlineage`` for both schemes; it adds the column-lineage facet derived from the mapping YAML
(XPM field ← Class column) to XPM datasets. Masked as they are, TFN values never enter lineage: only
column and field names do.
"""

from __future__ import annotations

from typing import Any

from classxpm.airflow.connections import CLASS_DB_CONN_ID
from classxpm.source.schema import column_names, funds, members

CLASS_SCHEME, XPM_SCHEME = "class", "xpm"
CLASS_TABLES = ("funds", "members")
CLASS_GROUP = "class"
CLIENTS_ALIAS, CONTACTS_ALIAS = "classxpm-xpm-clients", "classxpm-xpm-contacts"
SOURCE_TABLE = {"clients": "funds", "contacts": "members"}
MAPPING_TARGET = {"clients": "client", "contacts": "contact"}


def class_uri(business_id: str, table: str) -> str:
    """The asset URI of a Class table of one business."""
    return f"{CLASS_SCHEME}://{business_id}/{table}"


def xpm_uri(tenant_id: str, records: str) -> str:
    """The asset URI of an XPM record kind (clients, contacts) of one tenant."""
    return f"{XPM_SCHEME}://{tenant_id}/{records}"


def class_sources() -> list[Any]:
    """The Class source tables as Airflow Assets, for the ``inlets`` of the tasks that read them."""
    from airflow.sdk import Asset

    return [
        Asset(
            name=f"{CLASS_DB_CONN_ID}.{table}",
            uri=class_uri(CLASS_DB_CONN_ID, table),
            group=CLASS_GROUP,
            extra={"description": f"Class Super {table} read by the sync"},
        )
        for table in CLASS_TABLES
    ]


def _split(uri: str) -> tuple[str, str, str]:
    scheme, _, rest = uri.partition("://")
    owner, _, name = rest.partition("/")
    return scheme, owner, name


def _schema_facet(table: Any) -> Any:
    from openlineage.client.facet_v2 import schema_dataset

    fields = [schema_dataset.SchemaDatasetFacetFields(name=name) for name in column_names(table)]
    return schema_dataset.SchemaDatasetFacet(fields=fields)


def _column_lineage_facet(records: str, business_id: str) -> Any:
    from openlineage.client.facet_v2 import column_lineage_dataset as cl

    from classxpm.mapping import column_lineage, load_default_mappings

    mapping = getattr(load_default_mappings(), MAPPING_TARGET[records])
    namespace, table = f"{CLASS_SCHEME}://{business_id}", SOURCE_TABLE[records]
    fields = {
        field: cl.Fields(
            inputFields=[cl.InputField(namespace=namespace, name=table, field=column) for column in columns],
            transformationType="IDENTITY" if len(columns) == 1 else "DIRECT",
            transformationDescription=f"mapped by include/mappings/{MAPPING_TARGET[records]}.yaml",
        )
        for field, columns in column_lineage(mapping).items()
        if columns
    }
    return cl.ColumnLineageDatasetFacet(fields=fields)


def to_openlineage(asset: Any, _lineage_context: Any = None) -> Any:
    """Convert a ``class://`` or ``xpm://`` asset to an OpenLineage dataset (registered by the provider)."""
    from openlineage.client.event_v2 import Dataset

    scheme, owner, name = _split(asset.uri)
    facets: dict[str, Any] = {}
    if scheme == CLASS_SCHEME:
        facets["schema"] = _schema_facet(funds if name == "funds" else members)
    elif business_id := (asset.extra or {}).get("business_id"):
        facets["columnLineage"] = _column_lineage_facet(name, business_id)
    return Dataset(namespace=f"{scheme}://{owner}", name=name, facets=facets)


def report_inputs(business_id: str) -> None:
    """Tell the lineage collector this task read the business's Class funds and members."""
    from airflow.sdk.lineage import get_hook_lineage_collector

    collector = get_hook_lineage_collector()
    for table in CLASS_TABLES:
        collector.add_input_asset(context=_CONTEXT, uri=class_uri(business_id, table))


def report_outputs(business_id: str, tenant_id: str) -> None:
    """Tell the lineage collector this task wrote the tenant's XPM clients and contacts."""
    from airflow.sdk.lineage import get_hook_lineage_collector

    collector = get_hook_lineage_collector()
    for records in ("clients", "contacts"):
        uri = xpm_uri(tenant_id, records)
        collector.add_output_asset(context=_CONTEXT, uri=uri, asset_extra={"business_id": business_id})


def emit_asset_events(outlet_events: Any, business_id: str, tenant_id: str) -> None:
    """Record asset events for the XPM records this run brought up to date (on success only)."""
    from airflow.sdk import Asset, AssetAlias

    extra = {"business_id": business_id}
    outlet_events[AssetAlias(CLIENTS_ALIAS)].add(Asset(xpm_uri(tenant_id, "clients"), extra=extra))
    outlet_events[AssetAlias(CONTACTS_ALIAS)].add(Asset(xpm_uri(tenant_id, "contacts"), extra=extra))


class _SyncLineageContext:
    """Who reported the assets to the collector (the collector keys entries by it)."""


_CONTEXT = _SyncLineageContext()
