"""The demo services' own stores, each with its own schema, as real systems differ.

The orchestrator never imports these models: it learns a store from its catalogue entry.
They exist to create the demo stores and to check the catalogue against them.
"""

from __future__ import annotations

from sqlalchemy import MetaData

from . import children_social_care, early_help, family_hub, family_support, family_thrive, thriving_families

# service id (as in catalog/<service>.yaml) -> the store's schema
SCHEMAS: dict[str, MetaData] = {
    "lewisham_family_thrive": family_thrive.Base.metadata,
    "lewisham_childrens_social_care": children_social_care.Base.metadata,
    "lewisham_early_help": early_help.Base.metadata,
    "westminster_family_hub": family_hub.Base.metadata,
    "manchester_thriving_families": thriving_families.Base.metadata,
    "camden_family_support": family_support.Base.metadata,
}
