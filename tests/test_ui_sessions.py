"""What the chat keeps between questions: saved conversations, the document scope, one rating
per answer (files in a temp data dir; no browser)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from chatbot.web import scope as sc
from chatbot.web.chats import ChatStore, new_id, owner_of
from chatbot.web.corpus import corpus_html, question_for
from chatbot.web.feedback import read_feedback, record_feedback

TURN = {"question": "Who makes bearings?", "answer": "ZYS does [1].", "citations": [], "mode": "extractive"}


def test_chats_are_kept_per_owner_and_can_be_renamed_and_deleted(tmp_path: Path) -> None:
    store = ChatStore(tmp_path / "chats")
    alice, browser = owner_of("alice", None), owner_of(None, new_id())
    assert owner_of(None, "../../etc") is None and owner_of(None, None) is None
    assert owner_of("../x", None) is not None and "/" not in (owner_of("../x", None) or "")
    chat = store.save(alice, "", [TURN], ["d1"])
    assert [c["title"] for c in store.listing(alice)] == ["Who makes bearings?"] and store.listing(browser) == []
    assert store.load(alice, chat)["scope"] == ["d1"]  # type: ignore[index]
    assert store.rename(alice, chat, "  Bearings  ") and store.listing(alice)[0]["title"] == "Bearings"
    store.save(alice, chat, [TURN, TURN], [])  # a later answer keeps the name given
    assert store.listing(alice)[0]["title"] == "Bearings" and len(store.load(alice, chat)["turns"]) == 2  # type: ignore[index]
    assert store.load(browser, chat) is None and not store.delete(browser, chat)
    assert store.load(alice, "../../secret") is None
    assert store.delete(alice, chat) and store.listing(alice) == []


def test_scope_choices_resolve_to_doc_ids() -> None:
    entries = [SimpleNamespace(doc_id="a", title="Alpha", file="a.txt"), SimpleNamespace(doc_id="b", title="Beta", file="b.md")]
    choices = sc.choices(entries, [("Upload batch 10:00: b.md", ["b"]), ("gone", ["zz"])])
    assert choices[0] == ("Upload batch 10:00: b.md", "batch:b") and ("Alpha (a.txt)", "a") in choices
    assert all(label != "gone" for label, _ in choices)
    assert sc.doc_ids(None) is None and sc.doc_ids([]) is None
    assert sc.doc_ids(["a", "batch:b,a"]) == ["a", "b"]
    assert "Asking only 2 documents" in sc.scope_html(["a", "batch:b"], entries) and sc.scope_html([], entries) == sc.ALL


def test_a_second_rating_of_an_answer_replaces_the_first(tmp_path: Path) -> None:
    path = tmp_path / "feedback.jsonl"
    record_feedback(path, TURN, "up", "", answer_id="x1")
    record_feedback(path, TURN, "up", "", answer_id="other")
    record_feedback(path, TURN, "down", "wrong year", answer_id="x1")
    rows = read_feedback(path)
    assert [(r["answer_id"], r["rating"], r["comment"]) for r in rows] == [("other", "up", ""), ("x1", "down", "wrong year")]
    record_feedback(path, TURN, None, answer_id="x1")  # taken back
    assert [r["answer_id"] for r in read_feedback(path)] == ["other"]


def test_first_screen_lists_the_documents_and_escapes_example_questions() -> None:
    entries = [SimpleNamespace(doc_id="a", title="A <b> report", file="a.txt", lang="en"),
               SimpleNamespace(doc_id="z", title="洛阳新闻", file="z.txt", lang="zh")]
    html = corpus_html(entries, [question_for(e.title, e.lang) for e in entries])
    assert "2 documents" in html and "1 in Chinese" in html and "1 in English" in html
    assert "A &lt;b&gt; report" in html and "<b> report" not in html
    assert 'data-q="What does “A &lt;b&gt; report” report?"' in html and "《洛阳新闻》说了什么？" in html
