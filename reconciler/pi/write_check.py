"""``pisync doctor --write-check``: every guess about how the server stores a user, settled on
one scratch user.

The read-only probe (:mod:`reconciler.pi.probe`) sees the shapes the server answers with; only
a write shows how it stores what pisync sends. So this check writes, with pisync's own writer
(:func:`~reconciler.pi.wire.sync_element`), one scratch user (``PISYNC-DOCTOR-…``, a usercode
no one has) holding every shape pisync writes: roles, a nested category with its ancestors,
plain and secure variables, a restriction with several values, a parent, an expiry date,
login flags, privileges. It reads the user back and compares each shape exactly, updates one
key as pisync would (leaving the arrays out) to see that the sync is not additive, and
deletes the user — or disables it where deleting is refused — whatever happens on the way
(:meth:`_WriteCheck.clean_up` runs on every exit; the shell turns Ctrl-C into ``stopping``).

It never writes another user: other users and the roles and categories are only read (a role,
a category tree, a data connection and column from an existing restriction, a parent), and a
shape without material on the server is UNKNOWN. What it reports is shapes and field names;
names and the server's own words go to :attr:`~reconciler.core.model.checks.Check.detail`
(the terminal only). No I/O of its own: the shell gives it ``send``, the scratch usercode,
the secure value and the expiry date.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from reconciler.core.model.categories import ancestors_index
from reconciler.core.model.checks import Check, Findings, Result
from reconciler.core.model.values import Restriction, Variable
from reconciler.core.plans.values import desired_json
from reconciler.errors import PisyncError
from reconciler.pi import endpoints, statuses, wire
from reconciler.pi.messages import Send
from reconciler.pi.operations import PiApi
from reconciler.pi.probe import date_shape, item_shape
from reconciler.pi.verify import user_differences

#: The scratch user's usercode starts so (the shell adds random hex).
PREFIX = "PISYNC-DOCTOR-"
PLAIN = "pisync_doctor_plain"
SECURE = "pisync_doctor_secure"
_VALUE_ENV = "doctor-secure-value"  # the name the writer resolves the secure value by
#: Values of the scratch user's restriction, one element each on the wire.
RESTRICTED_VALUES = ("PISYNC-DOCTOR-A", "PISYNC-DOCTOR-B")
#: Users of the list's first page whose payloads are read to find a restriction to copy.
SAMPLE = 30
_WIRE = "reconciler/pi/wire.py"


@dataclass(frozen=True, slots=True, kw_only=True)
class Scratch:
    """The scratch user to write: its usercode, its secure variable's value, its expiry."""

    usercode: str
    secret: str
    expires: str  # YYYY-MM-DD


_SPECS: tuple[tuple[str, str, str], ...] = (
    ("write-create", "POST /users/sync creates a user from a payload of every shape pisync"
     " writes", "§3.1"),
    ("sync-answer", "POST /users/sync answers the stored payload array (apply verifies each"
     " write from it)", "U6"),
    ("write-user-fields", "the user section's fields are stored as sent (names, email, type,"
     " state, login flags, privileges)", "U24"),
    ("write-parent", "parentIdentifier sets the parent", "§3.3"),
    ("write-expiry", "userExpirationDate is stored and read back as YYYY-MM-DD", "U10"),
    ("write-roles", "userRoles {roleIdentifier} are stored and read back as sent", "U3"),
    ("write-categories", "userCategories {categoryIdentifier}: a nested category with its"
     " ancestors is stored as sent", "U4"),
    ("write-variables", "variables {name, value, isSecure} are stored as sent, secure ones"
     " included", "U1"),
    ("write-restrictions", "restrictions, one element per value, keep every value", "U2"),
    ("write-not-additive", "an update that leaves roles, categories, a variable and"
     " restrictions out clears them", "§3.1"),
    ("write-delete", "DELETE /users/{id} deletes the user", "U14"),
)  # fmt: skip
_BY_ID = {spec[0]: spec for spec in _SPECS}


@dataclass(frozen=True, slots=True)
class _Material:
    """What the scratch user is given from what the server has (read, never written)."""

    roles: tuple[str, ...]
    categories: tuple[str, ...]  # a category and its ancestors
    nested: bool  # the category has ancestors
    restriction: tuple[str, str] | None  # (data connection, column) of an existing one
    parent: str | None


async def write_check(
    send: Send, scratch: Scratch, *, account: str | None, stopping: Callable[[], bool]
) -> Findings:
    """Every write check, in :data:`_SPECS` order; the scratch user is gone (or disabled, and
    said so) when this returns, whatever happened."""
    run = _WriteCheck(send, scratch, account, stopping)
    try:
        await run.steps()
    except PisyncError as exc:  # the server failed or went away part-way
        run.failure = str(exc)
        run.stopped = (
            "The write check stopped part-way: a request failed (the text report shows it);"
            " fix what the checks above say, or report it, then run it again."
        )
    finally:
        await run.clean_up()
    return run.findings()


class _WriteCheck:
    def __init__(
        self, send: Send, scratch: Scratch, account: str | None, stopping: Callable[[], bool]
    ) -> None:
        self.send = send
        self.api = PiApi(send)
        self.scratch = scratch
        self.code = scratch.usercode
        self.account = account.upper() if account else None
        self.stopping = stopping
        self.checks: dict[str, Check] = {}
        self.stopped: str | None = None
        self.failure = ""  # what stopped the steps, in pisync's words (may name the host)
        self.attempted = False  # a create was sent: the scratch user may exist

    # --- results ---------------------------------------------------------------------------

    def add(
        self, id_: str, observed: str, result: Result, advice: str = "", detail: str = ""
    ) -> None:
        self.checks[id_] = Check.of(_BY_ID[id_], observed, result, advice, detail)

    def findings(self) -> Findings:
        why = "interrupted" if self.stopping() else "not reached"
        checks = []
        for spec in _SPECS:
            found = self.checks.get(spec[0])
            if found is None:
                observed, detail = why, ""
                if self.failure:  # the first check not reached is where it stopped
                    observed, detail = "stopped: a request failed", self.failure
                    self.failure = ""
                found = Check.of(spec, observed, Result.UNKNOWN, detail=detail)
            checks.append(found)
        return Findings(checks=tuple(checks), stopped=self.stopped)

    # --- the steps -------------------------------------------------------------------------

    async def steps(self) -> None:
        material = await self._material()
        if self.stopping():
            return
        sent = self._element(material)
        self.attempted = True
        reply = await self.send(endpoints.sync_request(sent))
        if reply.status >= 400:
            self._refused(reply.status, statuses.error_message(reply))
            return
        self.add("write-create", f"HTTP {reply.status}", Result.OK)
        stored = await self.api.sync_payload(self.code)
        if stored is None:
            self.add(
                "sync-answer",
                "the create was answered, then the user could not be read",
                Result.DIFFERENT,
                "report this",
            )
            return
        self._answer(reply.body, stored)
        self._stored(sent, stored, material)
        if not self.stopping():
            await self._update(stored)

    async def _material(self) -> _Material:
        roles: tuple[str, ...] = ()
        categories: tuple[str, ...] = ()
        nested = False
        try:
            found = sorted((r.name for r in await self.api.list_roles()),
                           key=lambda n: (n == n.lower(), n))  # fmt: skip
            roles = tuple(found[:2])  # a name with capitals shows a server that folds case
        except PisyncError:
            pass
        try:
            by_name = {c.name.casefold(): c for c in await self.api.list_categories()}
        except PisyncError:
            by_name = {}
        if by_name:
            chains = ancestors_index(by_name)
            leaf = max(sorted(chains), key=lambda k: len(chains[k]))
            categories = (by_name[leaf].name, *chains[leaf])
            nested = bool(chains[leaf])
        restriction, parent = None, None
        for code, super_admin in await self.api.first_users(SAMPLE):
            if parent is None and not super_admin and code != self.account:
                parent = code
            if restriction is None and not super_admin:
                restriction = await self._restriction_of(code)
            if restriction is not None and parent is not None:
                break
        return _Material(roles, categories, nested, restriction, parent)

    async def _restriction_of(self, usercode: str) -> tuple[str, str] | None:
        try:
            element = await self.api.sync_payload(usercode)
            found = wire.restrictions_from((element or {}).get("restrictions"))
        except PisyncError:  # unreadable here: the read-only checks say why
            return None
        return (found[0].connection, found[0].column) if found else None

    def _element(self, material: _Material) -> dict[str, Any]:
        """The scratch user's payload element, written by pisync's own writer."""
        fields: dict[str, Any] = {
            "forenames": "Pisync",
            "surname": "Doctor",
            "email": "pisync-doctor@example.invalid",
            "type": "designer",
            "enabled": True,
            "lite": False,
            "expires": self.scratch.expires,
            "login.password": False,
            "login.external": True,
            "login.mfa": True,
            "privileges": ("audit", "exportToCsv", "pdf", "schedule"),
            "roles": material.roles,
            "categories": material.categories,
            "variables": (
                Variable(name=PLAIN, value="plain"),
                Variable(name=SECURE, env=_VALUE_ENV, secure=True),
            ),
            "restrictions": ()
            if material.restriction is None
            else (Restriction(connection=material.restriction[0],
                              column=material.restriction[1], values=RESTRICTED_VALUES),),
        }  # fmt: skip
        if material.parent is not None:
            fields["parent"] = material.parent
        secrets = {_VALUE_ENV: self.scratch.secret}
        return wire.sync_element(None, self.code, desired_json(fields), secrets)

    def _refused(self, status: int, message: str) -> None:
        if status == 403:
            self.add(
                "write-create",
                "HTTP 403: this account may not create users",
                Result.UNKNOWN,
                "run the write check signed in as the super administrator",
                detail=message,
            )
        else:
            self.add(
                "write-create",
                f"HTTP {status}: the server refused the scratch user",
                Result.DIFFERENT,
                "the server's message (in the text report) says which shape it refused; correct"
                f" that shape in {_WIRE}, or report it",
                detail=message,
            )

    def _answer(self, body: bytes, stored: Mapping[str, Any]) -> None:
        """What the create's answer holds, and whether apply can verify from it."""
        answer: Any = None
        if body:
            try:
                answer = orjson.loads(body)
            except ValueError:
                answer = body
        element = wire.stored_element(answer, self.code)
        if element is not None:
            if user_differences(element, stored) or user_differences(stored, element):
                self.add(
                    "sync-answer",
                    "a stored payload, but not the one the server returns next",
                    Result.DIFFERENT,
                    "apply verifies from the answer: report this",
                )
            else:
                self.add(
                    "sync-answer",
                    "the stored payload: apply verifies each write from it, at no extra request",
                    Result.OK,
                )
            return
        if answer is None:
            kind = "no body"
        elif isinstance(answer, Mapping) and "usercode" in answer:
            kind = "the user object, without roles, categories, variables or restrictions"
        else:
            kind = item_shape(answer) if not isinstance(answer, bytes) else "not JSON"
        self.add(
            "sync-answer",
            f"{kind}: apply reads each written user back (one more request per write)",
            Result.OK,
        )

    # --- what was stored -------------------------------------------------------------------

    def _stored(
        self, sent: Mapping[str, Any], stored: Mapping[str, Any], material: _Material
    ) -> None:
        user, back = sent["user"], stored.get("user") or {}
        ignored = {"usercode", "parentIdentifier", "userExpirationDate"}
        different = sorted(k for k in user if k not in ignored and back.get(k) != user[k])
        if str(back.get("usercode", "")).upper() != self.code:
            different.insert(0, "usercode")
        if different:
            self.add(
                "write-user-fields",
                f"stored otherwise: {', '.join(different)}",
                Result.DIFFERENT,
                f"report this (the mapping is record_from_user and _SCALARS in {_WIRE})",
            )
        else:
            self.add("write-user-fields", f"all {len(user) - 1} fields stored as sent", Result.OK)
        self._parent(back, material)
        self._expiry(back)
        self._roles(stored, material)
        self._categories(stored, material)
        self._variables(stored)
        self._restrictions(stored, material)

    def _parent(self, back: Mapping[str, Any], material: _Material) -> None:
        if material.parent is None:
            self.add(
                "write-parent",
                "not tested: no other user to be the parent",
                Result.UNKNOWN,
            )
        elif str(back.get("parentIdentifier") or "").upper() == material.parent:
            self.add("write-parent", "stored as sent", Result.OK)
        else:
            self.add(
                "write-parent",
                "another parent than the one sent was stored",
                Result.DIFFERENT,
                "the server ignores parentIdentifier: pisync cannot set a parent here (leave"
                f" parent: out of the desired state); report this ({_WIRE}, _overlay)",
            )

    def _expiry(self, back: Mapping[str, Any]) -> None:
        value = back.get("userExpirationDate")
        if value == self.scratch.expires:
            self.add("write-expiry", "read back as YYYY-MM-DD", Result.OK)
        else:
            self.add(
                "write-expiry",
                f"read back shaped {date_shape(value)}",
                Result.DIFFERENT,
                "pisync reads a date's first 10 characters, so plans are not affected; report"
                f" the shape so the guess can be corrected ({_WIRE})",
            )

    def _roles(self, stored: Mapping[str, Any], material: _Material) -> None:
        if not material.roles:
            self.add("write-roles", "not tested: the server has no role", Result.UNKNOWN)
            return
        back = _names(stored.get("userRoles"), wire.ROLE_REF_KEYS)
        sent = set(material.roles)
        detail = f"sent {sorted(sent)}, read back {sorted(back)}"
        if back == sent:
            self.add("write-roles", f"{len(sent)} roles read back as sent", Result.OK)
        elif {n.casefold() for n in back} == {n.casefold() for n in sent}:
            self.add(
                "write-roles",
                "read back in another spelling (letter case)",
                Result.DIFFERENT,
                "pisync compares role names ignoring case, so plans are not affected; report it",
                detail=detail,
            )
        else:
            self.add(
                "write-roles",
                f"{len(back & sent)} of {len(sent)} roles read back",
                Result.DIFFERENT,
                f"correct _overlay (userRoles) in {_WIRE}",
                detail=detail,
            )

    def _categories(self, stored: Mapping[str, Any], material: _Material) -> None:
        if not material.categories:
            self.add("write-categories", "not tested: the server has no category", Result.UNKNOWN)
            return
        back = {n.casefold() for n in _names(stored.get("userCategories"), wire.CATEGORY_REF_KEYS)}
        sent = {n.casefold() for n in material.categories}
        detail = f"sent {sorted(material.categories)}"
        if back != sent:
            self.add(
                "write-categories",
                f"{len(back & sent)} of the {len(sent)} categories sent (a category and its"
                " ancestors) read back",
                Result.DIFFERENT,
                "pisync lists a category's ancestors (the server requires them); a server that"
                " keeps only the category makes every such user differ at each plan: report"
                f" this ({_WIRE}, _overlay)",
                detail=detail,
            )
        elif not material.nested:
            self.add(
                "write-categories",
                "stored as sent, but the server has no nested category: ancestors not tested",
                Result.UNKNOWN,
            )
        else:
            self.add(
                "write-categories",
                f"a category and its {len(sent) - 1} ancestor(s) stored as sent",
                Result.OK,
            )

    def _variables(self, stored: Mapping[str, Any]) -> None:
        items = stored.get("variables")
        back = {
            i.get("name"): i for i in items or () if isinstance(i, Mapping)
        } if isinstance(items, list) else {}  # fmt: skip
        problems = []
        plain, secure = back.get(PLAIN), back.get(SECURE)
        if plain is None or plain.get("value") != "plain" or plain.get("isSecure") is not False:
            problems.append("the plain variable was not stored as sent")
        if secure is None:
            problems.append("the secure variable was not stored")
        else:
            if secure.get("isSecure") is not True:
                problems.append("isSecure was not stored (it reads back false)")
            if secure.get("value") != self.scratch.secret:
                problems.append("the secure value reads back otherwise (masked?)")
        if not problems:
            self.add("write-variables", "a plain and a secure variable stored as sent", Result.OK)
            return
        advice = (
            "pisync sends a user's live payload back with every update: a masked value would"
            " replace the secret, so do not manage users with secure variables here; report it"
            if any("masked" in p for p in problems)
            else f"report this ({_WIRE}, _variable_out and variables_from)"
        )
        self.add("write-variables", "; ".join(problems), Result.DIFFERENT, advice)

    def _restrictions(self, stored: Mapping[str, Any], material: _Material) -> None:
        if material.restriction is None:
            self.add(
                "write-restrictions",
                "not tested: no user on the server has a restriction to copy a data connection"
                " and column from",
                Result.UNKNOWN,
                "give a test user a restriction by hand, then run the write check again",
            )
            return
        try:
            back = wire.restrictions_from(stored.get("restrictions"))
        except wire.WireError:
            back = ()
        conn, col = material.restriction
        values = {v for r in back if (r.connection, r.column) == (conn, col) for v in r.values}
        n = len(RESTRICTED_VALUES)
        if values == set(RESTRICTED_VALUES):
            self.add("write-restrictions", f"all {n} values of one restriction stored", Result.OK)
        else:
            self.add(
                "write-restrictions",
                f"{len(values & set(RESTRICTED_VALUES))} of {n} values of one restriction stored",
                Result.DIFFERENT,
                f"pisync sends one element per value: correct _overlay (restrictions) in {_WIRE}",
            )

    async def _update(self, stored: Mapping[str, Any]) -> None:
        """One key changed as pisync changes it, the arrays left out: all of them cleared."""
        desired = {
            "surname": "Doctor-Updated",
            "roles": [],
            "categories": [],
            "variables": {PLAIN: "plain"},
            "restrictions": [],
        }
        element = wire.sync_element(stored, self.code, desired, {})
        reply = await self.send(endpoints.sync_request(element))
        if reply.status >= 400:
            self.add(
                "write-not-additive",
                f"the update was refused (HTTP {reply.status})",
                Result.DIFFERENT,
                "pisync merges each update onto the user's payload as the server returns it,"
                " and this server refused that payload: its message (in the text report) names"
                " the field; report this",
                detail=statuses.error_message(reply),
            )
            return
        after = await self.api.sync_payload(self.code) or {}
        kept = [
            name
            for name, section in (
                ("roles", "userRoles"),
                ("categories", "userCategories"),
                ("restrictions", "restrictions"),
            )
            if after.get(section)
        ]
        names = {i.get("name") for i in after.get("variables") or () if isinstance(i, Mapping)}
        if SECURE in names:
            kept.append("variables")
        surname = (after.get("user") or {}).get("surname")
        problems = [f"kept what the update left out: {', '.join(kept)}"] if kept else []
        if surname != "Doctor-Updated":
            problems.append("the updated key was not stored")
        if problems:
            self.add(
                "write-not-additive",
                "; ".join(problems),
                Result.DIFFERENT,
                "pisync removes a role, category, variable or restriction by leaving it out:"
                " on this server nothing is ever removed; report this",
            )
        else:
            self.add("write-not-additive", "what the update left out was cleared", Result.OK)

    # --- leaving nothing behind ------------------------------------------------------------

    async def clean_up(self) -> None:
        """Delete the scratch user if it exists (disable it where deleting is refused), and
        say which; never raises. The user is found by its id in the list and, failing that,
        by its payload, so that a server that answers one of them otherwise than pisync
        assumes still gets its scratch user removed; a user pisync cannot see is never
        written (a disable could create it)."""
        if not self.attempted:
            return
        try:
            user_id = await self._quietly(self.api.user_id(self.code))
            left = None if user_id is not None else await self.api.sync_payload(self.code)
            if user_id is None and left is None:
                created = self.checks.get("write-create")
                if created is not None and created.result is Result.OK:
                    self.add("write-delete", "the scratch user was already gone", Result.UNKNOWN)
                return
            status = 0
            if user_id is not None:
                reply = await self.send(endpoints.delete_user_request(user_id))
                status = reply.status
                if status < 400:
                    await self._deleted(status)
                    return
            await self._disable(status)
        except PisyncError as exc:
            self.add(
                "write-delete",
                "the scratch user could not be removed",
                Result.DIFFERENT,
                f"delete (or disable) {self.code} by hand",
                detail=str(exc),
            )
            self.stopped = (
                f"The scratch user {self.code} may be left on the server: delete (or"
                " disable) it by hand."
            )

    @staticmethod
    async def _quietly(read: Awaitable[str | None]) -> str | None:
        try:
            return await read
        except PisyncError:
            return None

    async def _deleted(self, status: int) -> None:
        gone = await self._quietly(self.api.user_id(self.code)) is None
        if gone:  # the list no longer has it; the payload, if the server answers it, agrees
            with contextlib.suppress(PisyncError):
                gone = await self.api.sync_payload(self.code) is None
        if gone:
            self.add("write-delete", f"HTTP {status}; nothing is left", Result.OK)
        else:
            self.add(
                "write-delete",
                f"HTTP {status}, but the user can still be read",
                Result.DIFFERENT,
                f"delete {self.code} by hand, and report this",
            )

    async def _disable(self, status: int) -> None:
        """Disable the scratch user (known to exist) with a payload of its own: pisync's
        disable, leaving nothing of what the check gave it."""
        fields = {"forenames": "Pisync", "surname": "Doctor", "enabled": False}
        element = wire.sync_element(None, self.code, fields, {})
        endpoints.read_json(
            await self.send(endpoints.sync_request(element)), endpoints.sync_request(element)
        )
        why = f"HTTP {status}" if status else "its id is not in the user list"
        self.add(
            "write-delete",
            f"the delete was refused ({why}); the scratch user {self.code} was disabled"
            " instead and is left on the server",
            Result.DIFFERENT,
            "pisync cannot delete users on this server: use users.prune: disable (never"
            f" delete); delete {self.code} by hand if you can",
        )


def _names(items: Any, keys: Sequence[str]) -> set[str]:
    """The names of role or category references, exactly as the server spells them."""
    out = set()
    for item in items if isinstance(items, list) else ():
        if isinstance(item, str):
            out.add(item)
        elif isinstance(item, Mapping):
            name = next((item[k] for k in keys if isinstance(item.get(k), str)), None)
            if name is not None:
                out.add(name)
    return out
