"""Objection (Art 21) and consent withdrawal (Art 7(3)): the routes and the legal bases.

Nothing here touches a store or Temporal; workflows/objection.py applies it.

**Route per service** that holds the subject:

* ``stop``: a consent-based service (``lawful_basis.consent_based``) with no active hold flag.
  An objection to processing that rests on consent is a withdrawal of that consent: the
  withdrawal is recorded with its date in the consents role, processing is restricted (stored
  only) and erasure is offered to the DPO (Art 17(1)(b)).
* ``weigh``: a public-task service, or a consent-based one with an active hold flag (a
  safeguarding concern or a child protection plan is processed under a public task, not
  consent). Processing is restricted while the DPO weighs whether compelling legitimate grounds
  override the person's interests, rights and freedoms (Art 18(1)(d), Art 21(1)); the DPO then
  ``uphold``s the objection (processing stays stopped; erasure is offered, Art 17(1)(c)) or
  ``override``s it (the person is told, then the restriction is lifted).
"""

from __future__ import annotations

ROUTES = ("stop", "weigh")
DECISIONS = ("uphold", "override")

BASIS_STOPPED = (
    "UK GDPR Art 21(1) and Art 7(3): the processing rests on consent; the objection withdraws it and "
    "the processing stops"
)
BASIS_UPHELD = (
    "UK GDPR Art 21(1): no compelling legitimate grounds override the person's interests, rights "
    "and freedoms; the processing stops"
)
BASIS_OVERRIDDEN = (
    "UK GDPR Art 21(1): compelling legitimate grounds for the processing override the person's "
    "interests, rights and freedoms (or it is needed for legal claims)"
)
BASIS_PENDING = "UK GDPR Art 18(1)(d): restricted while the council weighs the objection (Art 21(1))"
BASIS_WITHDRAWN = "UK GDPR Art 7(3): consent withdrawn; processing and sharing under consent stop"
ERASURE_AFTER_WITHDRAWAL = "UK GDPR Art 17(1)(b): consent withdrawn and no other legal ground"
ERASURE_AFTER_OBJECTION = "UK GDPR Art 17(1)(c): objection upheld; no overriding legitimate grounds"


def route(consent_based: bool, holds: list[str]) -> str:
    """``stop`` for consent-based processing with no hold flag, else ``weigh``."""
    return "stop" if consent_based and not holds else "weigh"


def decision_basis(decision: str) -> str:
    if decision == "uphold":
        return BASIS_UPHELD
    if decision == "override":
        return BASIS_OVERRIDDEN
    raise ValueError(f"decision must be one of {', '.join(DECISIONS)}")


def check_objection_decision(decision: str, reason: str) -> None:
    """Raise ValueError for a decision the DPO cannot make (used by the workflow's validator)."""
    decision_basis(decision)
    if not reason.strip():
        raise ValueError("a decision on an objection needs the reasons the person will be told")


def erasure_hint(received_on: str, services: list[str], ground: str) -> str:
    """How the DPO files the offered erasure (no identifiers: the DPO gives the same ones)."""
    svc = " ".join(f"--service {s}" for s in services)
    return (
        f"rightsflow erase --received {received_on} --ground {ground} {svc} "
        "<the same identifiers: --nhs-number N | --upn U | --name N --dob D>"
    )
