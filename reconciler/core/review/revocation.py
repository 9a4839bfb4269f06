"""``pisync revoke``: the Deny decisions of a worksheet as edits of the YAML. Pure.

:func:`plan_revocations` decides what each Deny does to the repository: a role, privilege
or category the user's entry lists is removed from the list; a Deny of the user type, of the
account being enabled or of a login method disables the user (``enabled: false``). A Deny
the repository cannot carry (the user is not declared, or ignored; the entry does not list
the item) is a problem at its worksheet row, and nothing is written.

:func:`edit_text` makes the edits in the file's text, line by line, at the positions
pisync's YAML reader recorded: nothing else of the file changes (comments, order, quoting,
blank lines, flow or block style), as if its author had made the edit by hand. A list left
empty becomes ``[]`` (an empty block list would read as null). The edited text is then read
again and must declare exactly the same grants as before less the revoked ones (and the
user disabled), or the edit is refused.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from reconciler.core.model.config import Config
from reconciler.core.model.issues import Issue, error
from reconciler.core.model.values import DesiredState, SourcePos, UserSpec
from reconciler.core.render.markup import md_code
from reconciler.core.review.decisions import Decision, trailer
from reconciler.core.review.entries import document_entries
from reconciler.core.review.grants import (
    KIND_KEYS,
    LIST_KINDS,
    GrantKey,
    grant_key,
    grants_of_entry,
    split_resource,
)
from reconciler.core.yamlfile.positions import SHIFT, PosDict, PosList

REMOVE: Final = "remove"
DISABLE: Final = "disable"
ALREADY: Final = "already"  # the entry already says what the decision asks


@dataclass(frozen=True, slots=True, kw_only=True)
class Revocation:
    decision: Decision
    action: str  # REMOVE, DISABLE or ALREADY
    file: str  # the entry's file (display path)
    key: str | None = None  # for REMOVE: roles, privileges or categories
    name: str | None = None  # for REMOVE: the item as the entry writes it

    def words(self, show: Callable[[str], str] = md_code) -> str:
        """What it does, the item's name shown by ``show`` (a code span by default)."""
        if self.action == REMOVE:
            kind = LIST_KINDS[self.key or ""]
            return f"remove {kind} {show(self.name or '')}"
        if self.action == DISABLE:
            return "disable the user (enabled: false)"
        return "already disabled in the repository"


def plan_revocations(
    decisions: Iterable[Decision], desired: DesiredState, config: Config, worksheet: str
) -> tuple[list[Revocation], list[Issue]]:
    """What each Deny does (see the module docstring); problems at the worksheet's rows."""
    specs = {u.usercode: u for u in desired.users}
    out: list[Revocation] = []
    issues: list[Issue] = []
    for d in decisions:
        if d.decision != "Deny":
            continue
        at = SourcePos(file=worksheet, line=d.row, col=1)
        made = _revocation(d, specs.get(d.principal), config)
        if isinstance(made, str):
            issues.append(error(at, made))
        else:
            out.append(made)
    return out, issues


def _revocation(d: Decision, spec: UserSpec | None, config: Config) -> Revocation | str:
    parsed = split_resource(d.resource)
    assert parsed is not None  # read_rows checked it
    kind, name = parsed
    if spec is None or spec.source is None:
        return (
            f"{d.principal} is not declared in the repository, so revoke cannot edit it:"
            " declare it first (pisync import writes its entry), or change it on the server"
            " by hand"
        )
    if spec.ignore or config.is_ignored(d.principal):
        return (
            f"pisync ignores {d.principal} (users.ignore or pisync: {{ignore: true}}): revoke"
            " it by hand"
        )
    file = spec.source.file
    if kind in ("role", "privilege", "category"):
        key = KIND_KEYS[kind]
        if key not in spec.fields:
            return (
                f"{d.principal}'s entry does not declare {key}, so pisync does not manage its"
                f" {key}: add the key with the {key} to keep, or change it on the server by hand"
            )
        wanted = grant_key(kind, name)
        written = [n for n in spec.fields[key] if grant_key(kind, n) == wanted]
        if not written:
            return (
                f"{d.principal}'s entry does not list {kind} {name!r} (the server has it"
                " through a role, as the parent of a category, or differs from the repository):"
                " deny the grant that brings it"
            )
        return Revocation(decision=d, action=REMOVE, file=file, key=key, name=written[0])
    if kind == "enabled" and name.casefold() != "true":
        return f"{d.resource} grants nothing: a disabled account has nothing to revoke"
    if spec.fields.get("enabled") is False:
        return Revocation(decision=d, action=ALREADY, file=file)
    return Revocation(decision=d, action=DISABLE, file=file)


# --- editing the text -------------------------------------------------------------------------


class EditError(Exception):
    """The edit cannot be made safely; the message says why and what to do."""


def edit_text(text: str, file: str, revocations: Sequence[Revocation]) -> str:
    """``text`` with ``revocations`` (all of this file) made; raises :class:`EditError`."""
    entries = document_entries(text, file)
    if entries is None:
        raise EditError(f"{file} does not parse; fix it first (pisync validate)")
    starts = _line_starts(text)
    edits: list[tuple[int, int, str]] = []
    removals: dict[tuple[str, str], set[str]] = {}
    disable: set[str] = set()
    for r in revocations:
        code = r.decision.principal
        if code not in entries:
            raise EditError(f"{file} has no entry for {code}")
        if r.action == REMOVE:
            removals.setdefault((code, r.key or ""), set()).add(r.name or "")
        elif r.action == DISABLE:
            disable.add(code)
    for (code, key), names in sorted(removals.items()):
        items = entries[code].get(key)
        if not isinstance(items, PosList):
            raise EditError(f"{code}'s {key} in {file} is not a list")
        kind = LIST_KINDS[key]
        drop = {grant_key(kind, n) for n in names}
        keep = [not (isinstance(v, str) and grant_key(kind, v) in drop) for v in items]
        edits += _remove_items(text, starts, entries[code], key, items, keep)
    for code in sorted(disable):
        edits += _disable(text, starts, entries[code])
    edited = _apply(text, edits)
    _check(entries, edited, file, removals, disable)
    return edited


def _check(
    before: Mapping[str, PosDict],
    text: str,
    file: str,
    removals: Mapping[tuple[str, str], set[str]],
    disable: set[str],
) -> None:
    """The edited text declares the same grants as before, less exactly the revoked ones."""
    after = document_entries(text, file)
    if after is None or set(after) != set(before):
        raise EditError(f"editing {file} would break it; make the change by hand")
    for code, entry in before.items():
        old = _values(entry)
        new = _values(after[code])
        for (who, key), names in removals.items():
            if who == code:
                kind = LIST_KINDS[key]
                for n in names:
                    old.pop(grant_key(kind, n), None)
        if code in disable:
            old[("enabled", "")] = False
        if old != new or _others(entry) != _others(after[code]):
            raise EditError(f"editing {code} in {file} would change more than decided")


def _values(entry: PosDict) -> dict[GrantKey, object]:
    return {k: v for k, (v, _) in grants_of_entry(entry).items()}


def _others(entry: PosDict) -> dict[str, object]:
    """The entry's keys that no revocation touches (values compare as dicts and lists)."""
    skip = {"roles", "privileges", "categories", "enabled"}
    return {k: v for k, v in entry.items() if k not in skip}


def _line_starts(text: str) -> list[int]:
    starts = [0]
    for i, char in enumerate(text):
        if char == "\n":
            starts.append(i + 1)
    return starts


def _offset(starts: Sequence[int], packed: int) -> int:
    return starts[packed >> SHIFT] + (packed & ((1 << SHIFT) - 1))


def _apply(text: str, edits: list[tuple[int, int, str]]) -> str:
    edits.sort()
    for (_, end, _), (start, _, _) in itertools.pairwise(edits):
        if start < end:
            raise EditError("two edits overlap; make the change by hand")
    for start, end, new in reversed(edits):
        text = text[:start] + new + text[end:]
    return text


def _scalar_end(text: str, at: int, *, flow: bool) -> int:
    """Where the scalar that starts at ``at`` ends (one line only; else EditError)."""
    quote = text[at] if at < len(text) else ""
    if quote in ("'", '"'):
        i = at + 1
        while i < len(text) and text[i] != "\n":
            if quote == '"' and text[i] == "\\":
                i += 2
                continue
            if text[i] == quote:
                if quote == "'" and text[i + 1 : i + 2] == "'":
                    i += 2
                    continue
                return i + 1
            i += 1
        raise EditError("a quoted value spans lines; make the change by hand")
    i = at
    stops = ",]}" if flow else ""
    while i < len(text) and text[i] != "\n" and text[i] not in stops:
        if text[i] == "#" and text[i - 1] in " \t":
            break
        i += 1
    while i > at and text[i - 1] in " \t":
        i -= 1
    return i


def _remove_items(
    text: str,
    starts: Sequence[int],
    entry: PosDict,
    key: str,
    items: PosList,
    keep: Sequence[bool],
) -> list[tuple[int, int, str]]:
    if all(keep):
        return []
    begin = _offset(starts, items._pos)
    if text[begin] == "[":
        return [_flow_list(text, starts, items, keep)]
    return _block_list(text, starts, entry, key, items, keep)


def _flow_list(
    text: str, starts: Sequence[int], items: PosList, keep: Sequence[bool]
) -> tuple[int, int, str]:
    """The list ``[…]`` rewritten with the kept items, each after the separator that followed
    the kept item before it (so its spacing and any comment after that comma stay)."""
    spans = []
    for packed in items._ipos:
        at = _offset(starts, packed)
        spans.append((at, _scalar_end(text, at, flow=True)))
    open_at = _offset(starts, items._pos)
    close = text.find("]", spans[-1][1])
    if close < 0:
        raise EditError("the list has no closing ]; make the change by hand")
    kept = [i for i, k in enumerate(keep) if k]
    if not kept:
        return (open_at, close + 1, "[]")
    parts = [text[open_at + 1 : spans[0][0]]]  # what follows "[" (spaces)
    for n, i in enumerate(kept):
        if n:
            before = kept[n - 1]
            parts.append(text[spans[before][1] : spans[before + 1][0]])
        parts.append(text[spans[i][0] : spans[i][1]])
    parts.append(text[spans[-1][1] : close])  # what precedes "]"
    return (open_at + 1, close, "".join(parts))


def _block_list(
    text: str,
    starts: Sequence[int],
    entry: PosDict,
    key: str,
    items: PosList,
    keep: Sequence[bool],
) -> list[tuple[int, int, str]]:
    """Each removed item's line deleted; a list left empty becomes ``key: []``."""
    edits = []
    lines = [packed >> SHIFT for packed in items._ipos]
    if len(set(lines)) != len(lines):
        raise EditError("two items share a line; make the change by hand")
    for i, line in enumerate(lines):
        if keep[i]:
            continue
        at = _offset(starts, items._ipos[i])
        end = _scalar_end(text, at, flow=False)
        nxt = starts[line + 1] if line + 1 < len(starts) else len(text)
        if text[end:nxt].strip() and not text[end:nxt].strip().startswith("#"):
            raise EditError("an item is followed by more on its line; make the change by hand")
        if _continues(text, starts, line, at):
            raise EditError("an item spans lines; make the change by hand")
        edits.append((starts[line], nxt, ""))
    if not any(keep):
        key_at = _offset(starts, entry._kpos[key])
        colon = text.find(":", key_at + len(key))
        edits.append((colon + 1, colon + 1, " []"))
    return edits


def _continues(text: str, starts: Sequence[int], line: int, at: int) -> bool:
    """Whether the next line continues the item that starts at ``at`` on ``line`` (a
    multi-line plain scalar is indented deeper than its dash and is not a new item)."""
    if line + 1 >= len(starts) - 1:
        return False
    nxt = text[starts[line + 1] : starts[line + 2] if line + 2 < len(starts) else len(text)]
    stripped = nxt.strip()
    if not stripped or stripped.startswith(("#", "-")):
        return False
    dash = text.rfind("-", starts[line], at)
    return len(nxt) - len(nxt.lstrip(" ")) > dash - starts[line]


def _disable(text: str, starts: Sequence[int], entry: PosDict) -> list[tuple[int, int, str]]:
    """``enabled: false``: its value replaced, or the key added after the usercode."""
    if "enabled" in entry:
        if entry["enabled"] is False:
            return []
        at = _offset(starts, entry._vpos["enabled"])
        flow = text[_offset(starts, entry._pos)] == "{"
        return [(at, _scalar_end(text, at, flow=flow), "false")]
    code_at = _offset(starts, entry._vpos["usercode"])
    if text[_offset(starts, entry._pos)] == "{":
        end = _scalar_end(text, code_at, flow=True)
        return [(end, end, ", enabled: false")]
    line = entry._kpos["usercode"] >> SHIFT
    column = entry._kpos["usercode"] & ((1 << SHIFT) - 1)
    nxt = starts[line + 1] if line + 1 < len(starts) else len(text)
    newline = "" if text[nxt - 1 : nxt] == "\n" else "\n"
    return [(nxt, nxt, f"{newline}{' ' * column}enabled: false\n")]


# --- the commit message -------------------------------------------------------------------------


def commit_message(
    revocations: Sequence[Revocation], worksheet: str, digest: str, review_ids: Iterable[str]
) -> str:
    """The message of the revocation commit: a subject, each decision in words (user data
    in code spans: no markup, no mention), and one ``Pisync-Decision:`` trailer each."""
    done = [r for r in revocations if r.action != ALREADY]
    ids = sorted({i for i in review_ids if i})
    subject = f"Revoke access denied in the access review ({len(done)} decisions)"
    lines = [
        subject,
        "",
        f"Decisions of the worksheet {md_code(worksheet)} (sha256 {digest})"
        + (f" from review {', '.join(md_code(i) for i in ids)}" if ids else "")
        + ":",
        "",
    ]
    for r in revocations:
        d = r.decision
        said = f": {md_code(d.justification)}" if d.justification else ""
        lines.append(f"- {md_code(d.principal)} ({md_code(r.file)}): {r.words()}")
        lines.append(f"  denied by {md_code(d.reviewed_by)} on {md_code(d.reviewed_at)}{said}")
    lines.append("")
    lines += [trailer(r.decision) for r in revocations]
    return "\n".join(lines) + "\n"
