"""The SQLite store: round trips, plain-SQLite readability, WAL, and all-or-nothing replaces."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils.db
from click.testing import CliRunner

from bot.cli import cli
from bot.errors import StoreError
from bot.knowledge.loader import Knowledge, load_knowledge
from bot.knowledge.schema import KnowledgeFile
from bot.knowledge.store import KNOWLEDGE_TABLES, KnowledgeStore

KNOWLEDGE_DIR = Path(__file__).resolve().parent.parent / "knowledge"


@pytest.fixture(scope="module")
def shipped() -> Knowledge:
    return load_knowledge([KNOWLEDGE_DIR])


@pytest.fixture
def changed(knowledge_data: dict[str, Any], make_knowledge: Callable[..., Path]) -> Knowledge:
    """Valid knowledge that differs from the shipped one (another answer, one intent fewer
    phrasing), so a replace that went through would show."""
    knowledge_data["intents"][0]["answer"] = "바뀐 답변입니다."
    knowledge_data["intents"][1]["phrasings"].pop()
    return load_knowledge([make_knowledge(knowledge_data)])


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "store" / "knowledge.db"


@pytest.fixture
def stored(db_path: Path, shipped: Knowledge) -> Iterator[Path]:
    """A database file holding the shipped knowledge (store closed again)."""
    with KnowledgeStore(db_path) as store:
        store.replace(shipped)
    yield db_path


def _expected_counts(model: KnowledgeFile) -> dict[str, int]:
    intents = model.intents
    return {
        "knowledge_files": 1,
        "incidents": 1,
        "categories": len(model.categories),
        "entities": len(model.entities),
        "synonyms": sum(len(e.synonyms) for e in model.entities),
        "intents": len(intents),
        "utterances": sum(len(i.phrasings) + len(i.keywords) for i in intents),
        "quotes": sum(
            len(i.quotes) + sum(len(a.quotes) for a in i.entity_answers) for i in intents
        ),
        "entity_answers": sum(len(i.entity_answers) for i in intents),
        "related": sum(len(i.related) for i in intents),
    }


def _dump(path: Path) -> list[str]:
    """Every table, row and schema statement of the database, in order (read-only)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _query(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


# --- Round trip --------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["file", "memory"])
def test_replace_then_read_round_trips(where: str, db_path: Path, shipped: Knowledge) -> None:
    with KnowledgeStore(db_path if where == "file" else ":memory:") as store:
        assert store.read() is None
        assert store.content_hash() is None
        store.replace(shipped)
        back = store.read()
        assert store.content_hash() == shipped.content_hash
    assert back is not None
    assert back.content_hash == shipped.content_hash
    assert list(back.intents) == list(shipped.intents)
    for intent_id, (intent, _source) in shipped.intents.items():
        assert back.intents[intent_id][0] == intent
    assert back.files == shipped.files
    assert [s.document_text for s in back.sources] == [s.document_text for s in shipped.sources]
    assert [s.sha256 for s in back.sources] == [s.sha256 for s in shipped.sources]
    assert [s.path.name for s in back.sources] == [s.path.name for s in shipped.sources]


def test_knowledge_survives_reopening(stored: Path, shipped: Knowledge) -> None:
    with KnowledgeStore(stored) as store:
        back = store.read()
    assert back is not None
    assert back.content_hash == shipped.content_hash
    assert back.files == shipped.files


def test_replace_replaces_instead_of_adding(
    db_path: Path, shipped: Knowledge, changed: Knowledge
) -> None:
    with KnowledgeStore(db_path) as store:
        store.replace(shipped)
        store.replace(changed)
        store.replace(changed)
        counts = store.counts()
        back = store.read()
    assert counts == _expected_counts(changed.files[0])
    assert back is not None
    assert back.content_hash == changed.content_hash != shipped.content_hash
    assert back.files == changed.files
    first = next(iter(back.intents))
    assert _query(db_path, "SELECT answer FROM intents WHERE id = ?", (first,)) == [
        ("바뀐 답변입니다.",)
    ]


# --- Plain SQLite --------------------------------------------------------------------------


@pytest.mark.parametrize("table", KNOWLEDGE_TABLES)
def test_tables_are_readable_with_plain_sqlite(
    stored: Path, shipped: Knowledge, table: str
) -> None:
    (count,) = _query(stored, f"SELECT count(*) FROM [{table}]")[0]
    assert count == _expected_counts(shipped.files[0])[table]
    assert count > 0


@pytest.mark.parametrize(
    "table",
    [
        "incidents",
        "entities",
        "synonyms",
        "intents",
        "utterances",
        "quotes",
        "entity_answers",
        "related",
    ],
)
def test_required_tables_exist(stored: Path, table: str) -> None:
    names = {row[0] for row in _query(stored, "SELECT name FROM sqlite_master WHERE type='table'")}
    assert table in names


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        pytest.param(
            "SELECT publisher, published, url FROM incidents",
            [
                (
                    "서울경제",
                    "2020-03-02T17:12:00+09:00",
                    "https://news.naver.com/main/read.nhn?mode=LSD&mid=shm&sid1=105&oid=011"
                    "&aid=0003703348",
                )
            ],
            id="incident",
        ),
        pytest.param(
            "SELECT entity_id FROM synonyms WHERE synonym = '카톡'", [("kakaotalk",)], id="synonym"
        ),
        pytest.param(
            "SELECT kind, count(*) > 0 FROM utterances GROUP BY kind ORDER BY kind",
            [("keyword", 1), ("phrasing", 1)],
            id="utterance-kinds",
        ),
        pytest.param(
            "SELECT related_id FROM related WHERE intent_id = 'overview' ORDER BY position",
            [("outage_duration",), ("official_cause",), ("affected_services",)],
            id="related-in-order",
        ),
        pytest.param(
            "SELECT count(*) FROM quotes q JOIN intents i ON i.id = q.intent_id "
            "WHERE q.entity_id IS NULL",
            None,
            id="quotes-join-intents",
        ),
    ],
)
def test_rows_hold_the_knowledge(
    stored: Path, shipped: Knowledge, sql: str, expected: list[tuple[Any, ...]] | None
) -> None:
    rows = _query(stored, sql)
    if expected is None:  # every intent quote joins its intent
        expected = [(sum(len(i.quotes) for i in shipped.files[0].intents),)]
    assert rows == expected


def test_every_stored_quote_is_in_the_stored_document(stored: Path) -> None:
    ((document,),) = _query(stored, "SELECT document FROM knowledge_files")
    quotes = [q for (q,) in _query(stored, "SELECT quote FROM quotes")]
    assert quotes
    assert [q for q in quotes if q not in document] == []


def test_file_database_uses_wal(stored: Path) -> None:
    assert _query(stored, "PRAGMA journal_mode") == [("wal",)]
    with KnowledgeStore(stored) as store:
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        store.check_integrity()


def test_damaged_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "not-a.db"
    path.write_bytes(b"this is not an SQLite database, just text" * 100)
    with pytest.raises(StoreError, match=r"not-a\.db"):
        KnowledgeStore(path)


# --- All or nothing -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "broken",
    [
        pytest.param(lambda d: d["intents"][0]["quotes"].append("기사에 없는 문장."), id="quote"),
        pytest.param(lambda d: d["intents"][0].pop("answer"), id="missing-field"),
        pytest.param(lambda d: d["entities"][0].update(default_intent="nope"), id="reference"),
        pytest.param(lambda d: "incident: [\n", id="yaml-syntax"),
    ],
)
def test_failed_cli_load_leaves_the_store_byte_for_byte_intact(
    broken: Callable[[dict[str, Any]], Any],
    stored: Path,
    knowledge_data: dict[str, Any],
    make_knowledge: Callable[..., Path],
    isolated_env: Path,
) -> None:
    result = broken(knowledge_data)
    folder = make_knowledge(result if isinstance(result, str) else knowledge_data)
    before_dump, before_bytes = _dump(stored), _sha256(stored)
    assert any("INSERT INTO" in line for line in before_dump)

    run = CliRunner().invoke(cli, ["--knowledge", str(folder), "--db", str(stored), "load"])

    assert run.exit_code == 1, run.output
    assert "not changed" in run.stderr
    assert _dump(stored) == before_dump
    assert _sha256(stored) == before_bytes


@pytest.fixture
def fail_insert(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Make the insert into one table fail half-way: one row written, then an error."""

    def arm(table: str) -> None:
        original = sqlite_utils.db.Table.insert_all

        def insert_all(self: sqlite_utils.db.Table, records: Any, *args: Any, **kw: Any) -> Any:
            if self.name == table:
                original(self, list(records)[:1], *args, **kw)
                raise sqlite3.IntegrityError(f"simulated failure while inserting into {table}")
            return original(self, records, *args, **kw)

        monkeypatch.setattr(sqlite_utils.db.Table, "insert_all", insert_all)

    return arm


@pytest.mark.parametrize("table", ["knowledge_files", "intents", "quotes", "related"])
def test_failure_mid_transaction_keeps_the_previous_knowledge(
    table: str,
    stored: Path,
    shipped: Knowledge,
    changed: Knowledge,
    fail_insert: Callable[[str], None],
) -> None:
    before = _dump(stored)
    fail_insert(table)
    with KnowledgeStore(stored) as store:
        with pytest.raises(StoreError, match="nothing was changed") as info:
            store.replace(changed)
        assert isinstance(info.value.__cause__, sqlite3.IntegrityError)
        assert store.content_hash() == shipped.content_hash
        back = store.read()
        assert back is not None and back.files == shipped.files
        assert store.counts() == _expected_counts(shipped.files[0])
    assert _dump(stored) == before


@pytest.mark.parametrize("table", ["incidents", "related"])
def test_failed_first_replace_leaves_no_knowledge(
    table: str, db_path: Path, shipped: Knowledge, fail_insert: Callable[[str], None]
) -> None:
    fail_insert(table)
    with KnowledgeStore(db_path) as store:
        with pytest.raises(StoreError):
            store.replace(shipped)
        assert store.read() is None
        assert store.content_hash() is None
        assert store.counts() == {}


def test_failed_cli_load_mid_transaction_reports_and_keeps_the_store(
    stored: Path,
    knowledge_data: dict[str, Any],
    make_knowledge: Callable[..., Path],
    fail_insert: Callable[[str], None],
    isolated_env: Path,
) -> None:
    knowledge_data["intents"][0]["answer"] = "바뀐 답변입니다."
    folder = make_knowledge(knowledge_data)
    before = _dump(stored)
    fail_insert("utterances")

    run = CliRunner().invoke(cli, ["--knowledge", str(folder), "--db", str(stored), "load"])

    assert run.exit_code == 1, run.output
    assert "simulated failure" in run.stderr
    assert "nothing was changed" in run.stderr
    assert _dump(stored) == before
