"""Lewisham Family Thrive: consent-based intensive family support.

Families with numbered members; work is recorded as sessions and a support plan; consent
to share is held per member and can be withdrawn at any time.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Family(Base):
    __tablename__ = "ft_family"
    family_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    family_name: Mapped[str] = mapped_column(String(80))
    address: Mapped[str | None] = mapped_column(String(200))
    postcode: Mapped[str | None] = mapped_column(String(10), index=True)
    referred_on: Mapped[date] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)


class FamilyMember(Base):
    __tablename__ = "ft_family_member"
    member_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("ft_family.family_id"), index=True)
    first_name: Mapped[str] = mapped_column(String(80))
    last_name: Mapped[str] = mapped_column(String(80))
    birth_date: Mapped[date | None] = mapped_column(Date)
    nhs_number: Mapped[str | None] = mapped_column(String(10))
    relationship_to_lead: Mapped[str] = mapped_column(String(30))
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(120))
    health_notes: Mapped[str | None] = mapped_column(Text)
    restricted_on: Mapped[date | None] = mapped_column(Date)
    __table_args__ = (
        Index("ix_ft_member_nhs", "nhs_number"),
        Index("ix_ft_member_dob_last", "birth_date", "last_name"),
    )


class SupportSession(Base):
    __tablename__ = "ft_session"
    session_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("ft_family.family_id"), index=True)
    held_on: Mapped[date] = mapped_column(Date, index=True)
    worker: Mapped[str] = mapped_column(String(120))
    summary: Mapped[str | None] = mapped_column(Text)
    supplementary_statement: Mapped[str | None] = mapped_column(Text)


class SupportPlan(Base):
    __tablename__ = "ft_support_plan"
    plan_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("ft_family.family_id"), index=True)
    agreed_on: Mapped[date] = mapped_column(Date)
    outcomes: Mapped[str | None] = mapped_column(Text)


class Consent(Base):
    __tablename__ = "ft_consent"
    consent_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("ft_family_member.member_id"), index=True)
    purpose: Mapped[str] = mapped_column(String(80))
    given_on: Mapped[date] = mapped_column(Date)
    withdrawn_on: Mapped[date | None] = mapped_column(Date)


class Share(Base):
    __tablename__ = "ft_share"
    share_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("ft_family_member.member_id"), index=True)
    shared_with: Mapped[str] = mapped_column(String(120))
    detail: Mapped[str] = mapped_column(String(200))
    shared_on: Mapped[date] = mapped_column(Date)
    with_consent: Mapped[int] = mapped_column(Integer, default=1)


class Concern(Base):
    """Safeguarding concerns and holds raised about a member."""

    __tablename__ = "ft_concern"
    concern_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("ft_family_member.member_id"), index=True)
    concern_type: Mapped[str] = mapped_column(String(40))
    raised_at: Mapped[datetime] = mapped_column(DateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)
