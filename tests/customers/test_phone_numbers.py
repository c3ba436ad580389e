import phonenumbers
import pytest

from customers.contact import normalize_phone, phone_problem


def example_numbers() -> list[str]:
    numbers = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in range(11):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                numbers.append(phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164))
    return numbers


def test_the_e164_fast_path_agrees_with_the_full_parser_on_every_example_number() -> None:
    numbers = example_numbers()
    assert len(numbers) > 1000
    for number in numbers:
        parsed = phonenumbers.parse(number)
        expected = number if phonenumbers.is_valid_number(parsed) else None
        assert normalize_phone(number) == expected, number
        # One digit more or less is (nearly always) another verdict; both paths must agree on it too.
        for variant in (number + "9", number[:-1]):
            slow = phonenumbers.parse(variant)
            verdict = phonenumbers.format_number(slow, phonenumbers.PhoneNumberFormat.E164)
            assert normalize_phone(variant) == (verdict if phonenumbers.is_valid_number(slow) else None), variant


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("+4915112345678", "+4915112345678"),
        ("+49 151 1234-5678", "+4915112345678"),
        ("0049 151 12345678", "+4915112345678"),
        (" +14155552671 ", "+14155552671"),
        ("+390612345678", "+390612345678"),  # Italian fixed line: the leading 0 is part of the number
        ("+49 (0) 151 1234 5678", "+4915112345678"),  # the trunk prefix written in parentheses
        ("+49.151.1234.5678", "+4915112345678"),
        ("+49 (0) 151 1234 5678 ext 9", None),  # an extension cannot receive an SMS: refused, not dropped
        ("+1 415 555 2671 x12", None),
        ("015112345678", None),  # national format: no country
        ("+99912345678", None),  # no such country code
        ("+4912", None),
        ("phone", None),
    ],
)
def test_normalize_phone(raw: str, normalized: str | None) -> None:
    assert normalize_phone(raw) == normalized


def test_a_number_with_an_extension_is_refused_saying_why() -> None:
    assert "extension (9)" in phone_problem("+49 (0) 151 1234 5678 ext 9")
    assert phone_problem("+4912").startswith("not a valid international phone number")
