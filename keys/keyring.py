"""The keyring: the cards this party has checked and trusts, kept under PPRL_HOME.

It is a folder of card files, `PPRL_HOME/keyring/NAME.card`, so an information-governance
reviewer can see exactly whom a machine trusts. A file is accepted only from a sender whose card
is here, and secrets and packages are sealed only to cards that are here.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path

from keys.card import Card, check_name, load_card, require_role
from keys.errors import KeysError


def default_home() -> Path:
    """PPRL_HOME if set, else ~/.pprl."""
    return Path(os.environ.get("PPRL_HOME") or Path.home() / ".pprl")


class Keyring:
    """Trusted cards, looked up by fingerprint (for senders) or by name (for recipients)."""

    def __init__(self, home: str | Path | None = None) -> None:
        self.folder = Path(home if home is not None else default_home()) / "keyring"

    def cards(self) -> list[Card]:
        """Every trusted card, sorted by name."""
        if not self.folder.is_dir():
            return []
        return [load_card(path) for path in sorted(self.folder.glob("*.card"))]

    def by_name(self, name: str) -> Card | None:
        """The trusted card called `name`, if any."""
        path = self.folder / f"{check_name(name)}.card"
        return load_card(path) if path.is_file() else None

    def by_fingerprint(self, fingerprint: str) -> Card | None:
        """The trusted card with this fingerprint, if any."""
        return next((card for card in self.cards() if card.fingerprint == fingerprint), None)

    def is_trusted(self, card: Card) -> bool:
        """True if exactly this card is trusted; refuse a card that conflicts with a trusted one.

        A conflict is the card's name trusted with other keys (an impostor, or a party that
        lost its key and must be re-checked by hand) or its keys trusted under another name.
        """
        known = self.by_name(card.name)
        if known is not None:
            if known.fingerprint == card.fingerprint:
                return True
            raise KeysError(
                f"refusing card {card.name!r}: a different card with that name is already "
                f"trusted (fingerprint {known.fingerprint}, not {card.fingerprint})"
            )
        for other in self.cards():
            if other.same_keys(card):
                raise KeysError(
                    f"refusing card {card.name!r}: its keys are already trusted as {other.name!r}"
                )
        return False

    def add(self, card: Card) -> bool:
        """Trust `card`; False if it already was. Conflicting cards are refused (`is_trusted`)."""
        if self.is_trusted(card):
            return False
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{card.name}.card"
        temporary = path.with_suffix(".card.tmp")
        temporary.write_text(card.to_json(), encoding="utf-8")
        os.replace(temporary, path)
        return True

    def require(self, card: Card) -> Card:
        """Return `card` if it is trusted as it is; refuse it otherwise (before sealing to it)."""
        known = self.by_name(card.name)
        if known is None or known.fingerprint != card.fingerprint:
            raise KeysError(
                f"card {card.name!r} ({card.fingerprint}) is not in your keyring; check its "
                "fingerprint with its owner and run `pprl keys trust` first"
            )
        return known

    def recipient(self, reference: str | Path, role: str | Collection[str] | None = None) -> Card:
        """The trusted card for `--to REFERENCE`: a path to a card file, or a trusted name.

        With `role`, the card is refused unless it has that role (or one of those roles), so a
        file is never sealed to the wrong kind of party.
        """
        path = Path(reference)
        if path.is_file():
            card = self.require(load_card(path))
        else:
            try:
                card = self.by_name(str(reference))
            except KeysError:  # not even a possible party name
                card = None
            if card is None:
                raise KeysError(f"no card file or trusted party called {str(reference)!r}")
        if role is not None:
            require_role(card, role, "recipient (--to)")
        return card
