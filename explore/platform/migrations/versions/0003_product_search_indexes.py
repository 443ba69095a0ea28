"""product search: one GiST index over space, time and angles on PostgreSQL; sort indexes with
unknown values first

On PostgreSQL the GiST index of revision 0002 held only the bounding box, so a region query read
every product in the region from the table to test its time and angles. The new index holds three
boxes (lon/lat, time/incidence, emission/phase) and answers all of them. The B-tree indexes of the
sort keys start_time and incidence are rebuilt with NULLS FIRST, the order SQLite uses, so both
databases sort unknown values alike. SQLite is unchanged (its R*Tree already holds time and
incidence).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 06:00:00
"""

from alembic import op

from explore.platform.products import PG_SPATIAL_INDEX, install_spatial_index

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_products_box")
    install_spatial_index(bind)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP INDEX IF EXISTS {PG_SPATIAL_INDEX}")
    op.execute("CREATE INDEX IF NOT EXISTS ix_products_box ON products USING gist "
               "((box(point(lon_min, lat_min), point(lon_max, lat_max))))")
    for index, column in (("ix_products_start_time", "start_time"), ("ix_products_incidence", "incidence")):
        op.execute(f"DROP INDEX IF EXISTS {index}")
        op.execute(f"CREATE INDEX {index} ON products ({column})")
