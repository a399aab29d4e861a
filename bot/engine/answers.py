"""Composing replies from the knowledge: answers with their source, suggestions, refusals.

Every fact in a reply comes from the knowledge base; the only text written here is the
frame around it (refusal wording, labels), in Korean or English.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from bot.engine.matcher import Candidate
from bot.knowledge.schema import Intent

if TYPE_CHECKING:
    from bot.engine.dialogue import Engine

ReplyKind = Literal["answer", "suggest", "decline"]


@dataclass(frozen=True)
class Suggestion:
    intent_id: str
    question: str


@dataclass(frozen=True)
class SourceRef:
    """Where an answer comes from: the verbatim quote(s) and the article."""

    quotes: tuple[str, ...]
    publisher: str
    author: str
    published: str
    url: str
    title: str

    def line(self) -> str:
        """One line naming the source: publisher, date, and the quote."""
        quote = " … ".join(self.quotes)
        return f"{self.publisher} {self.published}: “{quote}”"


@dataclass(frozen=True)
class Reply:
    """What the engine says to one question; transports render it."""

    kind: ReplyKind
    question: str
    text: str
    confidence: float
    english: bool
    intent_id: str | None = None
    entity_id: str | None = None
    reason: str | None = None
    source: SourceRef | None = None
    suggestions: tuple[Suggestion, ...] = ()
    related: tuple[Suggestion, ...] = ()
    candidates: tuple[Candidate, ...] = field(default=(), repr=False)

    @property
    def answered(self) -> bool:
        return self.kind == "answer"

    def to_json(self) -> dict[str, Any]:
        """The JSON contract of `incident-bot ask --json`."""
        return {
            "question": self.question,
            "answered": self.answered,
            "intent": self.intent_id if self.answered else None,
            "entity": self.entity_id if self.answered else None,
            "confidence": round(self.confidence, 4),
            "answer": self.text,
            "suggestions": [s.question for s in self.suggestions],
            "source": self.source.line() if self.source else None,
        }


def answer_parts(intent: Intent, entity_id: str | None) -> tuple[str, str | None, tuple[str, ...]]:
    """The answer (Korean, English) and its quotes: the entity's own where the article
    tells it apart, the general one otherwise."""
    for specific in intent.entity_answers:
        if entity_id is not None and specific.entity == entity_id:
            return specific.answer, specific.answer_en, tuple(specific.quotes)
    return intent.answer, intent.answer_en, tuple(intent.quotes)


def compose_answer(
    engine: Engine,
    question: str,
    intent_id: str,
    entity_id: str | None,
    confidence: float,
    english: bool,
    candidates: list[Candidate],
) -> Reply:
    intent, source = engine.knowledge.intents[intent_id]
    text, text_en, quotes = answer_parts(intent, entity_id)
    meta = source.model.incident.source
    ref = SourceRef(
        quotes=quotes,
        publisher=meta.publisher,
        author=meta.author,
        published=meta.published.date().isoformat(),
        url=meta.url,
        title=meta.title,
    )
    related = tuple(Suggestion(r, engine.question_of(r, english)) for r in intent.related[:3])
    return Reply(
        kind="answer",
        question=question,
        text=text_en if english and text_en else text,
        confidence=confidence,
        english=english,
        intent_id=intent_id,
        entity_id=entity_id,
        source=ref,
        related=related,
        candidates=tuple(candidates[:5]),
    )


def compose_suggest(
    engine: Engine,
    question: str,
    confidence: float,
    english: bool,
    options: list[Suggestion],
    candidates: list[Candidate],
) -> Reply:
    if not options:
        return compose_decline(engine, question, "low_confidence", english, candidates)
    text = (
        f"I'm not sure what you mean. {_scope(engine, english)} Did you mean one of these?"
        if english
        else f"정확히 어떤 질문인지 잘 모르겠어요. {_scope(engine, english)} "
        "혹시 이 중 하나인가요?"
    )
    return Reply(
        kind="suggest",
        question=question,
        text=text,
        confidence=confidence,
        english=english,
        reason="ambiguous",
        suggestions=tuple(options[:3]),
        candidates=tuple(candidates[:5]),
    )


def _scope(engine: Engine, english: bool) -> str:
    incidents = [s.model.incident for s in engine.knowledge.sources]
    if english:
        names = "; ".join(
            f"{i.title_en or i.title} ({i.date.isoformat()}, {i.source.publisher})"
            for i in incidents
        )
        return f"I only know what one article reports about: {names}."
    names = "; ".join(
        f"{i.title} ({i.source.publisher} 보도)"
        if str(i.date.year) in i.title
        else f"{i.title} ({i.date:%Y-%m-%d}, {i.source.publisher} 보도)"
        for i in incidents
    )
    return f"저는 {names}에 대해 기사에 나온 사실만 알려드려요."


def compose_decline(
    engine: Engine,
    question: str,
    reason: str,
    english: bool,
    candidates: list[Candidate] | tuple[Candidate, ...],
) -> Reply:
    if english:
        opening = {
            "empty": "Please type a question.",
            "other_incident": "That seems to be about a different incident, which I know "
            "nothing about.",
            "not_covered": "The article doesn't say anything about that.",
            "small_talk": "Hello! I'm a Q&A bot.",
            "acknowledged": "Sure. Ask me more whenever you like.",
        }.get(reason, "Sorry, I don't know that: the article doesn't say.")
        closing = "You could ask, for example:"
    else:
        opening = {
            "empty": "질문을 입력해 주세요.",
            "other_incident": (
                "다른 사고나 다른 시기에 대한 질문 같아요. 그 일은 제가 알지 못해요."
            ),
            "not_covered": "그 내용은 기사에 나오지 않아서 답해 드릴 수 없어요.",
            "small_talk": "안녕하세요! 저는 질문에 답하는 챗봇이에요.",
            "acknowledged": "네, 더 궁금한 게 있으면 언제든 물어보세요.",
        }.get(reason, "죄송해요, 그 내용은 기사에 나오지 않아서 알 수 없어요.")
        closing = "이런 걸 물어보실 수 있어요:"
    text = f"{opening} {_scope(engine, english)} {closing}"
    return Reply(
        kind="decline",
        question=question,
        text=text,
        confidence=0.0 if not candidates else min(1.0, candidates[0].score / 100.0),
        english=english,
        reason=reason,
        suggestions=tuple(engine.topics(english)[:4]),
        candidates=tuple(candidates[:5]),
    )
