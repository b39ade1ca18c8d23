"""``classxpm watch install-trigger|remove-trigger``: the opt-in change notification on the Class database."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from classxpm.cli import main
from classxpm.source import notify
from classxpm.source.demo_data import write_demo_data


def watch(url: str, command: str):
    return CliRunner().invoke(main, ["watch", command, "--class-db", url])


def _installed(url: str) -> bool:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        found = notify.installed(conn)
    engine.dispose()
    return found


@pytest.mark.postgres
def test_install_then_remove_on_postgresql(pg_url):
    write_demo_data(pg_url, 3, 3)
    installed = watch(pg_url, "install-trigger")
    assert installed.exit_code == 0, installed.output
    assert notify.CHANNEL in installed.output
    assert _installed(pg_url)
    assert watch(pg_url, "install-trigger").exit_code == 0, "installing twice is harmless"
    removed = watch(pg_url, "remove-trigger")
    assert removed.exit_code == 0, removed.output
    assert not _installed(pg_url)


def test_sqlite_is_refused_with_the_reason(sqlite_url):
    write_demo_data(sqlite_url, 3, 3)
    result = watch(sqlite_url, "install-trigger")
    assert result.exit_code == 2
    assert "needs PostgreSQL" in result.output
