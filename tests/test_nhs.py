"""NHS numbers (modulus 11) and Unique Pupil Numbers (modulus 23 check letter)."""

from __future__ import annotations

import random

import pytest

from rightsflow.nhs import (
    SYNTHETIC_NHS_CAPACITY,
    InvalidIdentifier,
    generate_nhs_number,
    generate_upn,
    is_valid_nhs_number,
    is_valid_upn,
    nhs_check_digit,
    normalise_nhs_number,
    normalise_upn,
    spaced,
    synthetic_nhs_number,
    synthetic_upn,
    upn_check_letter,
)

# -- NHS numbers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number", ["9434765919", "4010232137", "943 476 5919", "943-476-5919", " 9434765919 "]
)
def test_known_valid_numbers(number: str) -> None:
    assert is_valid_nhs_number(number)
    assert normalise_nhs_number(number) in {"9434765919", "4010232137"}


def test_check_digit_worked_by_hand() -> None:
    # 9 4 3 4 7 6 5 9 1 x 10..2 = 90+36+24+28+42+30+20+27+2 = 299; 299 % 11 = 2; 11 - 2 = 9
    assert nhs_check_digit("943476591") == 9
    # 4 0 1 0 2 3 2 1 3 x 10..2 = 40+0+8+0+12+15+8+3+6 = 92; 92 % 11 = 4; 11 - 4 = 7
    assert nhs_check_digit("401023213") == 7
    # a remainder of 0 gives 11, which becomes 0: 000000000 -> 0
    assert nhs_check_digit("000000000") == 0


def test_check_digit_of_ten_means_no_valid_number() -> None:
    # 1x10 + 1x2 = 12; 12 % 11 = 1; 11 - 1 = 10: no check digit exists
    assert nhs_check_digit("100000001") is None
    for last in "0123456789":
        assert not is_valid_nhs_number("100000001" + last)
    with pytest.raises(InvalidIdentifier, match="no check digit is possible"):
        normalise_nhs_number("1000000010")


@pytest.mark.parametrize("bad", ["9434765918", "943 476 5910", "4010232138"])
def test_wrong_check_digit_is_refused(bad: str) -> None:
    assert not is_valid_nhs_number(bad)
    with pytest.raises(InvalidIdentifier, match="the check digit does not match"):
        normalise_nhs_number(bad)


@pytest.mark.parametrize(
    "bad", ["", "943476591", "94347659190", "94347659a9", "943/476/5919", "９４３４７６５９１９"]
)
def test_malformed_input_is_refused(bad: str) -> None:
    assert not is_valid_nhs_number(bad)
    with pytest.raises(InvalidIdentifier):
        normalise_nhs_number(bad)


@pytest.mark.parametrize("bad", ["9434765918", "943 476 5918", "1000000010", "94347659"])
def test_error_messages_never_repeat_the_number(bad: str) -> None:
    with pytest.raises(InvalidIdentifier) as err:
        normalise_nhs_number(bad)
    message = str(err.value)
    assert message.startswith("not a valid NHS number")
    digits = bad.replace(" ", "")
    for piece in (bad, digits, digits[:3], digits[-4:]):
        assert piece not in message


def test_invalid_identifier_is_a_value_error() -> None:
    assert issubclass(InvalidIdentifier, ValueError)


def test_spaced_formats_as_staff_type_it() -> None:
    assert spaced("9434765919") == "943 476 5919"
    assert spaced("943-476-5919") == "943 476 5919"
    with pytest.raises(InvalidIdentifier):
        spaced("9434765918")


def test_generated_numbers_are_valid_and_start_with_nine() -> None:
    rng = random.Random(1)
    numbers = [generate_nhs_number(rng) for _ in range(2000)]
    assert all(is_valid_nhs_number(n) and n.startswith("9") for n in numbers)
    again = random.Random(1)
    assert [generate_nhs_number(again) for _ in range(10)] == numbers[:10]  # deterministic for a seed


def test_synthetic_numbers_are_valid_and_distinct() -> None:
    indexes = [*range(5000), *range(SYNTHETIC_NHS_CAPACITY - 5000, SYNTHETIC_NHS_CAPACITY)]
    numbers = [synthetic_nhs_number(i) for i in indexes]
    assert len(set(numbers)) == len(numbers)
    assert all(n.startswith("9") and is_valid_nhs_number(n) for n in numbers)
    with pytest.raises(ValueError):
        synthetic_nhs_number(SYNTHETIC_NHS_CAPACITY)


# -- Unique Pupil Numbers --------------------------------------------------------------------------


def test_upn_check_letter_worked_by_hand() -> None:
    # 8 0 1 2 0 0 0 0 5 0 0 1 x 2..13 = 16+0+4+10+0+0+0+0+50+0+0+13 = 93; 93 % 23 = 1 -> B
    assert upn_check_letter("801200005001") == "B"
    assert is_valid_upn("B801200005001")
    assert not is_valid_upn("A801200005001")


def test_temporary_upn_final_letter_counts_by_its_place_in_the_alphabet() -> None:
    # 8 0 1 2 0 0 0 0 5 0 0 x 2..12 = 80; final A counts 0 -> 80 % 23 = 11 -> M
    assert is_valid_upn("M80120000500A")
    # final B counts 1 x 13 -> 93 % 23 = 1 -> B
    assert is_valid_upn("B80120000500B")
    assert not is_valid_upn("M80120000500I")  # I, O and S are never used


def test_generated_upn_is_valid_and_a_tampered_one_is_not() -> None:
    upn = generate_upn(random.Random(3), la=209, year=2019)
    assert len(upn) == 13 and upn[1:4] == "209" and upn[8:10] == "19"
    assert is_valid_upn(upn)
    assert normalise_upn(upn.lower()) == upn
    assert normalise_upn(f"{upn[:4]} {upn[4:8]} {upn[8:]}") == upn
    tampered = upn[:-1] + str((int(upn[-1]) + 1) % 10)
    assert not is_valid_upn(tampered)
    with pytest.raises(InvalidIdentifier, match="the check letter does not match") as err:
        normalise_upn(tampered)
    assert tampered not in str(err.value) and tampered[1:] not in str(err.value)


@pytest.mark.parametrize(
    "bad", ["", "B80120000500", "B8012000050011", "I801200005001", "B80120000A001", "8801200005001"]
)
def test_malformed_upns_are_refused(bad: str) -> None:
    assert not is_valid_upn(bad)


def test_synthetic_upns_are_valid_and_distinct() -> None:
    upns = [synthetic_upn(i, 213, 2020) for i in range(5000)]
    assert len(set(upns)) == len(upns)
    assert all(is_valid_upn(u) and u[1:4] == "213" for u in upns)
