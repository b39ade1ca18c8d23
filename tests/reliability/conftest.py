"""Fixtures of the reliability tier (the world itself lives in ``reliability.world``)."""

from __future__ import annotations

import pytest

from reliability.world import world_of


@pytest.fixture
def world_factory(tmp_path, pg_url, xpm_sim, fernet_key, monkeypatch):
    """Build a world of N demo funds: ``world_factory(500)``."""
    monkeypatch.setenv("CLASSXPM_REPORTS_DIR", str(tmp_path / "reports"))
    return lambda funds, seed=11: world_of(tmp_path, pg_url, xpm_sim, funds, seed)
