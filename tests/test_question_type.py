"""What kind of answer a question asks for: pure functions on cleaned text."""

from __future__ import annotations

import pytest

from bot.language.normalize import clean
from bot.language.question_type import asks_what, question_kinds, stated_kinds


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("카톡 언제 멈췄어?", "time"),
        ("언재 복구됐어", "time"),  # a slip of the question word
        ("몇시부터야", "time"),
        ("장애 시각 멋시?", "time"),
        ("며칠이었어?", "date"),
        ("몇 월 몇 일?", "date"),
        ("장애 발생 일자를 알려줘", "date"),
        ("몃일이었지", "date"),  # 몇일 for 며칠, mistyped again
        ("몇칠날 멈췄어", "date"),
        ("얼마나 오래 안 됐어", "length"),
        ("몇 분 동안 먹통이었음", "length"),
        ("카톡 얼마동안 멈췄어?", "length"),
        ("카톡 오랫동안 안 됐어?", "length"),
        ("몇시간 걸렸어", "length"),
        ("먹통 얼마나 갔어", "length"),  # how long it went on
        ("먹통 얼미나 갔어", "length"),  # ... mistyped
        ("스토리는 그보다 길었나?", "length"),  # longer
        ("이용시간이 얼마야", "amount"),
        ("몇 명이 피해 봤어", "amount"),
        ("콜 몇 건 놓쳤어", "amount"),  # a count of things
        ("문의 몇통 왔어", "amount"),
        ("왜 멈췄어", "reason"),
        ("누가 조사했어?", "person"),
        ("어떻게 된 거야", "manner"),
        ("그 통계 어디서 나왔어?", "place"),  # where from: a source
        ("이용시간 통계 출처는?", "place"),
        ("어느 곳의 자료인가요?", "place"),
        ("어느 업체의 조사 결과입니까?", "place"),  # which company: the source
        ("When did it start?", "time"),
        ("What date was it?", "date"),
        ("How long did it last?", "length"),
        ("How many users were affected?", "amount"),
        ("Why did it happen?", "reason"),
        ("Who wrote the article?", "person"),
        ("How did users react?", "manner"),
        ("Where do the usage figures come from?", "place"),
        ("KakaoStory reopened at what time?", "time"),  # the question phrase at the end
        ("카톡 몇 시 몇 분에 먹통 됨?", "time"),  # the minute of a time
        ("10시 몇분에 복구?", "time"),
        ("몇분이나 뻗어있었던거임", "length"),
        ("카톡 얼마나 오레 안됐어", "length"),  # a slip of 오래
        ("and it was down for how long", "length"),
        ("the outage was on which date?", "date"),
    ],
)
def test_question_kinds_finds_the_kind_asked(question: str, kind: str) -> None:
    assert kind in question_kinds(clean(question))


@pytest.mark.parametrize(
    ("question", "absent"),
    [
        ("몇 시간 동안 안 됐어?", "time"),  # '몇 시간' is a length, not a time of day
        ("얼마나 걸렸어", "amount"),  # a length, not a quantity
        ("How long did it last?", "manner"),
        ("How many users were affected?", "manner"),
        ("How did users react when it went down?", "time"),  # 'when' as a conjunction
        ("카톡 몇 시 몇 분에 먹통 됨?", "length"),  # not minutes of a length
        ("카톡 먹통 때문에 일자리 잃었어?", "date"),  # a job, not a date
        ("장애 시간 동안 카카오T 결제는 어땠어?", "length"),  # 'during', no length asked
        ("전부다 안된거에요 일부만 안됫어요", "date"),  # 에요 + 일부: no 요일 asked
    ],
)
def test_question_kinds_tells_similar_words_apart(question: str, absent: str) -> None:
    assert absent not in question_kinds(clean(question))


@pytest.mark.parametrize("question", ["카카오스토리는?", "원인", "kakao story", "", "ㅋㅋㅋ"])
def test_a_question_without_a_question_word_has_no_kind(question: str) -> None:
    assert question_kinds(clean(question)) - {"reason"} == frozenset()


@pytest.mark.parametrize(
    ("answer", "stated"),
    [
        ("오전 8시 58분부터 10시 17분까지", {"time", "length", "amount"}),
        ("2016년 9월 경주 지진 발생 직후 편입했습니다.", {"date"}),  # a year is no count
        ("약 1시간 20분(80분)간 이어졌습니다.", {"length", "amount"}),  # 시간: no time of day
        ("a market research firm", set()),  # no month in 'market'
        ("in March", {"date"}),
        ("기사에는 이용자 수가 나오지 않습니다.", set()),
        ("It lasted about 80 minutes.", {"length", "amount"}),
        ("KakaoStory resumed at 3 p.m.", {"time"}),
        ("on 2 March 2020", {"date"}),
        ("코로나19 확산으로", set()),  # a number inside a name is no count
        ("종목코드 035720", set()),
        ("41분 17초", {"length", "amount"}),
    ],
)
def test_stated_kinds_reads_the_figures_an_answer_gives(answer: str, stated: set[str]) -> None:
    assert stated_kinds(answer) == stated


@pytest.mark.parametrize(
    ("question", "what"),
    [
        ("어떤 문제를 겪었어?", True),
        ("장애 원인이 무엇이었습니까?", True),
        ("카톡 무슨 일이야", True),
        ("카톡 뭐가 안 됐어?", True),
        ("모든 이용자가 겪었나요?", False),  # yes or no
        ("몇 시에 복구됐어", False),
        ("장애 시간은 뭐 어느 정도야?", False),  # 뭐 alone as filler
        # English asks nearly everything with 'what': it tells no description apart
        ("what problems did users have", False),
        ("which services went down", False),
    ],
)
def test_asks_what_finds_a_question_for_a_description(question: str, what: bool) -> None:
    assert asks_what(clean(question)) is what
