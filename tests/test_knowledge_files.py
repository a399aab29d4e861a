"""The shipped knowledge: valid, faithful to the article, and complete enough to answer."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot.knowledge.loader import Knowledge, load_knowledge, phrasing_key
from bot.knowledge.schema import Intent, KnowledgeFile

KNOWLEDGE_DIR = Path(__file__).resolve().parent.parent / "knowledge"
YAML_NAME = "kakaotalk-outage-2020-03-02.yaml"
ARTICLE_NAME = "kakaotalk-outage-2020-03-02.txt"

# Read once at collection time, only to name the parametrized cases; the tests themselves
# check the validated models returned by load_knowledge.
_RAW: dict[str, Any] = yaml.safe_load((KNOWLEDGE_DIR / YAML_NAME).read_text(encoding="utf-8"))
INTENT_IDS = [intent["id"] for intent in _RAW["intents"]]
QUOTE_CASES = [
    pytest.param(intent["id"], None, q, id=f"{intent['id']}-quotes[{n}]")
    for intent in _RAW["intents"]
    for n, q in enumerate(intent["quotes"])
] + [
    pytest.param(intent["id"], ea["entity"], q, id=f"{intent['id']}-{ea['entity']}-quotes[{n}]")
    for intent in _RAW["intents"]
    for ea in intent.get("entity_answers", [])
    for n, q in enumerate(ea["quotes"])
]

MIN_PHRASINGS = 8

# Facts the answers must cover, exactly as the article writes them.
ARTICLE_FACTS = [
    "8시 58분",
    "10시 17분",
    "1시간 20분",
    "41분 17초",
    "오후 3시",
    "2016년 9월",
    "랭키닷컴",
    "035720",
    "2월 16일",
    "2월 22일",
]


@pytest.fixture(scope="module")
def knowledge() -> Knowledge:
    return load_knowledge([KNOWLEDGE_DIR])


@pytest.fixture(scope="module")
def model(knowledge: Knowledge) -> KnowledgeFile:
    (only,) = knowledge.files
    return only


@pytest.fixture(scope="module")
def article() -> str:
    return (KNOWLEDGE_DIR / ARTICLE_NAME).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def article_header(article: str) -> dict[str, str]:
    """The 'Key: value' lines at the top of the article text, up to the first blank line."""
    header: dict[str, str] = {}
    for line in article.splitlines():
        if not line.strip():
            break
        key, _, value = line.partition(":")
        header[key.strip()] = value.strip()
    return header


def _all_answers(model: KnowledgeFile) -> list[str]:
    answers = [intent.answer for intent in model.intents]
    answers += [ea.answer for intent in model.intents for ea in intent.entity_answers]
    return answers


def _intent(model: KnowledgeFile, intent_id: str) -> Intent:
    matches = [i for i in model.intents if i.id == intent_id]
    assert len(matches) == 1, f"intent {intent_id} defined {len(matches)} times"
    return matches[0]


def test_shipped_knowledge_loads(knowledge: Knowledge) -> None:
    assert [s.path.name for s in knowledge.sources] == [YAML_NAME]
    assert len(knowledge.intents) == len(INTENT_IDS)
    assert re.fullmatch(r"[0-9a-f]{64}", knowledge.content_hash)


def test_loading_twice_gives_the_same_content_hash(knowledge: Knowledge) -> None:
    assert load_knowledge([KNOWLEDGE_DIR]).content_hash == knowledge.content_hash
    # The explicit file is the same knowledge as its folder.
    assert load_knowledge([KNOWLEDGE_DIR / YAML_NAME]).content_hash == knowledge.content_hash


def test_source_document_is_the_article(knowledge: Knowledge, article: str) -> None:
    (source,) = knowledge.sources
    assert source.model.incident.source.document == ARTICLE_NAME
    assert source.document_text == article


@pytest.mark.parametrize(("intent_id", "entity", "quote"), QUOTE_CASES)
def test_every_quote_is_verbatim_in_the_article(
    model: KnowledgeFile, article: str, intent_id: str, entity: str | None, quote: str
) -> None:
    intent = _intent(model, intent_id)
    if entity is None:
        assert quote in intent.quotes
    else:
        (answer,) = [ea for ea in intent.entity_answers if ea.entity == entity]
        assert quote in answer.quotes
    assert quote in article


def test_every_intent_and_entity_answer_has_quotes(model: KnowledgeFile) -> None:
    assert all(intent.quotes for intent in model.intents)
    assert all(ea.quotes for intent in model.intents for ea in intent.entity_answers)
    assert len(QUOTE_CASES) >= len(model.intents)


@pytest.mark.parametrize("intent_id", INTENT_IDS)
def test_every_intent_has_enough_phrasings(model: KnowledgeFile, intent_id: str) -> None:
    intent = _intent(model, intent_id)
    assert len(intent.phrasings) >= MIN_PHRASINGS
    # ... and they are really different questions, not the same one re-spaced.
    keys = [phrasing_key(p) for p in intent.phrasings]
    assert len(set(keys)) == len(keys), [k for k, n in Counter(keys).items() if n > 1]


@pytest.mark.parametrize("intent_id", INTENT_IDS)
def test_every_intent_has_an_answer(model: KnowledgeFile, intent_id: str) -> None:
    intent = _intent(model, intent_id)
    assert intent.answer.strip()
    assert intent.question.strip()
    assert intent.answer_en is not None and intent.answer_en.strip()
    for ea in intent.entity_answers:
        assert ea.answer.strip()


@pytest.mark.parametrize("section", ["categories", "entities", "intents"])
def test_ids_are_unique(model: KnowledgeFile, section: str) -> None:
    ids = [item.id for item in getattr(model, section)]
    assert ids
    assert [i for i, n in Counter(ids).items() if n > 1] == []


def test_phrasings_are_unique_across_intents(model: KnowledgeFile) -> None:
    owner: dict[str, str] = {}
    clashes = []
    for intent in model.intents:
        for phrasing in intent.phrasings:
            key = phrasing_key(phrasing)
            if owner.setdefault(key, intent.id) != intent.id:
                clashes.append((phrasing, owner[key], intent.id))
    assert clashes == []


def test_references_point_to_existing_items(model: KnowledgeFile) -> None:
    categories = {c.id for c in model.categories}
    entities = {e.id for e in model.entities}
    intents = {i.id for i in model.intents}
    assert {i.category for i in model.intents} <= categories
    assert {r for i in model.intents for r in i.related} <= intents
    assert {ea.entity for i in model.intents for ea in i.entity_answers} <= entities
    assert {e.default_intent for e in model.entities if e.default_intent} <= intents


# --- Incident metadata against the article header ------------------------------------------


def _header_datetime(value: str) -> dt.datetime:
    """'2020.03.02. 오후 5:12' (Naver's format, Korean time) -> an aware datetime."""
    match = re.fullmatch(r"(\d{4})\.(\d{2})\.(\d{2})\. (오전|오후) (\d{1,2}):(\d{2})", value)
    assert match, value
    year, month, day, half, hour, minute = match.groups()
    hour_24 = int(hour) % 12 + (12 if half == "오후" else 0)
    return dt.datetime(
        int(year),
        int(month),
        int(day),
        hour_24,
        int(minute),
        tzinfo=dt.timezone(dt.timedelta(hours=9)),
    )


def test_article_header_is_what_the_metadata_claims(article_header: dict[str, str]) -> None:
    # Guards the parser below: the header itself holds the values the brief names.
    assert article_header["Authors"].split("|")[0].strip() == "서울경제"
    assert _header_datetime(article_header["Date&Time"]) == dt.datetime(
        2020, 3, 2, 17, 12, tzinfo=dt.timezone(dt.timedelta(hours=9))
    )
    assert article_header["URL"].startswith("https://news.naver.com/")


def test_publisher_matches_the_article(
    model: KnowledgeFile, article_header: dict[str, str]
) -> None:
    publisher = model.incident.source.publisher
    assert publisher == "서울경제"
    assert publisher == article_header["Authors"].split("|")[0].strip()


def test_published_time_matches_the_article(
    model: KnowledgeFile, article_header: dict[str, str]
) -> None:
    published = model.incident.source.published
    assert published.utcoffset() == dt.timedelta(hours=9)
    assert published == dt.datetime(2020, 3, 2, 17, 12, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    assert published == _header_datetime(article_header["Date&Time"])
    assert published.isoformat() == "2020-03-02T17:12:00+09:00"


def test_url_and_title_match_the_article(
    model: KnowledgeFile, article_header: dict[str, str]
) -> None:
    source = model.incident.source
    assert source.url == article_header["URL"]
    assert source.url == (
        "https://news.naver.com/main/read.nhn?mode=LSD&mid=shm&sid1=105&oid=011&aid=0003703348"
    )
    assert source.title == article_header["Title"]


def test_author_and_date_match_the_article(model: KnowledgeFile, article: str) -> None:
    incident = model.incident
    # The byline is '/백주원기자' at the end of the article.
    assert incident.source.author.replace(" ", "") in article.replace(" ", "")
    assert incident.date == dt.date(2020, 3, 2)
    assert incident.date == incident.source.published.date()
    offset = dt.datetime(2020, 3, 2, 12, tzinfo=ZoneInfo(incident.timezone)).utcoffset()
    assert offset == incident.source.published.utcoffset()


# --- Coverage of the article's numbers -----------------------------------------------------


@pytest.mark.parametrize("fact", ARTICLE_FACTS)
def test_answers_mention_the_articles_exact_facts(
    model: KnowledgeFile, article: str, fact: str
) -> None:
    assert fact in article, "the fact itself must be written this way in the article"
    answers = _all_answers(model)
    assert any(fact in answer for answer in answers), f"no answer mentions {fact!r}"
