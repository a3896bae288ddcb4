"""Manchester Thriving Families (public task; special category under Art 9(1)(g)).

Modelled on a programme-monitoring system: clients in a family group, with the equality
data the notice names (gender, language, nationality, religion, country of birth) and GP
and health-visitor details; interventions are the contacts; a pseudonymised extract goes
to the national evaluation.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class FamilyGroup(Base):
    __tablename__ = "tf_family_group"
    family_group_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str | None] = mapped_column(String(200))
    postcode: Mapped[str | None] = mapped_column(String(10), index=True)
    attached_on: Mapped[date] = mapped_column(Date)
    outcome_claimed_on: Mapped[date | None] = mapped_column(Date)


class Client(Base):
    __tablename__ = "tf_client"
    client_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    family_group_id: Mapped[int] = mapped_column(ForeignKey("tf_family_group.family_group_id"), index=True)
    forename: Mapped[str] = mapped_column(String(80))
    surname: Mapped[str] = mapped_column(String(80))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    nhs_number: Mapped[str | None] = mapped_column(String(10))
    gender: Mapped[str | None] = mapped_column(String(20))
    main_language: Mapped[str | None] = mapped_column(String(40))
    nationality: Mapped[str | None] = mapped_column(String(40))
    religion: Mapped[str | None] = mapped_column(String(40))
    country_of_birth: Mapped[str | None] = mapped_column(String(40))
    ethnicity: Mapped[str | None] = mapped_column(String(60))
    gp_practice: Mapped[str | None] = mapped_column(String(120))
    health_visitor: Mapped[str | None] = mapped_column(String(120))
    mobile: Mapped[str | None] = mapped_column(String(20))
    restricted_on: Mapped[date | None] = mapped_column(Date)
    __table_args__ = (
        Index("ix_tf_client_nhs", "nhs_number"),
        Index("ix_tf_client_dob_surname", "date_of_birth", "surname"),
    )


class Intervention(Base):
    __tablename__ = "tf_intervention"
    intervention_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    family_group_id: Mapped[int] = mapped_column(ForeignKey("tf_family_group.family_group_id"), index=True)
    delivered_on: Mapped[date] = mapped_column(Date, index=True)
    intervention_type: Mapped[str] = mapped_column(String(60))
    keyworker: Mapped[str | None] = mapped_column(String(120))
    notes: Mapped[str | None] = mapped_column(Text)
    supplementary_statement: Mapped[str | None] = mapped_column(Text)


class FamilyOutcomePlan(Base):
    __tablename__ = "tf_outcome_plan"
    outcome_plan_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    family_group_id: Mapped[int] = mapped_column(ForeignKey("tf_family_group.family_group_id"), index=True)
    agreed_on: Mapped[date] = mapped_column(Date)
    headline_problems: Mapped[str | None] = mapped_column(Text)


class DataShare(Base):
    __tablename__ = "tf_data_share"
    data_share_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("tf_client.client_id"), index=True)
    recipient_org: Mapped[str] = mapped_column(String(120))
    data_items: Mapped[str] = mapped_column(String(200))
    shared_on: Mapped[date] = mapped_column(Date)


class EvaluationExtract(Base):
    """Pseudonymised rows sent to the national evaluation; destroyed when it ends."""

    __tablename__ = "tf_evaluation_extract"
    extract_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("tf_client.client_id"), index=True)
    pseudonym: Mapped[str] = mapped_column(String(40))
    sent_on: Mapped[date] = mapped_column(Date)


class RiskFlag(Base):
    __tablename__ = "tf_risk_flag"
    risk_flag_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("tf_client.client_id"), index=True)
    flag: Mapped[str] = mapped_column(String(40))
    flagged_on: Mapped[date] = mapped_column(Date)
    removed_on: Mapped[date | None] = mapped_column(Date)
