"""Phone numbers: parsing to E.164 and masking for logs."""

from __future__ import annotations

import re

import phonenumbers

DEFAULT_REGION = "US"
# E.164 (+ and 8 to 15 digits) and North American numbers as people write them: (512) 555-0100, 512.555.0100.
_PHONE_LIKE = re.compile(r"\+\d{8,15}\b|(?<![\w-])(?:1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}\b")


class InvalidPhoneNumber(ValueError):
    pass


def normalize_phone(raw: str, *, region: str = DEFAULT_REGION) -> str:
    """Parse a number as a person would write it and return it in E.164, or raise InvalidPhoneNumber."""
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(f"not a phone number: {exc}") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber("not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(e164: str) -> str:
    """Keep the country code and the last two digits: +1*******67."""
    digits = e164.lstrip("+")
    if len(digits) <= 4:
        return "*" * len(e164)
    return "+" + digits[:1] + "*" * (len(digits) - 3) + digits[-2:]


def mask_phones_in_text(text: str) -> str:
    """Mask anything in free text that looks like a phone number."""
    return _PHONE_LIKE.sub(lambda match: mask_phone("+" + re.sub(r"\D", "", match.group(0))), text)
