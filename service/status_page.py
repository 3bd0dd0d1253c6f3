"""The status page for people: a sign-in form, then per project the parties, their uploads,
the runs and their quality figures. Plain HTML, no script, every value escaped."""

from __future__ import annotations

from html import escape

from starlette.responses import HTMLResponse

STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;font-size:.9em}
th{background:#f0f0f0} .mono{font-family:monospace;font-size:.8em}
.completed{color:#060}.failed{color:#a00}.running{color:#a60}.queued{color:#555}
progress{width:8em}
"""


def _page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    html = (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(title)}</title>"
        f"<style>{STYLE}</style></head><body>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status_code)


def sign_in_page(problem: str = "", status_code: int = 200) -> HTMLResponse:
    note = f"<p class=failed id=problem>{escape(problem)}</p>" if problem else ""
    return _page(
        "pprl service: sign in",
        "<h1>pprl linkage service</h1>"
        "<p>Sign in with the token you were issued (the TTP's admin token, or your party's).</p>"
        f"{note}<form method=post action=/signin>"
        "<input type=password name=token id=token size=50 autocomplete=off> "
        "<button type=submit id=signin>Sign in</button></form>",
        status_code,
    )


def render(shown: dict) -> HTMLResponse:
    you = shown["you"]
    who = "the TTP (admin)" if you["role"] == "admin" else f"{you['party']} ({you['role']})"
    parts = [
        f"<h1>pprl linkage service</h1><p>Signed in as {escape(who)}. "
        "<form method=post action=/signout style=display:inline>"
        "<button id=signout>Sign out</button></form></p>"
    ]
    parts += [_project(project) for project in shown["projects"]] or ["<p>No projects yet.</p>"]
    return _page("pprl service: status", "".join(parts))


def _project(project: dict) -> str:
    name = escape(project["name"])
    rows = []
    for party in project["parties"]:
        uploads = party["uploads"] or [None]
        for upload in uploads:
            cells = (
                [upload["name"], upload["kind"], f"{upload['size']:,}", upload["uploaded"]]
                if upload
                else ["nothing yet", "", "", ""]
            )
            digest = (
                f"<td class=mono>{escape(upload['sha256'][:16])}…</td>" if upload else "<td></td>"
            )
            rows.append(
                f"<tr><td>{escape(party['name'])}</td><td>{escape(party['role'])}</td>"
                + "".join(f"<td>{escape(str(c))}</td>" for c in cells)
                + digest
                + "</tr>"
            )
    table = (
        "<table><tr><th>party</th><th>role</th><th>file</th><th>kind</th><th>bytes</th>"
        f"<th>uploaded (UTC)</th><th>SHA-256</th></tr>{''.join(rows)}</table>"
    )
    runs = "".join(_run(project["name"], run) for run in project["runs"]) or "<p>No run yet.</p>"
    return (
        f"<section id='project-{name}'><h2>Project {name}</h2>{table}<h3>Runs</h3>{runs}</section>"
    )


def _run(project: str, run: dict) -> str:
    state = escape(run["state"])
    options = ", ".join(f"{k} {v}" for k, v in run["options"].items())
    head = (
        f"<p id='run-{run['id']}'><b>Run {run['id']}</b> ({escape(options)}): "
        f"<span class={state}>{state}</span>"
    )
    if run["state"] in ("queued", "running"):
        head += f", {escape(run['stage'])} <progress max=1 value={run['progress']}></progress>"
    if run["error"]:
        head += f"<br><span class=failed>{escape(run['error'])}</span>"
    quality = run.get("quality")
    if not quality:
        return head + "</p>"
    report = f"/projects/{escape(project)}/runs/{run['id']}/quality.html"
    sources = "".join(
        f"<tr><td>{escape(s['party'])}</td><td>{s['records']:,}</td><td>{s['linked']:,}</td></tr>"
        for s in quality["sources"]
    )
    return (
        head
        + f"<br>{quality['persons']:,} persons; {quality['accepted_links']:,} links accepted of "
        f"{quality['candidate_pairs']:,} candidates; expected false matches "
        f"{quality['expected_false_matches']:.1f}, estimated missed "
        f"{quality['estimated_missed_matches']:.1f}. <a href='{report}'>Quality report</a></p>"
        f"<table><tr><th>source</th><th>records</th><th>linked</th></tr>{sources}</table>"
    )
