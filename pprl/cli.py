"""The root `pprl` command: each role's command group joins it here."""

import click

from keys.cli import keys
from linkage.audit.cli import audit_command
from linkage.custodian.cli import hash_command
from linkage.custodian.release_cli import release_command
from linkage.ttp.cli import link_command
from outcomes.cli import outcomes_command
from pprl import __version__
from pprl.demo import demo_command
from pprl.errors import RefusingGroup
from sample_extracts.cli import sample
from service.admin_cli import service_group
from service.cli import serve_command
from service.client_cli import fetch_command, submit_command


@click.group(cls=RefusingGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pprl")
def main() -> None:
    """Privacy-preserving record linkage for health and justice data.

    Custodians (NHS trusts, police forces) hash identifiers locally with a shared,
    secret-keyed Bloom-filter scheme; a trusted third party links the encodings;
    an analyst receives only the study's content, keyed by each custodian's own pseudonyms.

    \b
    Examples: see every party at work on the bundled sample:
      pprl demo -o pprl-demo
    Or make a synthetic scenario of your own:
      pprl sample --out scenario
    """


main.add_command(keys)
main.add_command(hash_command)
main.add_command(link_command)
main.add_command(audit_command)
main.add_command(release_command)
main.add_command(outcomes_command)
main.add_command(sample)
main.add_command(demo_command)
main.add_command(serve_command)
main.add_command(service_group)
main.add_command(submit_command)
main.add_command(fetch_command)
