"""The knowledge file format, as pydantic models.

One YAML file describes one incident: its metadata and source, the entities people ask
about (with the nicknames they really type), and the intents (facts) with their
phrasings, answers and the verbatim article quotes that support them.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

NonEmptyStr = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
# Ids go into Telegram callback data (64 bytes at most), hence the short limit.
Identifier = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z][a-z0-9_\-]{0,39}$")
]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(Model):
    """Where the facts come from: the article and the document holding its text."""

    publisher: NonEmptyStr
    author: NonEmptyStr
    published: dt.datetime
    url: NonEmptyStr
    title: NonEmptyStr
    document: NonEmptyStr = Field(
        description="Path of the article text, relative to the knowledge folder."
    )


class Incident(Model):
    id: Identifier
    title: NonEmptyStr
    title_en: NonEmptyStr | None = None
    date: dt.date
    timezone: NonEmptyStr
    summary: NonEmptyStr
    summary_en: NonEmptyStr | None = None
    source: Source


class Category(Model):
    id: Identifier
    title: NonEmptyStr
    title_en: NonEmptyStr | None = None


class Entity(Model):
    """A service or thing people ask about, with the names they use for it."""

    id: Identifier
    name: NonEmptyStr
    name_en: NonEmptyStr | None = None
    synonyms: list[NonEmptyStr] = Field(min_length=1)
    default_intent: Identifier | None = Field(
        default=None,
        description="The intent that answers a bare mention of this entity ('카카오스토리는?').",
    )
    kind: Identifier | None = Field(
        default=None,
        description=(
            "Entities of one kind stand in for each other in a follow-up: '카톡은?' after "
            "'카카오스토리는 언제 다시 됐어?' asks the same of KakaoTalk (e.g. service, platform)."
        ),
    )


class EntityAnswer(Model):
    """An answer specific to one entity, where the article distinguishes it."""

    entity: Identifier
    answer: NonEmptyStr
    answer_en: NonEmptyStr | None = None
    quotes: list[NonEmptyStr] = Field(min_length=1)


class Intent(Model):
    """A fact people ask about."""

    id: Identifier
    category: Identifier
    question: NonEmptyStr = Field(description="The canonical question, shown on buttons.")
    question_en: NonEmptyStr | None = None
    phrasings: list[NonEmptyStr] = Field(min_length=1)
    keywords: list[NonEmptyStr] = Field(default_factory=list)
    answer: NonEmptyStr
    answer_en: NonEmptyStr | None = None
    quotes: list[NonEmptyStr] = Field(min_length=1)
    related: list[Identifier] = Field(default_factory=list)
    entity_answers: list[EntityAnswer] = Field(default_factory=list)


class KnowledgeFile(Model):
    """The whole content of one knowledge file."""

    incident: Incident
    categories: list[Category] = Field(min_length=1)
    entities: list[Entity] = Field(min_length=1)
    intents: list[Intent] = Field(min_length=1)
    synonyms: list[Annotated[list[NonEmptyStr], Field(min_length=2)]] = Field(
        default_factory=list,
        description="Groups of interchangeable words ('복구', '정상화', 'recover'); the first "
        "word of a group stands for all of them when questions are matched.",
    )
    decline_terms: list[NonEmptyStr] = Field(
        default_factory=list,
        description="Words that mark a question about something else (another incident, "
        "another company); such questions are declined. A '*' between words allows any "
        "words there.",
    )
    not_covered: list[NonEmptyStr] = Field(
        default_factory=list,
        description="Words of topics people ask about that the article does not cover "
        "(compensation, the weekday, the share price); such questions are declined. A '*' "
        "between words allows any words there ('연말연시 * 몇 분').",
    )
