"""Errors raised by the compliance core.

    ComplianceError
     ├── InvalidPhoneNumberError   a string that is not a dialable number
     ├── RuleDataError             a shipped data table is malformed (raised while loading a RuleBook)
     ├── RegistryFileError         a Do-Not-Call registry file cannot be read at all
     └── MissingFactError          a rule lacks a fact it needs (evaluate() turns it into a block)

The gate itself never raises: ``evaluate`` turns every error into a blocking check.
"""

from __future__ import annotations


class ComplianceError(Exception):
    """Base of every error raised by the compliance package."""


class InvalidPhoneNumberError(ComplianceError):
    """The input cannot be read as a valid phone number."""


class RuleDataError(ComplianceError):
    """A rule, zone or holiday table is malformed."""


class RegistryFileError(ComplianceError):
    """A Do-Not-Call registry file is unreadable or of an unsupported format."""


class MissingFactError(ComplianceError):
    """A rule needs a fact the caller did not supply; the gate turns it into a blocking check."""
