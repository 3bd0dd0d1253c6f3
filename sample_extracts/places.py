"""Where people live and are held: two fictional counties with valid-format UK postcodes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COUNTIES = ("north", "south")

# county -> towns, each with the postcode area and districts that serve it
TOWNS: dict[str, tuple[tuple[str, str, tuple[int, ...]], ...]] = {
    "north": (
        ("Northam", "LN", (1, 2, 3, 4, 5, 6)),
        ("Kelby", "LN", (8, 9, 10, 11)),
        ("Aldwick", "DN", (14, 15, 16, 17, 18)),
        ("Marshby", "DN", (20, 21, 22)),
        ("Skelton Bridge", "DN", (31, 32, 33, 34)),
    ),
    "south": (
        ("Southwold Magna", "PE", (1, 2, 3, 4, 5, 6, 7)),
        ("Fenchurch", "PE", (10, 11, 12, 13)),
        ("Ely St Mary", "CB", (6, 7, 8, 9)),
        ("Harwick", "IP", (1, 2, 3, 4, 5)),
        ("Stowmere", "IP", (14, 19, 28, 31)),
    ),
}

CUSTODY_SUITES: dict[str, tuple[str, ...]] = {
    "north": (
        "Northam Police Investigation Centre",
        "Aldwick Custody Suite",
        "Skelton Bridge Custody Suite",
    ),
    "south": ("Southwold Magna Custody Suite", "Harwick Police Investigation Centre"),
}

_STREET_NAMES = (
    "Mill",
    "Church",
    "Station",
    "Park",
    "High",
    "Victoria",
    "Queen's",
    "King's",
    "Green",
    "Manor",
    "School",
    "Chapel",
    "Orchard",
    "Meadow",
    "Oak",
    "Ash",
    "Elm",
    "Willow",
    "Cedar",
    "Beech",
    "Albert",
    "Alexandra",
    "York",
    "Windsor",
    "Grange",
    "Springfield",
    "Highfield",
    "Moor",
    "North",
    "South",
    "West",
    "New",
    "Hill",
    "Bridge",
    "Brook",
    "Castle",
    "Abbey",
    "Priory",
    "Market",
    "St John's",
)
STREET_TYPES = (
    "Street",
    "Road",
    "Lane",
    "Avenue",
    "Close",
    "Drive",
    "Way",
    "Crescent",
    "Court",
    "Gardens",
    "Place",
    "Terrace",
    "Grove",
    "View",
    "Rise",
)
# How police systems shorten street types in free text.
STREET_ABBREVIATIONS = {
    "Street": "St",
    "Road": "Rd",
    "Lane": "Ln",
    "Avenue": "Ave",
    "Close": "Cl",
    "Drive": "Dr",
    "Crescent": "Cres",
    "Court": "Ct",
    "Gardens": "Gdns",
    "Place": "Pl",
    "Terrace": "Terr",
    "Grove": "Gr",
}
# Letters allowed in the last two places of a UK postcode.
_UNIT_LETTERS = np.array(list("ABDEFGHJLNPQRSTUWXYZ"))


@dataclass(frozen=True)
class Addresses:
    """A batch of addresses, one per person, as parallel arrays."""

    postcode: np.ndarray
    address: np.ndarray

    def take(self, index: np.ndarray) -> Addresses:
        return Addresses(self.postcode[index], self.address[index])


def draw_addresses(rng: np.random.Generator, county: np.ndarray) -> Addresses:
    """One address per person, in the given county ('north' or 'south')."""
    n = len(county)
    postcode = np.empty(n, dtype=object)
    address = np.empty(n, dtype=object)
    town_pick = rng.random(n)
    district_pick = rng.random(n)
    sector = rng.integers(0, 10, n)
    units = _UNIT_LETTERS[rng.integers(0, len(_UNIT_LETTERS), (n, 2))]
    number = rng.integers(1, 160, n)
    street = rng.integers(0, len(_STREET_NAMES), n)
    street_type = rng.integers(0, len(STREET_TYPES), n)
    for i in range(n):
        towns = TOWNS[county[i]]
        town, area, districts = towns[int(town_pick[i] * len(towns))]
        district = districts[int(district_pick[i] * len(districts))]
        postcode[i] = f"{area}{district} {sector[i]}{units[i, 0]}{units[i, 1]}"
        address[i] = (
            f"{number[i]} {_STREET_NAMES[street[i]]} {STREET_TYPES[street_type[i]]}, {town}"
        )
    return Addresses(postcode, address)
