"""Atomic writes: all or nothing, and a failure is one UsageError naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import UsageError
from reconciler.shell.files import write_atomic


def test_writes_the_file_and_its_folders(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "out.json"
    write_atomic(target, "{}\n")
    assert target.read_text(encoding="utf-8") == "{}\n"
    assert [p.name for p in target.parent.iterdir()] == ["out.json"]


def test_a_file_where_a_folder_should_be_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file", encoding="utf-8")
    with pytest.raises(UsageError) as raised:
        write_atomic(tmp_path / "taken" / "plan.json", "{}", what="the plan")
    # not the clean-up's own NotADirectoryError, escaping as an internal error
    assert str(raised.value) == (
        f"cannot write the plan to {tmp_path / 'taken' / 'plan.json'}:"
        f" {tmp_path / 'taken'} is a file, not a folder"
    )
