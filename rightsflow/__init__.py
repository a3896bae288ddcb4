"""rightsflow: retention and subject-rights workflows for council children's and family services."""

__version__ = "0.1.0"
