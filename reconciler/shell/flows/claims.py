"""``pisync claims``: each declared user's sync-payload claim for the JWT login path, the
product's other way to sync users, so that the identity provider feeds the same desired state.

The payloads are built as apply builds them (:mod:`reconciler.pi.claims` over
``wire.sync_element``), from the same loaded desired state (``users.login_via_idp`` included).
A sign-in syncs the claim as non-additively as apply's writes, so a claim must be complete:
by default the declared users (and the parents they name) are read by usercode, as a partial
plan reads them; each user's live payload is the base, categories get their ancestors from
the live tree, and the plan-time checks run. ``--offline`` reads nothing (no credentials
needed): omitted keys then take ``defaults:`` and the server's new-user defaults, which would
replace an existing user's live values, and the parents of a category are unknown.

Where a claim cannot be complete — offline, or a secure variable left out (a sign-in would
remove it) — each user and key is an error at the user's entry (exit 3, nothing written)
unless ``--allow-incomplete``, which writes the claims and makes them warnings. Warnings go
to stderr, one line each, and never hold a value: every login flag an identity-provider
sign-in would override.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from reconciler.core.desired.references import plan_time_issues
from reconciler.core.diff.changes import resolve_user
from reconciler.core.model.categories import ancestors_index
from reconciler.core.model.issues import Issue, error, format_issue
from reconciler.core.model.suggest import did_you_mean
from reconciler.core.model.values import LiveState, UserSpec
from reconciler.errors import InvalidStateError, UsageError
from reconciler.pi import claims, wire
from reconciler.pi.claims import UserClaims
from reconciler.shell import output
from reconciler.shell.console import ProgressReporter, make_console
from reconciler.shell.files import write_atomic
from reconciler.shell.fleet import ServerChoice, choose_servers, one_by_one
from reconciler.shell.loop import run
from reconciler.shell.repo.desired_files import find_config, load_config
from reconciler.shell.repo.desired_state import Loaded, load_desired
from reconciler.shell.repo.fleet_files import fleet_config, load_fleet, server_loaded
from reconciler.shell.secrets import desired_needs, gather_secrets
from reconciler.shell.server.connect import open_server
from reconciler.shell.server.live import read_some
from reconciler.shell.settings import Settings, server_url


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimsOptions:
    paths: Sequence[str] = ()
    targets: Sequence[str] = ()
    out: str | None = None
    live: bool = True  # False: --offline
    include_secure: bool = False
    allow_incomplete: bool = False


def claims_command(
    settings: Settings, options: ClaimsOptions, servers: ServerChoice | None = None
) -> int:
    """Print (or write ``--out``) the claims document; exit 0. With ``servers:`` in
    pisync.yaml, each chosen server's (its effective desired state): with several, ``--out
    FILE`` writes one file each, its name with the server's (``claims-prod.json``)."""
    choice = servers or ServerChoice()
    config = fleet_config(settings)
    if config is None and not choice.given:
        return _claims(settings, options, load_desired(options.paths, settings))
    config = config or load_config(find_config(settings.config))
    entries = choose_servers(config, choice, settings, command="claims", default_all=False)
    if options.paths:
        raise UsageError("with servers: in pisync.yaml, claims covers whole servers: give no PATH")
    if len(entries) > 1 and options.out is None:
        raise UsageError(
            f"the claims of {len(entries)} servers need --out FILE: one file is written per"
            " server, named after it"
        )
    files = load_fleet(settings, lambda _: [e.name for e in entries])
    for entry, mine, out in one_by_one(settings, entries, options.out, signs_in=options.live):
        _claims(mine, replace(options, out=out), server_loaded(files, entry.name))
    return 0


def _claims(settings: Settings, options: ClaimsOptions, loaded: Loaded) -> int:
    users = chosen_users(loaded, options.targets)
    desired = replace(loaded.desired, users=users)
    needs = desired_needs(desired, secure=options.include_secure)
    secrets, unset = gather_secrets(needs, settings.env)
    if unset and not options.live:
        raise InvalidStateError("secrets are missing", unset)
    live = run(_read_live(settings, loaded, users, unset)) if options.live else None
    built = build_claims(loaded, users, live, secrets, include_secure=options.include_secure)
    gaps = incomplete(loaded, users, built, offline=live is None)
    if gaps and not options.allow_incomplete:
        raise InvalidStateError(
            "the claims are incomplete; pass --allow-incomplete to write them anyway", gaps
        )
    for line in warning_lines(loaded.warnings, built):
        sys.stderr.write(line + "\n")
    for gap in gaps:
        sys.stderr.write(format_issue(replace(gap, severity="warning")) + "\n")
    text = claims.render(claims.document(built, include_secure=options.include_secure))
    with output.claims_document():  # variable values are what it carries (SPEC §5a)
        if options.out is None:
            sys.stdout.write(text)
            return 0
        write_atomic(options.out, text, what="the claims")
    if not settings.quiet:
        n = len(built)
        sys.stdout.write(f"Wrote the claims of {n} user{'s' if n != 1 else ''} to {options.out}.\n")
    return 0


def chosen_users(loaded: Loaded, targets: Sequence[str]) -> tuple[UserSpec, ...]:
    """The declared users pisync manages (not ignored), only ``targets`` when given; a target
    that names no such user is an invalid-state error (exit 3), every one at once."""
    config = loaded.config
    managed = {
        u.usercode: u
        for u in loaded.desired.users
        if not u.ignore and not config.is_ignored(u.usercode)
    }
    if not targets:
        return tuple(managed.values())
    declared = {u.usercode for u in loaded.desired.users}
    issues: list[Issue] = []
    for target in targets:
        code = target.upper()
        if code in managed:
            continue
        if code in declared:
            message = f"--target {target}: user {code} is ignored by pisync, so it has no claim"
        else:
            hint = did_you_mean(code, sorted(managed))
            message = f"--target {target}: no declared user has this usercode" + (
                f'; did you mean "{hint}"?' if hint else ""
            )
        issues.append(error(None, message))
    if issues:
        raise InvalidStateError("unknown --target", issues)
    wanted = {t.upper() for t in targets}
    return tuple(u for code, u in managed.items() if code in wanted)


async def _read_live(
    settings: Settings, loaded: Loaded, users: Sequence[UserSpec], unset: Sequence[Issue]
) -> LiveState:
    """The declared users and the parents they name, by usercode; plan-time problems raise,
    with ``unset`` (the unset ``{env: …}`` variables): every problem at once."""
    config = loaded.config
    url = server_url(settings, config)
    codes = {u.usercode for u in users}
    parents = {p for u in users if isinstance(p := u.fields.get("parent"), str)}
    progress = ProgressReporter(
        make_console(stderr=True, no_color=settings.no_color), quiet=settings.quiet
    )
    async with open_server(settings, config, url) as server:
        with progress.task("Reading users"):
            live = await read_some(
                server,
                codes | parents,
                concurrency=config.server.concurrency,
                progress=progress.update,
            )
    issues = plan_time_issues(
        replace(loaded.desired, users=tuple(users)),
        live,
        defaults=loaded.defaults,
        server_defaults=wire.NEW_USER_DEFAULTS,
        undeclared_roles=tuple(r for r in loaded.undeclared_roles if r.usercode in codes),
    )
    issues += unset
    if issues:
        raise InvalidStateError("the claims cannot be used on this server", issues)
    return live


def build_claims(
    loaded: Loaded,
    users: Sequence[UserSpec],
    live: LiveState | None,
    secrets: Mapping[str, str],
    *,
    include_secure: bool,
) -> list[UserClaims]:
    """Each user's claims: its fields resolved as the diff resolves them (categories with
    their ancestors when the live tree is known), over its live payload when read."""
    ancestors = ancestors_index(live.categories) if live is not None else {}
    out = []
    for spec in users:
        current = live.users.get(spec.usercode) if live is not None else None
        base = None if current is None else wire.json_of(current.server_copy)
        fields = claims.claim_fields(
            resolve_user(spec, ancestors, secrets),
            exists=base is not None,
            defaults=loaded.defaults,
        )
        out.append(
            claims.user_claims(
                spec.usercode, fields, base, secrets=secrets, include_secure=include_secure
            )
        )
    return out


def incomplete(
    loaded: Loaded, users: Sequence[UserSpec], built: Sequence[UserClaims], *, offline: bool
) -> list[Issue]:
    """Where a claim cannot be complete, per user and key (see the module docstring)."""
    issues: list[Issue] = []
    for spec, claim in zip(users, built, strict=True):
        code = spec.usercode
        if offline:
            guessed = [
                k
                for k in wire.NEW_USER_DEFAULTS
                if k not in spec.fields and k not in loaded.defaults
            ]
            if guessed:
                issues.append(
                    error(
                        spec.source,
                        f"user {code}: offline, its claim sets {', '.join(guessed)} to what the"
                        " server gives a new user: if the user exists, a sign-in replaces its"
                        " live values; declare them, or leave out --offline (pisync then reads"
                        " the live ones)",
                        key_path=code,
                    )
                )
            if spec.fields.get("categories"):
                issues.append(
                    error(
                        spec.key_pos.get("categories", spec.source),
                        f"user {code}: offline, the parents of its categories are not known, and"
                        " the server refuses a sign-in whose categories lack their parents; leave"
                        " out --offline (pisync then reads the category tree)",
                        key_path=f"{code}.categories",
                    )
                )
        if claim.left_out:
            names = ", ".join(claim.left_out)
            issues.append(
                error(
                    spec.key_pos.get("variables", spec.source),
                    f"user {code}: secure variable{'s' if len(claim.left_out) > 1 else ''}"
                    f" {names} {'are' if len(claim.left_out) > 1 else 'is'} left out of its claim"
                    " (a JWT is signed, not encrypted), so a sign-in would remove"
                    f" {'them' if len(claim.left_out) > 1 else 'it'} from the user;"
                    " --include-secure puts secure variables in",
                    key_path=f"{code}.variables",
                )
            )
    return issues


def warning_lines(loaded_warnings: Sequence[Issue], built: Sequence[UserClaims]) -> list[str]:
    """The loading warnings, then per user (by usercode): each login flag an
    identity-provider sign-in overrides. Names only, never a value."""
    lines = [format_issue(w) for w in loaded_warnings]
    for user in sorted(built, key=lambda u: u.usercode):
        lines += [
            f"warning: user {user.usercode}: a sign-in through the identity provider sets"
            f" {key}: {'false' if key == 'login.password' else 'true'} whatever the claim says,"
            " and the next plan would change it back; if the user signs in that way, add it to"
            " users.login_via_idp in pisync.yaml"
            for key in user.overridden
        ]
    return lines
