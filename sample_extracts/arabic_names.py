"""Arabic-origin names and their Latin spellings, as British records hold them.

Each name is a group of transliterations that are all in use (Mohammed, Muhammad,
Mohamed); a person's name is one of them, and a record keyed by someone else may hold
another. Spellings of one group share few bigrams (Yusuf and Youssef), so Dice of their
filters is often below the cuts meant for typos.
"""

from __future__ import annotations

import random

import numpy as np

MALE_FORENAMES = (
    ("Mohammed", "Muhammad", "Mohamed", "Mohammad", "Muhammed"),
    ("Ahmed", "Ahmad", "Ahmet"),
    ("Abdulrahman", "Abdul Rahman", "Abdelrahman", "Abdurrahman"),
    ("Hussein", "Hussain", "Husain", "Hossein"),
    ("Youssef", "Yusuf", "Yousef", "Yusef"),
    ("Omar", "Umar", "Omer"),
    ("Khalid", "Khaled"),
    ("Mustafa", "Mostafa", "Mustapha"),
    ("Hassan", "Hasan"),
    ("Ibrahim", "Ebrahim", "Ibraheem"),
    ("Abdullah", "Abdallah", "Abdulla"),
    ("Saeed", "Said", "Sayed"),
    ("Osman", "Uthman", "Othman"),
    ("Nasser", "Nasir", "Naser"),
    ("Tariq", "Tarek", "Tareq"),
    ("Walid", "Waleed"),
    ("Jamal", "Gamal"),
    ("Karim", "Kareem"),
)
FEMALE_FORENAMES = (
    ("Fatima", "Fatimah", "Fatma"),
    ("Aisha", "Ayesha", "Aysha", "Aishah"),
    ("Zainab", "Zaynab", "Zeinab"),
    ("Maryam", "Mariam", "Meryem"),
    ("Khadija", "Khadijah", "Hadiza"),
    ("Noor", "Nour", "Nur"),
    ("Layla", "Leila", "Laila"),
    ("Yasmin", "Yasmeen", "Jasmin"),
    ("Amina", "Aminah", "Ameena"),
    ("Huda", "Hoda"),
    ("Salma", "Selma"),
    ("Rania", "Ranya"),
)
SURNAMES = (
    ("Al-Hassan", "Alhassan", "El Hassan", "Al Hasan"),
    ("Abdullah", "Abdalla", "Abdulla"),
    ("Rahman", "Rehman", "Rahmen"),
    ("Qureshi", "Kureshi", "Qurashi"),
    ("Haddad", "Hadad"),
    ("Mansour", "Mansur", "Mansoor"),
    ("Saleh", "Salih", "Saleem"),
    ("Hussein", "Hussain", "Husain"),
    ("Khalil", "Khaleel"),
    ("El-Sayed", "Elsayed", "Al Sayed"),
    ("Mahmoud", "Mahmood", "Mahmud"),
    ("Ibrahim", "Ebrahim"),
    ("Yousef", "Yusuf", "Youssef"),
    ("Nasser", "Nasir"),
    ("Osman", "Othman", "Uthman"),
    ("Farah", "Farrah"),
    ("Bakr", "Bakir", "Bakar"),
    ("Darwish", "Darwesh", "Derviş"),
)
_GROUP_OF = {
    spelling: group
    for groups in (MALE_FORENAMES, FEMALE_FORENAMES, SURNAMES)
    for group in groups
    for spelling in group
}


def other_spelling(name: str, r: random.Random) -> str:
    """Another transliteration of the same name; the name itself if it has none."""
    group = _GROUP_OF.get(name)
    if not group:
        return name
    return r.choice([s for s in group if s != name])


def _draw(rng: np.random.Generator, groups: tuple[tuple[str, ...], ...], n: int) -> np.ndarray:
    """A spelling of a group per person: groups and spellings alike, commoner first."""
    group_p = 1.0 / np.arange(1, len(groups) + 1)
    picks = rng.choice(len(groups), size=n, p=group_p / group_p.sum())
    spell = rng.random(n)
    return np.array(
        [
            groups[g][min(int(s * s * len(groups[g])), len(groups[g]) - 1)]
            for g, s in zip(picks, spell, strict=True)
        ],
        dtype=object,
    )


def arabic_names(
    rng: np.random.Generator, sex: np.ndarray, share: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Who carries Arabic-origin names (a `share` of people), and their forename, middle
    name (half have one, a father's name) and surname, for those people in order."""
    chosen = np.flatnonzero(rng.random(len(sex)) < share)
    male = sex[chosen] == "M"
    forename = np.where(
        male,
        _draw(rng, MALE_FORENAMES, len(chosen)),
        _draw(rng, FEMALE_FORENAMES, len(chosen)),
    )
    fathers = _draw(rng, MALE_FORENAMES, len(chosen))
    middle = np.where((rng.random(len(chosen)) < 0.5) & (fathers != forename), fathers, "")
    surname = _draw(rng, SURNAMES, len(chosen))
    return chosen, forename.astype(object), middle.astype(object), surname
