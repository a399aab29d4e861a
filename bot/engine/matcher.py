"""Scoring a question against the knowledge: rapidfuzz over preprocessed phrasings and terms.

Two channels, both computed from data prepared once per knowledge snapshot (`MatchIndex`):

* terms: the question's words (stemmed, jamo-fuzzy matched against the knowledge's
  vocabulary) weighted by how specific each word is to few intents (IDF). An intent
  scores the share of the question's weight it explains; words the knowledge never uses
  weigh against every intent, which is what makes unrelated questions fall short.
* whole text: rapidfuzz similarity of the jamo string to each phrasing, for fragments
  and for questions typed without spaces.

The matcher only ranks; decisions belong to `bot.engine.dialogue`.
"""

from __future__ import annotations

import math
import re
from array import array
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Container, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from itertools import pairwise

import numpy as np
from rapidfuzz import fuzz, process

from bot.engine.postings import PackedIds, PackedPostings, PostingsFiller
from bot.knowledge.loader import Knowledge
from bot.knowledge.schema import Entity, Intent
from bot.language.entities import EntityMention, EntityRecognizer, is_placeholder, placeholder
from bot.language.normalize import (
    GLUE_PARTICLES,
    PARTICLES,
    clean,
    is_mostly_latin,
    plausible_typo,
    split_word,
    stem,
    to_jamo,
    verb_key,
    with_double_final,
)
from bot.language.question_type import WHAT, asks_what, question_kinds

YEAR_RE = re.compile(r"(?<!\d)(19\d\d|20\d\d)(?!\d)")
# '3월 5일', '3월5일': a day of the year (month, day).
_DATE_RE = re.compile(r"(?<!\d)(1[0-2]|0?[1-9])\s*월\s*([12]\d|3[01]|0?[1-9])\s*일")
_HANGUL_RE = re.compile(r"^[가-힣]+$")
# What a copula leaves after a name ('시스템이라는데' -> <name> 이라는데, '카톡임'): no
# word. Only tails opening with the copula's 이/라/인/임/였: '카톡 다 먹통이었어?' keeps 다;
# and 에서 said short ('카카오서는', '카톡선'), 에는 ('UDMS엔').
_COPULA_TAIL_RE = re.compile(
    r"^(?:이(?:라(?:는데|던데|며|고|서|는|니까|구|네|잖아)?|란|래|야|지|죠|고|며|다|냐|니|"
    r"에요|예요|었어|었음|었지|었나|었냐|었다|던데|잖아)|라(?:는데|던데|며|고|서|는|니까|구|네)?|"
    r"란|래|래요|인데|임|였(?:어|음|지|나|냐|다)|서(?:는|도|만)?|선|엔)$"
)
# Particles and endings that glue words together when people type without spaces.
_GLUE = GLUE_PARTICLES | frozenset(
    # endings and verb pieces left between words typed without spaces
    [
        "어",
        "야",
        "요",
        "냐",
        "니",
        "지",
        "음",
        "임",
        "거",
        "게",
        "건",
        "데",
        "던",
        "된",
        "한",
        "할",
        "될",
        "됐",
        "했",
        "해",
        "돼",
        "다",
        "고",
        "며",
        "서",
    ]
)

# Words that say nothing about which fact is asked ('그럼', 'what'). They neither count
# for nor against an intent, and a question of only these and entities is "entity only".
FILLER_STEMS = frozenset(
    {
        "그럼",
        "그러면",
        "이러면",  # 'if it happens (again)': pointing back, as 그러면
        "그리고",
        "그래서",
        "아무",  # '아무도 모르는 거임?': nobody; the verb says what is asked
        "대략",  # 'roughly': never the topic ('대략 어느 정도였습니까?')
        "야",  # 'hey' ('야 카톡 아침에 왜 안됐냐'), a word of its own
        "너무",  # 'too' ('너무 많이 써서'): how much, not what
        "기억",  # '… 기억나나?': do you remember, before the question
        "엄청",  # 'very' ('이용시간 엄청 늘었다며?'): how much, not what
        "소리",  # '그게 뭔 소리야': what is meant, as 말 and 얘기
        "기억나",
        "대충",
        "그건",
        "그거",
        "그게",
        "이게",
        "저거",
        "저게",
        "거기",  # 'there', pointing back like 그거: '언제부터 거기 들어갔는데?'
        "있잖",  # '… 있잖아': 'you know', before the question
        "본",  # '피해 본 …': suffered, with the word before it
        "여기",
        "저",  # 'I' ('저는 그날 카톡이 됐는데요'): the asker, never the topic (not 나: '나와')
        "그",
        "이건",
        "이거",
        "저건",
        "또",
        "혹시",
        "근데",
        "아니",
        "진짜",
        "정말",
        "좀",
        "막",
        "헐",
        "어떻",
        "어떻게",
        "어땠",
        "어때",
        "어떤",
        "말씀",  # '말씀해 주시겠습니까': please say, as 알려줘
        "뭐",
        "뭔",
        "무슨",
        "뭐였",
        "뭐임",
        "뭔데",
        "그런",
        "그런거",  # 'that kind of thing', typed as one word
        "그런건",
        "그렇",
        "그랬",
        "그래",
        "알려준",
        "알려줄",
        "알려주실",
        "주실",
        "주시",
        "것들",
        "용",
        "보다",
        "뭔지",
        "뭔가",
        "뭐지",
        "뭐냐",
        "머",
        "알려줘",
        "알려",
        "알려주",
        "알려주세",
        "궁금",
        "궁금해",
        "궁금합",
        "부탁",  # '… 확인 부탁드립니다', '설명 부탁해': please, as 알려줘
        "부탁드립",
        "부탁드려",
        "부탁해",
        "여쭙",  # '여쭙고 싶습니다': I would like to ask
        "여쭤",
        "본체",  # '카톡 본체는?': KakaoTalk itself
        "자체",
        "평소",  # '평소보다 높은 거야?', '평소처럼': usual, of whatever is asked
        "말해줘",
        "해줘",
        "요",
        "건",
        "거",
        "것",
        "게",
        "수",
        "경우",
        "쪽",
        "은",
        "는",
        "이번",
        "이",
        "그때",
        "그날",  # 'that day': the incident's, like 그때 and 당시
        "당일",
        "당시",
        "해",
        "했",
        "하",
        "한",
        "된",
        "됐",
        "되",
        "있",
        "있었",
        "맞",
        "맞아",
        "what",
        "about",
        "and",
        "the",
        "how",
        "then",
        "so",
        "tell",
        "me",
        "of",
        "is",
        "was",
        "were",
        "a",
        "an",
        "please",
        "did",
        "do",
        "does",
        "it",
        "its",
        "to",
        "in",
        "on",
        "for",
        "this",
        "that",
        "there",
        "any",
        "be",
        "been",
        "i",
        "you",
        "can",
        "could",
        "would",
        "has",
        "have",
        "had",
        "with",
        "at",
        "by",
        "as",
        "are",
        "from",
        "up",
        "out",
        "they",
        "their",
        "which",
        "who",
        "whom",
        "hey",
        "ok",
        "okay",
        "just",
        "really",
        "true",  # 'is it true (that) ...': a yes-or-no check, of whatever is said
        "also",
        # English verbs whose particle carries the meaning ('went down', 'came back')
        "go",
        "goes",
        "going",
        "went",
        "gone",
        "come",
        "came",
        "coming",
        "get",
        "got",
        "too",
        "무엇",
        "여부",
        "외",
        "있다",
        "있는지",
        "없",
        "없냐",
        "말",
        "얘기",
        "어떠",
        "뭐하",
        "머하",  # '머하는 곳이야': 뭐하, as typed
        "곳",
        "부분",
        "처럼",
        "정도",
        "대해",
        "대한",
        "관련",
        "관해",
        "거야",
        "건가",
        "건지",
        "거임",
        "건데",
        "거예",
        "걸",
        "됩",
        "합",
        "니다",
        "입니",
        "인가",
        "인지",
        "다는",
        "라는",
        "다고",
        "라고",
        "다며",
        "라며",
        "대",
        "래",
        "하던데",
        "던데",
        "있던데",
        "있던",
        "네",
        "좀요",
        "can't",
        # pieces of English contractions once the apostrophe is gone ("couldn't" -> couldn t)
        "t",
        "s",
        "d",
        "ll",
        "re",
        "ve",
        "m",
        "don",
        "aren",
        "haven",
        "hasn",
        "wouldn",
        "shouldn",
        "won",
        "couldn",
        "didn",
        "wasn",
        "weren",
        "isn",
        "doesn",
        "will",
        "should",
        "my",
        "your",
        "our",
        "we",
        "he",
        "she",
        "them",
        "these",
        "those",
        "when",
        "where",
    }
)
# Weights of where a word appears: how people ask, keywords, and the answer itself.
_ASKED_WEIGHT = 1.0
_KEYWORD_WEIGHT = 1.2
_ANSWER_WEIGHT = 0.5
_SIBLING_WEIGHT = 0.5
_ENTITY_EMPHASIS = 1.25  # the thing a question names is its most specific word
# The incident's own date in a question asking something else ('why did it crash on March
# 2?') sets the scene; it is not what is asked.
_SCENE_EMPHASIS = 0.3
_SCENE_KINDS = frozenset({"reason", "manner", "person", "length", "amount"})
_ENTITY_SPECIFIC_WEIGHT = 0.7
_FUZZY_CUTOFF = 75.0
_TERM_SHARE = 0.55
_NGRAM_SHARE = 0.25
# A question asking for a kind of answer (a time, a length, a reason) an intent is never
# asked for loses this many points there; asked so in this share of its phrasings, none.
_KIND_PENALTY = 12.0
_KIND_USUAL = 0.05
# 'manner' (어떻게) goes with any fact: '어떻게 된 거야?'.
# Nor does 'reason' (왜): any fact can be asked why ('택시 결제 왜 안 됐어?').
PENALISED_KINDS = frozenset({"time", "date", "length", "amount", "person", "reason", "place"})
# Share of the score given to the cosine with each intent's centroid.
CENTROID_SHARE = 0.3
_UBIQUITOUS_ENTITY = 4  # intents naming an entity before it stops pointing to one
# Points off a phrasing about another thing of a kind the question names ('카스 먹통
# 얼마나 갔어' for '카톡 먹통 얼마나 갔냐'); 7-14 do the same on every set, 5 and 20 less.
RIVAL_PENALTY = 10.0
# A thing named to set another apart from it ('카톡 말고', 'other than KakaoTalk')
_CONTRAST_RE = re.compile(r"말고|빼고|외에|이외|제외|besides|other than|except|apart from")
_PRUNE_SLACK = 10.0
# Memory for the words' term coverage kept between questions (see _word_coverage).
_COVERAGE_CACHE_BYTES = 3_000_000
_PRUNE_KEEP = 100  # phrasings compared as text at most (every set answers the same at 200 and 100)
_UNCOVERED = "\x00"  # marks a run of letters a split could not explain
# Stored jamo texts are kept at one byte a letter. A str of code points below 256 takes
# one byte a letter, not two: the Hangul compatibility jamo, then the first entities'
# placeholders, are swapped, in order, with U+0080-U+00FF (less the spaces: rapidfuzz splits
# words on U+0085 and U+00A0). 5 MB of the 100x index. The swap keeps their order among
# themselves and after ASCII, so texts narrowed alike score the same with fuzz.ratio, and
# with token_set_ratio (which sorts words) unless a word mixes them with letters of other
# scripts (U+0080-U+3130: 'é', Cyrillic, kana), which then sort elsewhere. Nothing is lost.
_WIDE = [chr(0x3131 + k) for k in range(51)] + [placeholder(k) for k in range(75)]
_BYTE_SLOTS = [chr(c) for c in range(0x80, 0x100) if not chr(c).isspace()]
_NARROW = str.maketrans(
    dict(zip(_WIDE, _BYTE_SLOTS, strict=True)) | dict(zip(_BYTE_SLOTS, _WIDE, strict=True))
)
_FUZZY_ROOM = 8  # typo candidates taken, of which the best four count (ties by row)
_EMPTY = (
    np.zeros(0, dtype=np.intp),
    np.zeros(0, dtype=np.float64),
)  # share of the term channel in the final score


@dataclass(frozen=True)
class Query:
    """A question as the matcher sees it."""

    original: str
    cleaned: str
    stems: tuple[str, ...]
    jamo: str
    jamo_words: str
    english: bool
    entities: tuple[str, ...]
    content_stems: tuple[str, ...]
    foreign_years: tuple[str, ...] = ()
    foreign_dates: tuple[str, ...] = ()  # days of the year the knowledge never mentions
    decline_terms: tuple[str, ...] = ()
    not_covered: tuple[str, ...] = ()
    kinds: frozenset[str] = frozenset()  # what kind of answer it asks for (a time, a reason)
    asked: frozenset[str] = frozenset()  # every kind its words ask, penalised or not
    mentions: tuple[EntityMention, ...] = ()  # the names it uses, as typed

    @property
    def is_empty(self) -> bool:
        return not self.jamo.strip()

    @property
    def only_entities(self) -> bool:
        """The question names entities and asks nothing else ('카카오스토리는?')."""
        return bool(self.entities) and not self.content_stems


class _StemTexts:
    """While building: the stems of the phrasings and keywords, as numbers into one list of
    the distinct stems, all in flat typed arrays (a tuple per text, and a pair per text
    naming its intent, were some 15 MB of the build's peak on 100x knowledge)."""

    def __init__(self) -> None:
        self.words: list[str] = []
        self._number: dict[str, int] = {}
        self._flat = array("i")
        self._offsets = array("q", [0])
        self.owners: list[str] = []  # per text, its intent
        self.phrasings = array("i")  # the texts that are phrasings, in order

    def add(self, intent_id: str, stems: Sequence[str], *, phrasing: bool) -> None:
        for s in stems:
            n = self._number.get(s)
            if n is None:
                n = self._number[s] = len(self.words)
                self.words.append(s)
            self._flat.append(n)
        self._offsets.append(len(self._flat))
        if phrasing:
            self.phrasings.append(len(self.owners))
        self.owners.append(intent_id)

    def stems(self, n: int) -> list[str]:
        """The stems of text n."""
        words = self.words
        return [words[i] for i in self._flat[self._offsets[n] : self._offsets[n + 1]]]


@dataclass(frozen=True)
class Candidate:
    intent_id: str
    score: float  # 0..100
    utterance: str
    terms: float = 0.0  # share of the question explained by this intent's words, 0..1
    unknown: tuple[str, ...] = ()

    def rescored(self, score: float) -> Candidate:
        """The same candidate with another score (dataclasses.replace, five times faster:
        the follow-up re-ranking makes a few dozen per question)."""
        return Candidate(self.intent_id, score, self.utterance, self.terms, self.unknown)


@dataclass
class MatchIndex:
    """Everything about one knowledge snapshot that matching needs, precomputed."""

    intents: dict[str, Intent]
    entities: dict[str, Entity]
    recognizer: EntityRecognizer
    utterance_intent: list[str] = field(default_factory=list)
    utterance_text: list[str] = field(default_factory=list)
    # each phrasing's stems in jamo (narrowed, see _NARROW), space-separated; without the
    # spaces, its jamo text
    utterance_words: list[str] = field(default_factory=list)
    # while building: the stems of every phrasing and keyword, for the n-grams and the
    # centroids
    _texts: _StemTexts = field(default_factory=_StemTexts, repr=False)
    # Every word the knowledge uses, in the form questions are compared in, sorted; and
    # each word's row in it. The term arrays below are by row: one dict for them all (on
    # 100x knowledge a dict or set over its 41,500 terms is 2-4 MB).
    term_list: list[str] = field(default_factory=list)
    vocabulary: dict[str, int] = field(default_factory=dict)
    # term -> phrasings using it, and term -> (intents using it, with what weight)
    utterance_postings: PackedIds = field(default_factory=PackedIds.empty)
    intent_postings: PackedPostings = field(default_factory=PackedPostings.empty)
    idf: np.ndarray = field(default_factory=lambda: np.zeros(0))  # per row
    # The terms in jamo (narrowed), shortest first (by row within a length), with each
    # one's row and where each length starts: a typo is compared with the lengths it can
    # reach only.
    term_jamo: list[str] = field(default_factory=list)
    _jamo_rows: array[int] = field(default_factory=lambda: array("i"), repr=False)
    _jamo_starts: dict[int, tuple[int, int]] = field(default_factory=dict, repr=False)
    verb_keys: dict[str, list[str]] = field(default_factory=dict)
    word_groups: dict[str, str] = field(default_factory=dict)  # word -> its group's word
    # character n-gram -> (utterance positions, TF-IDF weights), rows L2-normalised
    ngram_postings: PackedPostings = field(default_factory=PackedPostings.empty)
    ngram_idf: dict[str, float] = field(default_factory=dict)
    not_covered_forms: list[tuple[str, str]] = field(default_factory=list)
    split_vocabulary: set[str] | None = None  # while building: words shared by two intents
    known_years: set[str] = field(default_factory=set)
    known_dates: set[tuple[int, int]] = field(default_factory=set)
    known_months: set[int] = field(default_factory=set)  # months the article mentions at all
    # (length, position, syllable) -> short words of the vocabulary, for typos
    syllable_index: dict[tuple[int, int, str], list[str]] = field(default_factory=dict)
    decline_forms: list[tuple[str, str]] = field(default_factory=list)
    # the same forms by how their first word starts (see _by_start)
    _decline_starts: dict[str, list[tuple[int, str, str]]] = field(
        default_factory=dict, repr=False
    )
    _not_covered_starts: dict[str, list[tuple[int, str, str]]] = field(
        default_factory=dict, repr=False
    )
    entity_intents: dict[str, set[str]] = field(default_factory=dict)
    # entities the phrasings of many intents name ('카톡', '카카오'): no one intent's thing
    ubiquitous_entities: set[str] = field(default_factory=set)
    # Per term row: only two adjacent words of a phrasing joined ('시간얼마'), no word. A
    # flag per row, not a set of the terms: on a large base the set was megabytes.
    joined_only: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    _entity_token: dict[str, str] = field(default_factory=dict, repr=False)  # its placeholder
    max_idf: float = 1.0
    _group_starts: np.ndarray = field(init=False, repr=False)
    _group_ids: list[str] = field(init=False, repr=False)
    _group_of: dict[str, int] = field(init=False, repr=False)  # intent -> its group
    _group_sizes: np.ndarray = field(init=False, repr=False)
    _utterance_group: np.ndarray = field(init=False, repr=False)  # per phrasing, its group
    # kind of answer -> per intent (in _group_ids order), how readily it answers that kind
    kind_fit: dict[str, np.ndarray] = field(default_factory=dict)
    # while building: term -> positions of the phrasings using it
    _utterance_positions: dict[str, array[int]] = field(default_factory=dict, repr=False)
    # feature -> (intents, weight in the intent's L2-normalised centroid); feature IDF
    centroid_postings: PackedPostings = field(default_factory=PackedPostings.empty)
    centroid_idf: dict[str, float] = field(default_factory=dict)
    centroid_unseen: float = 1.0
    # word -> (its weight, per phrasing the share of it explained), or None for a word the
    # knowledge lacks: what a word contributes to term coverage, the same in every
    # question (see _word_coverage)
    _coverage_cache: dict[str, tuple[float, np.ndarray] | None] = field(
        default_factory=dict, repr=False
    )

    @classmethod
    def build(cls, knowledge: Knowledge) -> MatchIndex:
        """Preprocess a validated knowledge base once."""
        intents: dict[str, Intent] = {}
        entities: dict[str, Entity] = {}
        decline: list[str] = []
        not_covered: list[str] = []
        groups: list[list[str]] = []
        documents: list[str] = []
        for source in knowledge.sources:
            documents.append(source.document_text)
            decline.extend(source.model.decline_terms)
            not_covered.extend(source.model.not_covered)
            groups.extend(source.model.synonyms)
            entities.update((e.id, e) for e in source.model.entities)
            intents.update((i.id, i) for i in source.model.intents)
        recognizer = EntityRecognizer(
            (e.id, [e.name, *([e.name_en] if e.name_en else []), *e.synonyms])
            for e in entities.values()
        )
        index = cls(intents=intents, entities=entities, recognizer=recognizer)
        index._entity_token = {e: placeholder(n) for n, e in enumerate(entities)}
        for group in groups:
            words = [_word_form(w) for w in group]
            canonical = next((w for w in words if w), None)
            for raw, word in zip(group, words, strict=True):
                if word and canonical:
                    # As typed too: '불가' stems to '불' like '불만' (a particle '가' taken
                    # off), and a one-syllable stem of a longer word stands for no group.
                    whole = clean(raw)
                    if whole != word:
                        index.word_groups.setdefault(whole, canonical)
                    if len(word) >= 2 or word == whole:
                        index.word_groups.setdefault(word, canonical)
                    key = verb_key(word)
                    if key is not None:
                        index.word_groups.setdefault(key, canonical)
        # Two passes: the first learns the vocabulary, the second splits words typed
        # without spaces in the phrasings themselves ('카카오T결제안됨') by that vocabulary.
        bags, _stems = index._bags(intents, entities)
        seen: dict[str, int] = defaultdict(int)
        for bag in bags.values():
            for term in bag:
                seen[term] += 1
        index.split_vocabulary = {t for t, c in seen.items() if c >= 2}
        del bags, _stems, seen  # the first pass only taught the vocabulary
        bags, stems = index._bags(intents, entities)
        index.split_vocabulary = None
        n_intents = max(1, len(intents))
        df: dict[str, int] = defaultdict(int)
        for bag in bags.values():
            for term in bag:
                df[term] += 1
        index._finalize()
        index._build_term_postings(bags)
        index._flag_joined_only(stems)
        del bags, stems
        index._learn_kinds()
        index._build_ngrams()
        index._build_centroids()
        index.idf = np.array([math.log(1.0 + n_intents / df[t]) for t in index.term_list])
        index.max_idf = math.log(1.0 + n_intents)
        del df
        index._index_jamo()
        # Typos are looked for among the knowledge's words, the words of its groups
        # ('떄문' is a slip of '때문', which reads as 원인) and the filler words ('괸련' is a
        # slip of '관련', which says nothing, not an unknown word).
        for term in sorted({*index.term_list, *index.word_groups, *FILLER_STEMS}):
            if 2 <= len(term) <= 4 and _HANGUL_RE.match(term):
                for position, syllable in enumerate(term):
                    place = (len(term), position, syllable)
                    index.syllable_index.setdefault(place, []).append(term)
        for term in index.term_list:
            key = verb_key(term)
            if key is not None:
                index.verb_keys.setdefault(key, []).append(term)
        answers = [
            text
            for intent in intents.values()
            for text in [intent.answer, *(a.answer for a in intent.entity_answers)]
        ]
        for doc in documents:
            index.known_years.update(YEAR_RE.findall(doc))
        for text in [*documents, *answers]:
            cleaned = clean(text)
            index.known_dates.update(_dates_in(cleaned))
            index.known_months.update(_bare_months_in(cleaned))
        index.known_months.update(month for month, _day in index.known_dates)
        for term in decline:
            form = _term_form(term)
            if form:
                index.decline_forms.append((term, form))
        for term in not_covered:
            form = _term_form(term)
            if form:
                index.not_covered_forms.append((term, form))
        index._decline_starts = _by_start(index.decline_forms)
        index._not_covered_starts = _by_start(index.not_covered_forms)
        return index

    def _build_term_postings(self, bags: dict[str, dict[str, float]]) -> None:
        """The vocabulary, and per term the phrasings and the intents (with their weights)
        using it, as compact arrays: these postings are most of the index's memory on large
        bases. Filled from typed arrays, not lists of Python tuples and floats, which were
        a large part of the build's peak."""
        self.term_list = sorted({term for bag in bags.values() for term in bag})
        self.vocabulary = rows = {term: n for n, term in enumerate(self.term_list)}
        group_of = self._group_of
        # Sized first (per term, the intents using it), then filled in place: no pair of
        # growing arrays per term that is then copied.
        counts = [0] * len(rows)
        for intent_id, bag in bags.items():
            if intent_id in group_of:
                for term in bag:
                    counts[rows[term]] += 1
        filler = PostingsFiller(rows, counts, ids_below=len(self._group_ids))
        del counts
        for intent_id, bag in bags.items():
            group = group_of.get(intent_id)
            if group is None:
                continue
            for term, weight in bag.items():
                filler.add(rows[term], group, weight)
        self.intent_postings = filler.done()
        self.utterance_postings = PackedIds(self._utterance_positions, rows)
        self._utterance_positions = {}

    def _index_jamo(self) -> None:
        """The terms in jamo, shortest first, and where each length starts."""
        jamo = [to_jamo(term).translate(_NARROW) for term in self.term_list]
        order = sorted(range(len(jamo)), key=lambda row: len(jamo[row]))  # stable: by row
        self.term_jamo = [jamo[row] for row in order]
        self._jamo_rows = array("i", order)
        self._jamo_starts = {}
        for position, text in enumerate(self.term_jamo):
            start, _end = self._jamo_starts.get(len(text), (position, position))
            self._jamo_starts[len(text)] = (start, position + 1)

    def _bags(
        self, intents: dict[str, Intent], entities: dict[str, Entity]
    ) -> tuple[dict[str, dict[str, float]], dict[str, str]]:
        """Per intent, its words and their weights, and every stem of the texts (joined
        words are none); records the phrasings as utterances."""
        bags: dict[str, dict[str, float]] = defaultdict(dict)
        self.utterance_intent, self.utterance_text = [], []
        self.utterance_words = []
        self._utterance_positions = {}
        self.ubiquitous_entities = set()
        self._texts = _StemTexts()
        # One string object per distinct stem: the stems kept per phrasing for the
        # centroids, the bags' keys and the postings' keys then share them (separate copies
        # of every stem of every phrasing were tens of MB of the build's peak).
        shared: dict[str, str] = {}

        def add_terms(intent_id: str, text: str, weight: float) -> tuple[str, ...]:
            stems = tuple(shared.setdefault(s, s) for s in self._stems(text)[1])
            bag = bags[intent_id]
            content = [s for s in stems if s not in FILLER_STEMS and not is_placeholder(s[0])]
            placeholders = [s for s in stems if is_placeholder(s[0])]
            # Adjacent words of a question joined too, so '영향받은' finds '영향 받은'.
            joined = [a + b for a, b in pairwise(content)] if weight == _ASKED_WEIGHT else []
            # Words of the intent's other phrasings count for half.
            intent_weight = _SIBLING_WEIGHT if weight == _ASKED_WEIGHT else weight
            for s in content + joined + placeholders:
                bag[s] = max(bag.get(s, 0.0), intent_weight)
            if weight == _ASKED_WEIGHT:
                position = len(self.utterance_intent)  # the phrasing being added
                for term in set(content + joined + placeholders):
                    positions = self._utterance_positions.get(term)
                    if positions is None:
                        positions = self._utterance_positions[term] = array("i")
                    positions.append(position)
            if weight in (_ASKED_WEIGHT, _KEYWORD_WEIGHT):
                self._texts.add(intent_id, stems, phrasing=weight == _ASKED_WEIGHT)
            return stems

        for intent in intents.values():
            asked = [intent.question, *([intent.question_en] if intent.question_en else [])]
            for text in [*asked, *intent.phrasings]:
                stems = add_terms(intent.id, text, _ASKED_WEIGHT)
                jamo_stems = [to_jamo(s) for s in stems]
                self.utterance_intent.append(intent.id)
                self.utterance_text.append(text)
                self.utterance_words.append(" ".join(jamo_stems).translate(_NARROW))
            for keyword in intent.keywords:
                add_terms(intent.id, keyword, _KEYWORD_WEIGHT)
            answers = [intent.answer, intent.answer_en or ""]
            answers += [a.answer for a in intent.entity_answers]
            answers += [a.answer_en or "" for a in intent.entity_answers]
            for text in answers:
                add_terms(intent.id, text, _ANSWER_WEIGHT)
        # An entity speaks for the intents that answer it: fully for its default intent,
        # partly for intents with an answer specific to it.
        for entity in entities.values():
            specific = {
                i.id
                for i in intents.values()
                if any(a.entity == entity.id for a in i.entity_answers)
            }
            self.entity_intents[entity.id] = specific | (
                {entity.default_intent} if entity.default_intent else set()
            )
            token = self._entity_token[entity.id]
            for intent_id in specific:
                bags[intent_id][token] = max(
                    bags[intent_id].get(token, 0.0), _ENTITY_SPECIFIC_WEIGHT
                )
            # An entity named in the phrasings of many intents ('카톡') says nothing about
            # which one is asked; only a rarer one speaks for its default intent.
            named_in = sum(1 for bag in bags.values() if token in bag)
            if entity.default_intent and named_in <= _UBIQUITOUS_ENTITY:
                bags[entity.default_intent][token] = _ASKED_WEIGHT
            # ... and a question naming it among other things is about the others.
            asked_of = {self.utterance_intent[p] for p in self._utterance_positions.get(token, ())}
            if len(asked_of) > _UBIQUITOUS_ENTITY:
                self.ubiquitous_entities.add(entity.id)
        return bags, shared

    def _learn_kinds(self) -> None:
        """Per kind of answer, the share of each intent's phrasings asking for it, scaled
        so that an intent asked that way now and then (_KIND_USUAL) fits fully."""
        counts = {kind: np.zeros(len(self._group_ids)) for kind in (*PENALISED_KINDS, WHAT)}
        starts = self._group_starts.tolist()
        for group, start in enumerate(starts):
            end = start + int(self._group_sizes[group])
            for text in self.utterance_text[start:end]:
                cleaned = clean(text)
                for kind in question_kinds(cleaned) & PENALISED_KINDS:
                    counts[kind][group] += 1
                if asks_what(cleaned):
                    counts[WHAT][group] += 1
        sizes = np.maximum(self._group_sizes, 1)
        # A kind no intent answers (a count, when the article has none) says nothing.
        self.kind_fit = {
            kind: np.minimum(1.0, c / sizes / _KIND_USUAL) for kind, c in counts.items() if c.any()
        }

    def kind_fits(self, intent_id: str, kind: str) -> bool:
        """Do this intent's phrasings ask for this kind now and then (_KIND_USUAL)?"""
        fit = self.kind_fit.get(kind)
        if fit is None or intent_id not in self._group_of:
            return False
        return bool(fit[self._group_of[intent_id]] >= 1.0)

    def _kind_penalty(self, query: Query) -> np.ndarray | None:
        """Points off per intent that never answers the kind of thing the question asks."""
        fits = [self.kind_fit[k] for k in query.kinds if k in self.kind_fit]
        if not fits:
            if not query.kinds and WHAT in self.kind_fit and asks_what(query.cleaned):
                # Asked what, and no figure or reason: intents never asked what (a
                # yes-or-no check, a length) lose as for any other kind.
                return _KIND_PENALTY * (1.0 - self.kind_fit[WHAT])
            return None
        best: np.ndarray = np.maximum.reduce(fits) if len(fits) > 1 else fits[0]
        return _KIND_PENALTY * (1.0 - best)

    def _build_ngrams(self) -> None:
        """Character 1-3-gram TF-IDF vectors of the phrasings (on their normalised form),
        stored as posting lists: per gram, the phrasings using it and their weights.

        The lists are typed arrays (4 bytes an entry) that numpy then reads in place, and
        each phrasing's grams are counted again rather than kept: Python lists of ints and
        floats and a dict of grams for every phrasing were over 200 MB of the build's peak
        on a 46,000-phrasing base. The weights are computed exactly as before.

        A gram's row is as long as the number of phrasings using it (its document
        frequency), so the flat arrays are sized first and filled in place: no list per
        gram that is then copied (the two were 30 MB of the peak on 100x knowledge)."""
        texts = self._texts
        df: dict[str, int] = defaultdict(int)
        for n in texts.phrasings:
            for gram in _ngrams("".join(texts.stems(n))):
                df[gram] += 1
        n_docs = max(1, len(texts.phrasings))
        self.ngram_idf = {g: math.log((1 + n_docs) / (1 + c)) + 1.0 for g, c in df.items()}
        rows = {gram: n for n, gram in enumerate(self.ngram_idf)}
        filler = PostingsFiller(rows, [df[gram] for gram in self.ngram_idf], unit=True)
        del df
        for position, n in enumerate(texts.phrasings):
            grams = _ngrams("".join(texts.stems(n)))
            vector = {g: c * self.ngram_idf[g] for g, c in grams.items()}
            norm = math.sqrt(sum(v * v for v in vector.values())) or 1.0
            for gram, value in vector.items():
                filler.add(rows[gram], position, value / norm)
        self.ngram_postings = filler.done()

    def _build_centroids(self) -> None:
        """Per intent, the centroid of its phrasings' and keywords' TF-IDF vectors (words
        and character 1-3-grams within words): what the intent is about as a whole, as
        opposed to its nearest single phrasing.

        Built one intent at a time, each text's features counted again rather than kept,
        and the postings filled as typed arrays: a feature dict for every text, a sum dict
        for every intent and lists of Python floats were about 500 MB of the build's peak
        on a 46,000-phrasing base. Same sums in the same order, so the same weights."""
        group_of = self._group_of
        texts = self._texts
        self._texts = _StemTexts()
        groups = [group_of[intent_id] for intent_id in texts.owners]
        # Intent by intent (in group order), each intent's texts in their own order.
        order = sorted(range(len(texts.owners)), key=groups.__getitem__)
        # Per feature: the texts using it (its IDF), and the intents using it (the length
        # of its row: the postings are sized first, then filled in place).
        df: dict[str, int] = defaultdict(int)
        rows: dict[str, int] = {}
        lengths: list[int] = []
        last_group: list[int] = []
        for k in order:
            group = groups[k]
            for f in _centroid_features(texts.stems(k)):
                df[f] += 1
                row = rows.get(f)
                if row is None:
                    rows[f] = len(lengths)
                    lengths.append(1)
                    last_group.append(group)
                elif last_group[row] != group:
                    last_group[row] = group
                    lengths[row] += 1
        n_docs = max(1, len(texts.owners))
        self.centroid_idf = {f: math.log((1 + n_docs) / (1 + c)) + 1.0 for f, c in df.items()}
        self.centroid_unseen = math.log((1 + n_docs) / 2) + 1.0  # as rare as the rarest
        del df, last_group
        filler = PostingsFiller(rows, lengths, unit=True, ids_below=len(self._group_ids))
        del lengths
        total: dict[str, float] = defaultdict(float)

        def add_centroid(group: int) -> None:
            norm = math.sqrt(sum(v * v for v in total.values())) or 1.0
            for f, value in total.items():
                filler.add(rows[f], group, value / norm)
            total.clear()

        for n, k in enumerate(order):
            features = _centroid_features(texts.stems(k))
            vector = _tfidf(features, self.centroid_idf, self.centroid_unseen)
            for f, value in vector.items():
                total[f] += value
            if n + 1 == len(order) or groups[order[n + 1]] != groups[k]:
                add_centroid(groups[k])
        del texts
        self.centroid_postings = filler.done()

    def _centroid_cosine(self, query: Query) -> np.ndarray:
        """Per intent, the cosine of the question to the intent's centroid (0..1)."""
        vector = _tfidf(
            _centroid_features(list(query.stems)), self.centroid_idf, self.centroid_unseen
        )
        return self.centroid_postings.accumulate(vector.items(), len(self._group_ids))

    def _ngram_cosine(self, query: Query) -> np.ndarray:
        scores = np.zeros(len(self.utterance_intent), dtype=np.float64)
        grams = _ngrams("".join(query.stems))
        vector = {g: c * self.ngram_idf[g] for g, c in grams.items() if g in self.ngram_idf}
        norm = math.sqrt(sum(v * v for v in vector.values()))
        if not norm:
            return scores
        # Grams the knowledge never uses still lengthen the question's vector.
        unseen = sum(
            (c * (math.log(1 + len(scores)) + 1.0)) ** 2
            for g, c in grams.items()
            if g not in self.ngram_idf
        )
        norm = math.sqrt(norm * norm + unseen)
        return self.ngram_postings.accumulate(
            ((gram, value / norm) for gram, value in vector.items()), len(scores)
        )

    def _finalize(self) -> None:
        starts = [0]
        for n in range(1, len(self.utterance_intent)):
            if self.utterance_intent[n] != self.utterance_intent[n - 1]:
                starts.append(n)
        self._group_starts = np.array(starts, dtype=np.intp)
        self._group_ids = [self.utterance_intent[n] for n in starts]
        self._group_of = {intent_id: n for n, intent_id in enumerate(self._group_ids)}
        self._group_sizes = np.diff(np.array([*starts, len(self.utterance_intent)], dtype=np.intp))
        self._utterance_group = np.repeat(
            np.arange(len(starts), dtype=np.int32), self._group_sizes
        )

    def _stems(self, text: str) -> tuple[str, list[str], list[EntityMention]]:
        """Cleaned text, its stems, and the entity mentions."""
        cleaned = clean(text)
        replaced, mentions = self.recognizer.replace(cleaned)
        stems: list[str] = []
        after_name = False
        for word in replaced.split():
            named, after_name = after_name, is_placeholder(word[0])
            if word in PARTICLES or (named and _COPULA_TAIL_RE.match(word)):
                continue  # left over from a name ('휴대폰에서만' -> 휴대폰, 에서만)
            pieces = split_word(word)
            if word in FILLER_STEMS:
                pieces = [word]  # '아니', '혹시': no typo of a knowledge word, never split
            elif word in self.word_groups and _HANGUL_RE.match(word):
                pieces = [word]  # a group's word as listed ('불가'), not its stem ('불')
            elif (
                self.term_list
                and pieces
                and pieces[0] != word  # a particle or ending was taken off ...
                and not self.known(pieces[0])  # ... and what is left is unknown
                and pieces[0] not in FILLER_STEMS
            ):
                typo = self._typo_of(word)
                if typo is None and len(pieces[0]) == 2:
                    # ... then a two-syllable stem, which splitting the whole word would
                    # lose ('샤과했나요' -> 사과; '설명좀요' is split, into 설명 and 좀)
                    typo = self._typo_of(pieces[0])
                if typo is not None:
                    pieces = [typo, *pieces[1:]]
            if (
                pieces
                and (pieces[0] != word or len(word) >= 4)
                and pieces[0] not in self._split_vocab()
                and pieces[0] not in SMALL_TALK
            ):
                # Typed without spaces: split the whole word, before its last verb is
                # mistaken for an ending ('외에뭐가안됐어' -> 외, 뭐, 안되).
                whole = self._segment(word)
                if whole != [word]:
                    pieces = whole
            for s in pieces:
                for piece in self._segment(s):
                    if self.term_list and not self.known(piece) and piece not in FILLER_STEMS:
                        piece = self._typo_of(piece) or piece  # '언재' in '카톡이언재멈췄어'
                    stems.append(self.canonical(piece))
        return cleaned, stems, mentions

    def known(self, word: str) -> bool:
        """A word of the knowledge, or of one of its word groups ('작동' reads as 먹통):
        no typo to correct ('작동' is no slip of '자동')."""
        return word in self.vocabulary or self.canonical(word) != word

    def _split_vocab(self) -> Container[str]:
        if self.split_vocabulary is not None:
            return self.split_vocabulary
        return self.vocabulary

    def _typo_of(self, word: str) -> str | None:
        """A known term the whole word is a plausible slip of ('장에' -> '장애'), checked
        before a particle is stripped from what is really part of the word."""
        if len(word) == 1 and _HANGUL_RE.match(word):
            # One syllable: only a missed shift on the final ㅆ ('갓어' for '갔어').
            shifted = with_double_final(word)
            return shifted if shifted is not None and self.known(shifted) else None
        if not (2 <= len(word) <= 4) or not _HANGUL_RE.match(word):
            return None
        # A slip changes one syllable: the candidates are the known words of the same
        # length sharing a syllable in the same place (a handful, even on a large base).
        candidates = {
            term
            for position, syllable in enumerate(word)
            for term in self.syllable_index.get((len(word), position, syllable), ())
            if term != word
        }
        if len(word) == 2:
            # Two syllables are too short for a similarity cutoff ('멋시' and '몇시' share
            # 3 of 5 letters): any known word one plausible slip away.
            return next((t for t in sorted(candidates) if plausible_typo(word, t)), None)
        jamo = to_jamo(word)
        scored = [(fuzz.ratio(jamo, to_jamo(t)), t) for t in sorted(candidates)]
        best = max(((r, t) for r, t in scored if r >= 75), default=None)
        return best[1] if best is not None and plausible_typo(word, best[1]) else None

    def canonical(self, word: str) -> str:
        """The group word standing for `word` ('정상화' -> '복구'), or the word itself."""
        found = self.word_groups.get(word)
        if found is None:
            key = verb_key(word)
            found = self.word_groups.get(key) if key else None
        return found or word

    def _segment(self, word: str) -> list[str]:
        """Split a long word typed without spaces into known words ('언제부터멈췄' ->
        ['언제', '멈췄']), when known words cover most of it."""
        vocab = self._split_vocab()
        if len(word) < 4 or not _HANGUL_RE.match(word) or word in vocab:
            return [word]
        n = len(word)
        # best[i] = (covered characters, pieces, uncovered run so far) for word[:i]. An
        # uncovered run of two letters or more is a word this vocabulary lacks, not an
        # ending to drop: a split that would lose it ('중단됐었나요' -> 되) is no split,
        # unless the run is a slip of a known word ('카톡이언재멈췄어' -> 언제, 멈췄).
        empty: list[str] = []
        best: list[tuple[int, list[str], str]] = [(0, empty, "")] + [(-1, empty, "")] * n

        def flushed(pieces: list[str], run: str) -> list[str]:
            return [*pieces, _UNCOVERED + run] if len(run) >= 2 else pieces

        for i in range(n):
            covered, pieces, run = best[i]
            if covered < 0:
                continue
            if best[i + 1][0] < covered:
                best[i + 1] = (covered, pieces, run + word[i])
            for j in range(i + 1, min(n, i + 8) + 1):
                piece = word[i:j]
                if len(piece) == 1 and piece not in _GLUE and piece not in self.word_groups:
                    continue  # one syllable: an ending, unless a group's word ('끝', '왜')
                stemmed = "" if piece in _GLUE else stem(piece)
                if piece in _GLUE:
                    candidate = (covered + (j - i), flushed(pieces, run), "")
                elif piece in FILLER_STEMS or stemmed in FILLER_STEMS:
                    # Kept: '뭐가' says what is asked, even if it is no topic word.
                    candidate = (covered + (j - i), [*flushed(pieces, run), stemmed], "")
                elif (
                    piece in vocab
                    or stemmed in vocab
                    or self.canonical(stemmed) != stemmed  # '풀렸': 복구's 풀리
                ):
                    # The known form: '들어' is a word of the knowledge, its stem '들' is not.
                    known = piece if piece in vocab else stemmed
                    candidate = (covered + (j - i), [*flushed(pieces, run), known], "")
                else:
                    continue
                if candidate[0] > best[j][0] or (
                    candidate[0] == best[j][0] and len(candidate[1]) < len(best[j][1])
                ):
                    best[j] = candidate
        covered, pieces, run = best[n]
        pieces = flushed(pieces, run)
        if covered == n and not pieces:
            return []  # nothing but particles and filler ('는어떻게된거')
        if not pieces or covered < 0.6 * n:
            return [word]
        found: list[str] = []
        for piece in pieces:
            if piece.startswith(_UNCOVERED):
                typo = self._typo_of(piece[1:]) if self.term_list else None
                if typo is None:
                    return [word]
                piece = typo
            found.extend(self._unjoined(piece))
        return found

    def _flag_joined_only(self, stems: Container[str]) -> None:
        """Flag the terms that are no stem of any text, only two joined ('시간얼마')."""
        self.joined_only = np.fromiter(
            (t not in stems and not is_placeholder(t[0]) for t in self.term_list),
            dtype=bool,
            count=len(self.term_list),
        )

    def _is_joined_only(self, term: str) -> bool:
        row = self.vocabulary.get(term)
        return row is not None and bool(self.joined_only[row])

    def _unjoined(self, piece: str) -> list[str]:
        """A piece of a word typed without spaces that is only two words of one phrasing
        joined ('장애시간얼마나' -> 장애, 시간얼마): its two words, as every other phrasing
        has them ('시간', '얼마')."""
        if not self._is_joined_only(piece):
            return [piece]
        for k in range(1, len(piece)):
            head, tail = piece[:k], piece[k:]
            if all(p in self.vocabulary and not self._is_joined_only(p) for p in (head, tail)):
                return [head, tail]
        return [piece]

    def join(self, earlier: Query, later: Query) -> Query:
        """Two questions read as one ('재난관리시스템엔 왜 들어갔어?' + '언제부터?'); what
        the later one asks (its kind, its language) decides."""
        cleaned = f"{earlier.cleaned} {later.cleaned}"
        return replace(
            later,
            original=f"{earlier.original} {later.original}",
            cleaned=cleaned,
            stems=earlier.stems + later.stems,
            jamo=earlier.jamo + later.jamo,
            jamo_words=f"{earlier.jamo_words} {later.jamo_words}".strip(),
            entities=tuple(dict.fromkeys(earlier.entities + later.entities)),
            content_stems=earlier.content_stems + later.content_stems,
            kinds=later.kinds or earlier.kinds,
            asked=question_kinds(cleaned),
        )

    def prepare(self, text: str) -> Query:
        """Normalise a question into a Query."""
        cleaned, stems, mentions = self._stems(text)
        content = tuple(s for s in stems if not is_placeholder(s[0]) and s not in FILLER_STEMS)
        asked = question_kinds(cleaned)
        day = self.canonical("날짜")
        after = content[content.index(day) + 1 :] if day in content else ()
        if any(not DATE_WORD_RE.match(w) for w in after) and not asked & {"time", "date"}:
            # '터졌던 날 무슨 일이었어?': a day followed by what is asked about it only sets
            # the scene; '터진 날?' ends on it and asks it, '그 날 3월 2일 맞지?' checks it.
            stems = [s for s in stems if s != day]
            content = tuple(s for s in content if s != day)
        years = tuple(y for y in YEAR_RE.findall(cleaned) if y not in self.known_years)
        dates = tuple(f"{m}/{d}" for m, d in _dates_in(cleaned) if (m, d) not in self.known_dates)
        # A month the article never mentions ('2020년 5월에도 먹통 있었어?'): another time.
        # (A day's month needs no test: a day of a known month is a known day or foreign.)
        dates += tuple(f"{m}/*" for m in _bare_months_in(cleaned) if m not in self.known_months)
        declined = _terms_in(cleaned, self._decline_starts)
        uncovered = _terms_outside_mentions(cleaned, mentions, self._not_covered_starts)
        jamo_stems = [to_jamo(s) for s in stems]
        return Query(
            original=text,
            cleaned=cleaned,
            stems=tuple(stems),
            jamo="".join(jamo_stems),
            jamo_words=" ".join(jamo_stems),
            english=is_mostly_latin(cleaned),
            entities=tuple(dict.fromkeys(m.entity_id for m in mentions)),
            content_stems=content,
            foreign_years=years,
            foreign_dates=dates,
            decline_terms=declined,
            not_covered=uncovered,
            kinds=asked & PENALISED_KINDS,
            asked=asked,
            mentions=tuple(mentions),
        )

    def _term_matches(self, word: str) -> list[tuple[str, float]]:
        """Knowledge terms this word stands for, with a similarity in 0..1."""
        matches: dict[str, float] = {}
        if word in self.vocabulary:
            matches[word] = 1.0
            key = verb_key(word)
            for term in self.verb_keys.get(key, ()) if key else ():
                matches.setdefault(term, 1.0)  # another form of the same verb
            return sorted(matches.items(), key=lambda item: -item[1])
        # A bare word the knowledge has in its stemmed form: '방지' was stemmed to '방'
        # where it stood alone, and only lost its particle in '방지에'.
        restemmed = stem(word)
        if restemmed != word and restemmed in self.vocabulary:
            matches[restemmed] = 0.95
        # A conjugated or particle-laden form of a known stem ('멈췄던' -> '멈췄').
        for n in range(len(word) - 1, 1, -1):
            if word[:n] in self.vocabulary:
                matches[word[:n]] = 0.9
                break
        # Another form of the same verb ('터진' for '터졌').
        key = verb_key(word)
        for term in self.verb_keys.get(key, ()) if key else ():
            matches[term] = max(matches.get(term, 0.0), 0.9)
        # A shortened form of a known word ('사과' for '사과문').
        for term in self._longer_terms(word, 6):
            matches[term] = max(matches.get(term, 0.0), 0.85)
        jamo = to_jamo(word)
        if len(jamo) >= 3 and not is_placeholder(word[0]):
            cutoff = 80.0 if len(jamo) <= 6 else _FUZZY_CUTOFF
            start, end = self._reachable(len(jamo), cutoff)
            found = process.extract(
                jamo.translate(_NARROW),
                self.term_jamo[start:end],
                scorer=fuzz.ratio,
                processor=None,
                score_cutoff=cutoff,
                limit=_FUZZY_ROOM,
            )
            # The best four, ties to the term first in the vocabulary's order.
            rows = sorted((-score, self._jamo_rows[start + pos]) for _t, score, pos in found)
            for negative, row in rows[:4]:
                term, score = self.term_list[row], -negative
                if len(word) <= 2 and _HANGUL_RE.match(word) and not plausible_typo(word, term):
                    continue
                sim = score / 100.0
                if sim > matches.get(term, 0.0):
                    matches[term] = sim
        return sorted(matches.items(), key=lambda item: -item[1])

    def _idf(self, term: str) -> float:
        """How specific a known term is to few intents."""
        return float(self.idf[self.vocabulary[term]])

    def _longer_terms(self, word: str, limit: int) -> list[str]:
        """Up to `limit` known words that begin with this word (of two letters or more) and
        go on, in the vocabulary's order."""
        if len(word) < 2:
            return []
        found: list[str] = []
        for row in range(bisect_left(self.term_list, word), len(self.term_list)):
            term = self.term_list[row]
            if not term.startswith(word) or len(found) == limit:
                break
            if len(term) > len(word):
                found.append(term)
        return found

    def _reachable(self, length: int, cutoff: float) -> tuple[int, int]:
        """The slice of term_jamo a word of `length` jamo can match at `cutoff`: the ratio
        is at most 200 * shorter / (both lengths), so the lengths it reaches are a run."""
        reached = [
            span
            for other, span in self._jamo_starts.items()
            if 200.0 * min(other, length) / (other + length) >= cutoff
        ]
        if not reached:
            return 0, 0
        return min(start for start, _ in reached), max(end for _, end in reached)

    def _term_coverage(self, query: Query) -> tuple[np.ndarray, tuple[str, ...]]:
        """Per utterance, the share (0..1) of the question's weight it explains: its own
        words, and its intent's keywords, answer words and entities."""
        n_utt = len(self.utterance_intent)
        explained = np.zeros(n_utt, dtype=np.float64)
        total = 0.0
        unknown: list[str] = []
        entity_terms = [s for s in query.stems if is_placeholder(s[0]) and s in self.vocabulary]
        asked = query.asked
        scene = bool(asked & _SCENE_KINDS) and not asked & {"time", "date"}
        # '터졌던 날 무슨 일이었어?': the day sets the scene unless a time or date is asked.
        day = self.canonical("날짜") if not asked & {"time", "date"} else None
        for word in dict.fromkeys([*query.content_stems, *entity_terms]):
            if word.isdigit() and word not in self.vocabulary:
                continue  # a number the knowledge lacks is neither for nor against
            known = self._word_coverage(word)
            if known is None:
                unknown.append(word)
                total += self.max_idf
                continue
            weight, share = known
            emphasis = _ENTITY_EMPHASIS if is_placeholder(word[0]) else 1.0
            if (scene and DATE_WORD_RE.match(word)) or word == day:
                emphasis = _SCENE_EMPHASIS
            total += weight * emphasis
            explained += share * emphasis if emphasis != 1.0 else share
        if total <= 0:
            return explained, tuple(unknown)
        return explained / total, tuple(unknown)

    def _word_coverage(self, word: str) -> tuple[float, np.ndarray] | None:
        """A word's weight and, per phrasing, how much of it the phrasing (with its intent's
        keywords, answer words and entities) explains, at most the weight; None if the
        knowledge has no term for it.

        Kept for the words asked most: the same words come back question after question
        ('카톡', '언제', '원인'), and a follow-up read with the question before it asks
        its words again. Within _COVERAGE_CACHE_BYTES (a few hundred words on the shipped
        knowledge; few on a very large one, where each is a large array)."""
        cache = self._coverage_cache
        if word in cache:
            return cache[word]
        matches = self._term_matches(word)
        found: tuple[float, np.ndarray] | None = None
        if matches:
            n_utt = len(self.utterance_intent)
            weight = max(sim * self._idf(t) for t, sim in matches)
            per_utt = np.zeros(n_utt, dtype=np.float64)
            per_intent = np.zeros(len(self._group_ids), dtype=np.float64)
            for term, sim in matches:
                value = sim * self._idf(term)
                positions = self.utterance_postings.get(term, _EMPTY[0])
                if len(positions):
                    per_utt[positions] = np.maximum(per_utt[positions], value)
                groups, gweights = self.intent_postings.get(term, _EMPTY)
                if len(groups):
                    per_intent[groups] = np.maximum(per_intent[groups], value * gweights)
            combined = np.maximum(per_utt, np.repeat(per_intent, self._group_sizes))
            share = np.minimum(combined, weight)
            share.flags.writeable = False  # shared by every question asking the word
            found = (weight, share)
        room = _COVERAGE_CACHE_BYTES // max(1, 8 * len(self.utterance_intent))
        if len(cache) >= room:
            cache.clear()  # simply started again: no bookkeeping on every question
        if room:
            cache[word] = found
        return found

    def _text_similarity(self, query: Query, partial: np.ndarray, text_share: float) -> np.ndarray:
        """rapidfuzz similarity (0..100) of the question to each phrasing's jamo text.

        Only phrasings that can still reach the top are compared: text adds at most
        `text_share * 100` points, so anything further behind the best partial score than
        that (plus room for the context bonus) cannot win; of those, at most the
        `_PRUNE_KEEP` best. (The intent centroid, mixed in afterwards, could in principle
        lift a phrasing left out here; on the dev and fresh sets no answer changes, and the
        shipped knowledge answers twice as fast.)"""
        n = len(self.utterance_intent)
        reach = text_share * 100.0 + _PRUNE_SLACK
        keep = np.flatnonzero(partial >= partial.max() - reach)
        if len(keep) > _PRUNE_KEEP:
            best = np.argpartition(-partial[keep], _PRUNE_KEEP)[:_PRUNE_KEEP]
            keep = np.sort(keep[best])
        # The jamo text is the jamo words without their spaces (stems hold none): made
        # again for the few hundred phrasings compared rather than kept for all of them
        # (9 MB on 100x knowledge).
        words = [self.utterance_words[i] for i in keep]
        jamo = [w.replace(" ", "") for w in words]
        scores: np.ndarray = np.asarray(
            process.cdist([query.jamo.translate(_NARROW)], jamo, scorer=fuzz.ratio)[0],
            dtype=np.float64,
        )
        if len(query.stems) > 1:
            # Word order and extra words matter less than the words themselves.
            narrow = query.jamo_words.translate(_NARROW)
            by_words = process.cdist([narrow], words, scorer=fuzz.token_set_ratio)[0]
            scores = np.maximum(scores, 0.9 * np.asarray(by_words, dtype=np.float64))
        full = np.zeros(n, dtype=np.float64)
        full[keep] = scores
        return full

    def most_specific_entity(self, entity_ids: Sequence[str]) -> str:
        """Of the things a question names, the first that is not named all over the
        knowledge ('카톡이 통합재난관리시스템이라며?' is about the disaster system, not
        KakaoTalk in general); the first named if all are."""
        specific = self.specific_entities(entity_ids)
        return specific[0] if specific else entity_ids[0]

    def specific_entities(self, entity_ids: Sequence[str]) -> list[str]:
        """The things named that are not named all over the knowledge, in order."""
        return [e for e in entity_ids if e not in self.ubiquitous_entities]

    def _rival_phrasings(self, query: Query) -> np.ndarray | None:
        """Phrasings naming another thing of a kind the question names, and none the
        question names (a mask over the phrasings): '카스 먹통 얼마나 갔어' when the
        question is about 카톡."""
        kinds = {self.entities[e].kind for e in query.entities} - {None}
        if not kinds or _CONTRAST_RE.search(query.cleaned):
            return None  # '카톡 말고 오후까지 점검한 서비스?': named to set it apart
        named: list[np.ndarray] = []
        others: list[np.ndarray] = []
        for entity_id, entity in self.entities.items():
            if entity.kind not in kinds:
                continue
            positions = self.utterance_postings.get(self._entity_token[entity_id])
            if positions is not None:
                (named if entity_id in query.entities else others).append(positions)
        if not others:
            return None
        rivals = np.zeros(len(self.utterance_intent), dtype=bool)
        for positions in others:
            rivals[positions] = True
        for positions in named:
            rivals[positions] = False
        return rivals

    def score(self, query: Query, limit: int | None = 5) -> list[Candidate]:
        """Rank intents for a prepared query (best first), scores in 0..100."""
        if query.is_empty or not self.utterance_intent:
            return []
        coverage, unknown = self._term_coverage(query)
        cosine = self._ngram_cosine(query)
        if query.content_stems or query.entities:
            text_share = 1 - _TERM_SHARE - _NGRAM_SHARE
            partial = 100.0 * (_TERM_SHARE * coverage + _NGRAM_SHARE * cosine)
        else:
            text_share = 1 - _NGRAM_SHARE
            partial = _NGRAM_SHARE * 100.0 * cosine
        combined = partial + text_share * self._text_similarity(query, partial, text_share)
        rivals = self._rival_phrasings(query)
        if rivals is not None:
            combined[rivals] -= RIVAL_PENALTY
        per_intent = np.maximum.reduceat(combined, self._group_starts)
        # Each intent's best phrasing: the first at its intent's maximum.
        at_max = np.flatnonzero(combined >= np.repeat(per_intent, self._group_sizes))
        owners = self._utterance_group[at_max]
        first = np.empty(len(owners), dtype=bool)
        first[:1] = True
        np.not_equal(owners[1:], owners[:-1], out=first[1:])
        best_of = at_max[first]
        if CENTROID_SHARE:
            centroid = 100.0 * self._centroid_cosine(query)
            per_intent = (1 - CENTROID_SHARE) * per_intent + CENTROID_SHARE * centroid
        penalty = self._kind_penalty(query)
        if penalty is not None:
            per_intent = np.maximum(per_intent - penalty, 0.0)
        order = np.argsort(-per_intent, kind="stable")
        if limit is not None:
            order = order[:limit]
        # Plain Python numbers first: indexing numpy arrays one by one is slow.
        bests = best_of[order].tolist()
        scores = np.minimum(per_intent[order], 100.0).tolist()
        shares = coverage[best_of[order]].tolist()
        ids, texts = self._group_ids, self.utterance_text
        return [
            Candidate(ids[n], score, texts[best], share, unknown)
            for n, best, score, share in zip(order.tolist(), bests, scores, shares, strict=True)
        ]


_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH = rf"(?:{'|'.join(_MONTHS)})[a-z]*"
# Text that may name a day at all: a digit or a month's name (a quick test before reading it).
MAY_NAME_A_DAY_RE = re.compile(rf"\d|{_MONTH}", re.IGNORECASE)
# A word that is (part of) a date: '2020년', '3월', '2일', '2nd', 'march'.
DATE_WORD_RE = re.compile(rf"^(?:\d{{1,4}}(?:월|일|년|st|nd|rd|th)?(?:엔|에는|에)?|{_MONTH})$")
# 'march 5', 'march 5th', '5 march', '5th of march'
_EN_DATE_RE = re.compile(
    rf"\b({_MONTH})\s+(\d{{1,2}})(?:st|nd|rd|th)?\b|\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH})\b"
)


def _dates_in(cleaned: str) -> list[tuple[int, int]]:
    """The (month, day) pairs written in a cleaned text ('3월 2일', 'march 2' -> (3, 2))."""
    dates = [(int(m), int(d)) for m, d in _DATE_RE.findall(cleaned)]
    for month_day, day, day_month, month in _EN_DATE_RE.findall(cleaned):
        name, number = (month_day, day) if month_day else (month, day_month)
        if name[:3] in _MONTHS and 1 <= int(number) <= 31:
            dates.append((_MONTHS.index(name[:3]) + 1, int(number)))
    return dates


# A month on its own ('5월에도', 'in april'). English 'may' and 'march' are left out: both
# are also words ('it may', 'a march'), and March is this incident's month anyway.
_KO_MONTH_RE = re.compile(r"(?<!\d)(1[0-2]|0?[1-9])\s*월(?!\s*\d)")
_EN_MONTH_RE = re.compile(
    r"\b(january|february|april|june|july|august|september|october|november|december)\b"
)


def _bare_months_in(cleaned: str) -> list[int]:
    """Months written without a day ('5월에도', 'in april')."""
    months = [int(m) for m in _KO_MONTH_RE.findall(cleaned)]
    months += [_MONTHS.index(name[:3]) + 1 for name in _EN_MONTH_RE.findall(cleaned)]
    return months


def _centroid_features(stems: Sequence[str]) -> dict[str, int]:
    """Words, and character 1-3-grams within each word (padded: ' 장애 ')."""
    if len(stems) == 1:
        return dict(_word_features(stems[0]))
    features: dict[str, int] = defaultdict(int)
    for word in stems:
        for feature, count in _word_features(word):
            features[feature] += count
    return features


def _word_features(word: str) -> tuple[tuple[str, int], ...]:
    """One word's centroid features: cached for words of up to 8 letters (see
    _short_word_features), computed for longer ones."""
    return _short_word_features(word) if len(word) <= 8 else _features_of(word)


def _features_of(word: str) -> tuple[tuple[str, int], ...]:
    return ((f"w:{word}", 1), *_ngrams(f" {word} ").items())


# Cached: the same words come back question after question, and building a knowledge base
# reads each word many times. 1,024 words of up to 8 letters (about 3 MB at most: random
# long words filled 40 MB at 8,192, words of any length).
_short_word_features = lru_cache(maxsize=1024)(_features_of)


def _tfidf(features: dict[str, int], idf: dict[str, float], unseen: float) -> dict[str, float]:
    """Sublinear TF times IDF, L2-normalised; features the knowledge lacks (weighing
    `unseen`) lengthen the vector all the same: an unknown word makes the question less
    like any intent."""
    vector = {f: (1.0 + math.log(c)) * idf.get(f, unseen) for f, c in features.items()}
    norm = math.sqrt(sum(v * v for v in vector.values())) or 1.0
    return {f: v / norm for f, v in vector.items() if f in idf}


def _ngrams(text: str, sizes: tuple[int, ...] = (1, 2, 3)) -> dict[str, int]:
    grams: dict[str, int] = defaultdict(int)
    for n in sizes:
        for i in range(len(text) - n + 1):
            grams[text[i : i + n]] += 1
    return grams


def _word_form(text: str) -> str:
    """A synonym-list word in the form questions are compared in (one stem)."""
    words = clean(text).split()
    return stem(words[0]) if len(words) == 1 else ""


SMALL_TALK = frozenset(
    {
        "안녕",
        "안녕하",
        "안녕하세",
        "하이",
        "헬로",
        "ㅎㅇ",
        "반가워",
        "반갑",
        "반갑습",
        "고마워",
        "고맙",
        "고맙습",
        "감사",
        "감사합",
        "땡큐",
        "너",
        "넌",
        "니",
        "누구",
        "뭐해",
        "심심",
        "사랑",
        "사랑해",
        "바보",
        "잘가",
        "잘자",
        "바이",
        "hello",
        "hi",
        "hey",
        "thank",
        "thanks",
        "bye",
        "who",
        "you",
        "are",
        "good",
        "morning",
        "nice",
        "meet",
        "love",
    }
)


def _by_start(forms: list[tuple[str, str]]) -> dict[str, list[tuple[int, str, str]]]:
    """Terms (with their place in the list) by the first two letters of their first word,
    spaces aside: a question is searched only for the terms that can start somewhere in
    it (a few of the hundreds, instead of all of them for every question)."""
    starts: dict[str, list[tuple[int, str, str]]] = {}
    for n, (term, form) in enumerate(forms):
        first = form.split(_GAP)[0].replace(" ", "")
        starts.setdefault(first[:2], []).append((n, term, form))
    return starts


def _candidate_terms(
    compact: str, starts: dict[str, list[tuple[int, str, str]]]
) -> list[tuple[str, str]]:
    """The terms whose first word may begin in the text (without spaces), in the order
    the knowledge lists them."""
    found: dict[int, tuple[str, str]] = {}
    for i in range(len(compact)):
        for key in (compact[i : i + 2], compact[i]):
            for n, term, form in starts.get(key, ()):
                found[n] = (term, form)
    return [found[n] for n in sorted(found)]


def _terms_outside_mentions(
    cleaned: str, mentions: list[EntityMention], starts: dict[str, list[tuple[int, str, str]]]
) -> tuple[str, ...]:
    """Terms found in the text, except inside an entity's own name: '주식회사 카카오' is
    not a question about 주식, but '카카오페이' is about 카카오페이."""
    found = []
    compact = cleaned.replace(" ", "")
    for term, form in _candidate_terms(compact, starts):
        if not _has_term(cleaned, form, compact):
            continue
        text = cleaned
        for mention in mentions:
            name = mention.text.replace(" ", "")
            if any(part.replace(" ", "") in name for part in form.split(_GAP)):
                text = text.replace(mention.text, " ")
        if _has_term(text, form):
            found.append(term)
    return tuple(found)


_GAP = "\x01"  # in a term's form, where the knowledge's '*' allows a few words
_MAX_GAP = 16  # characters a '*' spans at most: one clause, not the next one


def _term_form(term: str) -> str:
    """A decline or not-covered term as questions are searched for it: cleaned; a '*'
    between words allows a few words there ('다른 * 기사': '다른 무슨 기사')."""
    parts = [clean(part) for part in term.split("*")]
    return _GAP.join(part for part in parts if part)


def _part_pattern(part: str) -> str:
    """Whole words for a Latin part; its letters, spaces ignored, for a Korean one."""
    if part.isascii():
        return rf"(?<![a-z0-9]){re.escape(part)}(?![a-z0-9])"
    return r"\s*".join(re.escape(letter) for letter in part.replace(" ", ""))


@lru_cache(maxsize=4096)
def _term_regex(form: str) -> re.Pattern[str]:
    gap = f".{{0,{_MAX_GAP}}}?"
    return re.compile(gap.join(_part_pattern(part) for part in form.split(_GAP)))


_COMPACT_PARTS: dict[str, tuple[str, ...]] = {}  # form -> its parts without spaces


def _has_term(text: str, form: str, compact: str | None = None) -> bool:
    """Does the form occur in the text (`compact`: the text without spaces, if known)?"""
    parts = _COMPACT_PARTS.get(form)
    if parts is None:
        parts = _COMPACT_PARTS[form] = tuple(p.replace(" ", "") for p in form.split(_GAP))
    if compact is None:
        compact = text.replace(" ", "")
    for part in parts:
        if part not in compact:
            return False  # cheap test first: most questions contain none of the terms
    return _term_regex(form).search(text) is not None


def _terms_in(text: str, starts: dict[str, list[tuple[int, str, str]]]) -> tuple[str, ...]:
    """The terms (as listed in the knowledge) whose form occurs in `text`."""
    compact = text.replace(" ", "")
    candidates = _candidate_terms(compact, starts)
    return tuple(term for term, form in candidates if _has_term(text, form, compact))


def without_term(cleaned: str, form: str) -> str:
    """The text without the words of a term's form (each part where it occurs)."""
    for part in form.split(_GAP):
        cleaned = re.sub(_part_pattern(part), " ", cleaned)
    return " ".join(cleaned.split())
