"""Retention: which households in a service's store are due for disposal, and disposing of them.

Everything is driven by the catalogue (``retention:``, ``subject:``, ``roles:`` and the dataset's
references); no table name is written here. The unit of disposal is the household:

* **column** stores: the people sharing a group key (``household_member.household_ref``);
* **membership** stores: people and groups joined through the link table, transitively (a
  person in two cases joins both cases into one household);
* **relationship** stores: people connected through the relationship table, transitively;
  people with ``subject.professional_field`` set are staff: never family, never disposed.

A household is disposed only when every rule that applies to it has run (the longest period
wins) and nothing blocks it: an active hold flag on anyone or on the group, a restriction on anyone
(``subject.restricted_field``), or an open rights request about anyone. The governing rule is the
one falling due last; on a tie the more careful action wins (archive, review, anonymise, destroy).
``review`` households wait in the disposition review register (``RetentionReview``, written by
the sweep activity) until a records manager decides: approved through every stage, the household
is disposed of by the rule's ``after_review`` action; extended, it is not due before the new date;
moved, it is evaluated under another rule of the service instead; held, a hold flag keeps it.

Households are visited in batches ordered by the subject key; a household is evaluated in the
batch holding its first member, so a cursor (the last key of a batch) is enough to resume.
Every query is set-based over a batch (``IN`` lists over indexed key and link columns).

The package's modules follow those steps: ``schedule`` (periods and due dates), ``plan`` (the
catalogue read into a StorePlan), ``households`` (the store walk), ``decisions`` (evaluation and
references), ``holds`` (holds and the recheck under lock), ``disposal`` (destroy, anonymise,
archive rows) and ``records`` (the register's disposal, progress and review tables).

No personal data leaves this package in a log line, an exception or a report: households are named
by a keyed hash of the service and their first member's store key.
"""

from __future__ import annotations

from .decisions import (
    Decision,
    evaluate,
    household_ref,
    resolve_refs,
    still_anonymised,
)
from .disposal import (
    AnonymisePlan,
    anonymise_plan,
    anonymise_rows,
    destroy_rows,
    households_rows,
    rows_json,
)
from .holds import (
    active_holds,
    lock_and_recheck,
)
from .households import (
    IN_CHUNK,
    KEYSET_CHUNK,
    Household,
    coerce_keys,
    count_people,
    next_households,
)
from .plan import (
    Link,
    RuleSource,
    StorePlan,
    build_plan,
    unindexed_references,
)
from .records import (
    RetentionDisposal,
    RetentionProgress,
    RetentionReview,
    ReviewState,
    already_anonymised,
    ensure_schema,
    forget_progress,
    load_progress,
    load_reviews,
    pending_keys,
    record_done,
    record_pending,
    record_review_items,
    save_progress,
)
from .schedule import (
    ACTION_CARE,
    REASONS,
    RetentionPlanError,
    add_period,
    as_date,
    due_on,
)

__all__ = [
    "ACTION_CARE",
    "AnonymisePlan",
    "Decision",
    "Household",
    "IN_CHUNK",
    "KEYSET_CHUNK",
    "Link",
    "REASONS",
    "RetentionDisposal",
    "RetentionPlanError",
    "RetentionProgress",
    "RetentionReview",
    "ReviewState",
    "RuleSource",
    "StorePlan",
    "active_holds",
    "add_period",
    "already_anonymised",
    "anonymise_plan",
    "anonymise_rows",
    "as_date",
    "build_plan",
    "coerce_keys",
    "count_people",
    "destroy_rows",
    "due_on",
    "ensure_schema",
    "evaluate",
    "forget_progress",
    "household_ref",
    "households_rows",
    "load_progress",
    "load_reviews",
    "lock_and_recheck",
    "next_households",
    "pending_keys",
    "record_done",
    "record_pending",
    "record_review_items",
    "resolve_refs",
    "rows_json",
    "save_progress",
    "still_anonymised",
    "unindexed_references",
]
