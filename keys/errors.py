"""The one exception type `keys` raises for anything a user can get wrong.

Every refusal (wrong recipient, altered file, untrusted sender, wrong passphrase, ...) is a
`KeysError` whose message is a single line fit to show the user; the command line turns it into
a `click.ClickException`, so no one ever sees a traceback for a refused file.
"""


class KeysError(Exception):
    """A refusal or a usage error, with a one-line message that names no secret."""
