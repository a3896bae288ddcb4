"""Retention review reminders by email: the records manager and the service lead are told.

A reminder is recorded once per item and day (rightsflow.review.send_reminders); each item reminded
today is then emailed under a key of the item and the day, so a sweep run twice, or an activity
retried after a mail failure, sends each reminder once. The mail holds references, the service's
name, the rule and dates: never personal data (the household reference is a keyed hash).
"""

from __future__ import annotations

import logging
from datetime import date

from .catalog import Catalog
from .mail import Mailer
from .register import Register
from .review import ReviewItem, list_reviews

log = logging.getLogger(__name__)

ROLES = ["records_manager", "service_lead"]


def reminder_key(item: ReviewItem, today: date) -> str:
    return f"retention-review:{item.service}:{item.ref}:{item.rule_id}:reminder:{today.isoformat()}"


def reminder_message(catalog: Catalog, item: ReviewItem, today: date) -> tuple[str, str]:
    """The subject and body of one reminder (references and dates only)."""
    name = catalog[item.service].name if item.service in catalog.ids else item.service
    ref = item.ref[:16]
    subject = f"Retention review awaiting a decision: {name}, item {ref}"
    body = "\n".join(
        [
            "A retention review item has been waiting for a decision since "
            f"{item.waiting_since or item.due_on}.",
            "",
            f"Review item: {ref}",
            f"Service: {name} ({item.service})",
            f"Rule: {item.rule_id}",
            f"Stage: {item.stage} of {item.stages}",
            f"Due for disposal on: {item.due_on.isoformat()}",
            f"Reminder number: {item.reminders_sent} (sent {today.isoformat()})",
            "",
            "Decide in the casework console (Retention page), or with:",
            f"  rightsflow review decide {ref} --service {item.service} --rule {item.rule_id} --approve",
            "  (or --extend-to YYYY-MM-DD, --move-to RULE, --hold KIND --reason TEXT)",
        ]
    )
    return subject, body


def email_reminders(
    mailer: Mailer, catalog: Catalog, register: Register, today: date, services: list[str] | None = None
) -> int:
    """Email every item reminded ``today`` to its controller's records manager and service lead.

    Once per item and day: the mail's own record (keyed by the item and the day) is found on a
    second run, so nothing is sent twice; an item whose mail failed is sent on the retry.
    Returns how many reminders were emailed (or found already emailed).
    """
    if mailer.config is None:
        return 0
    emailed = 0
    for item in list_reviews(register.engine):
        if item.last_reminded_on != today or (services and item.service not in services):
            continue
        if item.service not in catalog.ids:
            continue  # a service gone from the catalogue: no controller file to say who is told
        subject, body = reminder_message(catalog, item, today)
        to = mailer.notify_staff(
            reminder_key(item, today),
            catalog[item.service].controller,
            ROLES,
            subject,
            body,
            service=item.service,
        )
        if to:
            emailed += 1
            log.info("retention review reminder for %s %s emailed", item.service, item.ref[:16])
    return emailed
