"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24 15:49:49.510092
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cas_accounts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cas_accounts")),
        sa.UniqueConstraint("email", name=op.f("uq_cas_accounts_email")),
    )
    op.create_table(
        "content_labels",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_labels")),
        sa.UniqueConstraint("name", name=op.f("uq_content_labels_name")),
    )
    op.create_table(
        "storage_purges",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("is_prefix", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_storage_purges")),
    )
    op.create_table(
        "tags",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tags")),
        sa.UniqueConstraint("name", name=op.f("uq_tags_name")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("image_upload_count", sa.Integer(), nullable=False),
        sa.Column("image_upload_limit", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    op.create_table(
        "images",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("hash", sa.String(length=32), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("file_format", sa.String(length=16), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("is_private", sa.Boolean(), nullable=False),
        sa.Column("storage_key", sa.String(length=200), nullable=False),
        sa.Column("analysis_status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_images_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_images")),
    )
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.create_index(
            "ix_images_public_created", ["is_private", "created_at"], unique=False
        )
        batch_op.create_index("ix_images_user_created", ["user_id", "created_at"], unique=False)
        batch_op.create_index("ix_images_user_hash", ["user_id", "hash"], unique=False)

    op.create_table(
        "upload_grants",
        sa.Column("image_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("staging_key", sa.String(length=200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_upload_grants_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("image_id", name=op.f("pk_upload_grants")),
    )
    with op.batch_alter_table("upload_grants", schema=None) as batch_op:
        batch_op.create_index("ix_upload_grants_expires_at", ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_upload_grants_user_id"), ["user_id"], unique=False)

    op.create_table(
        "image_content_labels",
        sa.Column("image_id", sa.Uuid(), nullable=False),
        sa.Column("label_id", sa.Uuid(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["image_id"],
            ["images.id"],
            name=op.f("fk_image_content_labels_image_id_images"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["label_id"],
            ["content_labels.id"],
            name=op.f("fk_image_content_labels_label_id_content_labels"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("image_id", "label_id", name=op.f("pk_image_content_labels")),
    )
    with op.batch_alter_table("image_content_labels", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_image_content_labels_label_id"), ["label_id"], unique=False
        )

    op.create_table(
        "image_tags",
        sa.Column("image_id", sa.Uuid(), nullable=False),
        sa.Column("tag_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["image_id"],
            ["images.id"],
            name=op.f("fk_image_tags_image_id_images"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tag_id"], ["tags.id"], name=op.f("fk_image_tags_tag_id_tags"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("image_id", "tag_id", name=op.f("pk_image_tags")),
    )
    with op.batch_alter_table("image_tags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_image_tags_tag_id"), ["tag_id"], unique=False)

    op.create_table(
        "jobs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("image_id", sa.Uuid(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("available_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reserved_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["image_id"], ["images.id"], name=op.f("fk_jobs_image_id_images"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_jobs_image_id"), ["image_id"], unique=False)
        batch_op.create_index("ix_jobs_state_available", ["state", "available_at"], unique=False)

    if op.get_bind().dialect.name == "sqlite":
        # The search index of SqliteSearchIndex: FTS5 with the trigram tokenizer gives
        # index-backed substring matching and trigram candidates for typo tolerance.
        op.execute(
            "CREATE TABLE image_search_rows ("
            " rowid INTEGER PRIMARY KEY AUTOINCREMENT,"
            " image_id CHAR(32) NOT NULL UNIQUE REFERENCES images (id) ON DELETE CASCADE)"
        )
        op.execute(
            "CREATE VIRTUAL TABLE image_search USING fts5(name, tags, labels, tokenize = 'trigram')"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE image_search")
        op.execute("DROP TABLE image_search_rows")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_state_available")
        batch_op.drop_index(batch_op.f("ix_jobs_image_id"))

    op.drop_table("jobs")
    with op.batch_alter_table("image_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_image_tags_tag_id"))

    op.drop_table("image_tags")
    with op.batch_alter_table("image_content_labels", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_image_content_labels_label_id"))

    op.drop_table("image_content_labels")
    with op.batch_alter_table("upload_grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_upload_grants_user_id"))
        batch_op.drop_index("ix_upload_grants_expires_at")

    op.drop_table("upload_grants")
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.drop_index("ix_images_user_hash")
        batch_op.drop_index("ix_images_user_created")
        batch_op.drop_index("ix_images_public_created")

    op.drop_table("images")
    op.drop_table("users")
    op.drop_table("tags")
    op.drop_table("storage_purges")
    op.drop_table("content_labels")
    op.drop_table("cas_accounts")
