"""The kit's documentation stays true to the kit: the variables and secrets it names are the ones
the workflows read, pisync is pinned to a commit everywhere (there is no release tag to name),
the GitLab recipe's credentials work for merge requests without giving them the write account,
and the threat model and the apply queue are described where a user looks for them."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import KIT, ROOT
from ruamel.yaml import YAML

README = KIT / "README.md"
RECIPES = ROOT / "docs" / "ci-recipes.md"
HOOKS = ROOT / ".pre-commit-hooks.yaml"
WORKFLOWS = sorted(KIT.glob("*.yml"))


def text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def section(page: str, heading: str) -> str:
    start = page.index(f"\n## {heading}\n")
    end = page.find("\n## ", start + 1)
    return page[start : end if end != -1 else None]


def fenced(page: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```$", page, flags=re.M | re.S)


def test_every_variable_and_secret_the_workflows_read_is_documented() -> None:
    workflows = "".join(text(w) for w in WORKFLOWS)
    read_vars = set(re.findall(r"vars\.(\w+)", workflows))
    read_secrets = set(re.findall(r"secrets\.(\w+)", workflows))
    readme = text(README)
    table = section(readme, "Set it up, step by step")
    documented_vars = set(re.findall(r"^   \| `(PISYNC_\w+)` \|", table, flags=re.M))
    assert documented_vars == read_vars
    environments = table[table.index("| environment | secrets |") :]
    for secret in read_secrets - {"FINANCE_DB_PASSWORD"}:
        assert f"`{secret}`" in environments.split("\n\n")[0], secret
    assert "No job\n   reads a repository-level secret" in table


def test_pisync_is_pinned_to_a_commit_never_a_tag() -> None:
    """There is no release tag: every page shows a full commit SHA and says how to pick it."""
    for page in (README, RECIPES, HOOKS):
        body = text(page)
        assert not re.search(r"@v\d|rev: v\d|\bv0\.1\.0\b", body), page.name
        revs = re.findall(r"rev: (\S+)", body)
        assert revs, page.name
        assert all(re.fullmatch(r"[0-9a-f]{40}", r) for r in revs), (page.name, revs)
        assert "git ls-remote https://github.com/OWNER/pisync refs/heads/main" in body, page.name
    gitlab = next(b for b in fenced(text(RECIPES), "yaml") if ".gitlab-ci.yml" in b)
    pinned = YAML(typ="safe").load(gitlab)["variables"]["PISYNC_REF"]
    assert re.fullmatch(r"[0-9a-f]{40}", str(pinned))
    assert 'pip install "pisync @ git+https://github.com/OWNER/pisync@${PISYNC_REF}"' in gitlab


def test_the_gitlab_recipe_gives_merge_requests_read_only_credentials() -> None:
    """GitLab gives protected variables only to protected branches: the merge request plan
    reads unprotected read-only credentials; the write account is protected and only the
    manual apply job of the default branch uses it."""
    recipes = text(RECIPES)
    gitlab = YAML(typ="safe").load(
        next(b for b in fenced(recipes, "yaml") if ".gitlab-ci.yml" in b)
    )
    plan, apply = gitlab["pisync-plan"], gitlab["pisync-apply"]
    assert plan["variables"] == {
        "PISYNC_USERNAME": "$PISYNC_READ_USERNAME",
        "PISYNC_PASSWORD": "$PISYNC_READ_PASSWORD",
    }
    assert {"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'} in plan["rules"]
    assert apply["variables"] == {
        "PISYNC_USERNAME": "$PISYNC_WRITE_USERNAME",
        "PISYNC_PASSWORD": "$PISYNC_WRITE_PASSWORD",
    }
    assert apply["rules"] == [{"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH", "when": "manual"}]
    rows = dict(re.findall(r"^\| (`PISYNC_\w+`(?:, `PISYNC_\w+`)?) \| ([^\n]*)$", recipes, re.M))
    assert rows["`PISYNC_READ_USERNAME`, `PISYNC_READ_PASSWORD`"].startswith(
        "password: yes | **no** |"
    )
    assert rows["`PISYNC_WRITE_USERNAME`, `PISYNC_WRITE_PASSWORD`"].startswith(
        "password: yes | **yes** |"
    )
    assert "masked and protected" not in recipes
    for name in ("plan", "apply"):
        step = re.search(rf"<!-- ci: {name} -->\n```sh\n(.*?)```", recipes, re.S)
        assert step is not None
        assert ': "${PISYNC_URL:?' in step.group(1)
        assert f'pisync --url "$PISYNC_URL" {name} ' in step.group(1)


def test_the_kit_readme_explains_the_queue_the_approvals_and_the_threat_model() -> None:
    readme = text(README)
    queue = section(readme, "The apply queue")
    assert "Why a queue, and not only a follow-up that reconciles the default branch?" in queue
    assert "`pisync/apply`" in queue
    approvals = section(readme, "Escalations need a named approver")
    assert "**Make it required**" in approvals
    assert "`pisync/escalation-approval`" in approvals
    model = section(readme, "Who can do what: the threat model")
    actors = re.findall(r"^\| \*\*(.+?)\*\*", model, flags=re.M)
    assert actors == [
        "anyone who can open a pull request",
        "someone with write access",
        "an approver",
        "whoever merges",
        "a reviewer of `pisync-apply`",
        "a repository administrator",
        "someone who edits users in the product",
    ]
    for question in ("print a secret", "choose the server", "skip the check", "forged"):
        assert question in model, question
    assert "What the kit does **not** defend against" in model
    step3 = section(readme, "Set it up, step by step")
    assert "A branch\n   or tag name (`main`, `v1.2`) is refused" in step3
