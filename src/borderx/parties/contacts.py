"""Party contacts: e-mail addresses and phone numbers, validated and put in one normal form.

Screening matches contacts exactly (basis CONTACT), so both sides must be normalised the
same way: the issuer's gateway normalises them when a statement is published, the
screening gateway when a manifest is screened. Phones go to E.164 with Google's
libphonenumber (``phonenumbers``): a number written without ``+`` is read in the party's
address country.
"""

from __future__ import annotations

import re

import phonenumbers

from borderx.errors import InvalidArgument

MAX_CONTACT_LENGTH = 254  # RFC 5321's limit on a forward path

# local@domain with a dotted domain of letters, digits and hyphens (IDNs as punycode);
# deliberately narrower than RFC 5322: a manifest e-mail with a comment or a quoted local
# part would not match anything anyway
_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"
)


def normalise_email(value: str, *, field: str) -> str:
    """``value`` as one lower-case ``local@domain``; raises InvalidArgument naming ``field``."""
    if len(value) > MAX_CONTACT_LENGTH:
        raise InvalidArgument(f"is {len(value)} characters; at most {MAX_CONTACT_LENGTH}", field=field)
    text = value.strip()
    if not _EMAIL.fullmatch(text):
        raise InvalidArgument(f"{text[:40]!r} is not an e-mail address like sales@example.com", field=field)
    # mailbox local parts are case-insensitive at every real provider; lower case is the
    # normal form so that "Sales@X.cn" and "sales@x.cn" match
    return text.lower()


def normalise_phone(value: str, *, field: str, country: str = "") -> str:
    """``value`` in E.164 (``+8675512345678``); without ``+`` it is read in ``country``."""
    if len(value) > 64:
        raise InvalidArgument(f"is {len(value)} characters; at most 64", field=field)
    try:
        number = phonenumbers.parse(value, country or None)
    except phonenumbers.NumberParseException:
        hint = "" if value.strip().startswith("+") or country else " (give it with +country code)"
        raise InvalidArgument(f"{value[:40]!r} is not a phone number{hint}", field=field) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidArgument(f"{value[:40]!r} is not a valid phone number for its country code", field=field)
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
