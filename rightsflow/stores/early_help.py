"""Lewisham Early Help Team (Level 2, consent-based).

Modelled on an early-help module: people are recorded once and join cases through a
membership table (a person can be in several cases over the years); the Early Help
Assessment, panel referrals to partner agencies and contacts hang off the case.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class EhPerson(Base):
    __tablename__ = "eh_person"
    eh_person_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_names: Mapped[str] = mapped_column(String(80))
    last_name: Mapped[str] = mapped_column(String(80))
    dob: Mapped[date | None] = mapped_column(Date)
    nhs_num: Mapped[str | None] = mapped_column(String(10))
    pupil_ref: Mapped[str | None] = mapped_column(String(13))
    gender: Mapped[str | None] = mapped_column(String(20))
    postcode: Mapped[str | None] = mapped_column(String(10))
    contact_phone: Mapped[str | None] = mapped_column(String(20))
    needs: Mapped[str | None] = mapped_column(Text)
    restricted_on: Mapped[date | None] = mapped_column(Date)
    __table_args__ = (
        Index("ix_eh_person_nhs", "nhs_num"),
        Index("ix_eh_person_upn", "pupil_ref"),
        Index("ix_eh_person_dob_last", "dob", "last_name"),
    )


class EhCase(Base):
    __tablename__ = "eh_case"
    case_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    opened_on: Mapped[date] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)
    lead_practitioner: Mapped[str | None] = mapped_column(String(120))


class EhCaseMember(Base):
    __tablename__ = "eh_case_member"
    case_id: Mapped[int] = mapped_column(ForeignKey("eh_case.case_id"), primary_key=True)
    eh_person_id: Mapped[int] = mapped_column(ForeignKey("eh_person.eh_person_id"), primary_key=True)
    member_role: Mapped[str] = mapped_column(String(30))
    __table_args__ = (Index("ix_eh_case_member_person", "eh_person_id"),)


class EhAssessment(Base):
    """The Early Help Assessment."""

    __tablename__ = "eh_assessment"
    assessment_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("eh_case.case_id"), index=True)
    assessed_on: Mapped[date] = mapped_column(Date)
    strengths_and_needs: Mapped[str | None] = mapped_column(Text)


class EhPanelReferral(Base):
    """Referrals to the early help panel's agencies (CAMHS, housing, refuge, education...)."""

    __tablename__ = "eh_panel_referral"
    panel_referral_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("eh_case.case_id"), index=True)
    agency: Mapped[str] = mapped_column(String(80))
    referred_on: Mapped[date] = mapped_column(Date)


class EhContact(Base):
    __tablename__ = "eh_contact"
    contact_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("eh_case.case_id"), index=True)
    contact_on: Mapped[date] = mapped_column(Date, index=True)
    contact_mode: Mapped[str] = mapped_column(String(30))
    practitioner: Mapped[str | None] = mapped_column(String(120))
    case_note: Mapped[str | None] = mapped_column(Text)
    supplementary_statement: Mapped[str | None] = mapped_column(Text)


class EhConsent(Base):
    __tablename__ = "eh_consent"
    eh_consent_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    eh_person_id: Mapped[int] = mapped_column(ForeignKey("eh_person.eh_person_id"), index=True)
    consent_to: Mapped[str] = mapped_column(String(80))
    signed_on: Mapped[date] = mapped_column(Date)
    withdrawn_on: Mapped[date | None] = mapped_column(Date)


class EhInfoShare(Base):
    __tablename__ = "eh_info_share"
    info_share_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    eh_person_id: Mapped[int] = mapped_column(ForeignKey("eh_person.eh_person_id"), index=True)
    agency: Mapped[str] = mapped_column(String(80))
    information: Mapped[str] = mapped_column(String(200))
    shared_at: Mapped[datetime] = mapped_column(DateTime)


class EhMarker(Base):
    """Markers on a case: safeguarding concern, stepped up to social care, legal hold."""

    __tablename__ = "eh_marker"
    marker_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("eh_case.case_id"), index=True)
    marker: Mapped[str] = mapped_column(String(40))
    set_on: Mapped[date] = mapped_column(Date)
    cleared_on: Mapped[date | None] = mapped_column(Date)
