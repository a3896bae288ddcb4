"""Synthetic demo data for the five service stores: realistic in shape, invented in every detail.

Everything here is made up. Names are drawn from small built-in lists, NHS numbers start with 9
and carry valid modulus 11 check digits, UPNs carry valid check letters, telephone numbers are in
Ofcom's drama ranges (07700 900xxx, 020 7946 0xxx, 0161 496 0xxx) and e-mail addresses are at
example.com. Any resemblance to a real family is chance.

Determinism: the rows depend only on ``seed``, ``as_of`` and the family index, never on the
batch size, the database or the order the stores are seeded in. Every family has its own
``random.Random(f"{seed}:...:{index}")``, so ``seed_stores`` can run 200,000 families per
service in bounded memory: it generates and inserts 1,000 families at a time (one transaction
per batch, Core ``insert()`` executemany) with ids worked out from the family index, never
read back from the database.

Cross-service overlap (the same people, with the same NHS number, UPN, names and dates of birth,
known to several services; different ids, schemas and records in each). Family ``i`` of a
service is the canonical family ``family_origin(service, i)``:

=================================  =====================================================
store, family index ``i``          the family is
=================================  =====================================================
lewisham_family_thrive             Westminster hub family ``i`` when ``i % 25 == 12`` (moved
                                   to Lewisham); otherwise its own
lewisham_early_help                Family Thrive family ``i`` when ``i % 10 == 0``;
                                   Westminster hub family ``i`` when ``i % 20 == 15``;
                                   otherwise its own
lewisham_childrens_social_care     Family Thrive family ``i`` when ``i % 10`` is 0 or 1;
                                   Early Help family ``i`` when ``i % 10`` is 2 or 3;
                                   Westminster hub family ``i`` when ``i % 20 == 5``;
                                   otherwise its own
westminster_family_hub             always its own
manchester_thriving_families       children's social care family ``i`` when ``i % 50 == 7``
                                   (moved to Manchester); otherwise its own
=================================  =====================================================

So 40% of social care families are also known to Family Thrive or Early Help (family 0, 10,
20, ... to all three Lewisham services), 5% of Lewisham social care and Early Help families and
4% of Family Thrive families came from the Westminster hub, and 2% of Manchester families came
from Lewisham social care. Shared families hold the same address within a borough; a family
that moved has an address in each. ``shared_child_example(urls)`` finds a child known to two or
more of the given stores. Overlaps hold when every store was seeded with the same ``seed``,
``as_of`` and at least ``i + 1`` families.

Holds and flags are stratified, not drawn at random, so every 100 consecutive families carry
exactly: 5 safeguarding concerns, 3 child protection plans, 2 looked-after children (social
care), 1 legal hold; social care also has 1 inquiry hold and Early Help 4 step-ups to social
care. Some have ended. About 1% of families had their last contact three years (give or take
three days) before ``as_of``; the rest are spread uniformly over the six years before it.

Children's social care also holds old, closed cases, so a retention sweep has something due in
every store. In every 100 of its families, nine (only families known to no other service, so the
other four stores are unchanged) are dated back in time (``historic_case``): three MASH contacts that
led nowhere, 7 to 11 years ago (destroyed under ``contact_not_progressed``); two closed children in
need cases whose youngest child is now over 25 (awaiting review); a looked-after child, now over 25,
whose case record goes to the locked archive; a closed child protection case, 26 to 31 years ago,
whose 35 years from closure have not run (kept, linked); and two closed cases under a legal hold
and an inquiry hold placed in the last three years (kept, held).
"""

from .common import MAX_FAMILIES, PERSON_TABLES, SERVICES, family_origin, historic_case
from .driver import SeedReport, ServiceSeedReport, StoreNotEmpty, create_schemas, seed_if_empty, seed_stores
from .overlap import SharedChild, shared_child_example

__all__ = [
    "MAX_FAMILIES",
    "PERSON_TABLES",
    "SERVICES",
    "SeedReport",
    "ServiceSeedReport",
    "SharedChild",
    "StoreNotEmpty",
    "create_schemas",
    "family_origin",
    "historic_case",
    "seed_if_empty",
    "seed_stores",
    "shared_child_example",
]
