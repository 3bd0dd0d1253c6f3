"""The HTTP API and the status page (Starlette).

    PUT  /api/v1/files/NAME   upload a sealed file, streamed (custodians)
    GET  /api/v1/files        what is sealed to you and ready
    GET  /api/v1/files/NAME   fetch one of those, streamed
    GET  /api/v1/status       projects, parties, uploads and runs you may see
    GET  /                    the status page (sign in with a token)

Tokens come as `Authorization: Bearer T` (the clients) or the sign-in cookie (the page).
Every refusal is one line (JSON `{"refused": ...}`) and goes into the service log.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from pprl.errors import PprlError
from service import status_page
from service.errors import NotFound, ServiceError, TooLarge
from service.state import Received, Service
from service.status import status
from service.tokens import Holder

COOKIE = "pprl_token"


def create_app(service: Service, secure_cookie: bool = False) -> Starlette:
    app = Starlette(
        routes=[
            Route("/", page, methods=["GET"]),
            Route("/signin", sign_in, methods=["POST"]),
            Route("/signout", sign_out, methods=["POST"]),
            Route("/api/v1/status", status_json, methods=["GET"]),
            Route("/api/v1/files", list_files, methods=["GET"]),
            Route("/api/v1/files/{name}", put_file, methods=["PUT"]),
            Route("/api/v1/files/{name}", get_file, methods=["GET"]),
            Route("/projects/{project}/runs/{run:int}/quality.html", quality_report),
        ],
        exception_handlers={PprlError: refused},  # any refusal: one line, logged
    )
    app.state.service = service
    app.state.secure_cookie = secure_cookie
    return app


def _service(request: Request) -> Service:
    return request.app.state.service


async def _holder(request: Request) -> Holder:
    header = request.headers.get("authorization", "")
    token = header.removeprefix("Bearer ").strip() if header else request.cookies.get(COOKIE)
    who = await run_in_threadpool(_service(request).holder, token)
    request.state.holder = who
    return who


async def refused(request: Request, error: PprlError) -> JSONResponse:
    who = getattr(request.state, "holder", None)
    name = request.path_params.get("name", "")
    await run_in_threadpool(
        _service(request).log, "refused", who, file=name, detail=f"{request.url.path}: {error}"
    )
    return JSONResponse({"refused": str(error)}, status_code=getattr(error, "status", 400))


async def put_file(request: Request) -> JSONResponse:
    name = request.path_params["name"]
    service = _service(request)
    who = await _holder(request)
    await run_in_threadpool(service.before_upload, who, name)
    received = await _receive(request, service, name)
    log = functools.partial(run_in_threadpool, service.log)  # appending waits for the disk
    await log("received", who, file=name, sha256=received.sha256, detail=f"{received.size} bytes")
    kind, queued = await run_in_threadpool(service.accept, who, name, received)
    await log(f"{kind} accepted", who, file=name, sha256=received.sha256)
    if queued is not None:
        await log("run queued", who, detail=f"run {queued}: every custodian's package is held")
    return JSONResponse({"accepted": name, "kind": kind, "sha256": received.sha256, "run": queued})


async def _receive(request: Request, service: Service, name: str) -> Received:
    """The request body, streamed to a private file in the incoming folder and counted; a
    body larger than allowed, or shorter than it said, is refused and removed."""
    declared = request.headers.get("content-length")
    if declared is None or not declared.isdigit():
        raise ServiceError(f"{name}: the upload must say its length (Content-Length)")
    if int(declared) > service.max_upload:
        raise TooLarge(
            f"{name}: {int(declared):,} bytes is over the limit of {service.max_upload:,}"
        )
    descriptor, partial = tempfile.mkstemp(dir=service.folder.incoming, suffix=".partial")
    digest, size = hashlib.sha256(), 0
    try:
        with os.fdopen(descriptor, "wb") as sink:
            async for chunk in request.stream():
                size += len(chunk)
                if size > int(declared):
                    raise ServiceError(f"{name}: the upload is longer than it said")
                digest.update(chunk)
                sink.write(chunk)
        if size != int(declared):
            raise ServiceError(f"{name}: the upload was cut short ({size:,} of {declared} bytes)")
    except ClientDisconnect:
        os.unlink(partial)
        raise ServiceError(
            f"{name}: the upload was cut short ({size:,} of {declared} bytes)"
        ) from None
    except BaseException:
        os.unlink(partial)
        raise
    return Received(path=Path(partial), size=size, sha256=digest.hexdigest())


async def list_files(request: Request) -> JSONResponse:
    who = await _holder(request)
    files = await run_in_threadpool(_service(request).fetchable, who)
    return JSONResponse(
        {"files": [{"name": n, "size": p.stat().st_size} for n, p in files.items()]}
    )


async def get_file(request: Request) -> Response:
    name = request.path_params["name"]
    service = _service(request)
    who = await _holder(request)
    path = await run_in_threadpool(service.fetch, who, name)
    await run_in_threadpool(service.log, "fetched", who, file=name)
    return FileResponse(path, media_type="application/octet-stream", filename=name)


async def status_json(request: Request) -> JSONResponse:
    who = await _holder(request)
    return JSONResponse(await run_in_threadpool(status, _service(request), who))


async def page(request: Request) -> Response:
    if COOKIE not in request.cookies:
        return status_page.sign_in_page()
    try:
        who = await _holder(request)
    except ServiceError as error:
        response = status_page.sign_in_page(str(error))
        response.delete_cookie(COOKIE)
        return response
    return status_page.render(await run_in_threadpool(status, _service(request), who))


async def sign_in(request: Request) -> Response:
    token = str((await request.form()).get("token", "")).strip()
    try:
        await run_in_threadpool(_service(request).holder, token)
    except ServiceError as error:
        return status_page.sign_in_page(str(error), status_code=401)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="strict", secure=request.app.state.secure_cookie
    )
    return response


async def sign_out(_: Request) -> Response:
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE)
    return response


async def quality_report(request: Request) -> Response:
    project, run = request.path_params["project"], request.path_params["run"]
    service = _service(request)
    who = await _holder(request)
    path = service.folder.run(project, run) / "quality.html" if who.may_read(project) else None
    if path is None or not path.is_file():
        raise NotFound(f"no quality report for run {run} of {project!r} that you may read")
    return FileResponse(path, media_type="text/html")
