"""product index of the space browser

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 03:00:00
"""

import sqlalchemy as sa
from alembic import op

import explore.platform.db
from explore.platform.products import drop_spatial_index, install_spatial_index

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "products",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("body", sa.String(length=16), nullable=False),
        sa.Column("mission", sa.String(length=64), nullable=False),
        sa.Column("instrument", sa.String(length=64), nullable=False),
        sa.Column("product_type", sa.String(length=64), nullable=False),
        sa.Column("product_id", sa.String(length=200), nullable=False),
        sa.Column("data_set_id", sa.String(length=200), nullable=False),
        sa.Column("start_time", explore.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("stop_time", explore.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("emission", sa.Float(), nullable=True),
        sa.Column("incidence", sa.Float(), nullable=True),
        sa.Column("phase", sa.Float(), nullable=True),
        sa.Column("resolution", sa.Float(), nullable=True),
        sa.Column("centre_lon", sa.Float(), nullable=True),
        sa.Column("centre_lat", sa.Float(), nullable=True),
        sa.Column("footprint", sa.Text(), nullable=True),
        sa.Column("footprint_polar", sa.Text(), nullable=True),
        sa.Column("pole", sa.String(length=1), nullable=True),
        sa.Column("lon_min", sa.Float(), nullable=True),
        sa.Column("lon_max", sa.Float(), nullable=True),
        sa.Column("lat_min", sa.Float(), nullable=True),
        sa.Column("lat_max", sa.Float(), nullable=True),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("urls", sa.JSON(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created", explore.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated", explore.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("body", "mission", "instrument", "product_id", name="uq_products_identity"),
    )
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.create_index("ix_products_body_instrument", ["body", "mission", "instrument", "product_type"], unique=False)
        batch_op.create_index("ix_products_start_time", ["start_time"], unique=False)
        batch_op.create_index("ix_products_incidence", ["incidence"], unique=False)
        batch_op.create_index("ix_products_bbox", ["lat_min", "lat_max", "lon_min", "lon_max"], unique=False)
    # R*Tree + triggers on SQLite, a GiST index on the bounding box on PostgreSQL
    install_spatial_index(op.get_bind())


def downgrade() -> None:
    drop_spatial_index(op.get_bind())
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_index("ix_products_bbox")
        batch_op.drop_index("ix_products_incidence")
        batch_op.drop_index("ix_products_start_time")
        batch_op.drop_index("ix_products_body_instrument")
    op.drop_table("products")
