"""The run page's charts as Vega-Lite specifications, drawn in the browser by the vendored Vega-Embed.

Vega, Vega-Lite and Vega-Embed are the copies vendored for the offline Data Docs
(``classxpm/validation/data_docs_assets``); the app serves them under ``/vendor``. Each chart carries its
data inline, and the page prints the same numbers as a table beside it, for screen readers and tests.
"""

from __future__ import annotations

from typing import Any

from classxpm.ui.clock import local_time
from classxpm.validation.data_docs import CHART_LIBRARIES

SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"  # an identifier Vega-Lite reads; never fetched
VENDORED = tuple(CHART_LIBRARIES.values())
"""Vega, Vega-Lite and Vega-Embed, in load order, as paths under the app's ``/vendor``."""
WHOLE_FUNDS = {"format": "d", "tickMinStep": 1}
"""Axis ticks at whole funds only."""
COLOURS = {
    "created": "#1b7f3b",
    "linked": "#2f9e5b",
    "updated": "#13b5ea",
    "unchanged": "#9aa5b1",
    "quarantined": "#c2410c",
    "needs_review": "#7c3aed",
    "failed": "#b42318",
    "deferred": "#8a5a00",
}


def counts_chart(counts: dict[str, int]) -> dict[str, Any]:
    """A bar per outcome, in the order of ``counts``."""
    order = [name.replace("_", " ") for name in counts]
    values = [{"outcome": name.replace("_", " "), "funds": count} for name, count in counts.items()]
    return {
        "$schema": SCHEMA,
        "description": "Funds by outcome of this run",
        "width": "container",
        "height": {"step": 22},
        "data": {"values": values},
        "mark": {"type": "bar", "tooltip": True},
        "encoding": {
            "y": {"field": "outcome", "type": "nominal", "sort": order, "title": None},
            "x": {"field": "funds", "type": "quantitative", "title": "Funds", "axis": WHOLE_FUNDS},
            "color": {
                "field": "outcome",
                "type": "nominal",
                "legend": None,
                "scale": {"domain": order, "range": [COLOURS[name] for name in counts]},
            },
        },
    }


def trend_chart(points: list[dict[str, Any]]) -> dict[str, Any]:
    """Quarantined and failed funds of the last runs, one line each, oldest run on the left."""
    values = [
        {"run": local_time(point["started_at"]), "outcome": outcome, "funds": point[outcome]}
        for point in points
        for outcome in ("quarantined", "failed")
    ]
    return {
        "$schema": SCHEMA,
        "description": "Quarantined and failed funds over the last runs",
        "width": "container",
        "height": 160,
        "data": {"values": values},
        "mark": {"type": "line", "point": True, "tooltip": True},
        "encoding": {
            "x": {"field": "run", "type": "ordinal", "sort": None, "title": "Run started"},
            "y": {"field": "funds", "type": "quantitative", "title": "Funds", "axis": WHOLE_FUNDS},
            "color": {
                "field": "outcome",
                "type": "nominal",
                "scale": {
                    "domain": ["quarantined", "failed"],
                    "range": [COLOURS["quarantined"], COLOURS["failed"]],
                },
            },
        },
    }
