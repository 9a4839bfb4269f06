"""The server's own rules about what may be written, checked on the plan so that a plan says
what apply would be refused for, before the merge. Each is a guard (exit 4; ``--force``
overrides), registered in :func:`reconciler.core.governance.guards.check`:

- ``create-needs-super-admin``: Panintelligence's documentation of the sync endpoint says only
  the super administrator may create users through it (whether a later release relaxed this
  is not known, so pisync keeps to it): a plan that creates users while pisync signs in with
  another account (known from the live state; not checked when the account is not read);
- ``licence``: ``licence:`` of pisync.yaml caps the enabled users of each kind; a plan that
  would take a count above its cap, and above what the server holds now (a server already
  over a lowered cap still takes writes that do not add to it), would be refused. Counted on
  the whole server, so only a complete read is checked.

Pure.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from reconciler.core.model.config import Config
from reconciler.core.model.values import LiveState, LiveUser
from reconciler.core.plans.plan import Action, Guard, Kind, Plan

#: The licence kind of each user type (``licence:`` of pisync.yaml).
_KIND_OF_TYPE = {
    "administrator": "administrators",
    "designer": "designers",
    "chart-explorer": "chart_explorers",
    "user": "users",
    "chart-viewer": "chart_viewers",
}
#: The type a new user gets when neither its entry nor ``defaults:`` names one: the server's
#: default for a payload without a type (the API compatibility table, U8).
NEW_USER_TYPE = "user"
_NOUNS = {
    "administrators": "administrators",
    "designers": "designers",
    "chart_explorers": "chart explorers",
    "users": "users of type user",
    "chart_viewers": "chart viewers",
    "lite": "lite users",
    "total": "users",
}


def server_rule_guards(
    plan: Plan, live: LiveState, config: Config, usercode: str | None
) -> list[Guard]:
    """The guards of the server's rules the plan trips (``usercode``: the account pisync
    signs in with, None when not known)."""
    out = _creates(plan, live, usercode)
    if config.licence and live.complete:
        out += _licence(plan, live, config.licence)
    return out


def account_to_read(plan: Plan, usercode: str | None) -> set[str]:
    """The account to read with a saved plan's objects, so that its guards are checked
    again: the account pisync signs in with, when the plan creates users."""
    creates = any(c.kind is Kind.USER and c.action is Action.CREATE for c in plan.changes)
    return {usercode.upper()} if creates and usercode else set()


def _creates(plan: Plan, live: LiveState, usercode: str | None) -> list[Guard]:
    creates = sum(1 for c in plan.changes if c.kind is Kind.USER and c.action is Action.CREATE)
    me = live.users.get(usercode.upper()) if usercode else None
    if not creates or me is None or me.super_admin:
        return []
    return [
        Guard(
            name="create-needs-super-admin",
            message=(
                f"the plan creates {creates} user{'' if creates == 1 else 's'}, but"
                f" {me.usercode}, the account pisync signs in with, is not the super"
                " administrator, the only account the server lets create users through its"
                " sync endpoint: apply this plan signed in as the super administrator"
                " (PISYNC_USERNAME and PISYNC_PASSWORD), or leave the new users out of it"
            ),
            numbers={"creates": creates},
        )
    ]


def _licence(plan: Plan, live: LiveState, caps: Mapping[str, int]) -> list[Guard]:
    before = _counts(live.users.values())
    after = before.copy()
    for change in plan.changes:
        if change.kind is not Kind.USER:
            continue
        now = live.users.get(change.key)
        if now is not None:
            after.subtract(_kinds(now.record, now))
        if change.action in (Action.DISABLE, Action.DELETE):
            continue
        record = {"type": NEW_USER_TYPE} if now is None else dict(now.record)
        after.update(_kinds({**record, **change.desired}, now))
    out = []
    for kind, cap in caps.items():
        if after[kind] > cap and after[kind] > before[kind]:
            out.append(
                Guard(
                    name="licence",
                    message=(
                        f"after this plan {after[kind]} {_NOUNS[kind]} would be enabled, more"
                        f" than licence.{kind} allows ({cap}; {before[kind]} now): the server"
                        " would refuse the writes that go over it; disable users of that kind"
                        f" first, or raise licence.{kind} once the licence allows more"
                    ),
                    numbers={
                        "kind": kind,
                        "after": after[kind],
                        "now": before[kind],
                        "cap": cap,
                    },
                )
            )
    return out


def _counts(users: Any) -> Counter[str]:
    counts: Counter[str] = Counter()
    for user in users:
        counts.update(_kinds(user.record, user))
    return counts


def _kinds(record: Mapping[str, Any], user: LiveUser | None) -> tuple[str, ...]:
    """The licence kinds a user takes a place in: none when disabled; its type's (or lite)
    and the total otherwise."""
    if record.get("enabled", True) is False:
        return ()
    if record.get("lite") is True:
        return ("lite", "total")
    kind = "administrators" if user is not None and user.super_admin else None
    kind = kind or _KIND_OF_TYPE.get(str(record.get("type")))
    return ("total",) if kind is None else (kind, "total")
