"""Which content column names look like identifiers, whatever their case or separators.

A custodian's content extract may carry identifier columns by accident (an export with the
whole patient record); none of them may reach the analyst. A name is split into words on
separators, digits and camelCase (`DateOfBirth`, `home_postcode`, `NHS-No`), and it is an
identifier if any run of consecutive words, written together, is one of the words below
(`date of birth` -> `dateofbirth`), or if the whole name is one of the bare words that only
mean an identifier on their own (`name`, `nhs`).
"""

from __future__ import annotations

import re

# Runs of words that name an identifier wherever they stand in a column name.
IDENTIFIER_WORDS = frozenset(
    {
        # name parts
        "forename",
        "forenames",
        "firstname",
        "firstnames",
        "givenname",
        "givennames",
        "christianname",
        "surname",
        "surnames",
        "lastname",
        "familyname",
        "middlename",
        "middlenames",
        "fullname",
        "maidenname",
        "maidensurname",
        "birthname",
        "previousname",
        "alias",
        "aliases",
        "aka",
        "initials",
        # date of birth
        "dob",
        "dateofbirth",
        "birthdate",
        "birthday",
        "dtofbirth",
        # postcode and address
        "postcode",
        "postcodes",
        "postalcode",
        "zip",
        "zipcode",
        "address",
        "addresses",
        "addr",
        "addressline",
        "streetaddress",
        "streetname",
        "housenumber",
        "housename",
        # national numbers
        "nhsnumber",
        "nhsno",
        "nhsnum",
        "nhsid",
        "chinumber",
        "nino",
        "nationalinsurancenumber",
        "pnc",
        "pncid",
        "pncnumber",
        "pncno",
        "cro",
        "cronumber",
        "crono",
        # contact details
        "phone",
        "phones",
        "phonenumber",
        "telephone",
        "telephonenumber",
        "tel",
        "telno",
        "mobile",
        "mobilenumber",
        "mobileno",
        "email",
        "emails",
        "emailaddress",
        # the linkage's own artefact
        "token",
        "tokens",
    }
)
# Words that are an identifier only as the whole column name (`name`, but not `suite_name`).
WHOLE_NAMES = frozenset({"name", "names", "personname", "patientname", "nhs"})
_LONGEST_RUN = 4  # words; `national insurance number` is the longest run above
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+")


def words(column: str) -> list[str]:
    """The lower-case words of a column name: `homePostcode_2` -> ['home', 'postcode']."""
    return [w.lower() for w in _WORD.findall(column)]


def looks_like_identifier(column: str) -> bool:
    """True if the column name names an identifier (name part, date of birth, postcode,
    address, NHS number, PNC or CRO id, phone, email) or a linkage token."""
    parts = words(column)
    if "".join(parts) in WHOLE_NAMES:
        return True
    return any(
        "".join(parts[i : i + n]) in IDENTIFIER_WORDS
        for n in range(1, _LONGEST_RUN + 1)
        for i in range(len(parts) - n + 1)
    )
