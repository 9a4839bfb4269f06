"""Safety guards (SPEC §5), the same for ``plan`` and ``apply``: each names itself, its numbers
and the override. ``plan`` shows the guards a plan trips (and exits 4); ``apply`` refuses such a
plan before any write unless ``--force``.

The lockout guard needs to know the account pisync signs in with (:class:`Account`): with
``PISYNC_USERNAME`` it is that user; with only ``PISYNC_TOKEN`` the API offers no way to ask
whose token it is, so ``PISYNC_ACCOUNT`` may name it, and otherwise the plan says the guard
could not run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.core.governance.access import (
    deleted_roles,
    live_role_defs,
    privileges_through,
    record_after,
    role_defs_after,
)
from reconciler.core.governance.server_rules import server_rule_guards
from reconciler.core.model.config import Config
from reconciler.core.model.values import LiveState, LiveUser
from reconciler.core.plans.plan import Action, Guard, Kind, Plan


@dataclass(frozen=True, slots=True, kw_only=True)
class Account:
    """The account pisync signs in with: its usercode (None: unknown) and where that came from."""

    usercode: str | None
    source: str  # "PISYNC_USERNAME", "PISYNC_ACCOUNT" or "PISYNC_TOKEN"

    def unknown_note(self) -> str | None:
        if self.usercode is not None:
            return None
        return (
            "the lockout guard could not identify the account pisync signs in with (only"
            " PISYNC_TOKEN is set, and the API cannot say whose token it is); set"
            " PISYNC_ACCOUNT to its usercode to check it"
        )


def check(
    plan: Plan,
    live: LiveState,
    config: Config,
    *,
    desired_objects: int | None,
    account: Account | None,
    today: dt.date | None = None,
) -> list[Guard]:
    """Every guard the plan trips, in a fixed order (none for a plan without changes).
    ``today``: the plan's date (an ``expires`` on or before it locks the account out)."""
    if not plan.changes:
        return []
    out = _prune_limits(plan, config)
    removing = [c for c in plan.changes if c.action in (Action.DISABLE, Action.DELETE)]
    if desired_objects == 0 and removing:
        out.append(
            Guard(
                name="empty-desired-state",
                message=(
                    f"the desired state declares no users or roles, but the plan would disable"
                    f" or delete {len(removing)} object(s) on a non-empty server"
                    " (wrong path or sources?)"
                ),
                numbers={"removed": len(removing), "declared": 0},
            )
        )
    protected = sorted(
        c.key for c in plan.changes if c.kind is Kind.USER and config.is_protected(c.key)
    )
    if protected:
        out.append(
            Guard(
                name="protected-user",
                message=(
                    f"the plan changes protected user(s) {', '.join(protected)} (users.protected)"
                ),
                numbers={"users": len(protected)},
            )
        )
    counted = live.complete or live.all_administrators  # a partial read without the census
    if counted and live.users and (admins := _enabled_admins_after(plan, live)) == 0:
        out.append(
            Guard(
                name="last-administrator",
                message="after this plan no enabled administrator would remain",
                numbers={"administrators_after": admins},
            )
        )
    if account is not None and account.usercode:
        me = account.usercode.upper()
        lock = _lockout(
            plan, live, me, by_password=account.source == "PISYNC_USERNAME", today=today
        )
        if lock:
            out.append(Guard(name="lockout", message=lock, numbers={}))
    out += server_rule_guards(plan, live, config, account.usercode if account else None)
    return out


def needs_administrators(plan: Plan, live: LiveState) -> bool:
    """Whether the last-administrator guard needs every administrator of the server: after a
    partial read, when the plan disables, deletes or demotes one (or changes its access)."""
    if live.complete:
        return False
    for c in plan.changes:
        if c.kind is not Kind.USER:
            continue
        user = live.users.get(c.key)
        admin = user is not None and (
            user.super_admin or user.record.get("type") == "administrator"
        )
        if admin and (c.action is not Action.UPDATE or {"type", "enabled"} & set(c.desired)):
            return True
    return False


def _prune_limits(plan: Plan, config: Config) -> list[Guard]:
    pruned = sum(
        1
        for c in plan.changes
        if c.kind is Kind.USER and c.action in (Action.DISABLE, Action.DELETE)
    )
    if not pruned:
        return []
    s = config.safety
    out = []
    if pruned > s.max_prune_count:
        out.append(
            Guard(
                name="max-prune-count",
                message=(
                    f"the plan disables or deletes {pruned} user{'' if pruned == 1 else 's'},"
                    f" more than safety.max_prune_count ({s.max_prune_count})"
                ),
                numbers={"pruned": pruned, "max_prune_count": s.max_prune_count},
            )
        )
    managed = plan.managed_live_users
    if managed >= s.min_users_for_percent and managed > 0:
        percent = 100.0 * pruned / managed
        if percent > s.max_prune_percent:
            out.append(
                Guard(
                    name="max-prune-percent",
                    message=(
                        f"the plan disables or deletes {pruned} of {managed} managed live users"
                        f" ({percent:.1f}%), more than safety.max_prune_percent"
                        f" ({s.max_prune_percent:g}%)"
                    ),
                    numbers={
                        "pruned": pruned,
                        "managed": managed,
                        "percent": round(percent, 1),
                        "max_prune_percent": s.max_prune_percent,
                    },
                )
            )
    return out


def _after(record: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    return {**record, **desired}


def _enabled_admins_after(plan: Plan, live: LiveState) -> int:
    changes = {c.key: c for c in plan.changes if c.kind is Kind.USER}
    count = 0
    for code, user in live.users.items():  # the users the plan leaves alone, read in place
        if code not in changes and _enabled_admin(user.record, user):
            count += 1
    for code, change in changes.items():
        if change.action in (Action.DISABLE, Action.DELETE):
            continue
        now = live.users.get(code)
        if _enabled_admin(_after(now.record if now else {}, change.desired), now):
            count += 1
    return count


def _enabled_admin(record: Mapping[str, Any], user: LiveUser | None) -> bool:
    admin = record.get("type") == "administrator" or (user is not None and user.super_admin)
    return admin and record.get("enabled", True) is not False


#: The privilege the account pisync signs in with needs to sync users.
EDIT_USERS = "editUsers"


def _lockout(
    plan: Plan, live: LiveState, me: str, *, by_password: bool, today: dt.date | None
) -> str | None:
    """Why the plan would lock out ``me`` (the account pisync signs in with, by password when
    ``by_password``), if it would: read on ``me``'s effective access before and after the
    plan (privileges held directly or through roles, as the roles will be defined), so that
    losing a role, or a role losing ``editUsers``, counts, and moving ``editUsers`` from a
    direct grant to a role does not."""
    change = next((c for c in plan.changes if c.kind is Kind.USER and c.key == me), None)
    if change is not None and change.action in (Action.DISABLE, Action.DELETE):
        return f"the plan would {change.action.value} {me}, the account pisync signs in with"
    if change is None and not any(c.kind is Kind.ROLE for c in plan.changes):
        return None
    current = live.users.get(me)
    before: Mapping[str, Any] = current.record if current is not None else {}
    after = record_after(me, change, live) or {}
    reasons = []
    if before.get("enabled") is not False and after.get("enabled") is False:
        reasons.append(f"disable {me}")
    if before.get("type") == "administrator" and after.get("type") != "administrator":
        reasons.append(f"make {me} a {after.get('type')} instead of an administrator")
    lost = None if after.get("enabled") is False else _lost_privilege(before, after, live, plan)
    if lost is not None:
        reasons.append(f"remove the {EDIT_USERS} privilege from {me}{lost}")
    expires = after.get("expires") if change is not None and "expires" in change.desired else None
    if today is not None and expires and str(expires)[:10] <= today.isoformat():
        reasons.append(f"make {me} expire on {str(expires)[:10]} (the plan is of {today})")
    password_off = after.get("login.password") is False
    if by_password and password_off and before.get("login.password") is not False:
        reasons.append(f"turn off password login for {me}")
    if reasons:
        return f"the plan would {' and '.join(reasons)}, the account pisync signs in with"
    return None


def _lost_privilege(
    before: Mapping[str, Any], after: Mapping[str, Any], live: LiveState, plan: Plan
) -> str | None:
    """None when ``editUsers`` is kept (or was never held); else how it was held: ``""``
    directly, `` (held through role "X")`` through roles."""
    before_defs = live_role_defs(live)
    had = privileges_through(before, before_defs)
    if EDIT_USERS not in had:
        return None
    after_defs = role_defs_after(before_defs, plan.changes)
    if EDIT_USERS in privileges_through(after, after_defs, deleted_roles(plan.changes)):
        return None
    roles = had[EDIT_USERS]
    if not roles:
        return ""
    named = ", ".join(f'"{r}"' for r in roles)
    return f" (held through role{'s' if len(roles) > 1 else ''} {named})"
