"""The fund dashboard stays under a second with 10,000 funds, on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import sqlalchemy as sa

from classxpm.sync.tables import fund_links

BUSINESS = "biz-1"


def test_every_dashboard_page_answers_in_under_a_second(admin_client, ui_services):
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

    for path, params in [
        ("/classxpm/funds", {"business": BUSINESS}),
        ("/classxpm/funds", {"business": BUSINESS, "q": "smsf099"}),
        ("/classxpm/funds", {"business": BUSINESS, "q": "superannuation", "page": 199}),
        ("/classxpm/funds", {"business": BUSINESS, "status": "failed", "page": 20}),
        ("/classxpm/funds/f-09999", {"business": BUSINESS}),
        ("/classxpm/settings", {"business": BUSINESS}),
    ]:
        started = time.perf_counter()
        page = admin_client.get(path, params=params)
        assert page.status_code == 200, path
        assert time.perf_counter() - started < 1.0, path
