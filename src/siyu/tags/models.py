"""Tag tables: groups, tags (manual or rule), and who holds which tag since when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from siyu.store.base import Base, TenantScoped, UtcDateTime, utcnow

_Id = BigInteger().with_variant(Integer, "sqlite")


class TagGroup(TenantScoped, Base):
    """A family of tag values (肤质: 干/油/混合); exclusive: a person holds at most one."""

    __tablename__ = "tag_groups"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    exclusive: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str | None] = mapped_column(String(512), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Tag(TenantScoped, Base):
    """A tag: `key` is its name, or `group=value` for a value of a tag group.

    A rule tag's holders are exactly the persons its rule selects (recomputed in batch);
    a manual tag is given and removed by users and imports.
    """

    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(130))
    tag_group: Mapped[str | None] = mapped_column(String(64), nullable=True)
    kind: Mapped[str] = mapped_column(String(8))  # rule | manual
    rule: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # Order within the group: an exclusive rule group gives a person its first matching value.
    position: Mapped[int] = mapped_column(Integer, default=0)
    # Rule tags: recompute when this many minutes have passed (None: only when asked).
    refresh_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    description: Mapped[str | None] = mapped_column(String(512), nullable=True)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    computed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class TagAssignment(TenantScoped, Base):
    """One interval of a person holding a tag, with who gave and who removed it.

    Open intervals (`removed_at` null) are the current holders: at most one per tag and
    person. `given_by_kind` is rule | user | import; `given_by` names the rule tag, the
    user, or the imported file.
    """

    __tablename__ = "tag_assignments"
    __table_args__ = (
        Index(
            "uq_tag_assignments_open",
            "tenant_id",
            "tag_id",
            "oneid",
            unique=True,
            sqlite_where=text("removed_at IS NULL"),
            postgresql_where=text("removed_at IS NULL"),
        ),
        Index("ix_tag_assignments_person", "tenant_id", "oneid"),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    tag_id: Mapped[int] = mapped_column(Integer)
    oneid: Mapped[str] = mapped_column(String(26))
    given_at: Mapped[datetime] = mapped_column(UtcDateTime)
    given_by_kind: Mapped[str] = mapped_column(String(8))
    given_by: Mapped[str] = mapped_column(String(256))
    removed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    removed_by_kind: Mapped[str | None] = mapped_column(String(8), nullable=True)
    removed_by: Mapped[str | None] = mapped_column(String(256), nullable=True)
