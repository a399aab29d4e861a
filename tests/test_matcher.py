"""Question understanding: fresh questions of every kind reach the right intent.

The questions here are written for these tests: none is a phrasing, question or keyword of
the knowledge, nor a question of the labelled dev set (checked below).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from rapidfuzz import fuzz

from bot.engine import dialogue
from bot.engine.dialogue import Engine
from bot.engine.matcher import _NARROW, MatchIndex, _by_start, _StemTexts, _term_form, _terms_in
from bot.knowledge.loader import Knowledge, phrasing_key
from bot.language.entities import is_placeholder, placeholder
from bot.language.normalize import clean, to_jamo

DEV_SET = Path(__file__).resolve().parent / "data" / "dev.jsonl"

# A fact each intent's (general) answer states, as the article gives it.
FACT = {
    "overview": "1시간 20분",
    "kakao_company": "035720",
    "outage_date": "3월 2일",
    "outage_start": "8시 58분",
    "outage_end": "10시 17분",
    "outage_duration": "1시간 20분",
    "symptoms": "로그인",
    "affected_users": "일부 이용자",
    "affected_platforms": "PC버전",
    "affected_services": "톡채널",
    "kakao_t_payment": "자동결제",
    "kakaostory_outage": "오후 3시",
    "official_cause": "내부 네트워크",
    "speculated_cause": "이용시간이 늘어났기",
    "kakao_rebuttal": "무관",
    "cause_unexplained": "정확한 원인",
    "apology": "사과",
    "usage_stats": "41분 17초",
    "stats_source": "랭키닷컴",
    "user_reaction": "검색어",
    "covid_context": "코로나19",
    "udms_concern": "통합재난관리시스템",
    "udms_history": "경주 지진",
    "kdca_chatbot": "챗봇",
    "article_source": "백주원",
}

FACT_EN = {
    "overview": "8:58",
    "kakao_company": "035720",
    "outage_date": "2 March 2020",
    "outage_start": "8:58",
    "outage_end": "10:17",
    "outage_duration": "80 minutes",
    "symptoms": "log in",
    "affected_services": "Talk Channel",
    "affected_platforms": "PC version",
    "kakao_t_payment": "payment",
    "kakaostory_outage": "3 p.m.",
    "official_cause": "internal network",
    "kakao_rebuttal": "traffic",
    "cause_unexplained": "exact cause",
    "apology": "apologize",
    "usage_stats": "41 minutes",
    "user_reaction": "trending",
    "kdca_chatbot": "chatbot",
    "article_source": "Baek Ju-won",
}

# (kind, question, intent)
CASES: list[tuple[str, str, str]] = [
    # formal
    ("formal", "장애가 처음 시작된 시각을 알려주시겠습니까?", "outage_start"),
    ("formal", "장애가 시작된 시각은 언제입니까?", "outage_start"),
    ("formal", "서비스가 복구된 시각은 몇 시였습니까?", "outage_end"),
    ("formal", "장애가 지속된 시간은 총 얼마였습니까?", "outage_duration"),
    ("formal", "장애는 몇 시간 동안 계속되었습니까?", "outage_duration"),
    ("formal", "장애 발생 날짜를 알려주시겠어요?", "outage_date"),
    ("formal", "카카오는 공식적으로 사과를 했습니까?", "apology"),
    ("formal", "카카오는 재발 방지를 약속했습니까?", "apology"),
    ("formal", "카카오T에서 택시 결제에 어떤 문제가 있었습니까?", "kakao_t_payment"),
    ("formal", "카카오택시 자동결제에는 어떤 오류가 있었습니까?", "kakao_t_payment"),
    ("formal", "이용자들이 겪은 증상은 무엇이었습니까?", "symptoms"),
    ("formal", "이 기사를 쓴 기자는 누구입니까?", "article_source"),
    ("formal", "기사 원문의 출처를 알려주십시오", "article_source"),
    ("formal", "카카오톡의 일 평균 이용시간은 얼마로 집계되었습니까?", "usage_stats"),
    ("formal", "이용시간 통계를 집계한 업체는 어디입니까?", "stats_source"),
    ("formal", "장애의 정확한 원인이 규명되었습니까?", "cause_unexplained"),
    ("formal", "질병관리본부의 챗봇 상담 서비스에는 어떤 위험이 있습니까?", "kdca_chatbot"),
    ("formal", "카카오가 통합재난관리시스템에 편입된 이유는 무엇입니까?", "udms_history"),
    ("formal", "재난 대응 측면에서 제기된 우려는 무엇입니까?", "udms_concern"),
    ("formal", "이용자들의 반응은 어떠했습니까?", "user_reaction"),
    ("formal", "코로나19 상황이 이번 장애와 어떤 관계가 있습니까?", "covid_context"),
    ("formal", "모든 사용자가 장애를 겪었습니까?", "affected_users"),
    ("formal", "카카오톡 외에 다른 서비스들도 장애가 있었습니까?", "affected_services"),
    ("formal", "카카오의 종목코드는 무엇입니까?", "kakao_company"),
    ("formal", "장애의 원인은 무엇이었습니까?", "official_cause"),
    ("formal", "카카오톡 장애의 공식 원인을 알려주시겠어요?", "official_cause"),
    # casual 반말
    ("casual", "카톡 언제 다시 살아난 거야", "outage_end"),
    ("casual", "카톡 언제쯤 정상으로 돌아왔냐", "outage_end"),
    ("casual", "카톡 몇 시부터 안 됐냐", "outage_start"),
    ("casual", "카톡 끊긴 게 몇 시부터였냐", "outage_start"),
    ("casual", "카톡 얼마나 오래 안 됐음", "outage_duration"),
    ("casual", "카톡 먹통된 게 몇 월 며칠이야", "outage_date"),
    ("casual", "그거 며칠에 있었던 거야", "outage_date"),
    ("casual", "카톡 왜 안 된 거야", "official_cause"),
    ("casual", "택시 결제 왜 안 됐어", "kakao_t_payment"),
    ("casual", "카카오 측은 사과했냐", "apology"),
    ("casual", "카톡 로그인도 안 됐냐", "symptoms"),
    ("casual", "다른 서비스도 먹통이었냐", "affected_services"),
    ("casual", "카톡 무슨 일 있었던 거야", "overview"),
    ("casual", "트래픽 때문에 터진 거 아냐?", "speculated_cause"),
    ("casual", "카카오는 트래픽 때문 아니라고 했다며", "kakao_rebuttal"),
    ("casual", "원인 결국 못 밝힌 거지?", "cause_unexplained"),
    ("casual", "카톡 사람들 반응 어땠음", "user_reaction"),
    ("casual", "카톡 하루에 평균 얼마나 쓰는데", "usage_stats"),
    ("casual", "그 통계 어디서 조사한 거야", "stats_source"),
    ("casual", "랭키닷컴 통계 맞아?", "stats_source"),
    ("casual", "카톡 누가 쓴 기사임", "article_source"),
    # fragments
    ("fragment", "복구 시각", "outage_end"),
    ("fragment", "장애 종료", "outage_end"),
    ("fragment", "시작 시간", "outage_start"),
    ("fragment", "장애 원인", "official_cause"),
    ("fragment", "장애 기간", "outage_duration"),
    ("fragment", "먹통 날짜", "outage_date"),
    ("fragment", "장애 날짜", "outage_date"),
    ("fragment", "사과문 내용", "apology"),
    ("fragment", "카톡 사과", "apology"),
    ("fragment", "증상 정리", "symptoms"),
    ("fragment", "택시 자동결제", "kakao_t_payment"),
    ("fragment", "트래픽 폭증", "speculated_cause"),
    ("fragment", "이용시간 통계 출처", "stats_source"),
    ("fragment", "1인당 이용시간", "usage_stats"),
    ("fragment", "기사 기자", "article_source"),
    ("fragment", "기사 링크", "article_source"),
    ("fragment", "재난관리시스템 편입", "udms_history"),
    ("fragment", "경주 지진", "udms_history"),
    ("fragment", "챗봇 마비", "kdca_chatbot"),
    # no spaces
    ("nospace", "카톡언제복구됐어", "outage_end"),
    ("nospace", "카톡언제까지안됐어", "outage_end"),
    ("nospace", "복구시각알려줘", "outage_end"),
    ("nospace", "카톡몇시부터먹통이었어", "outage_start"),
    ("nospace", "장애시작시각", "outage_start"),
    ("nospace", "장애몇분동안이었어", "outage_duration"),
    ("nospace", "카톡얼마동안안됐어", "outage_duration"),
    ("nospace", "카톡장애날짜알려줘", "outage_date"),
    ("nospace", "장애원인이뭐야", "official_cause"),
    ("nospace", "트래픽때문에터졌어", "speculated_cause"),
    ("nospace", "택시결제안됐어", "kakao_t_payment"),
    ("nospace", "택시자동결제오류", "kakao_t_payment"),
    ("nospace", "카카오택시결제어땠어", "kakao_t_payment"),
    ("nospace", "카카오사과했어", "apology"),
    ("nospace", "카카오사과문", "apology"),
    ("nospace", "통계자료출처어디야", "stats_source"),
    ("nospace", "기사쓴기자누구야", "article_source"),
    ("nospace", "기사링크알려줘", "article_source"),
    # jamo typos and misspellings
    ("typo", "택시 결재 안 됐어?", "kakao_t_payment"),
    ("typo", "택시 결재 오류", "kakao_t_payment"),
    ("typo", "택시 결재 어떻게 했어", "kakao_t_payment"),
    ("typo", "카톡 몃 시에 복구됐어", "outage_end"),
    ("typo", "카톡 복구 몃시야", "outage_end"),
    ("typo", "카톡 언재 복구됐어", "outage_end"),
    ("typo", "카톡 복구 언재야", "outage_end"),
    ("typo", "카톡 복구됬어?", "outage_end"),
    ("typo", "장에 시작 시각", "outage_start"),
    ("typo", "카톡 몃시부터 안됐어", "outage_start"),
    ("typo", "장애 시작 시깍", "outage_start"),
    ("typo", "장애 원잉", "official_cause"),
    ("typo", "먹통 원잉이 뭐야", "official_cause"),
    ("typo", "장애 원인이 뭐엿어", "official_cause"),
    ("typo", "카톡 먹퉁 원인", "official_cause"),
    ("typo", "카카오 사과 햇어?", "apology"),
    ("typo", "카카오 사과햇냐", "apology"),
    ("typo", "로그인 안됬어?", "symptoms"),
    ("typo", "카톡 장애 몇 분 동안이엿어", "outage_duration"),
    # noise: laughter, crying, emoji, repeated punctuation
    ("noise", "ㅋㅋㅋ 카톡 몇 시에 복구됐어", "outage_end"),
    ("noise", "카톡 언제 복구됐냐?!?!", "outage_end"),
    ("noise", "카톡 복구 언제됨?!?!", "outage_end"),
    ("noise", "카톡 복구 시간 알려줘~~~", "outage_end"),
    ("noise", "복구 시간 알려줘 🙏🙏", "outage_end"),
    ("noise", "카톡 왜 터졌어ㅠㅠㅠ", "official_cause"),
    ("noise", "🔥🔥 카톡 장애 원인이 뭐였냐 🔥🔥", "official_cause"),
    ("noise", "카톡 먹통 원인 뭐야ㅋㅋㅋㅋ", "official_cause"),
    ("noise", "...장애 난 원인?", "official_cause"),
    ("noise", "카톡 왜 먹통이었어?!?!?!", "official_cause"),
    ("noise", "택시 결제 먹통이었어??? 😭", "kakao_t_payment"),
    ("noise", "ㅠㅠㅠ 택시 결제 어떻게 했어", "kakao_t_payment"),
    ("noise", "카카오가 사과는 했어????", "apology"),
    ("noise", "!!! 카카오 사과함??", "apology"),
    ("noise", "ㅠㅠ 카톡 몇 시부터 먹통이었어", "outage_start"),
    ("noise", "ㅋㅋㅋㅋ 기사 누가 씀", "article_source"),
]

ENGLISH_CASES: list[tuple[str, str]] = [
    ("what caused the kakaotalk outage", "official_cause"),
    ("What was the reason for the outage?", "official_cause"),
    ("When was KakaoTalk fixed?", "outage_end"),
    ("When did the outage begin?", "outage_start"),
    ("what time did it start", "outage_start"),
    ("When did the problem start?", "outage_start"),
    ("How long was KakaoTalk down for?", "outage_duration"),
    ("How long did KakaoTalk stay down?", "outage_duration"),
    ("how long did it last", "outage_duration"),
    ("what date was it", "outage_date"),
    ("Did Kakao say sorry?", "apology"),
    ("What was wrong with Kakao T taxi payments?", "kakao_t_payment"),
    ("KAKAO T TAXI PAYMENT PROBLEM", "kakao_t_payment"),
    ("which services went down besides kakaotalk", "affected_services"),
    ("was the pc version affected", "affected_platforms"),
    ("who reported the story", "article_source"),
    ("average daily usage time of kakaotalk", "usage_stats"),
    ("was the root cause ever found", "cause_unexplained"),
    ("what is the kakaotalk outage", "overview"),
    ("Which company makes KakaoTalk?", "kakao_company"),
    ("What did users complain about?", "user_reaction"),
    ("what did kakao say about traffic", "kakao_rebuttal"),
    ("Is the KCDC chatbot affected?", "kdca_chatbot"),
]

# (question, intent, entity or None, a fact the answer must state)
ENTITY_CASES: list[tuple[str, str, str | None, str]] = [
    ("카카오스토리 복구 시각", "outage_end", "kakaostory", "오후 3시"),
    ("카카오스토리 복구 시각은?", "outage_end", "kakaostory", "오후 3시"),
    ("카카오스토리는 몇 시부터 안 됐어", "outage_start", "kakaostory", "오전"),
    ("카카오스토리 장애 언제 시작", "outage_start", "kakaostory", "오전"),
    ("카카오스토리 증상", "symptoms", "kakaostory", "오후 3시"),
    ("카카오택시 결제", "kakao_t_payment", None, "자동결제"),
    ("카카오택시 결제는 어땠어?", "kakao_t_payment", None, "자동결제"),
    ("카카오택시 결제 오류", "kakao_t_payment", None, "직접결제"),
    ("카택 결제 어땠어", "kakao_t_payment", None, "자동결제"),
    ("카카오T 결제는?", "kakao_t_payment", None, "자동결제"),
    ("카카오택시 증상", "symptoms", "kakao_t", "자동결제"),
    ("pc 카톡도 먹통이었어?", "affected_platforms", "pc", "PC버전"),
    ("컴퓨터 카톡 안 됐어?", "affected_platforms", "pc", "PC버전"),
    ("피씨로는 됐냐", "affected_platforms", "pc", "PC버전"),
    ("휴대폰에서도 안 됐나요", "affected_platforms", "mobile", "모바일"),
    ("모바일 카톡도 안됐어?", "affected_platforms", "mobile", "모바일"),
    ("선물하기는 됐어?", "affected_services", "gift", "선물하기"),
    ("이모티콘도 안됐어?", "affected_services", "emoticon", "이모티콘"),
    ("톡채널도 먹통이었나요", "affected_services", "talk_channel", "톡채널"),
    ("랭키닷컴은 뭐하는 데야", "stats_source", None, "랭키닷컴"),
    ("질병관리본부 챗봇 괜찮아?", "kdca_chatbot", None, "질병관리본부"),
    ("미래부가 카카오 편입", "udms_history", None, "미래창조과학부"),
    ("서울경제 기사 원문", "article_source", None, "서울경제"),
]

ALL_QUESTIONS = [q for _, q, _ in CASES] + [q for q, _ in ENGLISH_CASES]
ALL_QUESTIONS += [q for q, *_ in ENTITY_CASES]


def _knowledge_texts(knowledge: Knowledge) -> set[str]:
    """The phrasing keys of every phrasing, question and keyword of the knowledge."""
    keys: set[str] = set()
    for intent, _source in knowledge.intents.values():
        texts = [intent.question, intent.question_en or "", *intent.phrasings, *intent.keywords]
        keys.update(phrasing_key(t) for t in texts if t)
    return keys


@pytest.fixture(scope="module")
def knowledge_keys(knowledge: Knowledge) -> set[str]:
    return _knowledge_texts(knowledge)


@pytest.fixture(scope="module")
def dev_keys() -> set[str]:
    lines = DEV_SET.read_text(encoding="utf-8").splitlines()
    return {phrasing_key(json.loads(line)["question"]) for line in lines if line.strip()}


@pytest.mark.parametrize("question", ALL_QUESTIONS)
def test_question_is_fresh(question: str, knowledge_keys: set[str], dev_keys: set[str]) -> None:
    key = phrasing_key(question)
    assert key, "a question must have letters"
    assert key not in knowledge_keys, "copied from the knowledge"
    assert key not in dev_keys, "copied from the dev set"


def test_questions_are_not_repeated() -> None:
    keys = [phrasing_key(q) for q in ALL_QUESTIONS]
    assert len(keys) == len(set(keys))


def test_every_kind_is_exercised() -> None:
    kinds = {kind for kind, _, _ in CASES}
    assert kinds == {"formal", "casual", "fragment", "nospace", "typo", "noise"}
    assert ENGLISH_CASES
    assert ENTITY_CASES


def test_facts_are_in_the_answers(engine: Engine) -> None:
    """The fact table itself is right: every fact is in its intent's answer."""
    for intent_id, fact in FACT.items():
        assert fact in engine.index.intents[intent_id].answer, intent_id
    for intent_id, fact in FACT_EN.items():
        assert fact in (engine.index.intents[intent_id].answer_en or ""), intent_id
    assert set(FACT) == set(engine.index.intents)


@pytest.mark.parametrize(("kind", "question", "intent_id"), CASES)
def test_understand_reaches_the_intent(
    engine: Engine, kind: str, question: str, intent_id: str
) -> None:
    _query, candidates, chosen, confidence, reason = engine.understand(question)
    assert chosen == intent_id, (kind, [(c.intent_id, round(c.score, 1)) for c in candidates[:3]])
    assert reason == "matched"
    assert 0.0 <= confidence <= 1.0


@pytest.mark.parametrize(("kind", "question", "intent_id"), CASES)
def test_ask_answers_with_the_fact(
    engine: Engine, kind: str, question: str, intent_id: str
) -> None:
    reply = engine.ask(question)
    assert reply.kind == "answer", (kind, reply.reason, reply.confidence)
    assert reply.intent_id == intent_id
    assert not reply.english
    assert FACT[intent_id] in reply.text


@pytest.mark.parametrize(("question", "intent_id"), ENGLISH_CASES)
def test_english_question_gets_the_english_answer(
    engine: Engine, question: str, intent_id: str
) -> None:
    reply = engine.ask(question)
    assert reply.kind == "answer", (reply.reason, reply.confidence)
    assert reply.intent_id == intent_id
    assert reply.english
    intent = engine.index.intents[intent_id]
    expected = intent.answer_en
    if reply.entity_id is not None:
        specific = next(a for a in intent.entity_answers if a.entity == reply.entity_id)
        expected = specific.answer_en
    assert reply.text == expected
    if intent_id in FACT_EN and reply.entity_id is None:
        assert FACT_EN[intent_id] in reply.text


@pytest.mark.parametrize(("question", "intent_id", "entity_id", "fact"), ENTITY_CASES)
def test_entity_question_gets_the_entity_answer(
    engine: Engine, question: str, intent_id: str, entity_id: str | None, fact: str
) -> None:
    reply = engine.ask(question)
    assert reply.kind == "answer", (reply.reason, reply.confidence)
    assert reply.intent_id == intent_id
    if entity_id is not None:
        assert reply.entity_id == entity_id
    assert fact in reply.text


def test_kakaostory_recovery_is_not_kakaotalk_recovery(engine: Engine) -> None:
    story = engine.ask("카카오스토리 복구 시각")
    talk = engine.ask("카톡 복구 시각 알려줄래")
    assert story.intent_id == talk.intent_id == "outage_end"
    assert story.entity_id == "kakaostory"
    assert "오후 3시" in story.text
    assert "10시 17분" in talk.text
    assert story.text != talk.text


def test_phrasings_about_another_service_are_rivals(engine: Engine) -> None:
    index = engine.index
    rivals = index._rival_phrasings(index.prepare("카톡 먹통 얼마나 갔냐"))
    assert rivals is not None
    named = {n: set(index.prepare(t).entities) for n, t in enumerate(index.utterance_text)}
    others = {"kakaostory", "kakao_t", "gift"}
    expected = {n for n, e in named.items() if e & others and "kakaotalk" not in e}
    flagged = set(np.flatnonzero(rivals).tolist())
    assert expected and expected <= flagged
    assert all("kakaotalk" not in named[n] for n in flagged)
    # Only a thing of a kind (a service, a platform) has rivals; no thing named, none.
    assert index._rival_phrasings(index.prepare("먹통 얼마나 갔냐")) is None
    assert index._rival_phrasings(index.prepare("질본 챗봇 뭐였어")) is None


def test_a_question_about_kakaotalk_is_not_answered_by_a_kakaostory_phrasing(
    engine: Engine,
) -> None:
    reply = engine.ask("카톡 먹통 얼마나 갔냐")
    assert reply.intent_id != "kakaostory_outage"
    assert reply.entity_id != "kakaostory"
    story = engine.ask("카스 먹통 얼마나 갔냐")
    assert story.answered and "카카오스토리" in story.text


@pytest.mark.parametrize(
    ("question", "entity_id"),
    [
        ("까톡 언제 복구됐어", "kakaotalk"),
        ("카카오 톡 복구 시각", "kakaotalk"),
        ("kakao talk 복구", "kakaotalk"),
        ("카스 점검 끝난 시각", "kakaostory"),
        ("카카오 스토리 몇 시에 열렸어", "kakaostory"),
        ("카카오 택시 결제", "kakao_t"),
        ("플러스 친구도 안 됐어?", "talk_channel"),
        ("질본 챗봇", "kdca"),
        ("폰으로도 안됐어?", "mobile"),  # a one-syllable name with a two-particle ending
        ("PC로만 됐어?", "pc"),
        ("톡채녈도 안됬어?", "talk_channel"),  # one slip in a longer name
        ("톡채녈", "talk_channel"),
    ],
)
def test_entity_nicknames_are_recognised(engine: Engine, question: str, entity_id: str) -> None:
    query = engine.index.prepare(question)
    assert entity_id in query.entities


# --- the index and the scores ---------------------------------------------------------------


def test_match_index_is_built_once_per_engine(
    knowledge: Knowledge, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Knowledge] = []
    original = MatchIndex.build.__func__  # type: ignore[attr-defined]

    def counting(cls: type[MatchIndex], k: Knowledge) -> MatchIndex:
        calls.append(k)
        built: MatchIndex = original(cls, k)
        return built

    monkeypatch.setattr(MatchIndex, "build", classmethod(counting))
    engine = dialogue.Engine(knowledge)
    assert calls == [knowledge]
    index = engine.index
    for question in ["카톡 언제 복구됐어", "장애 원인", "그럼 카카오스토리는?", "asdf"]:
        engine.ask(question)
        engine.understand(question)
    assert len(calls) == 1
    assert engine.index is index


SCORED_QUESTIONS = [
    "카톡 언제 복구됐어",
    "장애 원인",
    "카카오스토리 복구 시각",
    "택시결재안됐어",
    "What caused the outage?",
    "점심 메뉴 추천해줘",
    "asdf qwer",
    "1",
    "카카오",
]


@pytest.mark.parametrize("question", SCORED_QUESTIONS)
def test_score_ranks_candidates_best_first_within_0_100(engine: Engine, question: str) -> None:
    query = engine.index.prepare(question)
    candidates = engine.index.score(query, limit=None)
    assert candidates, "every non-empty question is ranked"
    scores = [c.score for c in candidates]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 100.0 for s in scores)
    assert all(0.0 <= c.terms <= 1.0 + 1e-9 for c in candidates)
    ids = [c.intent_id for c in candidates]
    assert len(ids) == len(set(ids)), "one candidate per intent"
    assert set(ids) == set(engine.index.intents)
    assert engine.index.score(query, limit=3) == candidates[:3]


@pytest.mark.parametrize("question", ["", "   ", "ㅋㅋㅋ", "?!?!"])
def test_score_of_an_empty_question_is_empty(engine: Engine, question: str) -> None:
    query = engine.index.prepare(question)
    assert query.is_empty
    assert engine.index.score(query) == []


@pytest.mark.parametrize("question", [*SCORED_QUESTIONS, "", "안녕", "2022 판교 화재"])
def test_confidence_is_between_0_and_1(engine: Engine, question: str) -> None:
    _query, _candidates, _intent, confidence, _reason = engine.understand(question)
    assert 0.0 <= confidence <= 1.0
    reply = engine.ask(question)
    assert 0.0 <= reply.confidence <= 1.0


def test_centroids_place_each_phrasing_near_its_own_intent(engine: Engine) -> None:
    """The centroid channel: a phrasing is closest to the centroid of its own intent, and
    every cosine lies in 0..1."""
    index = engine.index
    nearest_own = 0
    for text, intent_id in zip(index.utterance_text, index.utterance_intent, strict=True):
        cosines = index._centroid_cosine(index.prepare(text))
        assert cosines.min() >= 0.0 and cosines.max() <= 1.0 + 1e-6
        nearest_own += index._group_ids[int(cosines.argmax())] == intent_id
    assert nearest_own >= 0.85 * len(index.utterance_text)  # measured: 458 of 511


def test_centroid_of_an_unknown_question_is_zero(engine: Engine) -> None:
    cosines = engine.index._centroid_cosine(engine.index.prepare("qwxz"))
    assert float(cosines.max()) < 0.2


def test_a_bare_word_finds_its_stemmed_form_in_the_knowledge(engine: Engine) -> None:
    # A bare '방지' loses '지' as if it were an ending; '방지에' only loses its particle.
    # Both must reach the knowledge's word, whichever form it was stored in.
    index = engine.index
    for word in ["방지", "방지에"]:
        matches = dict(index._term_matches(index.prepare(word).content_stems[0]))
        assert set(matches) & {"방", "방지"}, (word, matches)
        assert index.score(index.prepare(f"재발 {word}"))[0].intent_id == "apology"


@pytest.mark.parametrize(
    ("question", "stems"),
    [
        ("피씨카톡도먹통이었어", ["먹통"]),  # a particle glued to the next word after a name
        ("카카오스토리 서비스 중단됐었나요?", ["서비스", "중단"]),  # an unknown run is kept
        ("카톡이언재멈췄어", ["언제", "멈췄"]),  # a typo inside a run typed without spaces
        ("장애 시각 멋시?", ["장애", "시각", "몇시"]),  # a two-syllable slip
        ("코로나랑 무슨 괸련?", ["무슨", "관련"]),  # a slip of a word that says nothing
        ("카톡장애언제끝났어", ["장애", "언제", "복구"]),  # 끝났: a form of 복구's 끝나
        ("폰 로그인도 불가?", ["로그인", "안되"]),  # '불가' as listed, not '불(만)'
        ("카톡먹통몇시에풀렸어", ["먹통", "몇시", "복구"]),  # '풀렸': a form of 복구's 풀리
        ("카카오가 샤과했나요", ["사과"]),  # a slip in a two-syllable stem before its ending
        ("카톡 장애 설명좀요", ["장애", "설명", "좀"]),  # ... a longer one is split, not mended
        ("카카오서는 원인이 뭐래요", ["원인", "뭐"]),  # 에서 said short after a name
        ("카톡선 안 됐어", ["안", "되"]),
        ("UDMS엔 언제 들어갔어?", ["언제", "들어", "갔"]),  # 에는 said short after a name
        ("장애당일실검에뭐가올랐어요", ["장애", "당일", "실검", "뭐", "올랐"]),  # 당일: filler
    ],
)
def test_words_typed_together_or_mistyped_reach_known_words(
    engine: Engine, question: str, stems: list[str]
) -> None:
    prepared = engine.index.prepare(question)
    assert [s for s in prepared.stems if not is_placeholder(s[0])] == stems


@pytest.mark.parametrize(
    "text",
    [
        "선물하지 못했어",  # not a slip of 선물하기 (ㅈ and ㄱ are no slip)
        "카툭 언제 됐어",  # names of two syllables are too short to guess
        "재난 문자 왔어",
    ],
)
def test_words_that_are_no_slip_of_a_name_stay_as_typed(engine: Engine, text: str) -> None:
    replaced, mentions = engine.index.recognizer.replace(text)
    assert replaced == text
    assert mentions == []


@pytest.mark.parametrize(
    ("question", "stem"),
    [
        ("톡채널은 작동했어?", "먹통"),  # 작동 is in 먹통's group, no slip of 자동
        ("카톡 언제 정상화됨", "복구"),
        ("트래픽 떄문이라는 얘기", "원인"),  # a slip of 때문, a word of 원인's group
    ],
)
def test_a_word_group_member_is_no_typo(engine: Engine, question: str, stem: str) -> None:
    assert stem in engine.index.prepare(question).content_stems


@pytest.mark.parametrize(
    ("question", "dated"),
    [
        ("why did kakaotalk crash?", "why did kakaotalk crash on march 2?"),
        ("카톡 왜 터졌어?", "3월 2일에 카톡 왜 터졌어?"),
        ("카톡 얼마나 안 됐어?", "2020년 3월 2일 카톡 얼마나 안 됐어?"),
    ],
)
def test_the_incident_date_in_a_question_only_sets_the_scene(
    engine: Engine, question: str, dated: str
) -> None:
    # The date of the incident itself says nothing about which fact is asked, unless the
    # question asks for a time or a date.
    index = engine.index
    assert index.score(index.prepare(dated))[0].intent_id == (
        index.score(index.prepare(question))[0].intent_id
    )


@pytest.mark.parametrize(
    ("question", "kept"),
    [
        ("카톡 터졌던 날 무슨 일이었어?", False),  # the day, then what is asked about it
        ("카톡 터진 날?", True),  # the day is what is asked
        ("장애 난 날 2020년 3월 2일 맞지?", True),  # ... or what is checked
        ("카톡 터진 날이 며칠이야?", True),  # a date asked outright
    ],
)
def test_a_day_only_sets_the_scene_when_something_else_is_asked(
    engine: Engine, question: str, kept: bool
) -> None:
    day = engine.index.canonical("날짜")
    assert (day in engine.index.prepare(question).content_stems) is kept


def test_stem_texts_give_back_each_text_and_know_the_phrasings() -> None:
    texts = _StemTexts()
    texts.add("a", ["카톡", "장애"], phrasing=True)
    texts.add("a", ["장애"], phrasing=False)  # a keyword
    texts.add("b", [], phrasing=True)
    texts.add("b", ["카톡", "복구", "카톡"], phrasing=True)
    assert [texts.stems(n) for n in range(4)] == [
        ["카톡", "장애"],
        ["장애"],
        [],
        ["카톡", "복구", "카톡"],
    ]
    assert texts.owners == ["a", "a", "b", "b"]
    assert list(texts.phrasings) == [0, 2, 3]
    assert texts.words == ["카톡", "장애", "복구"]  # one entry per distinct stem


def test_a_why_question_holds_back_intents_never_asked_why(engine: Engine) -> None:
    index = engine.index
    fit = dict(zip(index._group_ids, index.kind_fit["reason"], strict=True))
    assert fit["official_cause"] == 1.0
    assert fit["outage_start"] < 0.5
    penalty = index._kind_penalty(index.prepare("카톡 왜 멈췄어?"))
    assert penalty is not None
    assert penalty[index._group_ids.index("outage_start")] > 0
    assert penalty[index._group_ids.index("official_cause")] == 0


# Jamo, a few placeholders (one past those swapped), ASCII and spaces.
_LETTERS = st.sampled_from(
    [chr(0x3131 + k) for k in range(0, 51, 5)]
    + [placeholder(k) for k in (0, 3, 80)]
    + list("ab1 ")
)


@given(st.text(_LETTERS, max_size=12), st.text(_LETTERS, max_size=12))
def test_narrowed_jamo_texts_compare_as_before(a: str, b: str) -> None:
    narrow_a, narrow_b = a.translate(_NARROW), b.translate(_NARROW)
    assert fuzz.ratio(narrow_a, narrow_b) == fuzz.ratio(a, b)
    assert fuzz.token_set_ratio(narrow_a, narrow_b) == fuzz.token_set_ratio(a, b)


@given(st.text(st.sampled_from(["\u00c0", "\u00e9", "\u0085", "ㄱ", "a", placeholder(2)])))
def test_narrowing_loses_no_letter(text: str) -> None:
    assert text.translate(_NARROW).translate(_NARROW) == text


def test_stored_jamo_take_one_byte_a_letter(engine: Engine) -> None:
    index = engine.index
    words = index.utterance_words
    assert words and all(max(map(ord, w), default=0) < 256 for w in words)
    assert all(max(map(ord, j)) < 256 for j in index.term_jamo)
    term = index.term_list[len(index.term_list) // 2]
    assert to_jamo(term).translate(_NARROW) in index.term_jamo


def test_a_shortened_word_finds_the_longer_known_words(engine: Engine) -> None:
    index = engine.index
    assert "사과문" in index._longer_terms("사과", 6)
    for term in index.term_list[::50]:
        if len(term) >= 3:
            found = index._longer_terms(term[:-1], 6)
            assert all(t.startswith(term[:-1]) and len(t) > len(term) - 1 for t in found)
            assert term in found or (len(found) == 6 and found[-1] < term)


@pytest.mark.parametrize(
    ("term", "question", "found"),
    [
        ("연말연시 * 몇 분", "연말연시에는 카톡 하루 이용시간이 몇분이었어", True),
        ("연말연시 * 몇 분", "몇 분이었어 연말연시에는", False),  # in that order only
        ("연말연시 * 몇 분", "연말연시보다 높았어?", False),
        ("다른 * 기사", "백주원 기자 다른 무슨 기사 썼어", True),
        ("another * article", "is there another kakao article", True),
        ("another * article", "another articles", False),  # whole words in English
        ("넷째 주", "2월 넷째주 이용시간", True),  # no gap: spaces ignored as before
        # a gap of one clause, not the next one
        ("연말연시 * 몇 분", "연말연시보다 트래픽이 적었다는데 장애는 몇 분이나 갔어", False),
        ("다른 * zoom", "다른 앱 vs zoom", True),  # Latin after Korean: whole words still
        ("다른 * zoom", "다른 앱 vs zoomer", False),
    ],
)
def test_a_term_with_a_gap_allows_any_words_there(term: str, question: str, found: bool) -> None:
    assert bool(_terms_in(clean(question), _by_start([(term, _term_form(term))]))) is found


def test_a_particle_glued_to_a_name_does_not_eat_the_next_word(engine: Engine) -> None:
    # '카톡에선물하기': 카톡 + 에 + 선물하기, not 카톡 + 에선 + 물하기
    reply = engine.ask("카톡에선물하기 안됐어?")
    assert (reply.kind, reply.entity_id) == ("answer", "gift")


def test_term_coverage_kept_between_questions_is_what_a_fresh_index_computes(
    knowledge: Knowledge,
) -> None:
    # One index answers many questions first (its words' coverage kept), the other none:
    # the same scores to the last digit.
    warm, cold = MatchIndex.build(knowledge), MatchIndex.build(knowledge)
    for question in SCORED_QUESTIONS:
        warm.score(warm.prepare(question), limit=None)
    for question in [*SCORED_QUESTIONS, "카톡 복구 원인 언제"]:
        ours, fresh = warm.prepare(question), cold.prepare(question)
        assert warm.score(ours, limit=None) == cold.score(fresh, limit=None)
        assert warm._term_coverage(ours)[0].tolist() == cold._term_coverage(fresh)[0].tolist()


def test_term_coverage_kept_stays_within_its_memory(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = MatchIndex.build(engine.knowledge)
    per_word = 8 * len(index.utterance_intent)
    monkeypatch.setattr("bot.engine.matcher._COVERAGE_CACHE_BYTES", 3 * per_word)
    for question in ["카톡 장애 원인 복구 언제", "카카오스토리 선물하기 이모티콘"]:
        index.score(index.prepare(question))
        assert len(index._coverage_cache) <= 3
    kept = next(v for v in index._coverage_cache.values() if v is not None)
    with pytest.raises(ValueError):
        kept[1][0] = 1.0  # shared by every question: read-only
