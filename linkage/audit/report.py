"""The audit report: `audit.json` (rates and counts, never a value) and `audit.html` (the same
as tables, with a figure of the rates per field and attack)."""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

import numpy as np

from pprl.figures import figure, inline_png
from pprl.files import AtomicOutput

FORMAT = "pprl-audit/1"
FIELDS = ("forename", "middle_names", "surname", "dob_year", "dob_month", "dob_day", "sex")


def audit_document(packages: list[dict], population_source: str, truth: bool) -> dict:
    """The whole report: which population the attacker held, and each package's audit."""
    return {
        "format": FORMAT,
        "population": population_source,
        "truth": truth,
        "packages": packages,
    }


def write_report(document: dict, json_path: Path, html_path: Path) -> None:
    """Both files, each appearing whole and never over an existing one."""
    text = json.dumps(_finite(document), indent=2, sort_keys=True) + "\n"
    with AtomicOutput(json_path, replace=False) as f:
        f.write(text.encode())
    with AtomicOutput(html_path, replace=False) as f:
        f.write(render_html(document).encode())


def _finite(value: object) -> object:
    """The document with numpy numbers as plain ones and a rate that could not be worked
    out (NaN) as null, so that the file is strict JSON."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    return None if isinstance(value, float) and math.isnan(value) else value


def render_html(document: dict) -> str:
    parts = [
        "<!doctype html><meta charset='utf-8'><title>pprl audit</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        "td,th{padding:2px 8px;text-align:right}th:first-child,td:first-child{text-align:left}"
        "</style><h1>What an attacker holding these packages could learn</h1>",
        f"<p>Population the attacker held: {html.escape(document['population'])}. "
        + (
            "Scored against the custodian's own plaintext."
            if document["truth"]
            else "Without the plaintext: what an attacker could align, not whether it is right."
        )
        + "</p>",
    ]
    for package in document["packages"]:
        parts.append(f"<h2>{html.escape(package['party'])}: {package['records']:,} records</h2>")
        if "reidentified" in package:
            parts.append("<h3>Records re-identified, by field and attack</h3>")
            parts.append(_table(package["reidentified"]))
            parts.append(inline_png(_figure(package["reidentified"])))
        parts.append("<h3>Records an attacker could align without guessing</h3>")
        parts.append(_table(package["alignable"]))
        parts.append("<h3>Structure</h3><pre>")
        parts.append(html.escape(json.dumps(_finite(package["structure"]), indent=1)))
        parts.append("</pre>")
    return "\n".join(parts) + "\n"


def _table(rates: dict[str, dict[str, float]]) -> str:
    attacks = sorted({a for by_attack in rates.values() for a in by_attack})
    head = "".join(f"<th>{html.escape(a)}</th>" for a in attacks)
    rows = []
    for name, by_attack in rates.items():
        cells = "".join(
            f"<td>{by_attack[a]:.1%}</td>" if a in by_attack else "<td></td>" for a in attacks
        )
        rows.append(f"<tr><td>{html.escape(name)}</td>{cells}</tr>")
    return f"<table><tr><th>field</th>{head}</tr>{''.join(rows)}</table>"


def _figure(rates: dict[str, dict[str, float]]):
    drawn, ax = figure(8, 3.5)
    names = [n for n in (*FIELDS, "name", "date_of_birth", "person") if n in rates]
    attacks = sorted({a for n in names for a in rates[n]})
    width = 0.8 / max(len(attacks), 1)
    for k, attack in enumerate(attacks):
        values = [rates[n].get(attack, 0.0) * 100 for n in names]
        ax.bar([i + k * width for i in range(len(names))], values, width, label=attack)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(names))], names, rotation=30)
    ax.set_ylabel("% of records re-identified")
    ax.legend(fontsize=8)
    return drawn
