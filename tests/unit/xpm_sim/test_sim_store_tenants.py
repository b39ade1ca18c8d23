"""The simulator's records by tenant: thousands of tenants, each answered from its own index."""

from __future__ import annotations

from classxpm.xpm_sim.persistence import SqliteState
from classxpm.xpm_sim.records import tenant_records
from classxpm.xpm_sim.store import Store


def _client(tenant: str, n: int) -> dict:
    return {"UUID": f"{tenant}-c{n}", "_tenant": tenant, "Name": f"Client {n}"}


def test_each_tenant_s_records_come_back_in_the_order_stored_and_go_with_a_delete(tmp_path):
    store = Store(SqliteState(tmp_path / "sim.db"))
    tenants = [f"t{n}" for n in range(3000)]
    for n in range(3):
        for tenant in tenants:
            store.put("clients", f"{tenant}-c{n}", _client(tenant, n))
    store.put("clients", "t7-c1", _client("t7", 1) | {"Name": "Renamed"})  # replaced, keeps its place
    store.delete("clients", "t7-c0")

    assert [c["UUID"] for c in tenant_records(store, "clients", "t7")] == ["t7-c1", "t7-c2"]
    assert tenant_records(store, "clients", "t7")[0]["Name"] == "Renamed"
    assert [c["UUID"] for c in tenant_records(store, "clients", "t2999")] == [f"t2999-c{n}" for n in range(3)]
    assert tenant_records(store, "clients", "nobody") == []
    assert tenant_records(store, "contacts", "t7") == []

    restarted = Store(SqliteState(tmp_path / "sim.db"))
    scanned = [c for c in restarted.values("clients") if c["_tenant"] == "t7"]
    assert tenant_records(restarted, "clients", "t7") == scanned, "as a scan of every record finds them"
    assert sorted(c["UUID"] for c in scanned) == ["t7-c1", "t7-c2"]
    restarted.clear()
    assert tenant_records(restarted, "clients", "t7") == []
