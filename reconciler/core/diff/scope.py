"""What part of the desired state a plan covers, and so what it may prune."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Scope:
    """The whole desired state (the default), or a part of it.

    A plan over some files (``files``: PATHs, ``--changed-since``) never prunes what it cannot
    see: users and roles not declared in those files are not considered. The one exception is
    ``removed``: users present at ``changed_since`` and declared nowhere now, known exactly
    from the two git trees; they get the prune action of ``users.prune``.

    ``targets`` read every file but show only the changes to those users (and the roles they
    need); a targeted live user that no file declares does get its prune action, because the
    whole desired state is known.
    """

    files: int | None = None
    targets: frozenset[str] = frozenset()
    changed_since: str | None = None
    removed: frozenset[str] = frozenset()

    @property
    def partial(self) -> bool:
        return self.files is not None or bool(self.targets)

    @property
    def narrowed(self) -> bool:
        """Only some files were read: prune nothing but ``removed``."""
        return self.files is not None


FULL = Scope()
