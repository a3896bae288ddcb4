"""Camden Family Support (demo receiving authority).

A different system again: people and families are separate tables joined by a link table (a
person can belong to several families), addresses are dated rows of their own, contacts carry no
note (notes are a table of their own, with the author's role), and anything the system has no
field for is kept in a generic attachment table with a title. Keys are text ("CF0000001").
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Family(Base):
    __tablename__ = "cfs_family"
    family_uid: Mapped[str] = mapped_column(String(24), primary_key=True)
    family_name: Mapped[str | None] = mapped_column(String(80))
    phone: Mapped[str | None] = mapped_column(String(20))
    opened_date: Mapped[date] = mapped_column(Date)
    closed_date: Mapped[date | None] = mapped_column(Date)
    lead_worker: Mapped[str | None] = mapped_column(String(120))


class Person(Base):
    __tablename__ = "cfs_person"
    person_uid: Mapped[str] = mapped_column(String(24), primary_key=True)
    nhs_number: Mapped[str | None] = mapped_column(String(10))
    upn: Mapped[str | None] = mapped_column(String(13))
    given_names: Mapped[str] = mapped_column(String(80))
    surname: Mapped[str] = mapped_column(String(80))
    birth_date: Mapped[date | None] = mapped_column(Date)
    gender: Mapped[str | None] = mapped_column(String(20))
    ethnicity: Mapped[str | None] = mapped_column(String(120))
    language: Mapped[str | None] = mapped_column(String(60))
    religion: Mapped[str | None] = mapped_column(String(60))
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(120))
    health_and_disability: Mapped[str | None] = mapped_column(Text)
    restricted_on: Mapped[date | None] = mapped_column(Date)
    __table_args__ = (
        Index("ix_cfs_person_nhs", "nhs_number"),
        Index("ix_cfs_person_upn", "upn"),
        Index("ix_cfs_person_dob_name", "birth_date", "surname"),
    )


class FamilyLink(Base):
    """Who belongs to which family, and as what."""

    __tablename__ = "cfs_family_link"
    family_uid: Mapped[str] = mapped_column(ForeignKey("cfs_family.family_uid"), primary_key=True)
    person_uid: Mapped[str] = mapped_column(ForeignKey("cfs_person.person_uid"), primary_key=True, index=True)
    relationship_to_family: Mapped[str | None] = mapped_column(String(60))


class Address(Base):
    __tablename__ = "cfs_address"
    address_uid: Mapped[str] = mapped_column(String(24), primary_key=True)
    family_uid: Mapped[str] = mapped_column(ForeignKey("cfs_family.family_uid"), index=True)
    address_text: Mapped[str | None] = mapped_column(String(200))
    town: Mapped[str | None] = mapped_column(String(80))
    postcode: Mapped[str | None] = mapped_column(String(10), index=True)
    from_date: Mapped[date | None] = mapped_column(Date)
    to_date: Mapped[date | None] = mapped_column(Date)


class Involvement(Base):
    """An episode of family support (early help, child in need, looked after...)."""

    __tablename__ = "cfs_involvement"
    involvement_uid: Mapped[str] = mapped_column(String(24), primary_key=True)
    family_uid: Mapped[str] = mapped_column(ForeignKey("cfs_family.family_uid"), index=True)
    person_uid: Mapped[str | None] = mapped_column(ForeignKey("cfs_person.person_uid"), index=True)
    involvement_type: Mapped[str] = mapped_column(String(80))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    end_reason: Mapped[str | None] = mapped_column(String(120))


class Referral(Base):
    __tablename__ = "cfs_referral"
    referral_uid: Mapped[str] = mapped_column(String(24), primary_key=True)
    family_uid: Mapped[str] = mapped_column(ForeignKey("cfs_family.family_uid"), index=True)
    person_uid: Mapped[str | None] = mapped_column(ForeignKey("cfs_person.person_uid"), index=True)
    received_date: Mapped[date] = mapped_column(Date)
    source: Mapped[str | None] = mapped_column(String(120))
    reason: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(200))


class Assessment(Base):
    __tablename__ = "cfs_assessment"
    assessment_uid: Mapped[str] = mapped_column(String(24), primary_key=True)
    family_uid: Mapped[str] = mapped_column(ForeignKey("cfs_family.family_uid"), index=True)
    person_uid: Mapped[str | None] = mapped_column(ForeignKey("cfs_person.person_uid"), index=True)
    assessment_kind: Mapped[str | None] = mapped_column(String(80))
    started_date: Mapped[date | None] = mapped_column(Date)
    authorised_date: Mapped[date | None] = mapped_column(Date)
    findings: Mapped[str | None] = mapped_column(Text)


class Plan(Base):
    __tablename__ = "cfs_plan"
    plan_uid: Mapped[str] = mapped_column(String(24), primary_key=True)
    family_uid: Mapped[str] = mapped_column(ForeignKey("cfs_family.family_uid"), index=True)
    person_uid: Mapped[str | None] = mapped_column(ForeignKey("cfs_person.person_uid"), index=True)
    plan_kind: Mapped[str | None] = mapped_column(String(80))
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    next_review: Mapped[date | None] = mapped_column(Date)
    goals: Mapped[str | None] = mapped_column(Text)


class Contact(Base):
    __tablename__ = "cfs_contact"
    contact_uid: Mapped[str] = mapped_column(String(24), primary_key=True)
    family_uid: Mapped[str] = mapped_column(ForeignKey("cfs_family.family_uid"), index=True)
    person_uid: Mapped[str | None] = mapped_column(ForeignKey("cfs_person.person_uid"), index=True)
    contact_date: Mapped[date] = mapped_column(Date, index=True)
    contact_kind: Mapped[str | None] = mapped_column(String(80))
    worker: Mapped[str | None] = mapped_column(String(120))
    worker_role: Mapped[str | None] = mapped_column(String(120))


class Note(Base):
    __tablename__ = "cfs_note"
    note_uid: Mapped[str] = mapped_column(String(24), primary_key=True)
    family_uid: Mapped[str] = mapped_column(ForeignKey("cfs_family.family_uid"), index=True)
    person_uid: Mapped[str | None] = mapped_column(ForeignKey("cfs_person.person_uid"), index=True)
    note_date: Mapped[date] = mapped_column(Date)
    author: Mapped[str | None] = mapped_column(String(120))
    author_role: Mapped[str | None] = mapped_column(String(120))
    note_body: Mapped[str | None] = mapped_column(Text)
    supplementary_statement: Mapped[str | None] = mapped_column(Text)


class Consent(Base):
    __tablename__ = "cfs_consent"
    consent_uid: Mapped[str] = mapped_column(String(24), primary_key=True)
    person_uid: Mapped[str] = mapped_column(ForeignKey("cfs_person.person_uid"), index=True)
    consent_for: Mapped[str] = mapped_column(String(120))
    given_date: Mapped[date] = mapped_column(Date)
    withdrawn_date: Mapped[date | None] = mapped_column(Date)


class Alert(Base):
    __tablename__ = "cfs_alert"
    alert_uid: Mapped[str] = mapped_column(String(24), primary_key=True)
    family_uid: Mapped[str] = mapped_column(ForeignKey("cfs_family.family_uid"), index=True)
    person_uid: Mapped[str | None] = mapped_column(ForeignKey("cfs_person.person_uid"), index=True)
    alert_kind: Mapped[str] = mapped_column(String(40))
    from_date: Mapped[date] = mapped_column(Date)
    to_date: Mapped[date | None] = mapped_column(Date)


class Disclosure(Base):
    __tablename__ = "cfs_disclosure"
    disclosure_uid: Mapped[str] = mapped_column(String(24), primary_key=True)
    person_uid: Mapped[str] = mapped_column(ForeignKey("cfs_person.person_uid"), index=True)
    disclosed_to: Mapped[str] = mapped_column(String(200))
    disclosed_what: Mapped[str | None] = mapped_column(String(200))
    disclosed_date: Mapped[date] = mapped_column(Date)
    legal_gateway: Mapped[str | None] = mapped_column(String(200))


class Attachment(Base):
    """Anything the system has no field for: a titled piece of information on a family or person."""

    __tablename__ = "cfs_attachment"
    attachment_uid: Mapped[str] = mapped_column(String(40), primary_key=True)
    family_uid: Mapped[str | None] = mapped_column(ForeignKey("cfs_family.family_uid"), index=True)
    person_uid: Mapped[str | None] = mapped_column(ForeignKey("cfs_person.person_uid"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    content: Mapped[str | None] = mapped_column(Text)
    dated: Mapped[date | None] = mapped_column(Date)
