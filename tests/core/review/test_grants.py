"""Grants as a review names them, where a YAML entry writes each (for git blame), and how an
entry is found and read alone in an older version of its file."""

from __future__ import annotations

import pytest

from reconciler.core.model.values import Grant, UserSpec
from reconciler.core.review.entries import (
    document_entries,
    entry_end,
    entry_index,
    entry_shift,
    parse_entry,
)
from reconciler.core.review.grants import (
    declared_grants,
    grants_of_entry,
    live_grants,
    split_resource,
)
from tests.core.builders import rec

TEXT = """\
users:
  - usercode: cjones   # Carol
    type: designer
    enabled: true
    login:
      password: false
      external: true
    roles: [Viewers, Executive]
    categories:
      - Finance
      # more later
      - hr
    privileges: [pdf]
    pisync: {reason: x, review_by: 2027-01-31}

  # the next one
  - {usercode: 'dpatel', roles: []}
- nope: not an entry of this list
"""


def test_resources_name_a_kind_and_a_name() -> None:
    assert split_resource("role:Finance: EMEA") == ("role", "Finance: EMEA")
    assert split_resource(" Privilege : pdf") == ("privilege", "pdf")
    assert [split_resource(t) for t in ("group:x", "role:", "role", ":x")] == [None] * 4


def test_live_grants_in_order() -> None:
    record = rec({"login.password": True}, type="designer", privileges=("pdf", "audit"))
    assert list(live_grants(record, ("Viewers",), ("Finance",))) == [
        ("type", "designer"),
        ("enabled", "true"),
        ("login", "password"),
        ("login", "external"),
        ("role", "Viewers"),
        ("privilege", "audit"),
        ("privilege", "pdf"),
        ("category", "Finance"),
    ]


def test_declared_grants_of_a_spec() -> None:
    spec = UserSpec(
        usercode="CJONES",
        fields={
            "type": "designer",
            "login.password": False,
            "roles": ("Viewers",),
            "categories": ("Finance", "HR"),
            "privileges": ("pdf",),
        },
        meta=Grant(review_by="2027-01-31"),
    )
    assert declared_grants(spec) == {
        ("type", ""): "designer",
        ("login", "password"): False,
        ("role", "viewers"): True,
        ("privilege", "pdf"): True,
        ("category", "finance"): True,
        ("category", "hr"): True,
        ("review_by", ""): "2027-01-31",
    }


def test_each_grant_of_an_entry_with_the_line_of_its_value() -> None:
    entries = document_entries(TEXT[: TEXT.index("- nope")], "team.yaml")
    assert entries is not None
    assert grants_of_entry(entries["CJONES"]) == {
        ("type", ""): ("designer", 3),
        ("enabled", ""): (True, 4),
        ("login", "password"): (False, 6),
        ("login", "external"): (True, 7),
        ("role", "viewers"): (True, 8),
        ("role", "executive"): (True, 8),
        ("category", "finance"): (True, 10),
        ("category", "hr"): (True, 12),
        ("privilege", "pdf"): (True, 13),
        ("review_by", ""): ("2027-01-31", 14),
    }
    assert grants_of_entry(entries["DPATEL"]) == {}


def test_an_entry_found_in_the_text_and_read_alone_gives_the_same_lines() -> None:
    lines = TEXT.splitlines()
    assert entry_index(lines) == {"CJONES": 2, "DPATEL": 17}
    assert entry_end(lines, 2) == 14  # the blank line and the comment are not its own
    assert entry_end(lines, 17) == 17
    entry = parse_entry(lines, 2, 14, "team.yaml")
    assert entry is not None
    whole = document_entries(TEXT[: TEXT.index("- nope")], "team.yaml")
    assert whole is not None
    assert grants_of_entry(entry, entry_shift(2)) == grants_of_entry(whole["CJONES"])


@pytest.mark.parametrize(
    ("first", "last"),
    [(1, 3), (8, 9)],  # not one sequence item
)
def test_lines_that_are_not_one_entry_do_not_parse_as_one(first: int, last: int) -> None:
    assert parse_entry(TEXT.splitlines(), first, last, "team.yaml") is None


def test_a_document_that_does_not_parse_has_no_entries() -> None:
    assert document_entries("users: [\n", "x.yaml") is None
