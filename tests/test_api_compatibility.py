"""The README's and docs/api-compatibility.md's tables of guesses are exactly the ``[G …]``
marks of ``reconciler/pi/`` (endpoints.GUESSES), word for word."""

from __future__ import annotations

from pathlib import Path

from reconciler.pi import endpoints

ROOT = Path(__file__).resolve().parents[1]


def table_after(text: str, heading: str) -> list[tuple[str, str]]:
    """The rows of the first table after ``heading`` (reference, choice)."""
    lines = text[text.index(heading) :].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| reference |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        ref, choice = (cell.strip() for cell in line.strip("|").split(" | ", 1))
        rows.append((ref, choice))
    return rows


def test_every_guess_marked_in_the_adapter_is_in_guesses() -> None:
    sources = [p.read_text(encoding="utf-8") for p in (ROOT / "reconciler" / "pi").glob("*.py")]
    assert endpoints.guess_ids(sources) == set(endpoints.GUESSES)


def test_the_readme_lists_exactly_the_guesses() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert table_after(readme, "## API compatibility") == list(endpoints.GUESSES.items())


def test_the_docs_page_lists_exactly_the_guesses() -> None:
    page = (ROOT / "docs" / "api-compatibility.md").read_text(encoding="utf-8")
    assert table_after(page, "## Assumptions") == list(endpoints.GUESSES.items())
