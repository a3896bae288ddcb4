"""The register's declarative base and column helpers, shared by every module with register tables."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase

# MariaDB's DATETIME drops microseconds unless asked; the audit hash covers them.
Timestamp = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class RegisterBase(DeclarativeBase):
    pass
