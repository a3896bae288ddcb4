"""NHS numbers and Unique Pupil Numbers: check, normalise, format and (for the demo) generate.

Error messages never repeat the identifier: it would land in logs, terminals and workflow
failures, which must not carry personal data.

NHS number (England and Wales): ten digits, the tenth a modulus 11 check digit over the first
nine with weights 10..2; ``11 - (sum % 11)``, where 11 becomes 0 and 10 means the nine digits
can never form a valid number.

UPN (DfE Unique Pupil Number, England): 13 characters. A check letter, then the 3-digit local
authority number, the 4-digit establishment number, the last two digits of the year of issue
and a 3-digit serial. A temporary UPN ends in a letter instead of the last serial digit. The
check letter is ``sum(value(char) * weight)`` over characters 2..13 with weights 2..13, modulo
23, mapped to ``ABCDEFGHJKLMNPQRTUVWXYZ`` (0 -> A ... 22 -> Z; I, O and S are never used).
A digit's value is the digit; a temporary UPN's final letter counts as its position in that
same alphabet (A = 0, B = 1, ...). This follows the DfE data standard (Government Data
Standards Catalogue, "Unique Pupil Number" v2.0) and the DfE's UPN guidance.

Demo numbers: everything :mod:`rightsflow.seed` generates is synthetic. Generated NHS numbers
start with 9 (valid modulus 11 check digits, never a real patient's on purpose); UPNs use the
real local authority numbers of the demo boroughs with made-up establishment numbers.
"""

from __future__ import annotations

import random
import re

__all__ = [
    "InvalidIdentifier",
    "SYNTHETIC_NHS_CAPACITY",
    "SYNTHETIC_UPN_CAPACITY",
    "UPN_ALPHABET",
    "generate_nhs_number",
    "generate_upn",
    "is_valid_nhs_number",
    "is_valid_upn",
    "nhs_check_digit",
    "normalise_nhs_number",
    "normalise_upn",
    "spaced",
    "synthetic_nhs_number",
    "synthetic_upn",
    "upn_check_letter",
]


class InvalidIdentifier(ValueError):
    """An identifier failed validation. The message never contains the identifier."""


_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)
_SEPARATORS = re.compile(r"[\s\-]+")
_TEN_DIGITS = re.compile(r"\d{10}")

UPN_ALPHABET = "ABCDEFGHJKLMNPQRTUVWXYZ"  # 23 letters: A-Z without I, O and S
_UPN = re.compile(rf"[{UPN_ALPHABET}]\d{{11}}[0-9{UPN_ALPHABET}]")


# -- NHS number ---------------------------------------------------------------------------------


def nhs_check_digit(first9: str) -> int | None:
    """The modulus 11 check digit for nine digits, or None where no check digit can exist."""
    if len(first9) != 9 or not first9.isascii() or not first9.isdigit():
        raise InvalidIdentifier("an NHS number check digit needs exactly nine digits")
    total = sum(int(d) * w for d, w in zip(first9, _WEIGHTS, strict=True))
    check = 11 - total % 11
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


def _compact(value: str) -> str:
    return _SEPARATORS.sub("", value.strip())


def normalise_nhs_number(value: str) -> str:
    """Ten digits, separators (spaces, hyphens) removed; raises InvalidIdentifier otherwise."""
    if not isinstance(value, str):
        raise InvalidIdentifier("not a valid NHS number: expected text")
    digits = _compact(value)
    if not _TEN_DIGITS.fullmatch(digits) or not digits.isascii():
        raise InvalidIdentifier("not a valid NHS number: it must be ten digits")
    if len(set(digits)) == 1:  # 0000000000 and 9999999999 pass Modulus 11 but are placeholders
        raise InvalidIdentifier("not a valid NHS number: one digit repeated is a placeholder")
    check = nhs_check_digit(digits[:9])
    if check is None:
        raise InvalidIdentifier(
            "not a valid NHS number: no check digit is possible for its first nine digits"
        )
    if check != int(digits[9]):
        raise InvalidIdentifier("not a valid NHS number: the check digit does not match")
    return digits


def is_valid_nhs_number(value: str) -> bool:
    try:
        normalise_nhs_number(value)
    except InvalidIdentifier:
        return False
    return True


def spaced(nhs10: str) -> str:
    """``9434765919`` -> ``943 476 5919``, as staff type it (accepts an already spaced number)."""
    digits = normalise_nhs_number(nhs10)
    return f"{digits[:3]} {digits[3:6]} {digits[6:]}"


def _valid_last_digits(first8: str) -> list[str]:
    """The ninth digits that give ``first8`` a valid check digit (nine or ten of them).

    The ninth digit has weight 2; the check digit would be 10 exactly when the sum is 1 mod 11.
    """
    partial = sum(int(d) * w for d, w in zip(first8, _WEIGHTS, strict=False))
    return [str(d) for d in range(10) if (partial + 2 * d) % 11 != 1]


def generate_nhs_number(rng: random.Random, prefix: str = "9") -> str:
    """A random valid NHS number starting with ``prefix`` (synthetic demo data)."""
    if not prefix.isdigit() or len(prefix) > 8:
        raise ValueError("prefix must be one to eight digits")
    while True:
        first9 = prefix + "".join(rng.choice("0123456789") for _ in range(9 - len(prefix)))
        check = nhs_check_digit(first9)
        if check is not None:
            return first9 + str(check)


# An affine permutation of the seven free digits so consecutive people do not get
# consecutive-looking numbers. 7_654_321 is coprime with 10**7.
_NHS_MUL, _NHS_ADD, _NHS_SPACE = 7_654_321, 4_871_032, 10**7
SYNTHETIC_NHS_CAPACITY = 9 * _NHS_SPACE


def synthetic_nhs_number(index: int) -> str:
    """A valid NHS number starting with 9, distinct for every ``index`` below 90,000,000.

    For any eight leading digits at least nine of the ten ninth digits give a valid number
    (the weight 2 on the ninth digit makes the ten sums distinct modulo 11), so ``index``
    picks the eight digits (``index // 9``, permuted) and the (``index % 9``)-th valid ninth digit:
    a bijection, with no table of numbers already used.
    """
    if not 0 <= index < SYNTHETIC_NHS_CAPACITY:
        raise ValueError(f"index must be in [0, {SYNTHETIC_NHS_CAPACITY})")
    block, pick = divmod(index, 9)
    first8 = "9" + f"{(block * _NHS_MUL + _NHS_ADD) % _NHS_SPACE:07d}"
    first9 = first8 + _valid_last_digits(first8)[pick]
    return first9 + str(nhs_check_digit(first9))


# -- Unique Pupil Number ------------------------------------------------------------------------


def _upn_value(ch: str) -> int:
    return int(ch) if ch.isdigit() else UPN_ALPHABET.index(ch)


def upn_check_letter(last12: str) -> str:
    """The check letter for the 12 characters that follow it in a UPN."""
    last12 = last12.upper()
    if len(last12) != 12 or not re.fullmatch(rf"\d{{11}}[0-9{UPN_ALPHABET}]", last12):
        raise InvalidIdentifier("a UPN check letter needs eleven digits and a digit or letter")
    total = sum(_upn_value(ch) * weight for weight, ch in enumerate(last12, start=2))
    return UPN_ALPHABET[total % 23]


def normalise_upn(value: str) -> str:
    """13 upper-case characters, spaces removed; raises InvalidIdentifier otherwise."""
    if not isinstance(value, str):
        raise InvalidIdentifier("not a valid UPN: expected text")
    upn = _compact(value).upper()
    if not upn.isascii() or not _UPN.fullmatch(upn):
        raise InvalidIdentifier(
            "not a valid UPN: expected a check letter, eleven digits and a final digit or letter"
        )
    if upn_check_letter(upn[1:]) != upn[0]:
        raise InvalidIdentifier("not a valid UPN: the check letter does not match")
    return upn


def is_valid_upn(value: str) -> bool:
    try:
        normalise_upn(value)
    except InvalidIdentifier:
        return False
    return True


def _make_upn(la: int, establishment: int, year: int, serial: int) -> str:
    body = f"{la:03d}{establishment:04d}{year % 100:02d}{serial:03d}"
    return upn_check_letter(body) + body


def generate_upn(rng: random.Random, la: int, year: int) -> str:
    """A random permanent UPN issued by local authority ``la`` in ``year`` (synthetic)."""
    return _make_upn(la, rng.randrange(1000, 10000), year, rng.randrange(1000))


_UPN_MUL, _UPN_ADD, _UPN_SPACE = 3_141_593, 2_718_281, 10**7  # 3_141_593 is coprime with 10**7
SYNTHETIC_UPN_CAPACITY = _UPN_SPACE


def synthetic_upn(index: int, la: int, year: int) -> str:
    """A permanent UPN, distinct for every ``index`` below 10,000,000 (for a given la and year)."""
    if not 0 <= index < SYNTHETIC_UPN_CAPACITY:
        raise ValueError(f"index must be in [0, {SYNTHETIC_UPN_CAPACITY})")
    u = (index * _UPN_MUL + _UPN_ADD) % _UPN_SPACE
    establishment, serial = divmod(u, 1000)
    return _make_upn(la, establishment, year, serial)
