"""What kind of answer a question asks for: a time, a length of time, a reason, a count ...

The question word says more about which fact is asked than any topic word: '카톡 언제
멈췄어?' and '카톡 얼마나 멈췄어?' share every topic word and ask for different facts.
The matcher learns from the knowledge's own phrasings which kinds each intent answers,
and holds back intents that never answer the kind a question asks.

Pure functions of a cleaned text (see `normalize.clean`) and its stems.
"""

from __future__ import annotations

import re

# Korean patterns are matched on the text without spaces ('몇 분' and '몇분' alike),
# English ones on the text with single spaces. '몇 시간' is a length, '몇 시' a time, and
# so is '몇 시 몇 분' (the minute of a time, not minutes of a length). '… 시점까지' is
# 'by then' ('기사 시점까지 규명됐어?'), no time asked.
_KOREAN: dict[str, re.Pattern[str]] = {
    "time": re.compile(
        r"언[제재졔]|[몇멫멧멋몃]시(?!간)|시[몇멫멧멋몃]분|시각|시점(?!까지)|몇일날"
    ),
    "date": re.compile(
        r"며칠|몇칠|[몇멫멧몃]일(?!간)|날짜|일자(?!리)|[몇멫]월|(?:무슨|몇|어느|[월화수목금토일])요일|무슨날|어느날"
    ),
    "length": re.compile(
        r"얼[마미머]나(?:오[래레]|동안|걸|길|지속|갔|안[되됐된돼됬]|못|멈|먹통|뻗|마비|다운|끊)|길었|길어|(?<!시)[몇멫멧멋몃](?:분|초)|[몇멫멧멋몃]시간|(?<!시간)동안|걸렸|걸린|걸리|걸려|오[래레]"
    ),
    "amount": re.compile(
        r"얼마|얼[미머](?:나|야|예|였|에|임|죠|지)|[몇멫](?:명|개|퍼센트|프로|배|건|통|곳)"
    ),
    "reason": re.compile(r"왜|이유|원인"),
    "person": re.compile(r"누가|누구"),
    "manner": re.compile(r"어떻게|어떡"),
    # where from: a source ('어디서 나온', '어디 자료', '출처'); not '어디가 안 됐어?' (which)
    "place": re.compile(
        r"출처|어느(?:곳|업체|회사|기관|단체)|어디(?:서|에서)(?!비스)|어디인[가지]|"
        r"어디(?:자료|기사|통계|조사|신문|언론|매체|업체|회사|기관|부처|거|꺼|껀|건|에)"
    ),
}
_ENGLISH: dict[str, re.Pattern[str]] = {
    "time": re.compile(r"\bwhen\b|\bwhat time\b|\bwhich time\b|\bat what\b"),
    "date": re.compile(r"\bwhat day\b|\bwhich day\b|\bwhat date\b|\bdate\b"),
    "length": re.compile(r"\bhow long\b|\bhow many (?:minutes|hours)\b|\bduration\b|\blast\b"),
    "amount": re.compile(r"\bhow (?:much|many)\b"),
    "reason": re.compile(r"\bwhy\b|\bcause[sd]?\b|\breason\b|\bbecause\b"),
    "person": re.compile(r"\bwho\b"),
    "manner": re.compile(r"\bhow\b(?! (?:long|much|many))"),
    "place": re.compile(r"\bwhere\b"),
}
# Question phrases that ask wherever they stand ('KakaoStory reopened at what time?'); a
# bare 'when' or 'how' further on is a conjunction.
_ENGLISH_ANYWHERE: dict[str, re.Pattern[str]] = {
    "time": re.compile(r"\b(?:at )?what time\b|\bwhich time\b"),
    "date": re.compile(r"\bwhat (?:day|date)\b|\bwhich (?:day|date)\b"),
    "length": re.compile(r"\bhow long\b|\bhow many (?:minutes|hours)\b"),
    "amount": re.compile(r"\bhow (?:much|many)\b(?! (?:minutes|hours))"),
}


# 'What' or 'which' asked of a thing ('어떤 문제를 겪었어?'): a description, where a
# yes-or-no question ('모든 이용자가 겪었어?') is checked. No kind of its own: it is asked
# of nearly every fact. Korean only: English asks nearly everything with 'what' ('what was
# the impact on users?' asks how many), and '뭐' alone is often filler ('뭐 어느 정도야?').
WHAT = "what"
_WHAT_KOREAN = re.compile(r"무엇|어떤|무슨|뭐(?:가|였|야|임|예|에|냐)|뭘|뭔|어땠")


def asks_what(cleaned: str) -> bool:
    """Does the (Korean) question ask what or which (a description)?"""
    return bool(_WHAT_KOREAN.search(cleaned))


def question_kinds(cleaned: str) -> frozenset[str]:
    """The kinds of answer a question asks for (often none: '카카오스토리는?'). The
    patterns allow the usual slips of the question words ('언재', '멋시')."""
    compact = "".join(cleaned.split())
    kinds = {kind for kind, pattern in _KOREAN.items() if pattern.search(compact)}
    if cleaned.isascii() or any(c.isascii() and c.isalpha() for c in cleaned):
        # The question word leads an English question; 'when' further on is a conjunction
        # ('How did users react when it went down?').
        words = cleaned.split()
        spaced = f" {' '.join(words[:4])} "
        kinds.update(kind for kind, pattern in _ENGLISH.items() if pattern.search(spaced))
        whole = f" {' '.join(words)} "
        kinds.update(kind for kind, pattern in _ENGLISH_ANYWHERE.items() if pattern.search(whole))
    if "length" in kinds:
        kinds.discard("amount")  # '얼마나 걸렸어': the length, not a quantity
    return frozenset(kinds)


# What an answer states, for the kinds a question can ask a figure of: a clock time, a
# day, a length of time, a number. An answer stating none of what is asked cannot answer
# it ('경주 지진 때 몇 시간 안 됐어?' and the answer about the 2016 earthquake).
_STATED: dict[str, re.Pattern[str]] = {
    "time": re.compile(r"\d\s*시(?!간)|오전|오후|\d:\d\d|\b[ap]\.?m\b|o'clock", re.IGNORECASE),
    "date": re.compile(
        r"\d\s*(?:월|일|년)|\b(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?"
        r"|july?|aug(?:ust)?|sep(?:t|tember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b",
        re.IGNORECASE,
    ),
    "length": re.compile(r"\d\s*(?:시간|분|초)|\b(?:hours?|minutes?|seconds?)\b", re.IGNORECASE),
    # a number of something, not one inside a name ('코로나19', the stock code 035720)
    "amount": re.compile(
        r"\d\s*(?:명|개|건|배|%|퍼센트|프로|만|천|억|위|분|초|시간|원)"
        r"|\d\s*(?:people|users|times|percent|minutes|seconds|hours)\b",
        re.IGNORECASE,
    ),
}
FIGURE_KINDS = frozenset(_STATED)


def stated_kinds(text: str) -> frozenset[str]:
    """The kinds of figure an answer text states (a time, a date, a length, a number)."""
    return frozenset(kind for kind, pattern in _STATED.items() if pattern.search(text))
