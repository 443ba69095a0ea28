"""product search without a region: a covering index per product set in start-time order, and the
longest observation

Searches by mission / instrument / product type, angles and time, or by a time window alone, read
their count and first page from B-tree ranges instead of the whole table:
``ix_products_set_time`` holds (body, mission, instrument, product type, start time) with the stop
time and the three angles (as key columns on SQLite, INCLUDE columns on PostgreSQL), and
``ix_products_duration`` gives the longest observation in one seek, which bounds the start times a
time window can meet.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 06:30:00
"""

from alembic import op

from explore.platform.products import drop_search_indexes, install_search_indexes

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    install_search_indexes(bind)
    if bind.dialect.name in ("sqlite", "postgresql"):
        op.execute("ANALYZE products")  # SQLite plans with the new indexes only once they have statistics


def downgrade() -> None:
    drop_search_indexes(op.get_bind())
