"""Alembic, driven from code: migrations run automatically the first time a store is used."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

SCRIPT_LOCATION = "siyu.store:migrations"


def alembic_config(engine: Engine | None = None) -> Config:
    """An Alembic config pointing at siyu's migration scripts (and `engine`, if given)."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if engine is not None:
        config.attributes["engine"] = engine
        # Alembic's config is a ConfigParser: a literal "%" (percent-encoded password or
        # query options in the URL) must be doubled or setting the option fails.
        url = engine.url.render_as_string(False).replace("%", "%%")
        config.set_main_option("sqlalchemy.url", url)
    return config


def upgrade_to_head(engine: Engine) -> None:
    """Apply pending migrations; a no-op (one cheap query) when the schema is current."""
    config = alembic_config(engine)
    head = ScriptDirectory.from_config(config).get_current_head()
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    if current != head:
        command.upgrade(config, "head")
