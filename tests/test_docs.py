"""The documentation keeps up with the code: every command is documented and shows an example
in its help, every relative link resolves, and the README stays short enough to read."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from pprl.cli import main

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
README_LIMIT = 10_240  # bytes: a README a newcomer reads to the end

# [text](target): inline Markdown links; images too, since they start the same way
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~)")
# a module the docs name: a path under one of the project's folders, ending in .py
FOLDERS = "pprl|keys|linkage|outcomes|sample_extracts|service|tests|benchmarks"
MODULE = re.compile(rf"\b((?:{FOLDERS})/[\w/]*\.py)\b")


def commands(group: click.Command = main, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command's path under the root group, the root itself included."""
    yield path
    if isinstance(group, click.Group):
        for name, command in sorted(group.commands.items()):
            yield from commands(command, (*path, name))


def prose(page: Path) -> str:
    """A page's text outside fenced code blocks, where a bracket is code, not a link."""
    kept, fenced = [], False
    for line in page.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line.strip()):
            fenced = not fenced
        elif not fenced:
            kept.append(line)
    return "\n".join(kept)


def slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces to -."""
    text = heading.strip().lower().replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """The anchors a page's headings give (a repeated heading gets -1, -2 ...)."""
    found: set[str] = set()
    for line in prose(page).splitlines():
        match = re.match(r"#{1,6}\s+(.*)", line)
        if match:
            base = anchor = slug(match.group(1))
            n = 0
            while anchor in found:
                n += 1
                anchor = f"{base}-{n}"
            found.add(anchor)
    return found


def broken_links(page: Path) -> list[str]:
    """The relative links on a page whose file or anchor does not exist."""
    broken = []
    for target in LINK.findall(prose(page)):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: ...
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target} (no file {path})")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target} (no heading for #{anchor} in {file.name})")
    return broken


def test_the_walk_finds_every_role_s_commands():
    """The walk below must see the commands each role runs, or the other checks check nothing."""
    found = {" ".join(path) for path in commands()}
    every_role = "keys,keys init,keys trust,keys list,keys secret,keys open,hash,link,release,"
    every_role += "outcomes,sample,demo"
    assert {"", *every_role.split(",")} <= found


@pytest.mark.parametrize("path", list(commands()), ids=lambda p: " ".join(("pprl", *p)))
def test_every_command_is_documented(path: tuple[str, ...]):
    name = " ".join(("pprl", *path))
    text = "\n".join(page.read_text(encoding="utf-8") for page in PAGES)
    assert re.search(rf"{re.escape(name)}(?![\w-])", text), f"`{name}` is named in no doc page"


@pytest.mark.parametrize("path", list(commands()), ids=lambda p: " ".join(("pprl", *p)))
def test_every_command_has_help_with_an_example(path: tuple[str, ...]):
    result = CliRunner().invoke(main, [*path, "--help"], prog_name="pprl")
    assert result.exit_code == 0, result.output
    assert "Example" in result.output, f"`pprl {' '.join(path)} --help` shows no example"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(page: Path):
    assert broken_links(page) == []


def test_the_link_check_finds_a_missing_file_and_a_missing_heading(tmp_path: Path):
    page = tmp_path / "page.md"
    (tmp_path / "other.md").write_text("# Where linkage quality stands\n", encoding="utf-8")
    page.write_text(
        "# Top\n[fine](other.md#where-linkage-quality-stands) [here](#top)\n"
        "[gone](missing.md) [no heading](other.md#nowhere) [web](https://example.org/x)\n"
        "```\n[code, not a link](nothing.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(page) == [
        "missing.md (no file missing.md)",
        "other.md#nowhere (no heading for #nowhere in other.md)",
    ]


def test_headings_give_github_s_anchors():
    assert slug("Releasing content: `pprl release`") == "releasing-content-pprl-release"
    assert (
        slug("What the TTP can infer from today's encodings")
        == "what-the-ttp-can-infer-from-todays-encodings"
    )
    assert slug("The sealed-file format (version 1)") == "the-sealed-file-format-version-1"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_module_the_docs_name_exists(page: Path):
    named = set(MODULE.findall(page.read_text(encoding="utf-8")))
    assert sorted(m for m in named if not (ROOT / m).is_file()) == []


def test_the_architecture_page_maps_every_module():
    """A module added to a role's package appears on the map, by its path."""
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    modules = [
        path.relative_to(ROOT).as_posix()
        for folder in ("pprl", "keys", "linkage", "outcomes", "service")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path.name not in ("__init__.py", "__main__.py")
    ]
    assert len(modules) > 40  # the walk found the packages
    assert [m for m in modules if f"`{m}`" not in page] == []


def test_the_readme_stays_short():
    size = len(README.read_bytes())
    assert size <= README_LIMIT, f"README.md is {size:,} bytes; move detail into docs/"
