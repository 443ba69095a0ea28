"""Alembic environment: migrations run on the connection handed over by ``Database.migrate``."""

from alembic import context
from sqlalchemy import create_engine

from explore.platform import tables  # noqa: F401  (registers every table on Base.metadata)
from explore.platform.db import Base

target_metadata = Base.metadata
config = context.config


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is None:  # called by the alembic command line
        engine = create_engine(config.get_main_option("sqlalchemy.url"))
        with engine.begin() as connection:
            context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
            context.run_migrations()
        return
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    context.run_migrations()


run_migrations()
