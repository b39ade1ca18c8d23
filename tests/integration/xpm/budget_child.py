"""One worker process spending a tenant's shared XPM budget, for the tests that run several at once.

``python budget_child.py '<spec JSON>'``: mode ``calls`` makes ``calls`` API calls through the real
transport and prints how many it made; mode ``hold`` takes one slot, prints ``held`` and blocks until it is
killed, as a worker killed mid-call would.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any


def main(spec: dict[str, Any]) -> None:
    from classxpm.db import make_engine
    from classxpm.state.rate_budget import SharedGovernors

    engine = make_engine(spec["state_url"])
    governors = SharedGovernors(engine, lease_margin=spec.get("lease_margin", 10.0))
    if spec["mode"] == "hold":
        with governors.for_tenant(spec["tenant"], max_in_flight=1).slot(hold=spec["hold"]):
            print("held", flush=True)
            sys.stdin.readline()
        return
    print(json.dumps({"calls": make_calls(spec, governors)}), flush=True)


def make_calls(spec: dict[str, Any], governors: Any) -> int:
    from classxpm.xpm.auth import TokenSet
    from classxpm.xpm.config import XpmConfig
    from classxpm.xpm.session import XpmSession
    from classxpm.xpm_sim.config import client_urls

    config = XpmConfig(
        spec["client_id"],
        spec["client_secret"],
        **client_urls(spec["base_url"]),
        minute_limit=spec["minute_limit"],
        rate_window_seconds=spec["window_seconds"],
        refresh_margin_seconds=1.0,
    )
    tokens = TokenSet(
        **{**spec["tokens"], "expires_at": datetime.fromisoformat(spec["tokens"]["expires_at"])}
    )
    with XpmSession(config, governors=governors) as session:
        api = session.api_for_tokens(tokens)
        for _ in range(spec["calls"]):
            api.list_clients()
    return spec["calls"]


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
