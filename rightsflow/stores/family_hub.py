"""Westminster Bessborough Family Hub.

Modelled on a hub's family-support system: the household is the unit of work (string ids),
members belong to one household, and the hub's forms ("What Can We Help You With",
"About My Family") and the Family Plan hang off the household, not the person.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Household(Base):
    __tablename__ = "household"
    household_ref: Mapped[str] = mapped_column(String(16), primary_key=True)
    address_line1: Mapped[str | None] = mapped_column(String(120))
    address_line2: Mapped[str | None] = mapped_column(String(120))
    post_code: Mapped[str | None] = mapped_column(String(10), index=True)
    home_phone: Mapped[str | None] = mapped_column(String(20))
    opened_on: Mapped[date] = mapped_column(Date)
    last_contact_on: Mapped[date | None] = mapped_column(Date, index=True)
    closed_on: Mapped[date | None] = mapped_column(Date)


class HouseholdMember(Base):
    __tablename__ = "household_member"
    member_ref: Mapped[str] = mapped_column(String(20), primary_key=True)
    household_ref: Mapped[str] = mapped_column(ForeignKey("household.household_ref"), index=True)
    given_name: Mapped[str] = mapped_column(String(80))
    family_name: Mapped[str] = mapped_column(String(80))
    dob: Mapped[date | None] = mapped_column(Date)
    sex: Mapped[str | None] = mapped_column(String(20))
    nhs_no: Mapped[str | None] = mapped_column(String(12))  # stored spaced, as staff type it: 943 476 5919
    role: Mapped[str] = mapped_column(String(20))  # parent, carer, child
    mobile: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(120))
    additional_needs: Mapped[str | None] = mapped_column(Text)
    restricted_on: Mapped[date | None] = mapped_column(Date)
    __table_args__ = (
        Index("ix_household_member_nhs", "nhs_no"),
        Index("ix_household_member_dob_name", "dob", "family_name"),
    )


class HelpRequest(Base):
    """The "What Can We Help You With" form."""

    __tablename__ = "help_request"
    help_request_id: Mapped[str] = mapped_column(String(24), primary_key=True)
    household_ref: Mapped[str] = mapped_column(ForeignKey("household.household_ref"), index=True)
    submitted_on: Mapped[date] = mapped_column(Date)
    referred_by: Mapped[str | None] = mapped_column(String(80))
    needs: Mapped[str | None] = mapped_column(Text)


class AboutMyFamily(Base):
    """The "About My Family" form: the family's own account, free text."""

    __tablename__ = "about_my_family"
    form_id: Mapped[str] = mapped_column(String(24), primary_key=True)
    household_ref: Mapped[str] = mapped_column(ForeignKey("household.household_ref"), index=True)
    completed_on: Mapped[date] = mapped_column(Date)
    family_story: Mapped[str | None] = mapped_column(Text)


class FamilyPlan(Base):
    __tablename__ = "family_plan"
    plan_ref: Mapped[str] = mapped_column(String(24), primary_key=True)
    household_ref: Mapped[str] = mapped_column(ForeignKey("household.household_ref"), index=True)
    agreed_on: Mapped[date] = mapped_column(Date)
    goals: Mapped[str | None] = mapped_column(Text)
    key_worker: Mapped[str | None] = mapped_column(String(120))
    review_on: Mapped[date | None] = mapped_column(Date)


class HubSession(Base):
    """Each contact with the household at the hub or at home."""

    __tablename__ = "hub_session"
    session_ref: Mapped[str] = mapped_column(String(24), primary_key=True)
    household_ref: Mapped[str] = mapped_column(ForeignKey("household.household_ref"), index=True)
    session_on: Mapped[date] = mapped_column(Date, index=True)
    activity: Mapped[str] = mapped_column(String(80))
    practitioner: Mapped[str | None] = mapped_column(String(120))
    notes: Mapped[str | None] = mapped_column(Text)
    supplementary_statement: Mapped[str | None] = mapped_column(Text)


class ConsentRecord(Base):
    __tablename__ = "consent_record"
    consent_ref: Mapped[str] = mapped_column(String(24), primary_key=True)
    member_ref: Mapped[str] = mapped_column(ForeignKey("household_member.member_ref"), index=True)
    scope: Mapped[str] = mapped_column(String(80))
    given_on: Mapped[date] = mapped_column(Date)
    withdrawn_on: Mapped[date | None] = mapped_column(Date)


class PartnerShare(Base):
    """The sharing log: what went to which partner, and when."""

    __tablename__ = "partner_share"
    share_ref: Mapped[str] = mapped_column(String(24), primary_key=True)
    member_ref: Mapped[str] = mapped_column(ForeignKey("household_member.member_ref"), index=True)
    partner: Mapped[str] = mapped_column(String(120))
    what: Mapped[str] = mapped_column(String(200))
    shared_at: Mapped[datetime] = mapped_column(DateTime)


class HouseholdFlag(Base):
    """Flags raised on a household (or a member): safeguarding concern, legal hold..."""

    __tablename__ = "household_flag"
    flag_ref: Mapped[str] = mapped_column(String(24), primary_key=True)
    household_ref: Mapped[str] = mapped_column(ForeignKey("household.household_ref"), index=True)
    # Indexed: deleting a member checks this reference (a scan per member without it).
    member_ref: Mapped[str | None] = mapped_column(ForeignKey("household_member.member_ref"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    raised_on: Mapped[date] = mapped_column(Date)
    cleared_on: Mapped[date | None] = mapped_column(Date)
