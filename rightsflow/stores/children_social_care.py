"""Lewisham Family Support and Safeguarding (children's social care).

Modelled on a statutory case-management system: one row per person, people linked to one
another by typed relationships (no household table), involvement recorded as referrals,
episodes (child in need, child protection, looked after), assessments and plans.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Person(Base):
    __tablename__ = "lcs_person"
    person_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    forename: Mapped[str] = mapped_column(String(80))
    surname: Mapped[str] = mapped_column(String(80))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    gender: Mapped[str | None] = mapped_column(String(20))
    nhs_number: Mapped[str | None] = mapped_column(String(10))
    upn: Mapped[str | None] = mapped_column(String(13))
    ethnicity: Mapped[str | None] = mapped_column(String(60))
    first_language: Mapped[str | None] = mapped_column(String(40))
    religion: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[str | None] = mapped_column(String(200))
    postcode: Mapped[str | None] = mapped_column(String(10))
    telephone: Mapped[str | None] = mapped_column(String(20))
    school_name: Mapped[str | None] = mapped_column(String(120))
    health_needs: Mapped[str | None] = mapped_column(Text)
    benefits: Mapped[str | None] = mapped_column(String(200))
    police_info: Mapped[str | None] = mapped_column(Text)
    is_professional: Mapped[int] = mapped_column(Integer, default=0)
    date_of_death: Mapped[date | None] = mapped_column(Date)
    restricted_on: Mapped[date | None] = mapped_column(Date)
    __table_args__ = (
        Index("ix_lcs_person_nhs", "nhs_number"),
        Index("ix_lcs_person_upn", "upn"),
        Index("ix_lcs_person_dob_surname", "date_of_birth", "surname"),
    )


class Relationship(Base):
    """Person-to-person links; a family is whoever is connected through these."""

    __tablename__ = "lcs_relationship"
    relationship_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("lcs_person.person_id"), index=True)
    related_person_id: Mapped[int] = mapped_column(ForeignKey("lcs_person.person_id"), index=True)
    relationship_type: Mapped[str] = mapped_column(String(40))
    has_parental_responsibility: Mapped[int] = mapped_column(Integer, default=0)


class Referral(Base):
    __tablename__ = "lcs_referral"
    referral_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("lcs_person.person_id"), index=True)
    referral_date: Mapped[date] = mapped_column(Date)
    referral_source: Mapped[str] = mapped_column(String(60))
    mash_outcome: Mapped[str | None] = mapped_column(String(60))
    reason: Mapped[str | None] = mapped_column(Text)


class Episode(Base):
    """Periods of involvement; the latest end date is the case closure for retention."""

    __tablename__ = "lcs_episode"
    episode_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("lcs_person.person_id"), index=True)
    episode_type: Mapped[str] = mapped_column(String(30))  # CIN, CP, LAC, CARE_LEAVER
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    closure_reason: Mapped[str | None] = mapped_column(String(60))


class Assessment(Base):
    __tablename__ = "lcs_assessment"
    assessment_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("lcs_person.person_id"), index=True)
    assessment_type: Mapped[str] = mapped_column(String(40))
    completed_date: Mapped[date | None] = mapped_column(Date)
    summary: Mapped[str | None] = mapped_column(Text)


class Plan(Base):
    __tablename__ = "lcs_plan"
    plan_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("lcs_person.person_id"), index=True)
    plan_type: Mapped[str] = mapped_column(String(40))  # CIN plan, child protection, pre-birth, care
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)


class Visit(Base):
    """Contacts with the family; the latest visit_date is the last contact."""

    __tablename__ = "lcs_visit"
    visit_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("lcs_person.person_id"), index=True)
    visit_date: Mapped[date] = mapped_column(Date, index=True)
    visit_type: Mapped[str] = mapped_column(String(40))
    worker_person_id: Mapped[int | None] = mapped_column(ForeignKey("lcs_person.person_id"), index=True)


class CaseNote(Base):
    __tablename__ = "lcs_case_note"
    note_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("lcs_person.person_id"), index=True)
    recorded_at: Mapped[datetime] = mapped_column(DateTime)
    author_name: Mapped[str] = mapped_column(String(120))
    author_role: Mapped[str] = mapped_column(String(60))
    note_text: Mapped[str] = mapped_column(Text)
    supplementary_statement: Mapped[str | None] = mapped_column(Text)


class Alert(Base):
    """Flags and holds: SAFEGUARDING, CP_PLAN, LOOKED_AFTER, LEGAL_HOLD, INQUIRY."""

    __tablename__ = "lcs_alert"
    alert_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("lcs_person.person_id"), index=True)
    alert_code: Mapped[str] = mapped_column(String(30))
    raised_on: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)


class Disclosure(Base):
    """The sharing log: which recipient received what, and when (Article 19 reads it)."""

    __tablename__ = "lcs_disclosure"
    disclosure_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("lcs_person.person_id"), index=True)
    recipient: Mapped[str] = mapped_column(String(120))
    data_shared: Mapped[str] = mapped_column(String(200))
    disclosed_on: Mapped[date] = mapped_column(Date)
    legal_gateway: Mapped[str | None] = mapped_column(String(120))
