"""The docs stay honest: links resolve, named make targets and alex-db commands exist, Python blocks compile."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from alex_db.devtools.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"```(\w*)\n(.*?)```", flags=re.S)
MAKE = re.compile(r"\bmake ([a-z][a-z-]*)")
ALEX_DB = re.compile(r"\balex-db ([a-z][a-z-]*)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to dashes."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {slug(h) for h in re.findall(r"(?m)^#+ (.+)$", page.read_text())}


def make_targets() -> set[str]:
    return set(re.findall(r"(?m)^([a-z][a-z-]*):", (ROOT / "Makefile").read_text()))


def cli_commands() -> set[str]:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if a.dest == "command"]
    return set(sub.choices)


def test_the_readme_fits_on_a_screen_and_maps_every_page():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 150
    linked = {target.split("#")[0] for target in LINK.findall(readme)}
    assert {f"docs/{page.name}" for page in PAGES[1:]} <= linked


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_resolves(page):
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+://", target):
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        assert resolved.exists(), f"{page.name}: {target} does not exist"
        if anchor and resolved.suffix == ".md":
            assert anchor in anchors(resolved), f"{page.name}: no heading #{anchor} in {resolved.name}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_named_make_target_and_cli_command_exists(page):
    text = page.read_text()
    missing_targets = set(MAKE.findall(text)) - make_targets()
    assert not missing_targets, f"{page.name} names make targets that do not exist: {missing_targets}"
    missing_commands = set(ALEX_DB.findall(text)) - cli_commands()
    assert not missing_commands, f"{page.name} names alex-db commands that do not exist: {missing_commands}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_python_block_compiles(page):
    for number, (language, code) in enumerate(FENCE.findall(page.read_text())):
        if language == "python":
            compile(code, f"{page.name} python block {number}", "exec")


def test_the_checks_can_fail(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n[x](missing.md) [y](#nowhere)\n")
    with pytest.raises(AssertionError, match="does not exist"):
        test_every_relative_link_resolves(page)
    page.write_text("# Title\nrun `make nonsense` or `alex-db frobnicate`\n")
    with pytest.raises(AssertionError, match="nonsense"):
        test_every_named_make_target_and_cli_command_exists(page)
    page.write_text("```python\ndef broken(:\n```\n")
    with pytest.raises(SyntaxError):
        test_every_python_block_compiles(page)
