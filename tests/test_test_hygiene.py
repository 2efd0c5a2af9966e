"""The tests describe behaviour, not eval questions or internals (issue 28, item 6).

- No test file holds a question of an eval pack: questions from the packs live in the packs only,
  so a test cannot pin the answer to one of them and fight every refactor of the answerer (tune
  on the fit split, gate on the check split, and test rules on passages written for them).
- No test imports a private name of `chatbot` (a name starting with "_"): tests go through the
  public entry points, so the modules behind them may be reorganised freely.

The packs are the project's own (`evals/seeds/`) and the shared ones in `<repo>/../shared/evals/`;
a shared pack that is not there (CI without ../shared) is skipped with its path as the reason.
"""

from __future__ import annotations

import ast
import json
import re
import unicodedata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TESTS = REPO / "tests"
PACKS = {
    "seeds": REPO / "evals" / "seeds" / "questions.jsonl",
    **{name: REPO.parent / "shared" / "evals" / name / "questions.jsonl" for name in ("rgb-dev", "squad2-dev", "cmrc-dev")},
}
MIN_CHARS = 13  # longer than 12 characters: short questions ("Who?", "何时?") are everyday words, not a pack's


def normalized(text: str) -> str:
    """Compared without width, case or spacing: "？" is "?", and a question split over lines is one."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().casefold()


def pack_questions(path: Path) -> dict[str, str]:
    """Each question of a pack longer than 12 characters, normalized, with its id."""
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            q = normalized(str(row.get("question", "")))
            if len(q) >= MIN_CHARS:
                out.setdefault(q, str(row.get("id", "?")))
    return out


def searchable(source: str) -> str:
    """A test file's text and its string constants (adjacent literals joined, as Python joins them)."""
    strings = [n.value for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    return normalized("\n".join([source, *strings]))


def questions_in(source: str, questions: dict[str, str]) -> list[str]:
    text = searchable(source)
    return [f"{qid}: {q!r}" for q, qid in questions.items() if q in text]


def _private(dotted: str) -> bool:
    return any(part.startswith("_") and not (part.startswith("__") and part.endswith("__")) for part in dotted.split("."))


def _is_module(dotted: str) -> bool:
    """Whether a dotted chatbot name is a module or package of the source tree (read, not imported)."""
    path = REPO.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or path.is_dir()


_DOTTED_PRIVATE = re.compile(r"^chatbot(?:\.\w+)*\._\w+")


def private_uses(source: str) -> list[str]:
    """Where a test reaches a private `chatbot` name: `from chatbot.x import _y`, `import chatbot._x`,
    `module._y` on a chatbot module it imported, or a dotted string "chatbot.x._y" (monkeypatch)."""
    found: list[str] = []
    modules: set[str] = set()  # local names bound to chatbot modules
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "chatbot":
            for alias in node.names:
                if _private(node.module) or _private(alias.name):
                    found.append(f"line {node.lineno}: from {node.module} import {alias.name}")
                elif _is_module(f"{node.module}.{alias.name}"):
                    modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "chatbot":
                    if _private(alias.name):
                        found.append(f"line {node.lineno}: import {alias.name}")
                    modules.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _DOTTED_PRIVATE.match(node.value):
            found.append(f"line {node.lineno}: {node.value!r}")
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and _private(node.attr) and isinstance(node.value, ast.Name)
                and node.value.id in modules):
            found.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
    return found


def files_of_tests() -> list[Path]:
    return sorted(TESTS.glob("*.py"))


@pytest.mark.parametrize("pack", sorted(PACKS))
def test_no_test_file_holds_a_question_of_an_eval_pack(pack: str) -> None:
    path = PACKS[pack]
    if not path.exists():
        pytest.skip(f"pack {pack} not checked: {path} not found (no ../shared/evals beside the repository)")
    questions = pack_questions(path)
    assert questions, f"{path} holds no questions longer than 12 characters"
    found = {f.name: hits for f in files_of_tests() if (hits := questions_in(f.read_text(encoding="utf-8"), questions))}
    assert not found, (f"questions of the {pack} pack in tests (write a new question, or a passage for the rule, "
                       f"instead): {json.dumps(found, ensure_ascii=False, indent=1)}")


def test_no_test_imports_a_private_chatbot_name() -> None:
    found = {f.name: hits for f in files_of_tests() if (hits := private_uses(f.read_text(encoding="utf-8")))}
    assert not found, f"tests reach private chatbot names (test the behaviour through a public one): {found}"


def test_the_checks_see_what_they_are_meant_to_catch(tmp_path: Path) -> None:
    """The guard itself can fail: a pack question however it is spaced or cased, a private import
    in each of its forms; and a public import, a private attribute of an object, or a shorter
    question are not flagged."""
    questions = {normalized("Which harbour city hosted the 2019 regatta？"): "x-1"}
    split = 'Q = ("Which harbour city "\n     "hosted the 2019 REGATTA?")\n'
    assert questions_in(split, questions) == ["x-1: 'which harbour city hosted the 2019 regatta?'"]
    assert questions_in('Q = "Which harbour city hosted it?"\n', questions) == []
    pack = tmp_path / "questions.jsonl"
    pack.write_text('{"id": "long", "question": "港城实验室是哪一年成立的？"}\n\n{"id": "short", "question": "何时成立？"}\n',
                    encoding="utf-8")
    assert pack_questions(pack) == {"港城实验室是哪一年成立的?": "long"}
    source = ("from chatbot.answering.extractive import ExtractiveAnswerer, _stem\n"
              "import chatbot._internal\n"
              "from chatbot.text import lexicon\n"
              "x = lexicon._norm\n"
              "bot = object()\n"
              "y = bot._answer_step\n"
              "monkeypatch.setattr('chatbot.text.lexicon._table', {})\n"
              "monkeypatch.setattr('chatbot.index.keyword.KeywordIndex.add', None)\n")
    assert sorted(private_uses(source)) == [
        "line 1: from chatbot.answering.extractive import _stem",
        "line 2: import chatbot._internal",
        "line 4: lexicon._norm",
        "line 7: 'chatbot.text.lexicon._table'",
    ]
