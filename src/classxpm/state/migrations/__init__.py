"""Alembic migrations of the state database, run by ``classxpm db upgrade`` through ``upgrade()``."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from classxpm.db import make_engine

VERSION_TABLE = "classxpm_alembic_version"
"""Not Alembic's default name, so the state tables can share a database with Airflow's own."""


def alembic_config(url: str) -> Config:
    """Return an Alembic config for the state database at ``url``."""
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent))
    config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Create or upgrade the state schema at ``url`` to ``revision``."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()
