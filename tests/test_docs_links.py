"""Every relative link of the project's Markdown pages points at a file that exists (and, with ``#anchor``, at a
heading of that page): README.md, docs/*.md, experiments/README.md, figures/index.md, benchmarks/*.md and the
other top-level pages."""
from __future__ import annotations

import pathlib
import re
import sys
from typing import Iterator, List, Tuple

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGES = ("README.md", "ARCHITECTURE.md", "docs/*.md", "experiments/README.md", "figures/index.md", "benchmarks/*.md",
         "models/README.md")
#: ``[text](target)`` and ``![alt](target)``, target without spaces, with an optional "title".
LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, https:, mailto:, ...


def pages() -> List[pathlib.Path]:
    found = sorted({path for pattern in PAGES for path in ROOT.glob(pattern) if path.is_file()})
    assert found, "no Markdown pages found"
    return found


def links(text: str) -> Iterator[Tuple[int, str]]:
    """(line number, target) of every inline link outside fenced code blocks and inline code spans."""
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            continue
        if fenced:
            continue
        for match in LINK.finditer(re.sub(r"`[^`]*`", lambda m: " " * len(m.group(0)), line)):
            yield number, match.group(1)


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", lambda m: m.group(1) or "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: pathlib.Path) -> set:
    found, fenced = set(), False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and re.match(r"#{1,6} ", line):
            found.add(slug(line.lstrip("#")))
    return found


def broken_links(path: pathlib.Path) -> List[str]:
    """One line per link of ``path`` whose file (or heading) does not exist."""
    problems = []
    for number, target in links(path.read_text(encoding="utf-8")):
        if EXTERNAL.match(target):
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        where = f"{path.relative_to(ROOT)}:{number}: {target}"
        if not linked.exists():
            problems.append(f"{where} (no such file: {linked})")
        elif anchor and linked.suffix == ".md" and linked.is_file() and anchor not in anchors(linked):
            problems.append(f"{where} (no heading #{anchor} in {linked.name})")
    return problems


@pytest.mark.parametrize("page", pages(), ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    assert broken_links(page) == []


def test_the_check_finds_broken_links(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "a.png").write_bytes(b"")
    page = tmp_path / "docs" / "page.md"
    page.write_text(
        "# A page\n\n## Some Heading, with `code`\n\n"
        "[ok](../figures/a.png) ![ok](../figures/a.png) [ok](#some-heading-with-code) [ok](https://x.org/none)\n"
        "[broken](figures/a.png) ![broken](../figures/b.png) [broken](#no-such-heading) [broken](page.md#nope)\n"
        "`[not a link](nowhere.md)`\n```\n[not a link](nowhere.md)\n```\n",
        encoding="utf-8")
    problems = broken_links(page)
    assert [line.split(": ", 1)[1].split(" (")[0] for line in problems] == [
        "figures/a.png", "../figures/b.png", "#no-such-heading", "page.md#nope"]
