"""Real OS processes spending one tenant's budget on the state database, against the simulator's limits.

The simulator runs 30 times faster than real time (its minute is two real seconds) with a low minute limit
and slow answers, so the processes contend for both the minute's budget and the 5 slots in flight; any call
over either limit would be a 429 in the simulator's call log.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from classxpm.state.rate_budget import SharedGovernors
from classxpm.state.tables import xpm_rate_leases
from fixtures.xpm_auth import headless_login

CHILD = Path(__file__).with_name("budget_child.py")
TIME_SCALE = 30
MINUTE_LIMIT = 8
PROCESSES = 6
CALLS_EACH = 4


def _spawn(spec: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(CHILD), json.dumps(spec)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _tokens(session, tenant_id: str) -> dict:
    tokens = headless_login(session).for_tenant(tenant_id)
    return {
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "expires_at": tokens.expires_at.isoformat(),
        "scope": tokens.scope,
        "tenant_id": tokens.tenant_id,
    }


def test_processes_hammering_one_tenant_get_no_429(state, db_url, xpm_sim, xpm_session):
    xpm_sim.patch_config(minute_limit=MINUTE_LIMIT, time_scale=TIME_SCALE)
    tokens = _tokens(xpm_session, xpm_sim.tenant_id)
    xpm_sim.set_faults([{"latency_ms": 150}])
    xpm_sim.admin.delete("/_sim/calls")
    spec = {
        "mode": "calls",
        "state_url": db_url,
        "base_url": xpm_sim.base_url,
        "client_id": xpm_sim.client_id,
        "client_secret": xpm_sim.client_secret,
        "tokens": tokens,
        "minute_limit": MINUTE_LIMIT,
        "window_seconds": 60 / TIME_SCALE,
        "calls": CALLS_EACH,
    }
    children = [_spawn(spec) for _ in range(PROCESSES)]
    outputs = [child.communicate() for child in children]
    assert [child.returncode for child in children] == [0] * PROCESSES, [err[-2000:] for _, err in outputs]
    entries = [e for e in xpm_sim.calls()["entries"] if ".api/" in e["endpoint"]]
    assert [e for e in entries if e["status"] == 429] == [], "no call went over the minute or 5 in flight"
    assert len(entries) == PROCESSES * CALLS_EACH > 2 * MINUTE_LIMIT, "the calls spanned several minutes"


def _leases(engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(xpm_rate_leases.c.holder)).scalars())


def test_a_killed_process_slot_is_reclaimed_when_its_lease_lapses(state, db_url):
    holder = _spawn(
        {"mode": "hold", "state_url": db_url, "tenant": "tenant-k", "hold": 0.5, "lease_margin": 0.5}
    )
    assert holder.stdout.readline().strip() == "held", holder.stderr.read()
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert [h.split(":")[-1] for h in _leases(state)] == [str(holder.pid)], "the dead process's slot is held"
    governor = SharedGovernors(state).for_tenant("tenant-k", max_in_flight=1)
    with governor.slot():
        assert governor.view().in_flight == 1, "the dead process's lease lapsed: only this call is in flight"
    assert _leases(state) == [], "giving the slot back also cleared the lapsed lease"
