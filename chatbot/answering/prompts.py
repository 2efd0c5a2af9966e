"""Prompt files: Markdown with a front-matter block, checked when they are loaded.

A prompt file `prompts/NAME.md` looks like this:

    ---
    name: NAME
    placeholders: [question, context]
    ---
    Instructions ... {context} ... {question}

The front matter is `key: value` lines (a list written as `[a, b]`), not full YAML. The
body is a `str.format` template. Loading checks that every declared placeholder is used
and that the body uses no other `{field}`, so a typo fails at start-up, not mid-answer. Each
prompt carries a short hash of its file, and `Prompt.id` ("name@hash") is recorded with every
answer it produces.
"""

from __future__ import annotations

import hashlib
import re
import string
from dataclasses import dataclass
from pathlib import Path

from chatbot.errors import PromptError

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.S)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_MARK = re.compile("\x00([A-Za-z_][A-Za-z0-9_]*)\x00")
_BRACES_FIX = "write a literal brace as {{ or }} (doubled)"


@dataclass(frozen=True)
class Prompt:
    name: str
    template: str
    placeholders: tuple[str, ...]
    sha256: str  # first 12 hex digits of the sha256 of the file's bytes

    @property
    def id(self) -> str:
        return f"{self.name}@{self.sha256}"

    def _check_values(self, values: dict[str, object]) -> dict[str, str]:
        missing = [p for p in self.placeholders if p not in values]
        unknown = sorted(set(values) - set(self.placeholders))
        if missing or unknown:
            problems = []
            if missing:
                problems.append(f"missing {', '.join(missing)}")
            if unknown:
                problems.append(f"not declared: {', '.join(unknown)}")
            raise PromptError(
                f"prompt {self.id} needs exactly the values {', '.join(self.placeholders) or '(none)'} "
                f"({'; '.join(problems)}). Pass them, or change the placeholders of {self.name}.md."
            )
        return {k: str(v) for k, v in values.items()}

    def format(self, **values: object) -> str:
        """The prompt text with every placeholder filled in."""
        return self.template.format(**self._check_values(values))

    def split_format(self, **values: object) -> tuple[str, str]:
        """The prompt as (instructions, request): a system and a user message.

        The instructions are the fixed text up to the last blank line before the first
        placeholder; they hold no filled-in value, so nothing from a document or a user can
        reach the system message. The request is the rest, filled in. When the body starts
        with a placeholder the instructions are empty.
        """
        filled = self._check_values(values)
        text = self.template.format(**{p: f"\x00{p}\x00" for p in self.placeholders})
        first = text.find("\x00")
        cut = text.rfind("\n\n", 0, first) if first > 0 else -1
        system, user = (text[:cut].strip(), text[cut:].strip()) if cut > 0 else ("", text.strip())
        return system, _MARK.sub(lambda m: filled[m.group(1)], user)


def load_prompt(directory: Path | str, name: str) -> Prompt:
    """Load and check `directory/name.md`; raise PromptError naming the file and the fix."""
    path = Path(directory) / f"{name}.md"
    try:
        raw = path.read_bytes()
    except FileNotFoundError as e:
        raise PromptError(
            f"prompt file {path} is missing. Restore it (in a checkout: `git checkout prompts/{name}.md`; "
            "installed: reinstall the package), or point CHATBOT_PROMPTS_DIR at a folder that holds it."
        ) from e
    except OSError as e:
        raise PromptError(f"cannot read prompt file {path}: {e}. Check its permissions.") from e
    try:
        text = raw.decode("utf-8-sig").replace("\r\n", "\n")
    except UnicodeDecodeError as e:
        raise PromptError(f"prompt file {path} is not UTF-8 ({e}). Save it as UTF-8.") from e

    meta, body = _front_matter(path, text)
    declared_name = meta.get("name")
    if declared_name != name:
        raise PromptError(
            f"prompt file {path} declares name: {declared_name!r}; it must be {name!r}, "
            "the file's name without .md."
        )
    placeholders = _placeholders(path, meta.get("placeholders"))
    used = _fields(path, body)
    unused = [p for p in placeholders if p not in used]
    if unused:
        raise PromptError(
            f"prompt file {path} declares placeholders it never uses: {', '.join(unused)}. "
            f"Put {' and '.join('{' + p + '}' for p in unused)} in the body or remove them from placeholders."
        )
    undeclared = [f for f in used if f not in placeholders]
    if undeclared:
        raise PromptError(
            f"prompt file {path} uses undeclared fields: {', '.join('{' + f + '}' for f in undeclared)}. "
            f"Add them to placeholders, or, if the braces are meant literally, {_BRACES_FIX}."
        )
    return Prompt(name=name, template=body, placeholders=placeholders,
                  sha256=hashlib.sha256(raw).hexdigest()[:12])


def _front_matter(path: Path, text: str) -> tuple[dict[str, object], str]:
    match = _FRONT_MATTER.match(text)
    if match is None:
        raise PromptError(
            f"prompt file {path} has no front matter. Start it with a block like\n"
            "---\nname: NAME\nplaceholders: [a, b]\n---"
        )
    meta: dict[str, object] = {}
    for line in match.group(1).splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition(":")
        value = value.strip()
        if not sep or not _IDENTIFIER.match(key.strip()):
            raise PromptError(
                f"the front matter of {path} has the line {line!r}; write `key: value` lines "
                "such as `name: answer` and `placeholders: [question, context]`."
            )
        if value.startswith("["):
            if not value.endswith("]"):
                raise PromptError(f"the front matter of {path} has an unclosed list in {line!r}; end it with ].")
            meta[key.strip()] = [v.strip().strip("'\"") for v in value[1:-1].split(",") if v.strip()]
        else:
            meta[key.strip()] = value.strip("'\"")
    body = text[match.end() :].strip("\n")
    if not body.strip():
        raise PromptError(f"prompt file {path} has an empty body. Write the prompt after the closing ---.")
    return meta, body


def _placeholders(path: Path, value: object) -> tuple[str, ...]:
    if value is None:
        value = []
    if not isinstance(value, list) or not all(isinstance(v, str) and _IDENTIFIER.match(v) for v in value):
        raise PromptError(
            f"placeholders in {path} must be a list of names, like placeholders: [question, context]; "
            f"got {value!r}."
        )
    if len(set(value)) != len(value):
        raise PromptError(f"placeholders in {path} lists a name twice: {value!r}. List each once.")
    return tuple(value)


def _fields(path: Path, body: str) -> list[str]:
    """The `{field}` names a body uses, in order of first use."""
    seen: dict[str, None] = {}
    try:
        parsed = list(string.Formatter().parse(body))
    except ValueError as e:  # a lone { or }
        raise PromptError(f"prompt file {path} has an unmatched brace ({e}); {_BRACES_FIX}.") from e
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        if not _IDENTIFIER.match(field) or spec or conversion:
            shown = "{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            raise PromptError(
                f"prompt file {path} has the field {shown}; a field must be a plain name like {{question}}. "
                f"If the braces are meant literally, {_BRACES_FIX}."
            )
        seen.setdefault(field, None)
    return list(seen)
