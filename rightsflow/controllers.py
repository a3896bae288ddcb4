"""Data controllers: the councils a request is made to, one file each in catalog/controllers/.

A controller file gives what every letter must carry (legal name, address, the Data Protection
Officer's contact details, the ICO registration number, how to ask for an internal review, who
signs) and who is told of the statutory clock by email (the DPO, the records manager, each
service's lead). A request belongs to one controller and reaches only its services, plus the
services of any joint arrangement it declares (a shared safeguarding hub, an early help panel).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

_CODE = re.compile(r"^[a-z][a-z0-9_]{1,40}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
Text = Annotated[str, Field(min_length=2, max_length=400)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError("is not an email address")
    return value


class DataProtectionOfficer(_Strict):
    name: Text
    email: str
    phone: Text
    postal_address: list[Text] = Field(min_length=2)

    _check_email = field_validator("email")(_email)


class Signature(_Strict):
    name: Text
    title: Text


class Notifications(_Strict):
    """Who gets the clock's reminders and escalations by email (the audit log keeps them too)."""

    dpo: str | None = None  # defaults to the DPO's email
    records_manager: str | None = None
    service_leads: dict[str, str] = Field(default_factory=dict)  # service id -> email

    @field_validator("dpo", "records_manager")
    @classmethod
    def _opt_email(cls, value: str | None) -> str | None:
        return None if value is None else _email(value)

    @field_validator("service_leads")
    @classmethod
    def _lead_emails(cls, value: dict[str, str]) -> dict[str, str]:
        for email in value.values():
            _email(email)
        return value


class JointArrangement(_Strict):
    """Services another controller runs that this controller's requests also reach.

    Declared by the controller whose requests reach them; the other controller's file need not
    say so (each council's DPO decides what their own requests search).
    """

    name: Text
    purpose: Text
    controllers: list[str] = Field(min_length=1)  # the other parties
    services: list[str] = Field(min_length=1)  # their services this arrangement covers


class OrganisationContact(_Strict):
    """Where Article 19 notices and transfer letters to an organisation go."""

    email: str | None = None
    postal_address: list[Text] = Field(default_factory=list)

    @field_validator("email")
    @classmethod
    def _opt_email(cls, value: str | None) -> str | None:
        return None if value is None else _email(value)


class Controller(_Strict):
    code: str
    legal_name: Text
    short_name: Text
    address: list[Text] = Field(min_length=2)
    ico_registration: Annotated[str, Field(pattern=r"^[A-Z]{1,2}[0-9]{6,8}$")]
    dpo: DataProtectionOfficer
    internal_review: Text  # how to ask for an internal review of a decision
    signature: Signature
    notify: Notifications = Field(default_factory=Notifications)
    joint_arrangements: list[JointArrangement] = Field(default_factory=list)
    # Organisations this council shares with, by the name its sharing logs record: without an
    # entry a notice is printed for post with the organisation's name only.
    recipients: dict[str, OrganisationContact] = Field(default_factory=dict)
    demo: bool = False  # invented contact details: letters say so

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        if not _CODE.match(value):
            raise ValueError("must be lower_snake_case")
        return value

    @property
    def dpo_email(self) -> str:
        return self.notify.dpo or self.dpo.email

    def joint_services(self) -> list[str]:
        return [s for j in self.joint_arrangements for s in j.services]

    def contact(self) -> dict[str, object]:
        """What a letter template needs about the controller, as plain data."""
        return {
            "code": self.code,
            "legal_name": self.legal_name,
            "short_name": self.short_name,
            "address": list(self.address),
            "ico_registration": self.ico_registration,
            "dpo": {
                "name": self.dpo.name,
                "email": self.dpo.email,
                "phone": self.dpo.phone,
                "postal_address": list(self.dpo.postal_address),
            },
            "internal_review": self.internal_review,
            "signature": {"name": self.signature.name, "title": self.signature.title},
            "demo": self.demo,
        }
