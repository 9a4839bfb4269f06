"""Write docs/yaml-reference.md from the JSON Schemas of the desired-state file and pisync.yaml.

    python scripts/gen_yaml_reference.py           # (re)write docs/yaml-reference.md
    python scripts/gen_yaml_reference.py --check   # exit 1 if the committed page is out of date

Every key gets a section: its description (the schema's, as VS Code shows it), its type,
allowed values, pattern or range, default, and the schema's examples as YAML. ``$ref`` is
resolved; an object met a second time (``defaults.login`` is ``users[].login``'s schema) links
to its first section instead of repeating it. Defaults come from the code, not from prose:
``Config()`` for pisync.yaml, the adapter's ``NEW_USER_DEFAULTS`` for what a new user gets.

The output depends only on the schemas and those defaults (keys in schema order, no dates),
so ``tests/test_docs.py`` regenerates it in memory and compares it with the committed file.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout: import the package beside it
    sys.path.insert(0, str(ROOT))

from reconciler.core.model.config import LICENCE_KINDS, Config  # noqa: E402
from reconciler.core.model.values import GRANT_KEYS, UserSpec  # noqa: E402
from reconciler.core.yamlfile import emit as yamlemit  # noqa: E402
from reconciler.pi.wire import NEW_USER_DEFAULTS  # noqa: E402

SCHEMAS = ROOT / "schemas"
OUTPUT = ROOT / "docs" / "yaml-reference.md"
FILE_SCHEMA = "pisync-file.schema.json"
CONFIG_SCHEMA = "pisync-config.schema.json"
PRIVILEGES_ANCHOR = "privilege-names"

#: The default of each pisync.yaml key, read from ``Config()`` (the value of an absent key).
CONFIG_DEFAULTS: dict[str, Callable[[Config], Any]] = {
    "sources": lambda c: list(c.sources),
    "server.url": lambda c: c.server.url,
    "server.timeout": lambda c: c.server.timeout,
    "server.concurrency": lambda c: "auto" if c.server.auto_concurrency else c.server.concurrency,
    "server.max_concurrency": lambda c: c.server.max_concurrency,
    "server.max_requests_per_second": lambda c: c.server.max_requests_per_second,
    "server.verify_tls": lambda c: c.server.verify_tls,
    "users.prune": lambda c: str(c.users_prune),
    "users.protected": lambda c: list(c.protected),
    "users.ignore": lambda c: list(c.ignore),
    "users.login_via_idp": lambda c: list(c.login_via_idp),
    "users.login_claim": lambda c: c.login_claim,
    "roles.prune": lambda c: str(c.roles_prune),
    "safety.max_prune_percent": lambda c: c.safety.max_prune_percent,
    "safety.max_prune_count": lambda c: c.safety.max_prune_count,
    "safety.min_users_for_percent": lambda c: c.safety.min_users_for_percent,
    **{f"licence.{kind}": (lambda c, kind=kind: c.licence.get(kind)) for kind in LICENCE_KINDS},
    "plan.expiring_days": lambda c: c.expiring_days,
    "fleet.max_in_flight": lambda c: c.max_in_flight,
}

#: What an absent key of a server's entry (``servers.NAME.…``) means.
SERVER_DEFAULTS: dict[str, str] = {
    "credentials": "**Default:** `PISYNC_<NAME>_USERNAME` and so on, below.",
    "sources": "**Default:** none: the server gets the base alone.",
    "vars": "**Default:** none.",
}

#: User keys a new user cannot do without (the plan-time check names them too).
NEEDED_ON_CREATE = ("forenames", "surname")

TYPE_WORDS = {
    "string": "string",
    "boolean": "boolean",
    "integer": "integer",
    "number": "number",
    "null": "null",
    "array": "list",
    "object": "mapping",
}
PLURALS = {
    "string": "strings",
    "boolean": "booleans",
    "integer": "integers",
    "number": "numbers",
    "mapping": "mappings",
}


# --- YAML for examples -------------------------------------------------------------------

_FLOW_WIDTH = 72


def scalar(value: Any) -> str:
    """A YAML scalar that reads back as ``value``: import's emitter, a whole float as an int."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return yamlemit.scalar(value)


def flow(value: Any) -> str:
    """``value`` in YAML flow style: ``[a, b]``, ``{k: v}``, or a scalar."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{scalar(k)}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    return scalar(value)


def _inline(value: Any) -> bool:
    """Short enough, and flat enough, to write on one line."""
    if not isinstance(value, dict | list):
        return True
    nested = [v for v in (value.values() if isinstance(value, dict) else value)]
    flat = all(not isinstance(v, dict) for v in nested) and all(
        not isinstance(v, list) or all(not isinstance(x, dict | list) for x in v) for v in nested
    )
    return flat and len(flow(value)) <= _FLOW_WIDTH


def block(value: Any, indent: int = 0) -> list[str]:
    """``value`` in YAML block style, short flat parts in flow style."""
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if _inline(item) and not (indent == 0 and isinstance(item, dict)):
                lines.append(f"{pad}{scalar(key)}: {flow(item)}")
            else:
                lines.append(f"{pad}{scalar(key)}:")
                lines += block(item, indent + 2)
    else:
        for item in value:
            if _inline(item):
                lines.append(f"{pad}- {flow(item)}")
            else:
                inner = block(item, indent + 2)
                lines += [f"{pad}- {inner[0].lstrip()}", *inner[1:]]
    return lines


# --- anchors -----------------------------------------------------------------------------


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


class Anchors:
    """Anchors in the order headings are written, with GitHub's ``-1``, ``-2`` for repeats."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def add(self, heading: str) -> str:
        base = slug(heading)
        count = self._seen.get(base, 0)
        self._seen[base] = count + 1
        return base if count == 0 else f"{base}-{count}"


# --- the walk ----------------------------------------------------------------------------


@dataclasses.dataclass
class Document:
    """One schema being walked: where ``$ref`` points resolve, and what it is called."""

    name: str  # file name in schemas/
    schema: dict[str, Any]
    kind: str  # "file" or "config": which defaults apply

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        """``node`` with its ``$ref`` followed (the node's own annotations kept)."""
        ref = node.get("$ref")
        if ref is None:
            return node
        target: Any = self.schema
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return merged


@dataclasses.dataclass
class Writer:
    lines: list[str] = dataclasses.field(default_factory=list)
    anchors: Anchors = dataclasses.field(default_factory=Anchors)
    #: canonical JSON of an object schema -> (path, anchor) of its first section
    objects: dict[str, tuple[str, str]] = dataclasses.field(default_factory=dict)
    privileges: list[str] = dataclasses.field(default_factory=list)
    toc: list[tuple[int, str, str]] = dataclasses.field(default_factory=list)

    def heading(self, level: int, text: str, *, toc: bool = False) -> str:
        anchor = self.anchors.add(text)
        self.lines += [f"{'#' * level} {text}", ""]
        if toc:
            self.toc.append((level, text, anchor))
        return anchor

    def para(self, text: str) -> None:
        self.lines += [text, ""]

    def bullets(self, items: list[str]) -> None:
        if items:
            self.lines += [f"- {item}" for item in items] + [""]


def _object_key(node: dict[str, Any]) -> str:
    """What makes two object schemas "the same object" (annotations of the use left out)."""
    core = {k: v for k, v in node.items() if k not in ("description", "examples")}
    return json.dumps(core, sort_keys=True)


def is_object(node: dict[str, Any]) -> bool:
    return node.get("type") == "object" and "properties" in node


def is_privilege(node: dict[str, Any], doc: Document) -> bool:
    return node.get("enum") == doc.schema.get("$defs", {}).get("privilege", {}).get("enum")


def type_phrase(node: dict[str, Any], doc: Document, w: Writer) -> str:
    """The type in words, linking to the section of an object or of the privilege names."""
    node = doc.resolve(node)
    if is_privilege(node, doc):
        return f"[privilege name](#{PRIVILEGES_ANCHOR})"
    if "anyOf" in node and "type" not in node:
        return " or ".join(type_phrase(branch, doc, w) for branch in node["anyOf"])
    if len(node.get("enum", ())) == 1:  # one word, e.g. concurrency's `auto`
        return f"`{scalar(node['enum'][0])}`"
    kind = node.get("type")
    if kind is None and "enum" in node:
        return "one of the allowed values"
    if kind is None and "const" in node:
        kind = "boolean" if isinstance(node["const"], bool) else "string"
    kinds = kind if isinstance(kind, list) else [kind]
    words = []
    for k in kinds:
        if k == "array":
            item = type_phrase(node.get("items", {}), doc, w)
            words.append(f"list of {_plural(item)}")
        elif k == "object" and "properties" in node:
            words.append(f"mapping ({node.get('title', 'keys below')})")
        elif k == "object" and isinstance(node.get("additionalProperties"), dict):
            value = type_phrase(node["additionalProperties"], doc, w)
            words.append(f"mapping of names to {value}")
        elif k == "string" and node.get("format") == "date":
            words.append("date (YYYY-MM-DD)")
        else:
            words.append(TYPE_WORDS[str(k)])
    return " or ".join(words)


def _plural(phrase: str) -> str:
    if phrase.startswith("[privilege name]"):
        return phrase.replace("[privilege name]", "[privilege names]", 1)
    if phrase.startswith("mapping ("):
        return "mappings " + phrase.removeprefix("mapping ")
    return PLURALS.get(phrase, phrase)


def constraints(node: dict[str, Any], doc: Document) -> list[str]:
    """Allowed values, pattern, range, length: the rules the schema checks."""
    node = doc.resolve(node)
    out = []
    if "enum" in node and not is_privilege(node, doc):
        out.append("**Allowed:** " + ", ".join(f"`{scalar(v)}`" for v in node["enum"]))
    if "const" in node:
        out.append(f"**Always:** `{scalar(node['const'])}`")
    one_of_keys = [b.get("required") for b in node.get("anyOf", ()) if "type" in node]
    if one_of_keys and all(isinstance(k, list) and len(k) == 1 for k in one_of_keys):
        out.append("**At least one of:** " + ", ".join(f"`{k[0]}`" for k in one_of_keys))
    if "pattern" in node:
        out.append(f"**Pattern:** `{node['pattern']}`")
    low, high = node.get("minimum"), node.get("maximum")
    if low is not None and high is not None:
        out.append(f"**Range:** {scalar(low)} to {scalar(high)}")
    elif low is not None:
        out.append(f"**Range:** at least {scalar(low)}")
    elif high is not None:
        out.append(f"**Range:** at most {scalar(high)}")
    if "exclusiveMinimum" in node:
        out.append(f"**Range:** more than {scalar(node['exclusiveMinimum'])}")
    if node.get("minLength") == 1:
        out.append("**Not empty.**")
    if "minItems" in node:
        n = node["minItems"]
        out.append(f"**At least {n} item{'s' if n != 1 else ''}.**")
    items = node.get("items")
    if isinstance(items, dict) and "$ref" not in items:
        rules = constraints(items, doc)
        said = items.get("description")
        if said or rules:
            plain = "; ".join(r.replace("**", "").rstrip(".") for r in rules)
            out.append("**Each item:** " + " ".join(x for x in (said, plain) if x))
    return out


def default_line(
    path: str, key: str, node: dict[str, Any], doc: Document, required: bool
) -> str | None:
    """What an absent key means, from the code (``Config()``, ``NEW_USER_DEFAULTS``)."""
    if required:
        return None
    if doc.kind == "config":
        if path == "servers":
            return "**Default:** none: one server, `server.url` (or --url)."
        if path == "fleet":
            return "**Default:** `{max_in_flight: 16}`."
        if path.startswith("servers."):
            rest = path.split(".", 2)[2] if path.count(".") >= 2 else ""
            if rest.startswith("credentials."):
                name = f"PISYNC_<NAME>_{key.upper()}"
                return f"**Default:** `{name}` (NAME: the server's name in capitals)."
            if rest in SERVER_DEFAULTS:
                return SERVER_DEFAULTS[rest]
            return "**Default:** the top level's."
        if path.removeprefix("defaults.") in NEEDED_ON_CREATE:
            return "**Default:** none: then each new user's entry must write it."
        if path.startswith("defaults."):
            return "**Default:** none: a new user without it gets the server's default."
        if path == "policies":
            return "**Default:** none: no rule is checked."
        if path.startswith("policies."):
            rule = path.removeprefix("policies.").split(".")[0].removesuffix("[]")
            if path.removesuffix("[]") == f"policies.{rule}":
                return "**Default:** none: this rule is not checked."
            if key == "severity":
                return "**Default:** `error`."
            return "**Default:** none: the rule sets no limit of this kind."
        if path not in CONFIG_DEFAULTS:
            raise KeyError(
                f"no default known for pisync.yaml key {path}: add it to CONFIG_DEFAULTS"
            )
        value = CONFIG_DEFAULTS[path](Config())
        return f"**Default:** `{flow(value)}`" if value is not None else "**Default:** none."
    if path.startswith("users[].pisync.") and key in GRANT_KEYS:
        return "**Default:** none: nothing is recorded."
    if key == "servers" and ".pisync." in path:
        return "**Default:** none: every server gets the entry."
    if key == "exclude" and ".pisync." in path:
        return "**Default:** none: the server gets the entry of the base."
    if path.startswith("users[].pisync."):
        fields = {f.name: f.default for f in dataclasses.fields(UserSpec)}
        return f"**Default:** `{scalar(fields[key])}`"
    if path.startswith("users[]."):
        name = path.removeprefix("users[].")
        head = "**If omitted:** an existing user keeps its live value"
        if name in NEEDED_ON_CREATE:
            return f"{head}; a new user needs it, here or in `defaults.{name}` of pisync.yaml."
        if name in NEW_USER_DEFAULTS:
            value = NEW_USER_DEFAULTS[name]
            if node.get("type") == "object" and not value:
                value = {}  # a map (variables) the adapter keeps as a tuple
            server = f"`{flow(value)}`, an [assumption](api-compatibility.md)"
            return (
                f"{head}; a new user gets `defaults.{name}` of pisync.yaml, else the server's"
                f" default ({server})."
            )
        return (
            f"{head}; a new user gets `defaults.{name}` of pisync.yaml, else the server's default."
        )
    if path.startswith("roles[]."):
        return (
            "**If omitted:** an existing role keeps its live value; a new role gets the"
            " server's default."
        )
    return None


def examples_line(key: str, node: dict[str, Any]) -> str | None:
    shown = [f"`{key}: {flow(e)}`" for e in node.get("examples", ()) if _inline(e)]
    if not shown:
        return None
    return f"**Example{'s' if len(shown) > 1 else ''}:** " + ", ".join(shown)


def write_key(
    w: Writer, doc: Document, path: str, key: str, node: dict[str, Any], level: int, req: bool
) -> str:
    """One key: heading, description, facts; then the keys of an object it holds. Returns
    the heading's anchor."""
    anchor = w.heading(level, f"`{path}`")
    resolved = doc.resolve(node)
    if node.get("description"):
        w.para(node["description"])
    facts = [f"**Type:** {type_phrase(node, doc, w)}"]
    if req:
        facts.append("**Required.**")
    facts += constraints(node, doc)
    target = resolved
    if resolved.get("type") == "array" and isinstance(resolved.get("items"), dict):
        target = doc.resolve(resolved["items"])
        child = f"{path}[]"
    else:
        child = path
    if not is_object(target) and (line := default_line(path, key, resolved, doc, req)) is not None:
        facts.append(line)  # an object's keys say theirs
    if (line := examples_line(key, node)) is not None:
        facts.append(line)
    if is_object(target):
        seen = w.objects.get(_object_key(target))
        if seen is not None:
            facts.append(f"**Keys:** the same as [`{seen[0]}`](#{seen[1]}).")
            w.bullets(facts)
            return anchor
        w.objects[_object_key(target)] = (path, anchor)
        w.bullets(facts)
        write_object(w, doc, child, target, level + 1)
        return anchor
    w.bullets(facts)
    extra = resolved.get("additionalProperties")
    if isinstance(extra, dict) and is_object(doc.resolve(extra)):  # a map of objects by name
        entry = doc.resolve(extra)
        if entry.get("description"):
            w.para(entry["description"])
        write_object(w, doc, f"{path}.<name>", entry, level + 1)
    elif isinstance(extra, dict):
        write_forms(w, doc, extra)
    return anchor


def write_object(w: Writer, doc: Document, path: str, node: dict[str, Any], level: int) -> None:
    required = set(node.get("required", ()))
    for key, prop in node["properties"].items():
        write_key(w, doc, f"{path}.{key}", key, prop, min(level, 6), key in required)


def write_forms(w: Writer, doc: Document, node: dict[str, Any]) -> None:
    """The forms a map's values may take (``variables``): each form and its keys."""
    branches = [doc.resolve(b) for b in node.get("anyOf", [node])]
    lines = []
    for branch in branches:
        title = branch.get("title") or type_phrase(branch, doc, w)
        lines.append(f"**{title[0].upper()}{title[1:]}:** {branch.get('description', '')}".strip())
        required = set(branch.get("required", ()))
        for key, prop in branch.get("properties", {}).items():
            rules = [type_phrase(prop, doc, w)]
            rules += [r.replace("**", "").rstrip(".") for r in constraints(prop, doc)]
            need = "required" if key in required else "optional"
            lines.append(
                f"  - `{key}` ({need}; {'; '.join(rules)}): {prop.get('description', '')}".rstrip()
            )
    w.lines += [f"- {lines[0]}", *(f"- {x}" if not x.startswith("  ") else x for x in lines[1:])]
    w.lines.append("")


def write_document(w: Writer, doc: Document, title: str, intro: list[str]) -> None:
    w.heading(2, title, toc=True)
    if doc.schema.get("description"):
        w.para(doc.schema["description"])
    for text in intro:
        w.para(text)
    if doc.schema.get("examples"):
        w.para("Example:")
        w.lines += ["```yaml", *block(doc.schema["examples"][0]), "```", ""]
    required = set(doc.schema.get("required", ()))
    for key, prop in doc.schema["properties"].items():
        anchor = write_key(w, doc, key, key, prop, 3, key in required)
        w.toc.append((3, f"`{key}`", anchor))


def write_privileges(w: Writer, doc: Document) -> None:
    privilege = doc.schema["$defs"]["privilege"]
    w.heading(2, "Privilege names", toc=True)
    w.para(privilege["description"])
    w.para(
        "`privileges:` of a user or a role lists some of these; `pisync schema` prints them"
        " too. Names are case-sensitive: a near miss is reported with the name meant."
    )
    w.lines += [f"- `{name}`" for name in privilege["enum"]] + [""]


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    return data


def render() -> str:
    """The whole page, from the schemas in ``schemas/``."""
    file_doc = Document(name=FILE_SCHEMA, schema=load(FILE_SCHEMA), kind="file")
    config_doc = Document(name=CONFIG_SCHEMA, schema=load(CONFIG_SCHEMA), kind="config")
    body = Writer()
    body.anchors.add("YAML reference")  # the page title, written below
    write_document(
        body,
        file_doc,
        "Desired-state files",
        [
            f"Schema: [`schemas/{FILE_SCHEMA}`](../schemas/{FILE_SCHEMA}). For completion and"
            " checks while you type (VS Code with the YAML extension), start each file with"
            f" `# yaml-language-server: $schema=<path to>/{FILE_SCHEMA}`;"
            " `pisync schema --out schemas` writes the schemas into your repository.",
        ],
    )
    write_document(
        body,
        config_doc,
        "pisync.yaml",
        [
            f"Schema: [`schemas/{CONFIG_SCHEMA}`](../schemas/{CONFIG_SCHEMA}). Without a"
            " pisync.yaml every key has its default.",
        ],
    )
    write_privileges(body, file_doc)
    head = [
        "# YAML reference",
        "",
        "<!-- Generated by scripts/gen_yaml_reference.py from schemas/pisync-file.schema.json"
        " and schemas/pisync-config.schema.json. Do not edit: change the schemas, then run"
        " `make docs`. -->",
        "",
        "Every key pisync reads from YAML: the desired-state files and `pisync.yaml`. Each"
        " mapping is closed: a key not listed here is an error, reported with the nearest key"
        " that exists. [Concepts](concepts.md) explains how the keys work together (managed"
        " keys, complete lists, pruning, safety guards).",
        "",
        *_toc(body.toc),
        "",
    ]
    return "\n".join(head + body.lines).rstrip("\n") + "\n"


def _toc(entries: list[tuple[int, str, str]]) -> Iterator[str]:
    for level, text, anchor in entries:
        yield f"{'  ' * (level - 2)}- [{text}](#{anchor})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="only check; exit 1 if stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            sys.stderr.write(f"{OUTPUT.relative_to(ROOT)} is out of date: run make docs\n")
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    sys.stdout.write(f"wrote {OUTPUT.relative_to(ROOT)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
