"""merge heads

Revision ID: 0d1643a491b2
Revises: audit_chain_head, console_accounts, letters_and_requester
Create Date: 2026-12-02 06:06:18.738835
"""

from __future__ import annotations

revision = "0d1643a491b2"
down_revision = ("audit_chain_head", "console_accounts", "letters_and_requester")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
