"""The text normalisation functions of `bot.language.normalize`, each on its own."""

from __future__ import annotations

import unicodedata

import pytest

from bot.language.normalize import (
    canonical_verb,
    clean,
    is_mostly_latin,
    nfkc,
    normalize,
    plausible_name_slip,
    plausible_typo,
    sino_number,
    split_word,
    squeeze_repeats,
    stem,
    strip_ending,
    strip_light_verb,
    strip_noise,
    strip_particle,
    to_jamo,
    verb_key,
    with_double_final,
)

# --- nfkc -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["카카오톡", "장애 복구 시각", "몇 시부터 먹통이었어", "됐어요"])
def test_nfkc_composes_decomposed_hangul(text: str) -> None:
    decomposed = unicodedata.normalize("NFD", text)
    assert decomposed != text  # the input really is decomposed jamo
    assert nfkc(decomposed) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ＫａｋａｏＴａｌｋ", "kakaotalk"),
        ("ＰＣ버전", "pc버전"),
        ("１０시 １７분", "10시 17분"),
        ("ａｂｃ　ｄｅｆ", "abc def"),  # the ideographic space becomes a plain one
    ],
)
def test_nfkc_folds_full_width_forms(text: str, expected: str) -> None:
    assert nfkc(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("KakaoTalk", "kakaotalk"),
        ("UDMS", "udms"),
        ("PC 카톡", "pc 카톡"),
        ("Straße", "strasse"),  # case folding, not just lower()
    ],
)
def test_nfkc_folds_case(text: str, expected: str) -> None:
    assert nfkc(text) == expected


# --- strip_noise ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("카톡 왜 멈췄어?!", "카톡 왜 멈췄어"),
        ("장애... 언제?", "장애 언제"),
        ("“복구” 시각은?", "복구 시각은"),
        ("(카카오) 측 입장!", "카카오 측 입장"),
        ("카톡😡 먹통🔥", "카톡 먹통"),
        ("🙏 복구 시간 🙏", "복구 시간"),
        ("ㅋㅋㅋ 카톡 터짐 ㅠㅠ", "카톡 터짐"),
        ("카톡ㅋㅋㅋㅋ", "카톡"),
        ("ㅎㅎ 원인 뭐야 ㅜㅜ", "원인 뭐야"),
        ("카톡 ㅋ 뭐야", "카톡 뭐야"),
        ("10시 17분", "10시 17분"),
        ("  여러   칸   띄움  ", "여러 칸 띄움"),
    ],
)
def test_strip_noise_drops_punctuation_emoji_and_bare_jamo(text: str, expected: str) -> None:
    assert strip_noise(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ㅋㅋㅋ 카톡 언제 복구", "카톡 언제 복구"),
        ("ㅠㅠ 장애 원인", "장애 원인"),
        ("카톡ㅋㅋ 먹통ㅜㅜ", "카톡 먹통"),
    ],
)
def test_strip_noise_drops_laughter_after_nfkc(text: str, expected: str) -> None:
    # NFKC turns compatibility jamo (ㅋ U+314B) into conjoining jamo (U+110F).
    folded = nfkc(text)
    assert folded != text
    assert strip_noise(folded) == expected


@pytest.mark.parametrize("text", ["ㅋㅋㅋ", "ㅠㅠ", "?!?!", "😂😂😂", "...", "ㅁㄴㅇㄹ"])
def test_strip_noise_of_pure_noise_is_empty(text: str) -> None:
    assert strip_noise(text) == ""
    assert normalize(text).is_empty


# --- squeeze_repeats ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("왜애애", "왜"),
        ("왜애애애애", "왜"),
        ("뭐야아아", "뭐야"),
        ("언제에에", "언제"),
        ("카톡 왜애애 멈췄어", "카톡 왜 멈췄어"),
        ("!!!", "!"),
        ("?????", "?"),
        ("진짜!!!!", "진짜!"),
        ("~~~", "~"),
    ],
)
def test_squeeze_repeats_collapses_elongations(text: str, expected: str) -> None:
    assert squeeze_repeats(text) == expected


@pytest.mark.parametrize(
    "text",
    ["요일이었어", "나아가", "카카오톡", "아이", "10시 17분", "!!", "원인이 뭐야", "좋아요"],
)
def test_squeeze_repeats_leaves_ordinary_words(text: str) -> None:
    assert squeeze_repeats(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ＫａｋａｏＴａｌｋ 왜애애 멈췄어?!?! ㅋㅋ", "kakaotalk 왜 멈췄어"),
        ("카톡 언제 복구됐냐아아 😭😭", "카톡 언제 복구됐냐"),
    ],
)
def test_clean_runs_the_steps_in_order(text: str, expected: str) -> None:
    assert clean(text) == expected


# --- particles, endings, stems ------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("카톡이", "카톡"),
        ("장애는", "장애"),
        ("카톡을", "카톡"),
        ("뭐가", "뭐"),
        ("원인은요", "원인"),
        ("카카오에서", "카카오"),
        ("카카오랑", "카카오"),
        ("서버로", "서버"),
        ("사과를", "사과"),
    ],
)
def test_strip_particle_removes_one_particle(word: str, expected: str) -> None:
    assert strip_particle(word) == expected


@pytest.mark.parametrize(
    "word",
    [
        "사과",  # '과' is part of the noun, not a particle
        "이",  # nothing would be left
        "은",
        "복구까지",  # 까지 is meaningful: kept for split_word
        "시간부터",
        "kakao",
        "",
    ],
)
def test_strip_particle_keeps_words_that_do_not_end_in_a_removable_particle(word: str) -> None:
    assert strip_particle(word) == word


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("멈췄어요", "멈췄"),
        ("멈췄어", "멈췄"),
        ("됐나요", "됐"),
        ("터졌냐", "터졌"),
        ("뭐야", "뭐"),
        ("장애였어", "장애"),
        ("원인이야", "원인"),
        ("복구되었습니까", "복구되"),
    ],
)
def test_strip_ending_reduces_to_the_stem(word: str, expected: str) -> None:
    assert strip_ending(word) == expected


@pytest.mark.parametrize("word", ["카톡", "봐", "abc", ""])
def test_strip_ending_keeps_words_without_an_ending(word: str) -> None:
    assert strip_ending(word) == word


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("복구됐나요", "복구"),
        ("복구됐어", "복구"),
        ("정상화됐어요", "정상화"),
        ("사과했어", "사과"),
        ("사과했던", "사과"),
        ("멈췄어요", "멈췄"),
        ("카톡이", "카톡"),
        ("장애는", "장애"),
        ("원인이야", "원인"),
        ("됐어", "되"),
        ("됬어", "되"),
        ("안됐어", "안되"),
        ("땜", "때문"),
        ("어케", "어떻게"),
        ("class", "class"),  # 'ss' is not a plural
        ("coronavirus", "coronavirus"),
        ("status", "status"),
        ("안돼서", "안되"),
        ("합쳐서", "합쳐"),
        ("넘어서", "넘"),
        ("문서", "문서"),  # a noun ending in 서
        ("순서", "순서"),
        ("쓴대", "쓴"),
        ("떴다며", "떴"),
        ("했냐고", "했"),
        ("되고", "되"),
        ("분이", "분"),  # '이' after a closed syllable is the subject particle
        ("앱만", "앱"),
        ("나이", "나이"),  # ... after an open one, part of the word
        ("사이", "사이"),
        ("막혔었나", "막혔"),  # the past perfect
        ("했었어", "했"),
        ("답했나요", "답"),  # a one-syllable noun before 했
        ("말했어", "말"),
        ("언제쯤", "언제"),  # about
        ("분이나", "분"),  # '이나' after a closed syllable, as '이'
        ("나이나", "나이"),
        ("몇시쯤에", "몇시"),
        ("모바일에선", "모바일"),  # 에서는, shortened
        ("결과", "결과"),  # a word ending in 과, not 결 + 과
        ("통과", "통과"),
        ("카톡과", "카톡"),  # 과 after two syllables
        ("뭐했어", "뭐"),
        ("during", "during"),  # no verb in -ing
        ("morning", "morning"),
        ("news", "news"),  # no plural of 'new'
        ("promise", "promise"),  # no British -ise
        ("풀렸고", "풀렸"),  # '-고' after the past: 'and ...?'
        ("끝났고", "끝났"),
        ("광고", "광고"),  # no past before 고: part of the word
        ("최고", "최고"),
        ("곳이얌", "곳"),  # a cute 이야
        ("했당", "했"),  # a cute 다
        ("멈췄노", "멈췄"),  # Gyeongsang's question ending
        ("되던디", "되"),  # 던데, in Jeolla speech
        ("캤는데", "했"),  # Gyeongsang's 카- for saying: '뭐라 캤는데?'
        ("상당", "상당"),  # no past before 당
        ("뭐래요", "뭐"),  # what they say
        ("맞죠", "맞"),  # 지요
        ("거였죠", "거"),
        ("아니래요", "아니라"),  # 'it is not so, they say', a word of the question ...
        ("아니라고", "아니라"),
        ("아니야", "아니"),  # ... not a tag question ('… 아니야?') or a reply
        ("아니요", "아니"),
        ("딴거도", "다른"),  # 딴 for 다른, 거 glued to it
        ("다른건", "다른"),
        ("했다매", "했"),  # 다며, as said
        ("곳입니까", "곳"),  # the polite copula
        ("무엇입니까", "무엇"),
    ],
)
def test_stem(word: str, expected: str) -> None:
    assert stem(word) == expected


@pytest.mark.parametrize(
    ("word", "other"),
    [
        ("recovered", "recover"),
        ("gifts", "gift"),
        ("happening", "happen"),
        ("features", "feature"),
        ("boxes", "box"),
        ("stopped", "stop"),  # the doubled consonant
        ("stopping", "stops"),
        ("caused", "cause"),  # the silent e
        ("logged", "log"),
        ("theories", "theory"),
        ("apologise", "apologize"),  # British spelling
        ("apologised", "apologized"),
        ("organisation", "organization"),
    ],
)
def test_english_forms_of_one_word_stem_alike(word: str, other: str) -> None:
    assert stem(word) == stem(other)


@pytest.mark.parametrize(("word", "other"), [("news", "new"), ("during", "dure"), ("use", "us")])
def test_english_words_that_only_look_alike_stem_apart(word: str, other: str) -> None:
    assert stem(word) != stem(other)


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("시부터", ["시", "부터"]),
        ("시까지", ["시", "까지"]),
        ("몇시까지", ["몇시", "까지"]),
        ("언제부터", ["언제", "부터"]),
        ("복구됐나요", ["복구"]),
        ("카톡", ["카톡"]),
        ("부터", ["부터"]),
        ("언제부터였는데", ["언제", "부터"]),  # before a copula
        ("몇시까지야", ["몇시", "까지"]),
        ("부터야", ["부터"]),
        ("일이었더라", ["일"]),  # the copula's recollecting ending
        ("어디서", ["어디"]),  # 에서 contracted
        ("이용자들이", ["이용자"]),  # the plural 들
        ("서비스들", ["서비스"]),
        ("힘들어", ["힘들"]),  # a verb's 들 stays
        ("몰려들었어", ["몰려들"]),
        ("스캔들", ["스캔들"]),
        ("사람들은", ["사람들"]),  # the public, not the users one by one
        ("만들었어", ["만들"]),
        ("재개됨", ["재개"]),  # 음슴체 됨 after a noun
    ],
)
def test_split_word_keeps_meaningful_particles(word: str, expected: list[str]) -> None:
    assert split_word(word) == expected


def test_normalize_keeps_since_and_until_apart() -> None:
    since = normalize("몇 시부터 안 됐어")
    until = normalize("몇 시까지 안 됐어")
    assert "부터" in since.stems
    assert "까지" in until.stems
    assert since.stems != until.stems


# --- jamo and typos -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("원인", "ㅇㅝㄴㅇㅣㄴ"),
        ("원잉", "ㅇㅝㄴㅇㅣㅇ"),
        ("장애", "ㅈㅏㅇㅇㅐ"),
        ("카톡", "ㅋㅏㅌㅗㄱ"),
        ("각", "ㄱㅏㄱ"),
        ("pc", "pc"),
        ("10시", "10ㅅㅣ"),
    ],
)
def test_to_jamo(text: str, expected: str) -> None:
    assert to_jamo(text) == expected


@pytest.mark.parametrize(("a", "b"), [("원잉", "원인"), ("장에", "장애"), ("결재", "결제")])
def test_to_jamo_makes_a_typo_one_letter_away(a: str, b: str) -> None:
    ja, jb = to_jamo(a), to_jamo(b)
    assert len(ja) == len(jb)
    assert sum(x != y for x, y in zip(ja, jb, strict=True)) == 1


@pytest.mark.parametrize(
    ("typed", "word"),
    [
        ("장에", "장애"),
        ("원잉", "원인"),
        ("결재", "결제"),
        ("몃", "몇"),
        ("언재", "언제"),
        ("사가", "사과"),  # the ㅗ of ㅘ missed
        ("사괴", "사과"),  # ㅣ for ㅏ, its neighbour key, in a double vowel
        ("괸련", "관련"),
        ("코로냐", "코로나"),  # ㅑ is the key above ㅏ
        ("요류", "오류"),
        ("장애", "장애"),  # no difference at all
    ],
)
def test_plausible_typo_accepts_one_slip(typed: str, word: str) -> None:
    assert plausible_typo(typed, word)


@pytest.mark.parametrize(
    ("typed", "word"),
    [
        ("보상", "비상"),
        ("누구", "누가"),
        ("사고", "사과"),
        ("장애", "장애인"),  # different length
        ("원인", "언인"),
        ("시간", "사간"),  # ㅣ and ㅏ are neighbours only inside ㅘ/ㅚ
        ("사람도", "사람들"),  # 도 is a particle, not a slip of 들
        ("cat", "cut"),  # not Hangul
    ],
)
def test_plausible_typo_rejects_different_words(typed: str, word: str) -> None:
    assert not plausible_typo(typed, word)


@pytest.mark.parametrize(
    ("typed", "name", "slip"),
    [
        ("랭기닷컴", "랭키닷컴", True),  # any initial, in a name of four syllables or more
        ("톡채녈", "톡채널", True),  # what plausible_typo accepts
        ("타카오", "카카오", False),  # three syllables: only the usual slips
        ("랭키닷곰", "랭키닷컴", False),  # the vowel differs as well
        ("랭기닷검", "랭키닷컴", False),  # two syllables differ
        ("선물하지", "선물하기", False),  # the last syllable: a verb ending, not a slip
    ],
)
def test_plausible_name_slip(typed: str, name: str, slip: bool) -> None:
    assert plausible_name_slip(typed, name) is slip


# --- verb forms -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "forms",
    [
        ("터졌", "터진", "터짐", "터지"),
        ("멈췄", "멈춘", "멈추"),
    ],
)
def test_verb_key_is_shared_by_the_forms_of_one_verb(forms: tuple[str, ...]) -> None:
    keys = {verb_key(form) for form in forms}
    assert len(keys) == 1
    assert None not in keys


@pytest.mark.parametrize(("a", "b"), [("터졌", "멈췄"), ("터진", "멈춘"), ("복구", "원인")])
def test_verb_key_tells_different_verbs_apart(a: str, b: str) -> None:
    assert verb_key(a) != verb_key(b)


@pytest.mark.parametrize("word", ["가", "됐", "abc", "카톡a", ""])
def test_verb_key_is_none_for_short_or_non_hangul_words(word: str) -> None:
    assert verb_key(word) is None


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("됬", "되"),
        ("됐", "되"),
        ("돼", "되"),
        ("됫", "되"),
        ("됨", "되"),
        ("되", "되"),
        ("안됐", "안되"),
        ("안돼", "안되"),
        ("못됐", "못되"),
    ],
)
def test_canonical_verb_reads_every_spelling_of_doe_as_one(word: str, expected: str) -> None:
    assert canonical_verb(word) == expected


@pytest.mark.parametrize("word", ["복구됐", "별로됐", "안", "카톡"])
def test_canonical_verb_leaves_other_words(word: str) -> None:
    assert canonical_verb(word) == word


# --- English detection ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["When did it start?", "kakaotalk outage", "KakaoTalk 장애", "kakaotalk 언제"],
)
def test_is_mostly_latin_true(text: str) -> None:
    assert is_mostly_latin(text)


@pytest.mark.parametrize(
    "text",
    ["카톡 언제 복구됐어", "ok 카톡 복구 시간", "pc 카톡 안 됐어", "", "123 456", "?!"],
)
def test_is_mostly_latin_false(text: str) -> None:
    assert not is_mostly_latin(text)


@pytest.mark.parametrize(
    ("text", "english"),
    [("When was it FIXED?", True), ("언제 고쳐졌어?", False)],
)
def test_normalize_flags_english(text: str, english: bool) -> None:
    assert normalize(text).english is english


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # two-word English verbs are one ('log in')
        ("log in", "login"),
        ("Couldn't people log in?", "couldn t people login"),
        ("signed on", "login"),
        # a fused 'what happened' ('뭔일') is spaced
        ("뭔일임", "무슨 일임"),
        ("먼일이야??", "무슨 일이야"),
        ("무슨일 있었어", "무슨 일 있었어"),
        ("뭔가 이상해", "뭔가 이상해"),  # not 'what matter'
        ("누군일", "누군일"),  # 뭔 inside another word
        # a negation glued to the word before is parted
        ("로그인안됐어요", "로그인 안됐어요"),
        ("카톡못됨", "카톡 못됨"),
        ("불안했어", "불안했어"),  # 안 inside a word, no 되다 after it
        ("편안돼", "편안돼"),  # one syllable before: part of the word
        # a missed shift on a final ㅆ before an ending
        ("사과햇어", "사과했어"),
        ("문제 잇음", "문제 있음"),
        ("복구됐엇는데", "복구됐었는데"),
        ("햇살", "햇살"),  # the word, not a slip: no ending after it
        ("잇몸", "잇몸"),
        ("앗 그렇구나", "앗 그렇구나"),
        # Hangul and Latin letters typed together are two words
        ("사람들이sns에뭐라고했어", "사람들이 sns에 뭐라고했어"),  # the particle stays
        ("카카오T는왜안됐어", "카카오 t는 왜 안됐어"),
        ("pc카톡", "pc 카톡"),
        # ... and so are a number with its unit and the Hangul around it
        ("카톡안된날이2020년몇월며칠이야", "카톡 안된날이 2020년 몇월며칠이야"),
        ("2일오전8시58분까지", "2일 오전 8시 58분까지"),  # a particle after the unit stays
        ("80분이었어", "80분이었어"),  # ... and so does the copula
        ("41분인가요", "41분인가요"),
        ("3월이십일에", "3월20일에"),  # a day in number words
        ("2번째로", "2번째로"),
        ("3월2일", "3월 2일"),
        ("3월이야", "3월이야"),
        ("10시간동안", "10시간동안"),
        ("카톡", "카톡"),
        ("kakao talk", "kakao talk"),
        # a two-digit year is written in full
        ("22년 카톡 먹통", "2022년 카톡 먹통"),
        ("'16년 지진", "2016년 지진"),
        ("99년", "99년"),
        ("19년에도", "2019년에도"),
        ("10년 동안 썼는데", "10년 동안 썼는데"),  # a number of years
        ("10년 된 카톡", "10년 된 카톡"),  # no year KakaoTalk could have failed in
        ("카톡 쓴 지 16년째", "카톡 쓴 지 16년째"),
        ("20년이나 썼는데", "20년이나 썼는데"),
        ("20년만에", "20년만에"),
        ("3년 전", "3년 전"),
        ("2020년", "2020년"),
        # dates in number words are written in digits
        ("이천이십삼년 오월 카톡 장애", "2023년 5월 카톡 장애"),
        ("이천이십년 삼월 이일", "2020년 3월 2일"),
        ("천구백구십구년", "1999년"),
        ("시월에", "10월에"),  # the irregular months
        ("유월", "6월"),
        ("십이월 이십오일", "12월 25일"),
        ("이일 어떻게 됐어", "이일 어떻게 됐어"),  # a day only after a month
        ("이천만 원", "이천만 원"),  # a number, no year
        ("삼성", "삼성"),
        ("시월드 단톡방", "시월드 단톡방"),  # 월 inside another word
        ("구월동", "구월동"),
        # a syllable's last two letters typed the wrong way round
        ("카톡 원ㅇ니 뭐야", "카톡 원인 뭐야"),
        ("로그ㅇ니 안 됐어", "로그인 안 됐어"),
        ("카톡ㅋㅋ 원인", "카톡 원인"),  # laughter, not a letter of the next word
        ("아ㄴ되던 서비스", "안되던 서비스"),  # a final typed apart
        ("와ㅋ카카오스토리는", "와 카카오스토리는"),  # one ㅋ or ㅎ is laughter
        ("됐어ㅎ그럼", "됐어 그럼"),
        ("웃겨ㅋ 원인", "웃겨 원인"),
        ("안 돼ㅠ 왜", "안 돼 왜"),
    ],
)
def test_clean_mends_how_people_type(text: str, expected: str) -> None:
    assert clean(text) == expected


@pytest.mark.parametrize(
    ("word", "expected"),
    [("사과했", "사과"), ("답했", "답"), ("말했던", "말"), ("안했", "안했"), ("못했", "못했")],
)
def test_strip_light_verb_keeps_a_negation_whole(word: str, expected: str) -> None:
    assert strip_light_verb(word) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("해외", "해외"), ("대외적으로", "대외적으로"), ("왜에", "왜"), ("왜애애애", "왜")],
)
def test_squeeze_repeats_keeps_words_ending_in_oe(text: str, expected: str) -> None:
    assert squeeze_repeats(text) == expected


@pytest.mark.parametrize(
    ("word", "expected"),
    [("이천이십삼", 2023), ("십이", 12), ("삼십일", 31), ("십", 10), ("이이", None), ("", None)],
)
def test_sino_number(word: str, expected: int | None) -> None:
    assert sino_number(word) == expected


@pytest.mark.parametrize(
    ("syllable", "expected"),
    [
        ("갓", "갔"),
        ("잇", "있"),
        ("햇", "했"),
        ("가", None),
        ("갈", None),
        ("a", None),
        ("갓갓", None),
    ],
)
def test_with_double_final(syllable: str, expected: str | None) -> None:
    assert with_double_final(syllable) == expected
