"""`pprl serve`: the HTTP API and the worker, over a data folder and a database."""

from __future__ import annotations

import ipaddress
import shutil
from pathlib import Path

import click
import uvicorn
from sqlalchemy.orm import Session

from keys.card import require_role
from keys.identity import load_identity
from pprl.options import key_option, passphrase
from service import chainlog
from service.app import create_app
from service.db import connect, migrate
from service.folder import DataFolder
from service.runs import requeue_interrupted
from service.state import Service
from service.tokens import has_admin, issue
from service.worker import Worker

data_option = click.option(
    "--data",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The service's folder: database (SQLite by default), sealed files, the service log.",
)
db_option = click.option(
    "--db",
    help="Database URL, e.g. postgresql://user@/pprl?host=/run/postgresql (default: SQLite in "
    "DATA, or the URL the service was first started with).",
)


def open_service_folder(data: Path, db: str | None):
    """The data folder and its migrated database."""
    folder = DataFolder(data)
    folder.prepare()
    engine = connect(folder.database_url(db))
    migrate(engine)
    return folder, engine


@click.command("serve")
@key_option
@data_option
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--certificate",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="TLS certificate (PEM): serve HTTPS. Give --private-key with it.",
)
@click.option(
    "--private-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The TLS certificate's private key (PEM).",
)
@click.option(
    "--max-upload-mb",
    default=8192,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    help="Largest upload accepted, in MiB; larger requests are refused before any byte is kept.",
)
def serve_command(
    key_path: Path,
    data: Path,
    db: str | None,
    host: str,
    port: int,
    certificate: Path | None,
    private_key: Path | None,
    max_upload_mb: float,
) -> None:
    """Run the TTP as a linkage service (run by the TTP).

    Custodians upload sealed packages (pprl submit); each is verified at once and refused in
    one line if it could not be linked. When every custodian of a project has uploaded, a run
    is queued and the worker links the packages (pprl link, in the background); each party
    then fetches what is sealed to it (pprl fetch). The first start prints the TTP's admin
    token, once. Projects are made with pprl service project create. Serve HTTPS with
    --certificate and --private-key whenever the service is reachable beyond this machine.

    \b
    Example:
      pprl serve --key ttp.key --data service/ --port 8080
    """
    if (certificate is None) != (private_key is None):
        raise click.UsageError("give --certificate and --private-key together")
    secret = passphrase()
    identity = load_identity(key_path, secret)
    require_role(identity.card, "ttp", "key of the service")
    folder, engine = open_service_folder(data, db)
    service = Service(folder, engine, identity, int(max_upload_mb * (1 << 20)))
    _first_start(service)
    for leftover in folder.incoming.iterdir():  # uploads cut short by a stop: never kept
        shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
    for run in requeue_interrupted(engine):
        chainlog.append(folder.log, "run requeued", detail=f"run {run}: the service had stopped")
    worker = Worker(engine, folder, key_path, secret)
    worker.start()
    scheme = "https" if certificate else "http"
    if not certificate and not _loopback(host):
        click.echo(
            f"warning: serving plain HTTP on {host}: tokens and files cross the network "
            "unencrypted at the transport layer (files stay sealed); give --certificate and "
            "--private-key",
            err=True,
        )
    click.echo(f"pprl service on {scheme}://{host}:{port}/ (data in {data})", err=True)
    chainlog.append(folder.log, "service started", detail=f"{scheme}://{host}:{port}/")
    uvicorn.run(
        create_app(service, secure_cookie=certificate is not None),
        host=host,
        port=port,
        ssl_certfile=str(certificate) if certificate else None,
        ssl_keyfile=str(private_key) if private_key else None,
        log_level="warning",
    )
    worker.stopping.set()


def _first_start(service: Service) -> None:
    with Session(service.engine) as session, session.begin():
        if has_admin(session):
            return
        token = issue(session, service.pepper, "admin")
    click.echo(f"admin token (shown once; keep it safe): {token}")
    chainlog.append(service.folder.log, "admin token issued")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
