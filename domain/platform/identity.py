"""Customer identity data: resident ID number (C1), mobile number (C4), name, masks (C10)."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from domain.platform.errors import N_, DomainError

ID_LENGTH = 18
SERIAL_MAX_LENGTH = 64  # the voucher serial column
SERIAL_TOO_LONG = N_("A serial has at most %(n)d characters: %(serial)s… is longer.")
EARLIEST_BIRTH_YEAR = 1900
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS = "10X98765432"
_MOBILE_PATTERN = re.compile(r"1[3-9]\d{9}")
_MOBILE_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015()]")
_MOBILE_PREFIXES = ("+86", "0086")
NAME_MIN_LENGTH = 2
NAME_MAX_LENGTH = 50
MIDDLE_DOT = "\u00b7"
# the dots people type between the parts of a name (katakana, bullet, hyphenation point,
# dot operator, interpunct look-alikes), all read as the middle dot of the ID card
_NAME_DOTS = re.compile(r"\s*[\u00b7\u2022\u2027\u22c5\u30fb\uff65\u0387\u2219]\s*")
_ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad")


def normalise_text(value: str) -> str:
    """Unicode NFKC, so full-width digits and letters typed on Chinese keyboards read as
    ASCII (C1, C4, V1)."""
    return unicodedata.normalize("NFKC", value)


def normalise_serial(value: str) -> str:
    """A voucher serial as typed or pasted, full-width digits read as digits, trimmed; one
    longer than any serial the ledger keeps is refused before it reaches a query (V1)."""
    serial = normalise_text(value).strip()
    if len(serial) > SERIAL_MAX_LENGTH:
        raise DomainError(SERIAL_TOO_LONG, serial=serial[:SERIAL_MAX_LENGTH], n=SERIAL_MAX_LENGTH)
    return serial


def resident_id_check_digit(first17: str) -> str:
    """GB 11643-1999 ISO 7064 MOD 11-2 check character of the first 17 digits (C1)."""
    total = sum(int(digit) * weight for digit, weight in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK_CHARS[total % 11]


def normalise_resident_id(value: str) -> str:
    """An ID number as typed: full-width characters read as ASCII, spaces dropped, x as X (C1)."""
    return "".join(normalise_text(value).split()).upper()


def validate_resident_id(value: str, today: date) -> str:
    """Normalise and validate a second-generation resident ID number (C1)."""
    number = normalise_resident_id(value)
    _check_id_shape(number)
    if number[:6] == "000000":
        raise DomainError(N_("The region code of this ID number (the first 6 digits) is invalid."))
    _check_birth_date(number[6:14], today)
    if resident_id_check_digit(number[:17]) != number[17]:
        raise DomainError(
            N_("The check digit of this ID number is wrong. Please check the number.")
        )
    return number


def _check_id_shape(number: str) -> None:
    """Refuse ID numbers of the wrong length or with letters where digits belong (C1)."""
    if len(number) != ID_LENGTH:
        raise DomainError(
            N_("The ID number must have 18 characters; you sent %(n)d."), n=len(number)
        )
    if not (number[:17].isascii() and number[:17].isdigit()):
        raise DomainError(N_("The first 17 characters of the ID number must be digits."))
    if not (number[17].isdigit() or number[17] == "X"):
        raise DomainError(N_("The last character of the ID number must be a digit or X."))


def _check_birth_date(text: str, today: date) -> None:
    """Refuse a birth date that does not exist, lies in the future or before 1900 (C1)."""
    shown = f"{text[:4]}-{text[4:6]}-{text[6:]}"
    try:
        born = date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise DomainError(
            N_("The birth date in this ID number (%(date)s) is not a real date."), date=shown
        ) from None
    if born > today:
        raise DomainError(
            N_("The birth date in this ID number (%(date)s) is in the future."), date=shown
        )
    if born.year < EARLIEST_BIRTH_YEAR:
        raise DomainError(
            N_("The birth date in this ID number (%(date)s) is before 1900."), date=shown
        )


def validate_mobile(value: str) -> str:
    """Normalise and validate a mainland China mobile number to 11 digits: full-width digits,
    spaces and dashes, and a +86, 0086 or 86 country prefix are accepted (C4)."""
    number = _MOBILE_SEPARATORS.sub("", normalise_text(value))
    prefix = next((p for p in _MOBILE_PREFIXES if number.startswith(p)), "")
    if prefix:
        number = number[len(prefix):]
    elif len(number) == 13 and number.startswith("86"):
        number = number[2:]
    if not (number.isascii() and number.isdigit()):
        raise DomainError(N_("The mobile number may contain only digits."))
    if len(number) != 11:
        raise DomainError(
            N_("The mobile number must have 11 digits; you sent %(n)d."), n=len(number)
        )
    if not _MOBILE_PATTERN.fullmatch(number):
        raise DomainError(N_("A mainland mobile number starts with 13 to 19."))
    return number


def validate_customer_name(value: str) -> str:
    """Normalise and validate the customer's name as on the ID card: letters of any script,
    spaces and the middle dot (·, its look-alikes read as it); emoji, invisible and control
    characters are refused with the reason (C1)."""
    _check_name_characters(value)
    name = _NAME_DOTS.sub(MIDDLE_DOT, " ".join(normalise_text(value).split()))
    if not NAME_MIN_LENGTH <= len(name) <= NAME_MAX_LENGTH:
        raise DomainError(
            N_("The name must have %(min)d to %(max)d characters."),
            min=NAME_MIN_LENGTH,
            max=NAME_MAX_LENGTH,
        )
    if any(char.isdigit() for char in name):
        raise DomainError(N_("The name must not contain digits."))
    if name.startswith(MIDDLE_DOT) or name.endswith(MIDDLE_DOT) or MIDDLE_DOT * 2 in name:
        raise DomainError(N_("The middle dot (·) goes only between the parts of a name."))
    for char in name:
        if not (char.isalpha() or char == " " or char == MIDDLE_DOT
                or unicodedata.category(char).startswith("M")):
            raise DomainError(N_("The name may contain only letters, spaces and the middle "
                                 "dot (·); remove \u201c%(char)s\u201d."), char=char)
    return name


def _check_name_characters(value: str) -> None:
    """Refuse control, invisible and emoji characters by name before anything else (C1)."""
    for char in value:
        category = unicodedata.category(char)
        if char in _ZERO_WIDTH or category == "Cf":
            raise DomainError(N_("The name contains an invisible character (such as a "
                                 "zero-width space); type the name again without it."))
        if category in ("Cc", "Co", "Cs", "Cn") and not char.isspace():
            raise DomainError(N_("The name contains a control character; type the name "
                                 "again."))
        if category == "So" or "\U0001f000" <= char <= "\U0001faff":
            raise DomainError(N_("The name must not contain emoji or symbols."))


def mask_resident_id(number: str) -> str:
    """Show only the first 6 and last 4 characters of an ID number (C10)."""
    return f"{number[:6]}{'*' * 8}{number[-4:]}"


def mask_mobile(number: str) -> str:
    """Show only the first 3 and last 4 digits of a mobile number (C10)."""
    return f"{number[:3]}****{number[-4:]}"
