"""The package as a user installs it: a wheel of the repository in a fresh venv, answering from the seeds.

An editable install reads prompts/ and chatbot/retrieval/ranker.json from the work tree, so it
cannot show that a wheel holds them. Here the wheel is built from a copy of the tracked files
(no build/ left over from an earlier build, nothing written into the repository), installed
with `--no-deps --no-index` into a venv of its own, and run from a temp directory so that no
`./chatbot` can shadow it. The dependencies come from this venv's site-packages through
PYTHONPATH, which does not read .pth files: the editable install of the repository stays
invisible, and the tests prove that `chatbot` is imported from the fresh venv.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chatbot.text.loaders import load_file

REPO_ROOT = Path(__file__).resolve().parent.parent
SEEDS = REPO_ROOT / "seeds"
# what the wheel is built from; the top-level prompts/ ships as the package chatbot.prompts
SOURCES = ("pyproject.toml", "README.md", "chatbot", "prompts")
INSTALLED_AS = {"chatbot/": "chatbot/", "prompts/": "chatbot/prompts/"}
SEED_FILE = "000_9e53f5965d956f18.txt"


@dataclass(frozen=True)
class Install:
    wheel: Path
    venv: Path
    site: Path  # the fresh venv's site-packages
    cwd: Path  # an empty directory to run from
    tracked: tuple[str, ...]  # the repository's files under chatbot/ and prompts/


def _run(args: list[str | Path], what: str, cwd: Path | None = None,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command to completion; fail the test with its output (never skip) when it fails."""
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=180,
                            check=False)
    if result.returncode != 0:
        pytest.fail(f"{what} failed ({result.returncode}): {' '.join(map(str, args))}\n{result.stdout}{result.stderr}")
    return result


def _tracked_files() -> list[str]:
    try:
        listed = subprocess.run(["git", "ls-files", "-z", *SOURCES], cwd=REPO_ROOT, capture_output=True,
                                check=False, timeout=30)
    except OSError as e:
        pytest.fail(f"the wheel is built from the files git tracks, and git cannot run here: {e}")
    if listed.returncode != 0:
        pytest.fail(f"git ls-files failed in {REPO_ROOT}: {listed.stderr.decode(errors='replace')}")
    return [name for name in listed.stdout.decode().split("\0") if name]


@pytest.fixture(scope="module")
def install() -> Iterator[Install]:
    """Build the wheel, install it into a fresh venv; removed when the module's tests are done."""
    try:
        import setuptools  # noqa: F401  (the build backend, used without build isolation)
    except ImportError:
        pytest.fail("setuptools is not in this venv, so the wheel cannot be built offline: run make setup")
    files = _tracked_files()
    with tempfile.TemporaryDirectory(prefix="chatbot-wheel-", ignore_cleanup_errors=True) as tmp:
        root = Path(tmp)
        src, dist, venv, cwd = root / "src", root / "dist", root / "venv", root / "run"
        for name in files:
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / name, src / name)
        cwd.mkdir()
        _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
              "-w", dist, src], "building the wheel", cwd=cwd)
        (wheel,) = dist.glob("chatbot-*.whl")
        # no pip in the fresh venv (ensurepip costs 7 s): this venv's pip installs into it
        _run([sys.executable, "-m", "venv", "--without-pip", venv], "creating the fresh venv")
        _run([sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "-q", "--no-deps",
              "--no-index", wheel], "installing the wheel", cwd=cwd)
        site = Path(_run([venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         "asking the fresh venv for its site-packages", cwd=cwd).stdout.strip())
        yield Install(wheel=wheel, venv=venv, site=site, cwd=cwd,
                      tracked=tuple(f for f in files if f.startswith(tuple(INSTALLED_AS))))


def _env(install: Install) -> dict[str, str]:
    """The environment of a user of the fresh venv: its dependencies from this venv, a fresh data dir."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CHATBOT_", "OPENAI_"))
           and k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "TIKTOKEN_CACHE_DIR", "VIRTUAL_ENV")}
    env.update(
        PYTHONPATH=sysconfig.get_paths()["purelib"],
        PYTHONNOUSERSITE="1",
        CHATBOT_DATA_DIR=str(install.cwd / "data"),
        GRADIO_ANALYTICS_ENABLED="False",
        HF_HUB_OFFLINE="1",
    )
    return env


def _chatbot(install: Install, *args: str) -> subprocess.CompletedProcess[str]:
    return _run([install.venv / "bin" / "chatbot", *args], f"chatbot {args[0]} from the wheel",
                cwd=install.cwd, env=_env(install))


def test_the_wheel_holds_every_file_of_the_package(install: Install) -> None:
    """Modules and data files alike: a data file (or subpackage) pyproject.toml does not list fails here."""
    with zipfile.ZipFile(install.wheel) as wheel:
        shipped = {n for n in wheel.namelist() if not n.startswith("chatbot-") and not n.endswith("/")}
    expected = set()
    for name in install.tracked:
        prefix = next(p for p in INSTALLED_AS if name.startswith(p))
        expected.add(INSTALLED_AS[prefix] + name[len(prefix):])
    assert shipped == expected, f"missing from the wheel: {sorted(expected - shipped)}; extra: {sorted(shipped - expected)}"
    data = {n for n in shipped if not n.endswith(".py")}
    assert {"chatbot/retrieval/ranker.json", "chatbot/prompts/answer.md"} <= data


def test_the_installed_package_reads_its_prompts_and_ranker_from_the_fresh_venv(install: Install) -> None:
    probe = (
        "import json, chatbot\n"
        "from chatbot.config import Settings\n"
        "from chatbot.answering.prompts import load_prompt\n"
        "from chatbot.retrieval.rank import WEIGHTS_PATH\n"
        "settings = Settings()\n"
        "prompt = load_prompt(settings.prompts_dir, 'answer')\n"
        "print(json.dumps({'chatbot': chatbot.__file__, 'prompts_dir': str(settings.prompts_dir),\n"
        "                  'prompt': prompt.id, 'ranker': str(WEIGHTS_PATH)}))\n"
    )
    found = json.loads(_run([install.venv / "bin" / "python", "-c", probe], "loading the prompt from the wheel",
                            cwd=install.cwd, env=_env(install)).stdout)
    for key in ("chatbot", "prompts_dir", "ranker"):
        assert Path(found[key]).is_relative_to(install.site), f"{key} comes from {found[key]}, not the fresh venv"
    assert Path(found["ranker"]).is_file()
    assert found["prompt"].startswith("answer@")


def test_the_installed_chatbot_answers_from_the_seeds_with_a_quote_of_the_file(install: Install) -> None:
    ingested = _chatbot(install, "ingest", str(SEEDS))
    seeds = sum(1 for p in SEEDS.iterdir() if p.is_file())
    assert f"{seeds} added" in ingested.stdout and "0 skipped" in ingested.stdout, ingested.stdout
    asked = _chatbot(install, "ask", "Which Luoyang bureau held the licensing ceremony for the first ten landmark "
                                     "high-end equipment?", "--json")
    (line,) = asked.stdout.strip().splitlines()
    data = json.loads(line)
    assert data["refused"] is False and data["mode"] == "extractive", data
    assert "Bureau of Industry and Information Technology" in data["answer"]
    assert data["citations"], data
    for c in data["citations"]:
        assert c["file"] == SEED_FILE, data
        text = load_file(SEEDS / c["file"], c["file"], 20_000_000).text
        assert text[c["start_char"] : c["end_char"]] == c["quote"]
