"""Decisions: answer, "did you mean", or decline; and conversation context for follow-ups.

The engine knows nothing of Telegram: it takes a question (and a conversation key) and
returns a `Reply` that every transport (CLI, terminal chat, Telegram) renders its own way.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import TypeGuard

from bot.engine.answers import (
    Reply,
    Suggestion,
    answer_parts,
    compose_answer,
    compose_decline,
    compose_suggest,
)
from bot.engine.matcher import (
    DATE_WORD_RE,
    MAY_NAME_A_DAY_RE,
    SMALL_TALK,
    YEAR_RE,
    Candidate,
    MatchIndex,
    Query,
    without_term,
)
from bot.knowledge.loader import Knowledge
from bot.language.normalize import clean, to_jamo
from bot.language.question_type import FIGURE_KINDS, question_kinds, stated_kinds

CANDIDATES = 50
_SERIALS = itertools.count(1)
# A follow-up read together with the previous question scores at most this share.
JOINT_WEIGHT = 0.85
SHORT_QUESTION = 3  # content words: at most this many may continue the previous question
# ... unless it names its own topic and is read this surely (0..100), this far ahead of the
# next reading: no reading of it with the previous question ever came first then.
SURE_ALONE = 60.0
SURE_ALONE_GAP = 10.0
# Points within which an answer specific to the named thing beats a general one ('폰
# 로그인도 불가?': the platforms' answer for the phone, not the symptoms in general) ...
SPECIFIC_MARGIN = 15.0
# ... and it then leads by this much: the other does not speak of the thing named at all.
SPECIFIC_LEAD = 3.0
# Points within which it beats a leader that is the own fact of a thing named, KakaoTalk's
# overview included ('질본 톡채널 서비스는 무엇이며 …': the KDCA chatbot's fact, not the
# Talk Channel's outage).
OWN_FACT_MARGIN = 4.0
MAX_QUESTION_CHARS = 300
# A question told after a story is read alone unless the whole is this sure; its reading
# alone must then lead the whole's by STORY_LEAD if the whole would be answered anyway.
STORY_SURE = 0.60
STORY_LEAD = 0.10
# Korean second-person words: a question addressed to the bot about itself.
ABOUT_THE_BOT = frozenset(
    {"너", "넌", "너는", "너가", "니가", "네가", "너의", "니", "너도", "너한테"}
)
# ... in English: 'are you a bot?', 'who are you', 'what's your name'.
_ABOUT_THE_BOT_EN = re.compile(r" (?:are|r) (?:you|u) | who (?:are|r) (?:you|u) | your name ")
# Words that ask "when/who/why/how much" without naming what about.
QUESTION_WORDS = frozenset(
    {
        "언제",
        "부터",
        "까지",
        "얼마",
        "얼마나",
        "몇",
        "누구",
        "누가",
        "왜",
        "원인",
        "어디",
        "어디서",
        "무엇",
        "뭐",
        "when",
        "why",
        "who",
        "where",
        "how",
        "long",
        "much",
    }
)
# Points more for the intent a previous one lists first among its related ones (and one
# more for the previous intent itself: going on about it is likelier still).
_FIRST_RELATED = 5.0
# How much of the question the phrasing of an intent with the thing's own figure must
# explain to be taken instead of a leader that gives no figure
FIGURE_TERMS = 0.75
NAMED_CAUSE = ("원인", "이유", "cause", "reason")
FOLLOW_UP_MARKERS = ("그럼", "그러면", "그건", "그리고", "그다음", "then", "what about", "and ")


@dataclass(frozen=True)
class Thresholds:
    """Decision thresholds, from configuration."""

    answer: float = 0.45
    suggest: float = 0.25
    margin: float = 0.02
    clear_answer: float = 0.30  # answer below `answer` when the runner-up is far behind
    clear_margin: float = 0.10
    # ... and below it too, when the reading is the previous fact or one near it (the
    # same topic, or a fact the knowledge relates to it) and the runner-up is behind
    context_answer: float = 0.40
    context_margin: float = 0.08


@dataclass(frozen=True)
class Turn:
    """What a conversation last talked about."""

    intent_id: str
    entity_id: str | None
    at: float
    # The question as understood (with its own context, for a follow-up): the next
    # follow-up is read in its light ('언제부터?' after '재난관리시스템엔 왜 들어갔어?').
    question: str = ""
    prepared: Query | None = None  # that question, normalised (so it is not done twice) ...
    engine: int = 0  # ... by this engine (after a reload, entity marks may mean others)
    # A question declined since as about another incident ('2022년 판교 화재 때 얼마나
    # 먹통이었어?'): '2020년 3월 2일 건은?' then asks the same of this one. With no
    # answer before it, intent_id is "".
    declined: str = ""


class ConversationMemory:
    """Last answered intent per conversation (and a question declined since as about
    another incident), expiring after `ttl` seconds (bounded LRU)."""

    def __init__(self, ttl: float = 600.0, max_size: int = 10_000) -> None:
        self.ttl = ttl
        self.max_size = max_size
        self._turns: OrderedDict[str, Turn] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str | None, now: float) -> Turn | None:
        if key is None:
            return None
        with self._lock:
            turn = self._turns.get(key)
            if turn is None:
                return None
            if now - turn.at > self.ttl:
                del self._turns[key]
                return None
            return turn

    def remember(self, key: str | None, turn: Turn) -> None:
        if key is None:
            return
        with self._lock:
            self._turns[key] = turn
            self._turns.move_to_end(key)
            while len(self._turns) > self.max_size:
                self._turns.popitem(last=False)

    def forget(self, key: str) -> None:
        with self._lock:
            self._turns.pop(key, None)

    def __len__(self) -> int:
        return len(self._turns)


class Engine:
    """Question answering over one immutable knowledge snapshot."""

    def __init__(self, knowledge: Knowledge, thresholds: Thresholds | None = None) -> None:
        self.knowledge = knowledge
        self.thresholds = thresholds or Thresholds()
        self.index = MatchIndex.build(knowledge)
        self.serial = next(_SERIALS)  # tells this engine's remembered turns from another's
        self._by_category: dict[str, set[str]] = {}
        # Per intent, the kinds of figure its answers state (see stated_kinds), and the
        # years it speaks of: its incident's and any its answers name.
        self._stated: dict[str, frozenset[str]] = {}
        self._years: dict[str, frozenset[str]] = {}
        for intent, source in knowledge.intents.values():
            self._by_category.setdefault(intent.category, set()).add(intent.id)
            texts = [intent.answer, intent.answer_en or ""]
            texts += [t for a in intent.entity_answers for t in (a.answer, a.answer_en or "")]
            said = " ".join(texts)
            self._stated[intent.id] = stated_kinds(said)
            years = {str(source.model.incident.date.year), *YEAR_RE.findall(said)}
            self._years[intent.id] = frozenset(years)

    def _answered(self, turn: Turn | None) -> TypeGuard[Turn]:
        """Did the turn answer an intent of this knowledge (not a refusal, not a "did you
        mean", not one of a knowledge reloaded without it)?"""
        return turn is not None and turn.intent_id in self.index.intents

    def _answers_for(self, intent_id: str, entity_ids: Collection[str]) -> bool:
        """Has the intent an answer of its own for one of these things?"""
        return any(a.entity in entity_ids for a in self.index.intents[intent_id].entity_answers)

    def _entity_for(self, intent_id: str, query: Query, previous: Turn | None) -> str | None:
        intent = self.index.intents[intent_id]
        answered = {a.entity for a in intent.entity_answers}
        for entity_id in query.entities:
            if entity_id in answered:
                return entity_id
        if not query.entities and previous is not None and previous.entity_id in answered:
            return previous.entity_id
        return None

    def _thing_answered(self, intent_id: str, query: Query) -> str | None:
        """The specific thing the question names (not one named all over the knowledge),
        if the intent has its own answer for it."""
        things = self.index.specific_entities(query.entities)
        if not things:
            return None
        thing = things[0]
        if not self._answers_for(intent_id, (thing,)):
            return None
        if query.kinds and not self._answers_kind(intent_id, query.kinds):
            return None  # 'PC카톡 로그인이 안 됐어. 원인이 뭐야?': the PC's fact tells no cause
        # ... and it states the figure asked, if any ('When was Talk Channel unavailable?':
        # its answer says only that it was, so other readings stay in the running).
        asked = _figures_asked(query)
        if asked:
            text, text_en, _quotes = answer_parts(self.index.intents[intent_id], thing)
            if not asked & stated_kinds(f"{text} {text_en or ''}"):
                return None
        return thing

    def _quotes_for(self, intent_id: str, query: Query, previous: Turn | None) -> frozenset[str]:
        entity_id = self._entity_for(intent_id, query, previous)
        return frozenset(answer_parts(self.index.intents[intent_id], entity_id)[2])

    def understand(
        self, text: str, previous: Turn | None = None
    ) -> tuple[Query, list[Candidate], str | None, float, str]:
        """Rank intents in the light of the previous turn.

        Returns the query, the ranked candidates, the chosen intent (or None), the
        confidence in 0..1, and the reason for the decision.
        """
        read = self._understand(text, previous)
        if read[4] != "matched" or read[3] >= STORY_SURE:
            return read
        # A story told before the question ('친구 생일선물 보내려다 실패했는데 선물하기도
        # 장애 있었어?') drowns the question in words no fact has: the question alone, when
        # it is read more surely (by STORY_LEAD when the whole would be answered anyway).
        # The whole was read first, so nothing it declines (another incident, a fact not
        # covered) is answered from its last clause.
        lead = STORY_LEAD if self._surely(read[1]) else 0.0
        named = set(self.index.specific_entities(read[0].entities))
        # ... or a question with a remark after it ('모바일 카톡은 어땠나요? 저는 폰으로만
        # 써서요'): the question alone, on the same terms.
        tail = _question_part(text[:MAX_QUESTION_CHARS])
        if tail is not None:
            alone = self._understand(tail, previous, lean=False)
            if self._stands_alone(read, alone, lead, named):
                return alone
        # The remark may carry the topic ('카톡 장애 있었던 거 알아? 사과문도 올렸다던데'):
        # the question alone must read as the whole does, only more surely.
        head = _asked_first(text)
        if head is not None:
            alone = self._understand(head, previous, lean=False)
            if alone[2] == read[2] and self._stands_alone(read, alone, lead, named):
                return alone
        return read

    def _stands_alone(
        self,
        read: tuple[Query, list[Candidate], str | None, float, str],
        alone: tuple[Query, list[Candidate], str | None, float, str],
        lead: float,
        named: set[str],
    ) -> bool:
        """Is a part of the question read on its own better than the whole?"""
        return (
            alone[4] in ("matched", "entity_default")
            and alone[3] > read[3] + lead
            and len(_topic_words(alone[0])) + len(alone[0].entities) >= 2
            and not _POINTS_BACK.intersection(alone[0].stems)
            and named <= set(alone[0].entities)
            and alone[2] in {c.intent_id for c in read[1][:3]}
            # The question stands on its own: it names its topic (two words or things
            # besides the question words; '언제 복구됐어?' goes on the story), points back
            # at nothing in the story ('그거 무슨 오류였어' does), and leaves out nothing
            # the story named ('카카오스토리에 글 올리려다 실패했대. 언제 복구됐어?'); and
            # the whole had thought of its reading too.
        )

    def _surely(self, candidates: list[Candidate]) -> bool:
        """Is the top candidate sure enough to answer, whatever its runner-up?"""
        t = self.thresholds
        top = candidates[0].score / 100.0
        second = _runner_up(candidates)
        gap = top - second.score / 100.0 if second else 1.0
        return top >= t.answer or (top >= t.clear_answer and gap >= t.clear_margin)

    def _understand(
        self, text: str, previous: Turn | None = None, *, lean: bool = True
    ) -> tuple[Query, list[Candidate], str | None, float, str]:
        # Nobody asks in more than a few sentences; reading only the start bounds the time
        # a 10,000-character message can take.
        query = self.index.prepare(text[:MAX_QUESTION_CHARS])
        if query.is_empty:
            return query, [], None, 0.0, "empty"
        if _about_another_incident(query):
            return query, [], None, 0.0, "other_incident"
        if query.not_covered:
            return query, [], None, 0.0, "not_covered"
        if query.content_stems and all(s in SMALL_TALK for s in query.content_stems):
            return query, [], None, 0.0, "small_talk"
        if (
            not query.entities
            and self.index.canonical("기사") not in query.content_stems
            and (
                any(w in ABOUT_THE_BOT for w in query.cleaned.split())
                or _ABOUT_THE_BOT_EN.search(f" {query.cleaned} ")
            )
        ):
            # '넌 뭐하는 봇이야': a question about the bot itself, not about the incident
            # ('너 어디 기사 보고 말하는 거야?' asks the article's source).
            return query, [], None, 0.0, "small_talk"

        known = self._answered(previous)
        if _ACKNOWLEDGED.match(query.cleaned):
            return query, [], None, 0.0, "acknowledged"  # '아 그렇구나': nothing asked
        says_nothing = not (query.content_stems or query.entities or query.kinds)
        if says_nothing and self._answered(previous) and _is_a_question(query):
            # Nothing of its own ('뭐라고 했는데?', '그래서?'; 'when?' asks a time): the
            # previous answer goes on.
            return query, [], previous.intent_id, 0.8, "follow_up_again"
        who = _who_said(query)
        if self._answered(previous) and (who or _why_said(query)):
            # '왜 그런 말이 나온 거야?', '그건 누가 말했어?', 'who said that?': why that is
            # said, or whose word the previous fact is; its answer says (카카오에 따르면,
            # 일각에서는 …), with its source.
            intent_id = self._whose_word(previous) if who else previous.intent_id
            return query, [], intent_id, 0.8, "follow_up_again"
        if query.only_entities:
            entity_id = self.index.most_specific_entity(query.entities)
            default = self.index.entities[entity_id].default_intent
            if self._answered(previous):
                if self._answers_for(previous.intent_id, (entity_id,)):
                    return query, [], previous.intent_id, 0.9, "follow_up_entity"
                if previous.entity_id is not None and previous.entity_id != entity_id:
                    # "카톡은?" after the KakaoStory answer: the same fact, in general.
                    return query, [], previous.intent_id, 0.85, "follow_up_general"
                if default is not None and (
                    self._contrasts(entity_id, previous.question)
                    or self._own_fact_of_another(entity_id, previous)
                ):
                    # 'pc는?' after '폰에서 메시지 안 보내졌어?', a fact with no answer of its
                    # own for either: what the article says of the PC is its own fact; so
                    # is KakaoStory's, in '카스는?' after the Kakao T payment error.
                    return query, [], default, 0.85, "entity_default"
            elif default is not None:
                return query, [], default, 0.85, "entity_default"
            if not known and default is None:
                return query, [], None, 0.0, "no_candidate"
        elif query.entities and self._answered(previous) and _bare(query):
            # A thing and only question words ('카카오스토리도 그때부터?' after the start):
            # the previous fact for that thing, where the knowledge has its own answer.
            entity_id = self.index.most_specific_entity(query.entities)
            fits = not query.kinds or self._answers_kind(previous.intent_id, query.kinds)
            if fits and self._answers_for(previous.intent_id, (entity_id,)):
                return query, [], previous.intent_id, 0.85, "follow_up_entity"

        # Enough candidates for the follow-up re-ranking; far more than ever compete.
        candidates = self.index.score(query, limit=CANDIDATES)
        if not candidates:
            return query, [], None, 0.0, "no_candidate"
        if previous is not None:
            if known:
                candidates = self._in_context(query, candidates, previous)
            if lean and previous.question and self._may_lean_on(query, candidates, known):
                candidates = self._with_previous_question(query, candidates, previous)
            if query.only_entities and candidates[0].score < self.thresholds.answer * 100:
                named = self.index.most_specific_entity(query.entities)
                default = self.index.entities[named].default_intent
                if default is not None:
                    return query, candidates, default, 0.85, "entity_default"
        down = None if known else self._down_thing(query)
        if down is not None and candidates[0].score < self.thresholds.answer * 100:
            # '톡채널(옛 플러스친구)도 그날 이용 불가였나요?': was that thing hit at all;
            # its own fact says.
            default = self.index.entities[down].default_intent
            if default is not None:
                return query, candidates, default, 0.8, "entity_default"
        candidates = self._prefer_specific(query, candidates)
        top = candidates[0]
        confidence = top.score / 100.0
        return query, candidates, top.intent_id, max(0.0, min(1.0, confidence)), "matched"

    def _this_incidents_day_only(self, text: str) -> Query | None:
        """The question, prepared, if it names only this incident's day, year or month
        ('2020년 3월 2일 건은?', '그럼 2020년 카톡은?') and no other word it asks (no bare
        number); else None."""
        if not MAY_NAME_A_DAY_RE.search(text):
            return None  # no digit, no month: not read again (most questions)
        query = self.index.prepare(text[:MAX_QUESTION_CHARS])
        if _about_another_incident(query):
            return None
        words = [s for s in query.content_stems if s not in _SCENE_WORDS]
        dated = bool(words) and all(DATE_WORD_RE.match(w) for w in words)
        if dated and any(not w.isdigit() or YEAR_RE.fullmatch(w) for w in words):
            return query
        return None

    def _same_of_this_incident(self, question: str) -> str | None:
        """A question declined as about another incident, without the words that mark it
        ('2022년', '판교', '다음 카페') or another day: what it asks of this incident. None
        when nothing is left to ask ('판교 화재', '2022년 판교 화재 때는?')."""
        query = self.index.prepare(question)
        forms = dict(self.index.decline_forms)
        text = " ".join(
            w
            for w in query.cleaned.split()
            if not any(c.isdigit() for c in w) and not DATE_WORD_RE.match(w)
        )
        for term in query.decline_terms:
            text = without_term(text, forms[term])
        again = self.index.prepare(text)
        asks = [s for s in again.content_stems if s not in _SCENE_WORDS]
        if _about_another_incident(again) or not (asks or again.entities):
            return None
        return text

    @staticmethod
    def _remember_declined(
        memory: ConversationMemory,
        conversation: str | None,
        remembered: Turn | None,
        text: str,
        now: float,
    ) -> None:
        """Keep a question declined as about another time or incident with the context,
        which is otherwise left as it was."""
        other = text[:MAX_QUESTION_CHARS]
        turn = replace(remembered, declined=other, at=now) if remembered else None
        memory.remember(conversation, turn or Turn("", None, now, declined=other))

    def _figure_of_thing(self, query: Query, candidates: list[Candidate]) -> Candidate | None:
        """Among the leading candidates, one with an answer for a thing the question names
        that gives the figure asked, and whose phrasing explains most of the question ('카스
        먹통 얼마나 갔냐': the outage's length, for KakaoStory; not '카스 장애 원인 언제
        발표했어?', which no such phrasing explains)."""
        for c in candidates[1:5]:
            if (
                c.terms >= FIGURE_TERMS
                and self._answers_for(c.intent_id, query.entities)
                and not self._gives_no_figure_asked(query, c.intent_id)
            ):
                return c
        return None

    def _down_thing(self, query: Query) -> str | None:
        """The service or platform the question asks only whether it was down ('선물하기도
        안 됐어?', '톡채널도 이용 불가였나요?'), if it does: it names one (not one named
        all over the knowledge), says it did not work, asks no time, length or reason, and
        its other words are unknown to the knowledge."""
        if query.asked or not query.content_stems:
            return None
        things = [
            e for e in self.index.specific_entities(query.entities) if self.index.entities[e].kind
        ]
        stems = query.content_stems
        says_down = any(s in _DOWN_WORDS for s in stems) and all(
            s in _DOWN_WORDS or not self.index.known(s) for s in stems
        )
        return things[0] if things and says_down else None

    def _contrasts(self, entity_id: str, earlier: str) -> bool:
        """Did the earlier question name another side of this thing's own fact (the phone
        before 'pc는?': one fact tells of both platforms), and not this thing? Not when
        it asked a figure ('PC에서 몇 시부터 안 됐어?'): the same figure is asked again."""
        entity = self.index.entities[entity_id]
        if entity.kind is None or entity.default_intent is None:
            return False
        cleaned = clean(earlier)
        if question_kinds(cleaned) & FIGURE_KINDS:
            return False
        return self._names_another_owning(entity_id, cleaned, entity.default_intent)

    def _names_another_owning(self, entity_id: str, cleaned: str, fact: str) -> bool:
        """Did a (cleaned) question name, and not this thing, another thing of its kind
        whose own fact is `fact`?"""
        kind = self.index.entities[entity_id].kind
        named = {m.entity_id for m in self.index.recognizer.replace(cleaned)[1]}
        return entity_id not in named and any(
            (other := self.index.entities[e]).kind == kind and other.default_intent == fact
            for e in named
        )

    def _whose_word(self, previous: Turn) -> str:
        """The fact that says whose word the previous one is: itself, unless it is never
        asked who, and the fact the knowledge lists first after it is ('그건 누가 그랬는데?'
        after the usage figures: where they come from)."""
        related = self.index.intents[previous.intent_id].related
        if (
            related
            and related[0] in self.index.intents
            and not self.index.kind_fits(previous.intent_id, "person")
            and self.index.kind_fits(related[0], "person")
        ):
            return related[0]
        return previous.intent_id

    def _own_fact_of_another(self, entity_id: str, previous: Turn) -> bool:
        """Was the previous answer the own fact of another thing of this thing's kind,
        named in its question ('카카오T 결제 문제 뭐였어?', then '카스는?')?"""
        entity = self.index.entities[entity_id]
        if (
            entity.kind is None
            or entity.default_intent in (None, previous.intent_id)
            or not self.index.specific_entities((entity_id,))
        ):
            return False  # '카톡은?' names no fact of its own: the question goes on
        return self._names_another_owning(entity_id, clean(previous.question), previous.intent_id)

    def _near(self, previous: Turn, intent_id: str) -> bool:
        """Is the intent the previous turn's, of its topic, or one the knowledge relates
        to it?"""
        earlier = self.index.intents[previous.intent_id]
        return (
            intent_id == earlier.id
            or intent_id in earlier.related
            or intent_id in self._by_category.get(earlier.category, set())
        )

    def _answers_kind(self, intent_id: str, kinds: frozenset[str]) -> bool:
        """Is the intent asked one of these kinds now and then?"""
        return any(self.index.kind_fits(intent_id, kind) for kind in kinds)

    def _other_year(self, query: Query, intent_id: str, previous: Turn | None) -> bool:
        """Does the question name a year the intent does not speak of ('2016년 카톡 몇
        시간 멈췄어?')? A follow-up of one word or only question words ('몇 시간?') asks
        in the year of the question it continues."""
        years = set(YEAR_RE.findall(query.cleaned))
        short = _bare(query) or len(query.content_stems) <= 1
        if not years and short and previous is not None:
            years = set(YEAR_RE.findall(previous.question))
        return bool(years - self._years[intent_id])

    def _gives_no_figure_asked(self, query: Query, intent_id: str) -> bool:
        """Does the question ask a figure (a time, a date, a length, a number) that the
        intent's answers never state, and that its phrasings rarely ask? ('몇 명이
        피해봤어?' is asked of the affected users often: their answer says the article
        gives no number.)"""
        asked = _figures_asked(query)
        if not asked or asked & self._stated[intent_id]:
            return False
        return not self._answers_kind(intent_id, asked)

    def _prefer_specific(self, query: Query, candidates: list[Candidate]) -> list[Candidate]:
        """Between two close candidates, the one with an answer specific to the thing the
        question names goes first ('카카오스토리 복구 시각': the recovery answer for
        KakaoStory, rather than everything about KakaoStory)."""
        if not query.entities or len(candidates) < 2:
            return candidates

        # A thing's own fact speaks of it as much as an answer for it does ('카카오스토리는
        # 언제부터 다시 쓸 수 있었나요?': KakaoStory's fact, not its start time).
        owned = {
            self.index.entities[e].default_intent
            for e in self.index.specific_entities(query.entities)
            if self.index.entities[e].kind is not None  # a service or platform, no source
        }

        def specific(c: Candidate) -> bool:
            """An answer for the thing, or its own fact, asked what it tells ('카스 장애
            원인 언제 발표했어?' asks no fact of KakaoStory's own; '폰에서 카톡 왜 안
            됐어?' asks the cause, which the phone's answer does not tell)."""
            if c.intent_id not in owned and not self._answers_for(c.intent_id, query.entities):
                return False
            return all(self.index.kind_fits(c.intent_id, kind) for kind in query.kinds)

        top = candidates[0]
        if specific(top):
            # Ahead already: by at least the lead over a general one close behind it.
            rival = next((c for c in candidates[1:4] if not specific(c)), None)
            if rival is None or top.score - rival.score >= SPECIFIC_LEAD:
                return candidates
            lead = top.rescored(min(100.0, rival.score + SPECIFIC_LEAD))
            return [lead, *candidates[1:]]
        # A leader that is a named thing's own fact is passed only in a close race.
        defaults = {self.index.entities[e].default_intent for e in query.entities}
        margin = OWN_FACT_MARGIN if top.intent_id in defaults else SPECIFIC_MARGIN
        for n, c in enumerate(candidates[1:4], 1):
            if top.score - c.score > margin:
                break
            if specific(c):
                lifted = c.rescored(min(100.0, top.score + SPECIFIC_LEAD))
                return [lifted, *candidates[:n], *candidates[n + 1 :]]
        return candidates

    def _with_previous_question(
        self, query: Query, candidates: list[Candidate], previous: Turn
    ) -> list[Candidate]:
        """Read the question once more together with the previous one, as if asked in
        one breath ('재난관리시스템엔 왜 들어갔어? 언제부터?'); an intent keeps the better
        of its two scores, the joint one discounted: the question itself comes first."""
        if query.content_stems and set(query.content_stems) <= set(candidates[0].unknown):
            return candidates  # nothing the knowledge knows ('asdf qwer'): no follow-up
        earlier, swapped = self._swap_entities(previous.question, query)
        reusable = previous.engine == self.serial and not swapped
        before = previous.prepared if reusable else None
        before = before or self.index.prepare(earlier[-MAX_QUESTION_CHARS:])
        # What is asked now decides the kind ('언제부터?' after a 'why' question), and a
        # bare question word asks it about the earlier question's topic, not its question
        # ('왜?' after '몇 시에 먹통됐어?': why it broke, not at what time).
        bare = _bare(query)
        joint = self.index.join(_topic_of(before) if bare else before, query)
        # Only filler ('그래서' with no '?', or 'when?', which understand() leaves here):
        # no words of its own to read it by.
        only_filler = not query.content_stems and not query.entities
        together = self.index.score(joint, limit=CANDIDATES)
        # One word after a question not understood for sure ('출처는요?' after '카톡 이용시간
        # 통계 있어요?'): asked of that question's topic, which it narrows.
        one_word_on = len(query.content_stems) == 1 and not self._answered(previous)
        if bare or only_filler or one_word_on or (swapped and query.only_entities):
            # Only a question word ('언제부터?', '왜?'): the topic is the earlier question's,
            # whatever phrasing '언제부터?' alone happens to resemble. Only another thing
            # ('카카오스토리는 언제 다시 됐어?', then '카톡은?'): the earlier question about it.
            ranked = together
            if bare and not self._answers_kind(previous.intent_id, query.kinds):
                # '왜?' after the overview: the overview said what it says, and is never
                # asked why; the question word asks another fact about its topic.
                ranked = [c for c in ranked if c.intent_id != previous.intent_id]
            # After a question not understood for sure (a "did you mean"), only a sure
            # reading together with it: it may not be what '왜?' continues.
            if (
                self._answered(previous)
                or not ranked
                or ranked[0].score >= self.thresholds.answer * 100
            ):
                return ranked or candidates
        best = {c.intent_id: c for c in candidates}
        for c in together:
            score = c.score * JOINT_WEIGHT
            if c.intent_id not in best or score > best[c.intent_id].score:
                best[c.intent_id] = c.rescored(score)
        return sorted(best.values(), key=lambda c: -c.score)

    def _may_lean_on(self, query: Query, candidates: list[Candidate], known: bool) -> bool:
        """Is the question possibly a continuation? A short one, one naming only a thing or
        asking only 'when?', or one not understood confidently on its own; a longer
        question answered confidently by itself is read by itself (and twice as fast), and
        so is a short one naming its own topic surely, after an answer ('카카오라는 회사는
        어떤 곳입니까?'). After a question not understood for sure, a short one may narrow
        it ('출처는요?' after '카톡 이용시간 통계 있어요?')."""
        if query.only_entities or candidates[0].score < self.thresholds.answer * 100:
            return True
        if len(query.content_stems) > SHORT_QUESTION:
            return False
        if not known:
            return True
        top, second = candidates[0], _runner_up(candidates)
        sure = top.score >= SURE_ALONE and (
            second is None or top.score - second.score >= SURE_ALONE_GAP
        )
        return not sure or _bare(query)

    def _swap_entities(self, earlier: str, query: Query) -> tuple[str, bool]:
        """The earlier question with the things it named replaced by the one named now
        ('카카오스토리는 언제 다시 됐어?' + '카톡은?' -> '카톡은 언제 다시 됐어?')."""
        if not query.mentions:
            return earlier, False
        named = query.mentions[0]
        # Only a thing of the same kind stands in: '카카오는 뭐래?' after a COVID question
        # asks about Kakao's view, not the same question with Kakao in COVID's place.
        kind = self.index.entities[named.entity_id].kind
        if kind is None:
            return earlier, False
        text = clean(earlier)
        others = [
            m
            for m in self.index.recognizer.replace(text)[1]
            if m.entity_id not in query.entities and self.index.entities[m.entity_id].kind == kind
        ]
        for mention in others:
            text = text.replace(mention.text, named.text)
        return (text, True) if others else (earlier, False)

    def _in_context(
        self, query: Query, candidates: list[Candidate], previous: Turn
    ) -> list[Candidate]:
        """Re-rank for a follow-up: intents near the previous one (same category or
        related) gain, the previous one a little; bare question words ('언제부터?',
        '누가?') lean on the context much more, since they name no topic."""
        prev = self.index.intents[previous.intent_id]
        near = set(prev.related) | self._by_category.get(prev.category, set())
        marked = any(m in f"{query.cleaned} " for m in FOLLOW_UP_MARKERS)
        bare = _bare(query)
        if bare:
            boost = 15.0
        elif marked or len(query.content_stems) <= 2:
            boost = 8.0
        else:
            boost = 4.0

        # The knowledge lists the likeliest next question first ('카카오는 뭐래?' after
        # the speculation: Kakao's rebuttal of it, more than its own account); the previous
        # intent itself stays ahead of it. A bare question word ('왜?') asks something else
        # about the same topic: no intent near it is preferred.
        first = prev.related[0] if prev.related and not bare else None
        extra = 0.0 if bare else _FIRST_RELATED

        def bonus(c: Candidate) -> float:
            if c.intent_id == previous.intent_id:
                return boost + (extra + 1.0 if extra else 0.0)
            if c.intent_id == first:
                return boost + extra
            return boost if c.intent_id in near else 0.0

        ranked = sorted(
            (c.rescored(min(100.0, c.score + bonus(c))) for c in candidates),
            key=lambda c: -c.score,
        )
        # One word asked ('출처는?' after the usage figures): when the intent likeliest to
        # come next takes that word as fully as the leader does, it changes places with it.
        if first is not None and len(query.content_stems) == 1 and len(ranked) > 1:
            top = ranked[0]
            n = next((n for n, c in enumerate(ranked) if c.intent_id == first), None)
            if n and top.intent_id != previous.intent_id and ranked[n].terms >= top.terms:
                ranked[0], ranked[n] = ranked[n].rescored(top.score), top.rescored(ranked[n].score)
        return ranked

    def ask(
        self,
        text: str,
        *,
        conversation: str | None = None,
        memory: ConversationMemory | None = None,
        now: float | None = None,
    ) -> Reply:
        """Answer one question; with a conversation key and memory, follow-ups work."""
        now = time.monotonic() if now is None else now
        remembered = memory.get(conversation, now) if memory is not None else None
        previous = remembered
        if previous is not None and not self._answered(previous):
            # None yet (a question only, or a refusal), or the knowledge was reloaded
            # without that intent: only the question, if any, is context.
            previous = (
                replace(previous, intent_id="", entity_id=None) if previous.question else None
            )
        declined = remembered.declined if remembered is not None else ""
        question = text
        day_only = self._this_incidents_day_only(text) if declined else None
        if day_only is not None:
            # '2020년 3월 2일 건은?' after a question about another incident: that question,
            # asked of this incident (without the other incident's marks; this incident's
            # day is the only one the bot knows, and would only set the scene). After
            # only the other incident's name ('판교 화재'), it is read as it is.
            same = self._same_of_this_incident(declined)
            if same is not None:
                # '2020년 카톡은?': the thing named now, in place of the one asked before.
                same, _swapped = self._swap_entities(same, day_only)
                named = set(self.index.prepare(same).entities)
                missing = [m.text for m in day_only.mentions if m.entity_id not in named]
                question, previous = " ".join([same, *missing]), None
        query, candidates, intent_id, confidence, reason = self.understand(question, previous)
        english = query.english
        t = self.thresholds
        if intent_id is None:
            if reason == "other_incident" and memory is not None:
                self._remember_declined(memory, conversation, remembered, text, now)
            return compose_decline(self, text, reason, english, candidates)
        if reason == "matched":
            # The runner-up that would say something else: an intent giving the same fact
            # from the same sentences (the entity's answer) is no reason to hesitate.
            said = self._quotes_for(intent_id, query, previous)
            # ... nor is one with nothing of its own for the thing asked about, when the
            # reading has ('PC버전도 메시지 안 갔나요?': the platforms' answer for the PC,
            # not the symptoms in general).
            thing = self._thing_answered(intent_id, query)
            second = next(
                (
                    c
                    for c in candidates[1:]
                    if c.intent_id != intent_id
                    and self._quotes_for(c.intent_id, query, previous) != said
                    and (thing is None or self._answers_for(c.intent_id, (thing,)))
                ),
                None,
            )
            gap = (candidates[0].score - second.score) / 100.0 if second else 1.0
            clear = confidence >= t.clear_answer and gap >= t.clear_margin
            if not clear and self._answered(previous) and self._near(previous, intent_id):
                # '그게 다야? 더 자세한 건 안 나왔어?' after the cause: the context backs it.
                clear = confidence >= t.context_answer and gap >= t.context_margin
            if confidence < t.suggest:
                return compose_decline(self, text, "low_confidence", english, candidates)
            if not clear and (confidence < t.answer or gap < t.margin):
                options = [
                    Suggestion(c.intent_id, self.question_of(c.intent_id, english))
                    for c in candidates[:3]
                    if c.score / 100.0 >= t.suggest * 0.8
                ]
                unsure = not self._answered(previous)
                if memory is not None and unsure and (query.content_stems or query.entities):
                    # Not understood for sure, but what it asks is context for what comes
                    # next ('카톡 먹통 됐었다며', then '언제?'); an answer before it stays the
                    # context, and a question of only filler is none.
                    other = remembered.declined if remembered else ""
                    turn = Turn("", None, now, question[:MAX_QUESTION_CHARS], declined=other)
                    memory.remember(conversation, turn)
                return compose_suggest(self, text, confidence, english, options, candidates)
        if reason == "matched" and self._other_year(query, intent_id, previous):
            # A year the fact does not speak of ('2016년 카톡 몇 시간 멈췄어?'): the article
            # does not say; '2020년은?' next asks the same of this incident.
            if memory is not None:
                self._remember_declined(memory, conversation, remembered, text, now)
            return compose_decline(self, text, "not_covered", english, candidates)
        if reason == "matched" and self._gives_no_figure_asked(query, intent_id):
            # A figure asked of a fact that gives none ('경주 지진 때 몇 시간 안 됐어?'): the
            # article does not say (a "did you mean" above is still offered) ... unless the
            # thing named has its own answer about that figure ('카스 먹통 얼마나 갔냐':
            # KakaoStory's answer in the outage's length).
            figure = self._figure_of_thing(query, candidates)
            if figure is None:
                return compose_decline(self, text, "not_covered", english, candidates)
            intent_id, confidence = figure.intent_id, figure.score / 100.0
        entity_id = self._entity_for(intent_id, query, previous)
        if memory is not None:
            asked = question[:MAX_QUESTION_CHARS]
            prepared: Query | None = query
            if previous is not None and (reason != "matched" or len(query.content_stems) <= 1):
                # A follow-up is remembered with what it continued ('카톡은?' alone says little).
                asked = f"{previous.question} {asked}"[-MAX_QUESTION_CHARS:]
                prepared = None
            memory.remember(
                conversation, Turn(intent_id, entity_id, now, asked, prepared, self.serial)
            )
        return compose_answer(self, text, intent_id, entity_id, confidence, english, candidates)

    def answer_intent(
        self,
        intent_id: str,
        *,
        entity_id: str | None = None,
        english: bool = False,
        conversation: str | None = None,
        memory: ConversationMemory | None = None,
        now: float | None = None,
    ) -> Reply:
        """Answer a known intent directly (a button press), remembering it as the context."""
        if intent_id not in self.index.intents:
            return compose_decline(self, intent_id, "unknown_intent", english, [])
        now = time.monotonic() if now is None else now
        question = self.question_of(intent_id, english)
        if memory is not None:
            memory.remember(conversation, Turn(intent_id, entity_id, now, question))
        return compose_answer(self, question, intent_id, entity_id, 1.0, english, [])

    def question_of(self, intent_id: str, english: bool = False) -> str:
        """The canonical question of an intent, for buttons and suggestions."""
        intent = self.index.intents[intent_id]
        if english and intent.question_en:
            return intent.question_en
        return intent.question

    def categories(self, english: bool = False) -> list[tuple[str, str, list[Suggestion]]]:
        """Each category (id, title) with the canonical questions of its intents."""
        out: list[tuple[str, str, list[Suggestion]]] = []
        for source in self.knowledge.sources:
            for category in source.model.categories:
                title = category.title_en if english and category.title_en else category.title
                questions = [
                    Suggestion(i.id, self.question_of(i.id, english))
                    for i in source.model.intents
                    if i.category == category.id
                ]
                if questions:
                    out.append((category.id, title, questions))
        return out

    def topics(self, english: bool = False, per_category: int = 1) -> list[Suggestion]:
        """A few questions to offer, one (or more) per category, in file order."""
        seen: dict[str, int] = {}
        out: list[Suggestion] = []
        for intent in self.index.intents.values():
            if seen.get(intent.category, 0) < per_category:
                seen[intent.category] = seen.get(intent.category, 0) + 1
                out.append(Suggestion(intent.id, self.question_of(intent.id, english)))
        return out


# Acknowledgements: nothing asked ('아 그렇구나', 'ok thanks' is small talk already).
_ACKNOWLEDGED = re.compile(
    r"^(?:아|오|음|ㅇㅇ)?\s*"
    r"(?:그렇구나|그렇군요?|알겠어요?|알겠습니다|알았어요?|오케이|ok|okay|i see|got it)$"
)
_QUESTION_FILLER = frozenset(
    {"뭐", "뭔", "무슨", "어떻", "어떻게", "뭐였", "뭐임", "뭔데", "what", "how"}
)


# Where a story ends and the question starts: the end of a sentence, or a clause that
# sets the scene ('… 보내려다 실패했는데 …', '… 쓰고 있었거든 …'). Not a question mark:
# what is asked before one is no story ('카톡 지금 되냐? 나만 안되나').
_STORY_END_RE = re.compile(
    r"(?<=[.!。…~ㅋㅎㅠㅜ;])\s+|\s+(?=(?:아\s)?근데\s)|(?<=[가-힣](?:는데|은데|인데|던데|한데|거든|잖아|니까|어서|아서))[.,]?\s+"
)


# Stems that point back at something said before: a clause with one is no question alone.
_POINTS_BACK = frozenset(
    {
        *("그거", "그게", "그건", "그것", "그런", "그렇게", "그때", "그", "그래서", "그러면"),
        *("이거", "이게", "이건", "이것", "이런", "이렇게", "이러면", "이럼", "저거", "저게"),
    }
)


def _topic_words(query: Query) -> list[str]:
    """The question's own words that are no question words ('언제 복구됐어?': 복구)."""
    return [s for s in query.content_stems if not _asks(s)]


def _question_part(text: str) -> str | None:
    """The last sentence or clause of a text told in several, or None for one."""
    parts = [p for p in _STORY_END_RE.split(text.strip()) if p.strip()]
    return parts[-1] if len(parts) > 1 else None


def _runner_up(candidates: list[Candidate]) -> Candidate | None:
    """The best candidate for another intent than the leader's, if any."""
    return next((c for c in candidates if c.intent_id != candidates[0].intent_id), None)


def _asked_first(text: str) -> str | None:
    """The question a text opens with, when a remark with no question follows it ('모바일
    카톡은 어땠나요? 저는 폰으로만 써서요'), or None."""
    head, mark, rest = unicodedata.normalize("NFKC", text[:MAX_QUESTION_CHARS]).partition("?")
    if not mark or not rest.strip() or "?" in rest or not _HAS_WORD_RE.search(rest):
        return None
    return head + mark


_HAS_WORD_RE = re.compile(r"[가-힣A-Za-z]{2}")


def _figures_asked(query: Query) -> frozenset[str]:
    """The figures the question asks for (a time, a date, a length, a number); a 'when' is
    answered by a time or a date."""
    asked = query.kinds & FIGURE_KINDS
    return asked | {"date"} if "time" in asked else asked


def _is_a_question(query: Query) -> bool:
    """Does a question of only filler words ask something ('뭐라고 했는데?', '그래서?')?"""
    return query.original.rstrip().endswith("?") or any(s in _QUESTION_FILLER for s in query.stems)


def _asks(stem: str) -> bool:
    """Is this word a question word ('언제', '몇시', '왜' read as '원인', 'how')?"""
    return stem in QUESTION_WORDS or bool(question_kinds(stem))


def _topic_of(query: Query) -> Query:
    """The question without its question words and dates: what it is about (the day
    sets the scene of every fact of this incident)."""
    stems = tuple(s for s in query.stems if not _asks(s) and not DATE_WORD_RE.match(s))
    if not any(s in query.content_stems for s in stems):
        return query  # nothing but question words: they are all it says
    jamo_stems = [to_jamo(s) for s in stems]
    return replace(
        query,
        stems=stems,
        jamo="".join(jamo_stems),
        jamo_words=" ".join(jamo_stems),
        content_stems=tuple(s for s in query.content_stems if s in stems),
        kinds=frozenset(),
    )


def _about_another_incident(query: Query) -> bool:
    return bool(query.decline_terms or query.foreign_years or query.foreign_dates)


# Words that say only that something did or did not work (as the matcher reads them:
# 마비, 막혔 and 작동 read as 먹통, 불가 as 안되, 사용 as 이용; '정상이었나요?')
_DOWN_WORDS = frozenset(
    {"먹통", "안되", "안", "장애", "이용", "오류", "중단", "멈췄", "멈추", "정상"}
)
_SCENE_WORDS = frozenset({"때", "당시", "경우"})  # '2020년 3월 때는?': when, not what


# Words of saying: asked with 'who' and nothing else, they ask whose word a fact is.
_SAID = frozenset(
    {
        "말",
        "말한",
        "말하",
        "말했",
        "말씀",
        "얘기",
        "주장",
        "발표",
        "그랬",  # '누가 그랬어?': who said so
        "설명",  # '그건 누가 설명한 거야?'
        "설명한",
        "설명하",
        "설명했",
        "밝힌",
        "밝혔",
        "said",
        "say",
        "says",
        "claim",
        "claimed",
    }
)


# Words for talk, and for it coming up ('그런 말이 나온', '그 얘기가 왜 나와').
_TALK = frozenset({"말", "얘기", "소리", "지적", "주장"})
_COMES_UP = frozenset({"나온", "나와", "나오", "나", "나왔", "돈", "돌았"})
# Words of thinking something is so ('왜 그렇게 보는 건데?', '왜 그렇게 생각해?').
_THINK = frozenset({"보", "보는", "본", "봤", "생각", "판단"})


def _why_said(query: Query) -> bool:
    """'왜 그런 말이 나온 거야?': why, that (그런, 그), talk, and nothing else; or '왜
    그렇게 보는 건데?': why, so, a word of thinking, and nothing else."""
    if "reason" not in query.kinds or query.entities:
        return False
    stems = set(query.stems)
    rest = [
        s for s in query.content_stems if not _asks(s) and s not in _TALK and s not in _COMES_UP
    ]
    if (
        stems & {"그런", "그", "그거", "그게", "그건", "이런"}
        and stems & _TALK
        and stems & _COMES_UP  # 'comes up': not '왜 그런지 말 좀 해줘' (tell me why)
        and not rest
    ):
        return True
    so = {"그렇게", "그리"}
    rest = [s for s in query.content_stems if not _asks(s) and s not in _THINK and s not in so]
    return bool(stems & so and stems & _THINK) and not rest


def _who_said(query: Query) -> bool:
    """'그건 누가 말했어?', '누가 그랬어?', 'who said that?': who, a word of saying, and
    nothing else."""
    rest = [s for s in query.content_stems if s != "누" and s not in QUESTION_WORDS]
    return (
        "person" in query.kinds
        and not query.entities
        and any(s in _SAID for s in query.stems)
        and all(s in _SAID for s in rest)
    )


def _bare(query: Query) -> bool:
    """Only question words ('언제부터?', '왜?', 'how long?'): no topic of its own. '왜' reads
    as '원인' (one word group), but '원인은?' as typed names a topic: the cause."""
    return (
        bool(query.content_stems)
        and all(s in QUESTION_WORDS for s in query.content_stems)
        and not any(word in query.cleaned for word in NAMED_CAUSE)
    )
