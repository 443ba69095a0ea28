"""a generation counter of the product index, bumped by every write (triggers: per row on SQLite,
once per writing transaction on PostgreSQL)

Searches use the product columns held in memory (``explore.platform.product_columns``) only while
they were built at the generation the search's transaction sees, so writes by any process are never
missed. The counter starts at a random value: a database built again never repeats an old one.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 09:00:00
"""

from alembic import op

from explore.platform.product_columns import drop_generation, install_generation

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    install_generation(op.get_bind())


def downgrade() -> None:
    drop_generation(op.get_bind())
