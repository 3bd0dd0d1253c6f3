"""`pprl keys`: make an identity, trust other parties' cards, share the linkage secret, open files.

Every refusal from `keys` is a `KeysError`; the group turns it into a one-line click error with
a non-zero exit status, so users never see a traceback for a file that was rightly refused.
"""

from __future__ import annotations

from pathlib import Path

import click

from keys.card import ROLES, load_card
from keys.envelope import open_file, read_header, verify_file
from keys.errors import KeysError
from keys.identity import (
    check_passphrase,
    create_identity,
    save_identity,
)
from keys.keyring import Keyring
from keys.secret import CONTENT_TYPE as SECRET_CONTENT_TYPE
from keys.secret import create_secret_files, open_secret
from pprl.errors import RefusingGroup
from pprl.options import key_option, load_key, passphrase


@click.group("keys", cls=RefusingGroup)
def keys() -> None:
    """Identities, trusted cards, the linkage secret, and sealed files.

    Every file that passes between parties is sealed to its recipient and signed by its
    sender. The keyring of trusted cards lives in PPRL_HOME (default ~/.pprl).

    \b
    Example, the key ceremony in order:
      pprl keys init nhs-trust --role custodian --out keys/   # every party, once
      pprl keys trust police.card              # every party, for every card it receives
      pprl keys secret --project ld-eval --to nhs-trust.card --to police.card \\
          --key keys/nhs-trust.key --out secrets/   # one custodian
    """


@keys.command("init")
@click.argument("name")
@click.option(
    "--role",
    required=True,
    type=click.Choice(ROLES),
    help="What this party does: a custodian hashes and releases, the ttp links, the analyst "
    "analyses. It is written into the card and covered by its fingerprint.",
)
@click.option(
    "--out",
    "out_dir",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for NAME.key (private) and NAME.card (public).",
)
def init(name: str, role: str, out_dir: Path) -> None:
    """Make the identity NAME with its ROLE: a private key file and a public card.

    NAME.key holds your signing and decryption keys, encrypted under a passphrase (asked twice,
    or read from PPRL_PASSPHRASE; at least 12 characters, 8 of them different) and readable
    only by you (mode 0600). NAME.card is public: send it to the other parties and read them
    its fingerprint over the phone. Your own card is added to your keyring.

    \b
    Example:
      pprl keys init nhs-trust --role custodian --out keys/
    """
    identity = create_identity(name, role)
    key_path, card_path = out_dir / f"{name}.key", out_dir / f"{name}.card"
    for path in (key_path, card_path):
        if path.exists():
            raise KeysError(f"{path} already exists; refusing to replace an identity")
    keyring = Keyring()
    if keyring.by_name(name) is not None:
        raise KeysError(
            f"a party called {name!r} is already in your keyring ({keyring.folder}); "
            "choose another name"
        )
    secret_phrase = passphrase(confirm=True)
    check_passphrase(secret_phrase)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_identity(identity, key_path, secret_phrase)
    card_path.write_text(identity.card.to_json(), encoding="utf-8")
    keyring.add(identity.card)
    click.echo(f"private key  {key_path}  (mode 0600: keep it and its passphrase to yourself)")
    click.echo(f"card         {card_path}  (send this to the other parties)")
    click.echo(f"role         {identity.role}")
    click.echo(f"fingerprint  {identity.fingerprint}  (read this to them when they call)")


@keys.command("trust")
@click.argument("card_path", metavar="CARD", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Trust without asking (only for automated set-ups).")
def trust(card_path: Path, yes: bool) -> None:
    """Add another party's CARD to your keyring, after you check its fingerprint.

    Call the card's owner on a number you already know (not one from the e-mail that brought
    the card) and have them read their fingerprint, group by group. Trust the card only if
    every group matches. A card whose name is already trusted with other keys is refused.

    \b
    Example:
      pprl keys trust police.card
    """
    card = load_card(card_path)
    keyring = Keyring()
    if keyring.is_trusted(card):
        click.echo(f"{card.name} ({card.role}, {card.fingerprint}) is already trusted")
        return
    click.echo(f"name         {card.name}")
    click.echo(f"role         {card.role}")
    click.echo(f"fingerprint  {card.fingerprint}")
    if not yes:
        click.confirm(
            f"Does {card.name} ({card.role}) read you exactly this fingerprint? Trust this card",
            abort=True,
        )
    keyring.add(card)
    click.echo(f"trusted {card.name} as {card.role} (keyring: {keyring.folder})")


@keys.command("list")
def list_cards() -> None:
    """Show the trusted cards in your keyring (PPRL_HOME/keyring): name, role, fingerprint.

    \b
    Example:
      pprl keys list
    """
    keyring = Keyring()
    cards = keyring.cards()
    if not cards:
        click.echo(f"no trusted cards in {keyring.folder}")
    width = max((len(card.name) for card in cards), default=0)
    role_width = max(len(role) for role in ROLES)
    for card in cards:
        click.echo(f"{card.name:<{width}}  {card.role:<{role_width}}  {card.fingerprint}")


@keys.command("secret")
@click.option("--project", required=True, help="The project id, e.g. ld-eval.")
@click.option(
    "--to",
    "recipients",
    required=True,
    multiple=True,
    help="A custodian's card file or trusted name; repeat for each custodian (yourself too).",
)
@key_option
@click.option(
    "--out",
    "out_dir",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the sealed copies PROJECT.RECIPIENT.secret.",
)
def secret(project: str, recipients: tuple[str, ...], key_path: Path, out_dir: Path) -> None:
    """Make the project's linkage secret and seal one copy to each custodian.

    The secret is never written unsealed. Every recipient must be in your keyring with the role
    custodian, and so must you. Send each custodian its own PROJECT.RECIPIENT.secret; never
    send one to the trusted third party.
    The secret fingerprint printed at the end is safe to share: each custodian sees the same
    one when it checks its copy with `pprl keys open`.

    \b
    Example:
      pprl keys secret --project ld-eval --to nhs-trust --to police.card \\
          --key keys/nhs-trust.key --out secrets/
    """
    keyring = Keyring()
    cards = [keyring.recipient(reference, role="custodian") for reference in recipients]
    identity = load_key(key_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths, fingerprint = create_secret_files(project, cards, sender=identity, out_dir=out_dir)
    for card, path in zip(cards, paths, strict=True):
        click.echo(f"sealed to {card.name:<20} {path}")
    click.echo(f"secret fingerprint  {fingerprint}")


@keys.command("open")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@key_option
@click.option(
    "-o",
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the plaintext (never over an existing file); without it, the file "
    "is only verified.",
)
@click.option("--project", help="Refuse the file unless it belongs to this project.")
def open_command(file: Path, key_path: Path, out_path: Path | None, project: str | None) -> None:
    """Verify a sealed FILE addressed to you and write its plaintext to OUT.

    Checks that the file is sealed to your key, comes from a sender in your keyring, belongs to
    --project if given, and that its signature and every chunk are intact, before a byte of
    plaintext is written; OUT then appears atomically (mode 0600), and an existing OUT is
    refused, never overwritten. A linkage secret is only verified and its fingerprint shown:
    it is never written unsealed.

    \b
    Example:
      pprl keys open out/police.links --key keys/police.key -o police-links.parquet
      pprl keys open secrets/ld-eval.police.secret --key keys/police.key --project ld-eval
    """
    if out_path is not None and out_path.exists():  # before the passphrase is asked for
        raise KeysError(f"{out_path} already exists; refusing to overwrite it")
    identity = load_key(key_path)
    keyring = Keyring()
    if read_header(file).content_type == SECRET_CONTENT_TYPE:
        if out_path is not None:
            raise KeysError(f"{file} holds a linkage secret, which is never written unsealed")
        linkage_secret = open_secret(
            file, recipient_identity=identity, keyring=keyring, project=project
        )
        click.echo(f"verified linkage secret for project {linkage_secret.project}")
        click.echo(f"secret fingerprint  {linkage_secret.fingerprint}")
        return
    if out_path is None:
        header = verify_file(file, recipient_identity=identity, keyring=keyring, project=project)
    else:
        header = open_file(
            file,
            out_path,
            recipient_identity=identity,
            keyring=keyring,
            project=project,
            replace=False,
        )
    sender = header.sender_card
    click.echo(
        f"{'opened' if out_path else 'verified'} {header.content_type} from {sender.name} "
        f"({sender.role}, {sender.fingerprint}), project {header.project}, sealed {header.created}"
        + (f", configuration {header.config_fingerprint}" if header.config_fingerprint else "")
    )
    if out_path is not None:
        click.echo(f"wrote {out_path}")
