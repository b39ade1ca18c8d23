"""The fund dashboard answers every page over 10,000 funds, on SQLite and PostgreSQL.

How fast is a benchmark, not a test: ``bench/pages.py`` (``make bench BENCH_ARGS="--only pages"``) times
these pages and the run pages, and ``bench/RESULTS.md`` records the figures against the one-second target.
"""

from __future__ import annotations

import sqlalchemy as sa

from classxpm.sync.tables import fund_links

BUSINESS = "biz-1"


def test_every_dashboard_page_answers_over_10000_funds(admin_client, ui_services):
    rows = [
        {
            "business_id": BUSINESS,
            "fund_id": f"f-{n:05d}",
            "tenant_id": "tenant-1",
            "scope_code": f"SMSF{n:05d}",
            "fund_name": f"Fund {n:05d} Superannuation",
            "client_uuid": f"client-{n}",
            "last_status": "synced" if n % 7 else "failed",
            "last_error": None if n % 7 else "XPM refused the record: Invalid tax number",
        }
        for n in range(10_000)
    ]
    with ui_services.state.begin() as conn:
        conn.execute(sa.insert(fund_links), rows)

    for path, params, shown in [
        ("/classxpm/funds", {"business": BUSINESS}, "SMSF00049"),
        ("/classxpm/funds", {"business": BUSINESS, "q": "smsf099"}, "SMSF09949"),
        ("/classxpm/funds", {"business": BUSINESS, "q": "superannuation", "page": 199}, "SMSF09900"),
        ("/classxpm/funds", {"business": BUSINESS, "status": "failed", "page": 20}, "SMSF06650"),
        ("/classxpm/funds/f-09999", {"business": BUSINESS}, "SMSF09999"),
        ("/classxpm/settings", {"business": BUSINESS}, "Xero Integration not Authorised"),
    ]:
        page = admin_client.get(path, params=params)
        assert page.status_code == 200, path
        assert shown in page.text, path
