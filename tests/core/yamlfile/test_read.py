"""yamlfile.read: values, positions, and every YAML hazard with its exact message and place."""

from __future__ import annotations

import datetime
import math
import pickle
import threading
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from reconciler.core.model.issues import Issue
from reconciler.core.model.values import SourcePos
from reconciler.core.yamlfile.read import (
    MAX_ISSUES_PER_FILE,
    ParsedFile,
    PosDict,
    PosList,
    c_parser_in_use,
    parse_yaml,
)

FILE = "users/a.yaml"


def parse(text: str | bytes, **kwargs: Any) -> ParsedFile:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return parse_yaml(data, FILE, **kwargs)


def at(line: int, col: int) -> SourcePos:
    return SourcePos(file=FILE, line=line, col=col)


def only_issue(text: str | bytes, **kwargs: Any) -> Issue:
    parsed = parse(text, **kwargs)
    assert parsed.data is None
    assert len(parsed.issues) == 1, parsed.issues
    return parsed.issues[0]


def test_the_c_parser_is_in_use() -> None:
    assert c_parser_in_use()


# --- values ------------------------------------------------------------------------------

VALUES = """\
text: hello world
quoted: "2027-01-31"
yes_is_text: yes
on_is_text: on
true_: true
false_: False
null_: null
tilde: ~
empty:
int: 42
neg: -7
octal: 0o17
leading_zero: 017
hex: 0x1F
binary: 0b101
underscored: 1_000
float: 1.5
exp: 1e3
inf: -.inf
date: 2027-01-31
datetime: 2027-01-31T10:00:00Z
equals: =
block: |
  two
  lines
list: [a, 1, true]
nested: {a: {b: [c]}}
"""


def test_values_follow_yaml_1_2_with_dates_kept_as_text() -> None:
    data = parse(VALUES).data
    assert data == {
        "text": "hello world",
        "quoted": "2027-01-31",
        "yes_is_text": "yes",
        "on_is_text": "on",
        "true_": True,
        "false_": False,
        "null_": None,
        "tilde": None,
        "empty": None,
        "int": 42,
        "neg": -7,
        "octal": 15,
        "leading_zero": 17,
        "hex": 31,
        "binary": 5,
        "underscored": 1000,
        "float": 1.5,
        "exp": 1000.0,
        "inf": -math.inf,
        "date": "2027-01-31",
        "datetime": "2027-01-31T10:00:00Z",
        "equals": "=",
        "block": "two\nlines\n",
        "list": ["a", 1, True],
        "nested": {"a": {"b": ["c"]}},
    }
    assert isinstance(data, PosDict)
    assert isinstance(data["list"], PosList)


def _ruamel_view(value: Any) -> Any:
    """ruamel's safe load, with the deliberate differences applied: dates as ISO text."""
    if isinstance(value, dict):
        return {str(k): _ruamel_view(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ruamel_view(v) for v in value]
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return value.isoformat()
    return value


def test_values_equal_ruamels_safe_loader_apart_from_the_documented_differences() -> None:
    text = VALUES.replace("datetime: 2027-01-31T10:00:00Z\n", "").replace("equals: =\n", "")
    ours = parse(text).data
    theirs = _ruamel_view(YAML(typ="safe").load(text))
    assert ours == theirs


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=True),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20),
)
documents = st.dictionaries(
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=10),
    st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=4)
        ),
        max_leaves=12,
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_any_safe_dump_loads_as_ruamel_loads_it(doc: dict[str, Any]) -> None:
    import io

    out = io.StringIO()
    YAML(typ="safe").dump(doc, out)
    text = out.getvalue()
    parsed = parse(text)
    assert parsed.issues == ()
    assert parsed.data == _ruamel_view(YAML(typ="safe").load(text))


# --- positions ---------------------------------------------------------------------------

POSITIONS = """\
users:
  - usercode: jsmith
    roles: [Finance Viewer, Sales]
    login:
      mfa: true
"""


def test_positions_are_one_based_for_mappings_keys_values_and_items() -> None:
    data = parse(POSITIONS).data
    assert data is not None
    users = data["users"]
    user = users[0]
    assert data.pos == at(1, 1)
    assert data.key_pos["users"] == at(1, 1)
    assert users.pos == at(2, 3)
    assert users.item_pos == (at(2, 5),)
    assert user.pos == at(2, 5)
    assert dict(user.key_pos) == {"usercode": at(2, 5), "roles": at(3, 5), "login": at(4, 5)}
    assert user.value_pos["usercode"] == at(2, 15)
    assert user["roles"].item_pos == (at(3, 13), at(3, 29))
    assert user["login"].key_at("mfa") == at(5, 7)
    assert user.key_at("missing") == user.pos
    assert user["roles"].item_at(9) == user["roles"].pos


def test_positions_count_characters_not_bytes() -> None:
    data = parse("é: [x, y]\n").data
    assert data is not None
    assert data["é"].item_pos == (at(1, 5), at(1, 8))


def test_documents_pickle_with_their_positions() -> None:
    parsed = parse(POSITIONS)
    again = pickle.loads(pickle.dumps(parsed))
    assert again == parsed
    assert again.data is not None
    assert again.data["users"][0]["roles"].item_pos == (at(3, 13), at(3, 29))
    assert again.data["users"][0].value_pos["usercode"] == at(2, 15)


def test_allow_empty_gives_an_empty_mapping() -> None:
    parsed = parse("# only a comment\n", allow_empty=True)
    assert parsed.issues == ()
    assert parsed.data == {}


# --- hazards: (name, input, line, col, exact message) ---------------------------------

BILLION_LAUGHS = "\n".join(
    ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    + [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]" for i in range(8)]
)

HAZARDS: list[tuple[str, str | bytes, int, int, str]] = [
    (
        "duplicate key",
        "users:\n  - usercode: a\n    surname: X\n    surname: Y\n",
        4,
        5,
        'duplicate key "surname" (first written at line 3, column 5); '
        "a key may appear once per mapping",
    ),
    (
        "anchor",
        "users:\n  - &base {usercode: a}\n",
        2,
        5,
        "anchors (&base) are not supported: write the value out in full where needed",
    ),
    (
        "alias of an undefined anchor",
        "users: *nothing\n",
        1,
        8,
        "aliases (*nothing) are not supported: write the value out in full instead",
    ),
    (
        "python tag",
        "users: !!python/object/apply:os.system [echo hi]\n",
        1,
        8,
        "tags are not supported (found !!python/object/apply:os.system): remove the tag, "
        "and quote the value if it must stay text",
    ),
    (
        "custom tag",
        "users:\n  - usercode: !vault abc\n",
        2,
        15,
        "tags are not supported (found !vault): remove the tag, and quote the value if it "
        "must stay text",
    ),
    (
        "standard tag",
        "users:\n  - usercode: !!str 123\n",
        2,
        15,
        "tags are not supported (found !!str): remove the tag, and quote the value if it "
        "must stay text",
    ),
    (
        "merge key",
        "users:\n  - <<: {usercode: a}\n",
        2,
        5,
        "merge keys (<<) are not supported: write the keys out",
    ),
    (
        "non-UTF-8",
        b"users:\n  - usercode: a\n    surname: M\xfcller\n",
        3,
        15,
        "the file is not UTF-8: byte 0xFC cannot be decoded; save the file as UTF-8",
    ),
    (
        "control character",
        "users:\n  - usercode: a\x07b\n",
        2,
        16,
        "the control character U+0007 is not allowed in YAML; remove it",
    ),
    (
        "tab indentation",
        "users:\n  - usercode: a\n\tsurname: b\n",
        3,
        1,
        "a tab is used for indentation; YAML indents with spaces only: replace it with spaces",
    ),
    (
        "tab indentation at the start of a block",
        "users:\n\t- usercode: a\n",
        2,
        1,
        "a tab is used for indentation; YAML indents with spaces only: replace it with spaces",
    ),
    (
        "empty",
        "",
        1,
        1,
        'the file is empty; a desired-state file holds "users:" and/or "roles:"',
    ),
    (
        "only comments",
        "# nothing here yet\n\n",
        1,
        1,
        'the file has no content, only comments; a desired-state file holds "users:" and/or '
        '"roles:"',
    ),
    (
        "top-level list",
        "- usercode: a\n",
        1,
        1,
        'the top level must be a mapping of keys such as "users:" and "roles:", but the file '
        "holds a list",
    ),
    (
        "top-level scalar",
        "hello\n",
        1,
        1,
        'the top level must be a mapping of keys such as "users:" and "roles:", but the file '
        'holds the single value "hello"',
    ),
    (
        "unclosed flow sequence",
        "users: [a, b\nroles: []\n",
        2,
        6,
        "invalid YAML: did not find expected ',' or ']'; while parsing a flow sequence that "
        "starts at line 1, column 8",
    ),
    (
        "colon in a plain value",
        "users:\n  - usercode: a\n    surname: Smith: Jr\n",
        3,
        19,
        "invalid YAML: mapping values are not allowed in this context (quote a value that "
        "contains ': ')",
    ),
    (
        "bad indentation",
        "users:\n  - usercode: a\n   surname: b\n",
        3,
        4,
        "invalid YAML: did not find expected '-' indicator (check this line's indentation); "
        "while parsing a block collection that starts at line 2, column 3",
    ),
    (
        "unclosed quote",
        'users:\n  - usercode: "a\n',
        3,
        1,
        "invalid YAML: found unexpected end of stream (a quote or bracket is not closed); "
        "while scanning a quoted scalar that starts at line 2, column 15",
    ),
    (
        "second document",
        "users: []\n---\nroles: []\n",
        2,
        1,
        "a second YAML document starts here (---); a file holds one document: split it into "
        "two files",
    ),
    (
        "YAML 1.1 directive",
        "%YAML 1.1\n---\nusers: []\n",
        1,
        1,
        "%YAML 1.1 is not supported: pisync reads YAML 1.2; remove the directive",
    ),
    (
        "complex key",
        "? [a, b]\n: c\n",
        1,
        3,
        "a mapping key must be text, not a mapping or a list",
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "col", "message"),
    [h[1:] for h in HAZARDS],
    ids=[h[0] for h in HAZARDS],
)
def test_hazard_is_one_exact_error(text: str | bytes, line: int, col: int, message: str) -> None:
    issue = only_issue(text)
    assert issue == Issue(severity="error", pos=at(line, col), message=message, key_path="")


def test_oversize_is_refused_before_parsing() -> None:
    issue = only_issue("users: []\n" + "#" * 100, max_bytes=50)
    assert issue.pos == at(1, 1)
    assert issue.message == (
        "the file is 110 bytes, over the limit of 50 bytes; split it into smaller files"
    )


def test_default_size_bound_is_10_mb() -> None:
    issue = only_issue(b"#" * 10_000_001)
    assert issue.message.startswith("the file is 10,000,001 bytes, over the limit of 10,000,000")


def test_billion_laughs_fails_at_once_at_the_first_anchor() -> None:
    start = time.perf_counter()
    parsed = parse(BILLION_LAUGHS)
    assert time.perf_counter() - start < 1.0
    assert parsed.data is None
    first = parsed.issues[0]
    assert first.pos == at(1, 4)
    assert first.message.startswith("anchors (&a) are not supported")
    # it stops after a bounded number of problems: nothing is ever expanded
    assert len(parsed.issues) == MAX_ISSUES_PER_FILE + 1
    assert parsed.issues[-1].message == (
        "more problems in this file were not reported: fix these first"
    )


def test_several_problems_in_one_file_are_reported_together() -> None:
    parsed = parse("a: &x 1\nb: *x\nc: !t v\na: 2\n")
    assert [(i.pos.line, i.pos.col) for i in parsed.issues if i.pos] == [
        (1, 4),
        (2, 4),
        (3, 4),
        (4, 1),
    ]


@pytest.mark.parametrize("depth", [101, 5_000])
def test_deep_nesting_is_bounded_without_recursion(depth: int) -> None:
    issue = only_issue("a: " + "[" * depth + "]" * depth + "\n")
    assert issue.message == (
        "the data is nested deeper than 100 levels; desired-state files need only a few"
    )
    # the root mapping is level 1, so the 100th "[" (column 103) is level 101
    assert issue.pos == at(1, 103)


def test_nesting_up_to_the_bound_is_fine() -> None:
    parsed = parse("a: " + "[" * 99 + "]" * 99 + "\n")
    assert parsed.issues == ()


def test_max_depth_is_a_parameter() -> None:
    issue = only_issue("a: {b: {c: 1}}\n", max_depth=2)
    assert issue.message.startswith("the data is nested deeper than 2 levels")


# --- never a traceback, never a hang -----------------------------------------------------


@settings(max_examples=300, deadline=2000)
@given(st.binary(max_size=400))
def test_random_bytes_never_raise(data: bytes) -> None:
    parsed = parse_yaml(data, FILE)
    assert isinstance(parsed, ParsedFile)
    assert (parsed.data is None) == bool(parsed.issues)


YAMLISH = st.lists(
    st.sampled_from(
        [
            *"ab01 :-[]{},&*!|>'\"#%?\n\t.~=<@`",
            *("  ", "\n  ", "\n- ", "key: ", "!!str ", "&a ", "*a", "---\n", "<<: ", "\u00e9"),
        ]
    ),
    max_size=60,
).map("".join)


@settings(max_examples=400, deadline=2000)
@given(YAMLISH)
def test_random_yaml_like_text_never_raises(text: str) -> None:
    parsed = parse(text)
    assert all(isinstance(i, Issue) and i.pos is not None for i in parsed.issues)
    assert (parsed.data is None) == bool(parsed.issues)


def test_a_yaml_1_2_directive_crlf_and_a_bom_are_fine() -> None:
    parsed = parse(b"\xef\xbb\xbf%YAML 1.2\r\n---\r\nusers:\r\n  - usercode: a\r\n")
    assert parsed.issues == ()
    assert parsed.data == {"users": [{"usercode": "a"}]}
    assert parsed.data is not None
    assert parsed.data["users"][0].pos == at(4, 5)


def test_files_read_in_several_threads_at_once_each_read_whole() -> None:
    """The review parses entries in several threads; the C binding's event classes are
    module-wide, so one thread's parse must never end another's records mid-file (before the
    lock, a parse got PyYAML's own classes back half-way and never saw its end)."""
    text = "users:\n" + "".join(f"  - usercode: U{i}\n    roles: [A, B]\n" for i in range(200))
    results: list[int] = []
    failures: list[str] = []

    def read_many() -> None:
        try:
            for _ in range(100):
                parsed = parse_yaml(text.encode(), "users/a.yaml")
                assert parsed.issues == ()
                assert parsed.data is not None
                results.append(len(parsed.data["users"]))
        except BaseException as exc:  # reported below, whatever it is
            failures.append(repr(exc))

    threads = [threading.Thread(target=read_many, daemon=True) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    assert results == [200] * 400
