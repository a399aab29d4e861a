"""Korean-aware text normalisation: pure functions, each tested on its own.

`normalize()` shows the knowledge-free pipeline: Unicode NFKC and case folding, noise
removal (punctuation, emoji, ㅋㅋ/ㅠㅠ), elongation squeezing (왜애애 -> 왜), particle and
ending stripping per word, and jamo decomposition for typo-tolerant comparison. The matcher
(`bot.engine.matcher`) runs the same steps with the knowledge-dependent ones in between:
entity nicknames, word synonyms and splitting words typed without spaces.

No morphological analyser: the domain is small, and a rule-based stripper costs nothing
at start-up (see README, "How questions are understood").
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

import snowballstemmer

HANGUL_BASE = 0xAC00
HANGUL_END = 0xD7A3
_CHOSEONG = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
_JUNGSEONG = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
_JONGSEONG = ("", *"ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ")

# Laughter, crying and other runs of bare jamo that carry no content.
# NFKC turns compatibility jamo (ㅋ U+314B) into conjoining jamo (U+110F): match both.
_JAMO = "ㄱ-ㅎㅏ-ㅣ\u1100-\u11ff"
_JAMO_NOISE_RE = re.compile(rf"[{_JAMO}]{{2,}}|(?<![가-힣])[{_JAMO}](?![가-힣])")
# Anything that is not a letter, digit or space becomes a space.
_NON_WORD_RE = re.compile(r"[^\w\s]|_", re.UNICODE)
_SPACES_RE = re.compile(r"\s+")
_REPEAT_RE = re.compile(r"(.)\1{2,}")

# Particles (조사), longest first. Stripped from the end of a word when enough is left.
_PARTICLES = sorted(
    [
        "으로부터",
        "로부터",
        "에서는",
        "에서도",
        "에게서",
        "한테서",
        "이랑은",
        "이라는",
        "이란",
        "라는",
        "에서",
        "에게",
        "한테",
        "께서",
        "보다",
        "처럼",
        "으로",
        "이랑",
        "하고",
        "이나",
        "마다",
        "조차",
        "밖에",
        "은요",
        "는요",
        "이요",
        "에는",
        "에선",  # 에서는, shortened ('톡채널에선')
        "에도",
        "으론",
        "로는",
        "와는",
        "과는",
        "만큼",
        "쯤에",  # '몇 시쯤에', '언제쯤': about
        "쯤은",
        "쯤",
        "은",
        "는",
        "이",
        "가",
        "을",
        "를",
        "에",
        "의",
        "도",
        "로",
        "와",
        "과",
        "랑",
        "만",
    ],
    key=len,
    reverse=True,
)
_SINGLE_PARTICLES = {p for p in _PARTICLES if len(p) == 1}
PARTICLES = frozenset(_PARTICLES)
# The particles that glue words together when people type without spaces ('카톡이언제').
GLUE_PARTICLES = frozenset(
    p for p in _PARTICLES if len(p) == 1 or p in {"에서", "으로", "하고", "이랑"}
)

# Question and statement endings, reduced to their stem ('됐나요' -> '됐', '멈췄어' -> '멈췄').
_ENDINGS = sorted(
    [
        "었습니까",
        "았습니까",
        "였습니까",
        "습니까",
        "ㅂ니까",
        "입니까",  # the copula, polite: '어떤 곳입니까?'
        "입니다",
        "었나요",
        "았나요",
        "였나요",
        "인가요",
        "던가요",
        "는가요",
        "나요",
        "가요",
        "을까요",
        "ㄹ까요",
        "까요",
        "은가요",
        "었어요",
        "았어요",
        "였어요",
        "이에요",
        "이예요",
        "에요",
        "예요",
        "어요",
        "아요",
        "해요",
        "세요",
        "셨나요",
        "었니",
        "았니",
        "였니",
        "었냐",
        "았냐",
        "였냐",
        "이냐",
        "이니",
        "인지",
        "는지",
        "은지",
        "던지",
        "었지",
        "았지",
        "였지",
        "었음",
        "았음",
        "였음",
        "었어",
        "았어",
        "였어",
        "했어",
        "했음",
        "했나",
        "됐나",
        "이야",
        "이얌",  # a cute 이야
        "던디",  # Jeolla/Chungcheong: '안 되던디' (되던데)
        "는디",
        "인디",
        "얌",
        "인데",
        "는데",
        "던데",
        "한데",
        "이었어요",
        "이었나요",
        "이었습니까",
        "이었어",
        "이었음",
        "이었냐",
        "이었니",
        "이었나",
        "이었지",
        "이었던",
        "이었",
        "였어요",
        "였나요",
        "였어",
        "였음",
        "였냐",
        "였니",
        "였나",
        "였지",
        "였던",
        "였",
        "이라며",
        "라며",
        "다며",
        "라매",  # 라며/다며, as said ('했다매')
        "다매",
        "냐고요",
        "냐고",
        "이었더라",
        "었더라",
        "았더라",
        "였더라",
        "더라",
        "었고",
        "았고",
        "였고",
        "했고",
        "됐고",
        "어서",
        "아서",
        "대요",
        "래요",  # '뭐래요', '아니래요': what they say
        "이죠",
        "었죠",
        "았죠",
        "였죠",
        "죠",  # '맞죠', '거였죠': 지요
        "대",
        "이래",
        "래",
        "이라던데",
        "라던데",
        "이라고",
        "라고",
        "이던데",
        "십시오",
        "습니다",
        "니다",
        "던",
        "임",
        "음",
        "냐",
        "니",
        "나",
        "지",
        "야",
        "요",
        "어",
        "아",
    ],
    key=len,
    reverse=True,
)


def nfkc(text: str) -> str:
    """Unicode NFKC (composes NFD Hangul, folds full-width forms) and case folding."""
    return unicodedata.normalize("NFKC", text).casefold()


_MARKUP_RE = re.compile(r"</?[a-z][a-z0-9-]{0,15}(?:\s[^<>]{0,100})?>|&(?:[a-z]{2,8}|#\d{1,7});")


# A consonant left alone inside a word: a final typed apart ('아ㄴ되던' for 안되던), when
# the syllable before it is open; else a syllable's last two letters typed the wrong way
# round ('원ㅇ니' for 원인: ㅇ, ㄴ, ㅣ typed for ㅇ, ㅣ, ㄴ), when the next is open. ㅋ and
# ㅎ are laughter ('와ㅋ카카오스토리', '됐어ㅎ그럼'): a space. After NFKC the consonant is
# a conjoining initial (U+1100-U+1112, in _CHOSEONG's order), so both forms are read.
_LONE_CONSONANT_RE = re.compile(r"(?<=[가-힣])([ㄱ-ㅎ\u1100-\u1112])(?=[가-힣])")
_LAUGHTER = frozenset("ㅋㅎ")
# One ㅋ, ㅎ, ㅠ or ㅜ anywhere is laughter or tears ('웃겨ㅋ', '안 돼ㅠ'), in either form.
_LAUGH_CRY_RE = re.compile("[ㅋㅎㅠㅜ\u110f\u1112\u116e\u1172]")
# Initials that can close a syllable as they are (ㅇ opens one silently; ㄸ, ㅃ, ㅉ never close).
_CLOSING = frozenset("ㄱㄲㄴㄷㄹㅁㅂㅅㅆㅈㅊㅋㅌㅍㅎ")


def _compose(initial: str, vowel: str, final: str) -> str:
    code = _CHOSEONG.index(initial) * 588 + _JUNGSEONG.index(vowel) * 28
    return chr(HANGUL_BASE + code + _JONGSEONG.index(final))


def _place_lone_consonants(text: str) -> str:
    """Put a lone consonant inside a word back in its syllable, where it plainly belongs."""
    chars = list(text)
    for match in reversed(list(_LONE_CONSONANT_RE.finditer(text))):
        n = match.start()
        consonant = chars[n]
        if "\u1100" <= consonant <= "\u1112":
            consonant = _CHOSEONG[ord(consonant) - 0x1100]
        before, after = _syllable_parts(chars[n - 1]), _syllable_parts(chars[n + 1])
        if consonant in _LAUGHTER:
            chars[n] = " "  # '와ㅋ카카오스토리': laughter between words
        elif consonant not in _CHOSEONG or before is None or after is None:
            continue
        elif not before[2] and consonant in _CLOSING:
            chars[n - 1 : n + 1] = [_compose(*before[:2], consonant), ""]
        elif not after[2] and after[0] in _CLOSING:
            chars[n : n + 2] = [_compose(consonant, after[1], after[0]), ""]
    return "".join(chars)


def strip_noise(text: str) -> str:
    """Drop markup pasted along (<b>, &amp;), punctuation, symbols, emoji and bare-jamo
    runs (ㅋㅋ, ㅠㅠ); keep words, with a consonant typed apart put back in its syllable
    ('아ㄴ되던', '원ㅇ니')."""
    text = _MARKUP_RE.sub(" ", text)
    text = "".join(ch if unicodedata.category(ch)[0] in "LNZ" else " " for ch in text)
    text = _place_lone_consonants(text)
    text = _JAMO_NOISE_RE.sub(" ", _LAUGH_CRY_RE.sub(" ", text))
    text = _NON_WORD_RE.sub(" ", text)
    return _SPACES_RE.sub(" ", text).strip()


# The vowel a syllable ends on, as heard: ㅙ ends on ㅐ, ㅑ on ㅏ, ㅐ and ㅔ sound alike.
# ㅚ stands for itself: 외 after 해, 내, 대 is a word (해외, 내외, 대외), not an echo.
_VOWEL_SOUND = "ㅏㅐㅏㅐㅓㅐㅓㅐㅗㅏㅐㅚㅗㅜㅓㅐㅣㅜㅡㅣㅣ"


def _vowel(ch: str) -> str | None:
    code = ord(ch) - HANGUL_BASE
    if 0 <= code <= HANGUL_END - HANGUL_BASE:
        return _VOWEL_SOUND[(code // 28) % 21]
    return None


def _is_bare_vowel_syllable(ch: str) -> bool:
    code = ord(ch) - HANGUL_BASE
    return 0 <= code <= HANGUL_END - HANGUL_BASE and code // 588 == 11 and code % 28 == 0


def _is_open(ch: str) -> bool:
    code = ord(ch) - HANGUL_BASE
    return 0 <= code <= HANGUL_END - HANGUL_BASE and code % 28 == 0


# Syllables made of ㅇ and a vowel only: the ones an elongation repeats.
_BARE_VOWEL_RE = re.compile(
    "[" + "".join(chr(0xAC00 + 11 * 588 + v * 28) for v in range(21)) + "]"
)


def squeeze_repeats(text: str) -> str:
    """Collapse elongations: any character repeated three times or more (!!!, ...), and
    'ㅇ'+vowel syllables echoing an open syllable's vowel (왜애애 -> 왜, 언제에 -> 언제),
    when they repeat or end the word, so '요일이' and '나아가' stay as they are."""
    text = _REPEAT_RE.sub(r"\1", text)
    if not _BARE_VOWEL_RE.search(text):
        return text
    out: list[str] = []
    n = 0
    while n < len(text):
        ch = text[n]
        out.append(ch)
        n += 1
        if not _is_open(ch):
            continue
        run = n
        while (
            run < len(text)
            and _is_bare_vowel_syllable(text[run])
            and _vowel(text[run]) == _vowel(ch)
        ):
            run += 1
        echoes = run - n
        at_end = run == len(text) or not ("가" <= text[run] <= "힣")
        if echoes >= 2 or (echoes == 1 and at_end):
            n = run
    return "".join(out)


_LOOSE_PARTICLES = {"은", "는", "을", "를", "가", "도", "에"}
# (not 과: '결과', '통과', '성과' are words more often than one syllable and 과)
_AFTER_CONSONANT = {"이", "이나", "만", "으로"}
# Particles that carry meaning for this domain ('몇 시부터' vs '몇 시까지'): kept as words.
MEANINGFUL_PARTICLES = ("부터", "까지")
# 하다/되다 verbs: '사과했' -> '사과', '복구됐' -> '복구'.
_LIGHT_VERBS = sorted(
    [
        "했었",
        "했던",
        "하는",
        "해서",
        "했",
        "한",
        "하",
        "해",
        "됐었",
        "됐던",
        "되는",
        "돼서",
        "됐",
        "된",
        "되",
        "돼",
        "될",
        "됨",  # 음슴체: '복구됨', '사과함'
        "함",
        "시킨",
        "시켰",
    ],
    key=len,
    reverse=True,
)


def _by_last_char(suffixes: list[str]) -> dict[str, tuple[str, ...]]:
    """Suffixes grouped by their last character, longest first: one dict lookup per word."""
    table: dict[str, list[str]] = {}
    for suffix in suffixes:
        table.setdefault(suffix[-1], []).append(suffix)
    return {ch: tuple(sorted(group, key=len, reverse=True)) for ch, group in table.items()}


def strip_particle(word: str) -> str:
    """Remove one trailing particle (조사) when at least two syllables remain
    (one for 은/는/을/를/가: '뭐가' -> '뭐', but '사과' keeps its '과')."""
    if not word or not ("가" <= word[-1] <= "힣"):
        return word
    for particle in _PARTICLES_BY_END.get(word[-1], ()):
        if word.endswith(particle):
            rest = word[: -len(particle)]
            # '분이', '앱만', '일이': after a closed syllable these are particles ('이' is
            # the form that follows a consonant); '나이', '사이' keep their '이'.
            loose = particle in _LOOSE_PARTICLES or (
                particle in _AFTER_CONSONANT and _has_final(rest[-1:])
            )
            if len(rest) >= (1 if loose else 2):
                return rest
    return word


def _has_final(ch: str) -> bool:
    """Does this Hangul syllable end in a consonant (받침)?"""
    parts = _syllable_parts(ch) if ch else None
    return parts is not None and bool(parts[2])


_PARTICLES_BY_END = _by_last_char(_PARTICLES)
_ENDINGS_BY_END = _by_last_char(_ENDINGS)
_LIGHT_VERBS_BY_END = _by_last_char(_LIGHT_VERBS)


def strip_ending(word: str) -> str:
    """Reduce a verb or copula ending to its stem ('멈췄어요' -> '멈췄', '뭐야' -> '뭐')."""
    if not word or not ("가" <= word[-1] <= "힣"):
        return word
    for ending in _ENDINGS_BY_END.get(word[-1], ()):
        if word.endswith(ending) and len(word) - len(ending) >= 1:
            return word[: -len(ending)]
    if len(word) >= 2 and word[-1] == "서" and _is_contracted(word[-2]):
        return word[:-1]  # '합쳐서' -> '합쳐', '돼서' -> '돼'; '문서', '순서' stay
    return strip_plain_past(word)


def _past_final(ch: str) -> bool:
    """A syllable ending in ㅆ, as past forms do ('혔', '됐', '했')."""
    parts = _syllable_parts(ch)
    return parts is not None and parts[2] == "ㅆ"


def _is_contracted(ch: str) -> bool:
    """An open syllable ending a verb stem before -서 ('쳐', '워', '돼', '해', '가')."""
    parts = _syllable_parts(ch)
    return parts is not None and not parts[2] and parts[1] in "ㅕㅝㅙㅐㅓㅏ"


def strip_plain_past(word: str) -> str:
    """The plain past '-았다/-었다' ('터졌다' -> '터졌'), and '-고' after it ('풀렸고' ->
    '풀렸'), its cute '-당' ('됐당', '됐당가' less its 가), and Gyeongsang's question '-노'
    ('멈췄노'); a bare '다' ends many nouns (바다), '고' many more (광고, 최고)."""
    if len(word) >= 2 and word[-1] in "다고노당" and _past_final(word[-2]):
        return word[:-1]
    return word


def strip_light_verb(word: str) -> str:
    """Drop a trailing 하다/되다 form from a noun+verb word ('사과했' -> '사과')."""
    if not word:
        return word
    for light in _LIGHT_VERBS_BY_END.get(word[-1], ()):
        if not word.endswith(light):
            continue
        rest = word[: -len(light)]
        if len(rest) >= 2 or (
            len(rest) == 1 and light.startswith("했") and rest not in _NOT_A_NOUN
        ):
            return rest  # '답했' -> '답', as '대답했' -> '대답'
    return word


# One-syllable words before 했 that are no noun ('안 했', '뭐 했').
_NOT_A_NOUN = frozenset("안못잘뭐다또좀왜더덜꼭막딱쫌걍")


# Every spelling (and common misspelling) of 되- forms reads as '되': 됐/됬/됫/돼/됨/된.
_DOE_FORMS = frozenset("됐됬됫돼됨된될됏되")


def canonical_verb(word: str) -> str:
    """'됐'/'됬'/'돼' -> '되'; '안됐'/'안돼' -> '안되' (the negation people type for outages)."""
    if word and word[-1] in _DOE_FORMS and (len(word) == 1 or word[:-1] in {"안", "못", "잘"}):
        return word[:-1] + "되"
    return word


_SNOWBALL = snowballstemmer.stemmer("english")
# Words kept whole: 'during' is no verb, 'news' no plural of 'new' (it would read 'new
# years' as the article), 'promise' no British -ise.
_ENGLISH_WHOLE = frozenset(
    {
        "during",
        "morning",
        "evening",
        "thing",
        "something",
        "anything",
        "nothing",
        "everything",
        "bring",
        "spring",
        "news",
        "series",
        "promise",
        "premise",
        "surprise",
        "exercise",
        "otherwise",
        "expertise",
        "precise",
        "concise",
        "enterprise",
        "compromise",
        "franchise",
        "merchandise",
        "paradise",
    }
)


def stem_english(word: str) -> str:
    """English words in the form they are compared in: the Snowball (Porter2) stem, so
    'stopped' and 'stop', 'caused' and 'cause' read alike; British spellings as American
    ones; 'coronavirus', 'status' and the words of _ENGLISH_WHOLE untouched."""
    if word.endswith(("ss", "us", "is")) or word in _ENGLISH_WHOLE:
        return word
    # British spellings read as American ones: 'apologise(d)' -> 'apologize(d)'.
    for british, american in (
        ("isation", "ization"),
        ("ise", "ize"),
        ("ised", "ized"),
        ("ising", "izing"),
    ):
        if word.endswith(british) and len(word) > len(british) + 3:
            word = word[: -len(british)] + american
            break
    if word.endswith("n't"):
        word = word[:-3]
    elif word.endswith("'s"):
        word = word[:-2]
    return str(_SNOWBALL.stemWord(word))


# Colloquial spellings read as their standard form.
_COLLOQUIAL = {
    "땜": "때문",
    "땜시": "때문",
    "어케": "어떻게",
    "어캐": "어떻게",
    "왜케": "왜",
    "첨": "처음",
    "담": "다음",
    "젤": "제일",
    "넘": "너무",
    "암튼": "아무튼",
    "되고": "되",
    "안되고": "안되",
    "어디서": "어디",  # 에서 contracted
    # 'other (things)': 딴 for 다른, and 거/것/건 glued to it ('딴거도 다 안됐어?')
    "딴": "다른",
    "딴거": "다른",
    "딴것": "다른",
    "딴건": "다른",
    "다른거": "다른",
    "다른것": "다른",
    "다른건": "다른",
    # what someone said ('카카오는 뭐라는데?'): the question word, as '뭐래' and '뭐라고' read
    "뭐라는데": "뭐",
    "뭐라는": "뭐",
    "뭐라던데": "뭐",
    "뭐라던": "뭐",
    "머라는데": "뭐",
    "뭐라": "뭐",  # '뭐라 캤는데?', '뭐라 했어?' typed apart
    "머라": "뭐",
    # Gyeongsang speech: 카- for 하- in saying ('뭐라 캤는데?', '뭐라 카드노'), 와 for 왜
    # only before 그래/그리 ('와 그래 멈췄노?': 'and' never stands there)
    "캤는데": "했",
    "캤나": "했",
    "캤노": "했",
    "캤어": "했",
    "카드노": "했",
    "카더노": "했",
    "카던데": "했",
    "카더라": "했",
    "카노": "했",
}


@functools.lru_cache(maxsize=1 << 13)
def stem(word: str) -> str:
    """A word without its particle, ending or light verb: the form words are compared in.

    Cached: splitting a word typed without spaces stems every piece of it, some sixty
    calls for one question, mostly the same pieces as the last question's."""
    if word.isascii():
        return stem_english(word)
    if word in _COLLOQUIAL:
        return _COLLOQUIAL[word]
    stripped = strip_particle(word)
    if stripped in _COLLOQUIAL:
        return _COLLOQUIAL[stripped]
    # '터졌다는' -> '터졌다' -> '터졌': the plain past after a particle.
    stripped = strip_ending(word) if stripped == word else strip_plain_past(stripped)
    if len(stripped) >= 2 and stripped[-1] == "었" and _past_final(stripped[-2]):
        stripped = stripped[:-1]  # the past perfect: '막혔었' -> '막혔', '됐었' -> '됐'

    if stripped != word and stripped[-1:] in _DOE_FORMS:
        stripped = strip_ending(stripped) if len(stripped) > 1 else stripped
    if word.startswith(_NOT_SO):
        # '아니래요', '아니라고', '아니라는': 'it is not so, they say', a word of the
        # question ('트래픽 때문은 아니래요?'); not '아니야?', '아니지?', '아닌데' (a tag
        # question or a reply) nor '아니' alone ('아니 근데 …').
        return "아니라"
    return _without_plural(canonical_verb(strip_light_verb(stripped)))


_NOT_SO = ("아니라", "아니래")


# Words ending in 들 that are no plural: verbs (만들다, 힘들다, 흔들다, the -어/-아/-여/-려/
# -져/-고/-며들다 compounds: 줄어들다, 몰려들다), 한들/된들 ('말한들'), and nouns (스캔들,
# 아들)
_DEUL_VERBS = frozenset({"만들", "힘들", "흔들", "스캔들", "아들", "큰아들"})
# 사람들, 'people', the public whose reaction is asked about, not the users one by one
_PLURAL_KEPT = frozenset({"사람들"})
_DEUL_AFTER = frozenset("어아여려져고며한된흔")


def _without_plural(word: str) -> str:
    """A noun without its plural 들 ('이용자들' -> '이용자', '서비스들' -> '서비스')."""
    if (
        len(word) >= 3
        and word.endswith("들")
        and word[-2] not in _DEUL_AFTER
        and word not in _DEUL_VERBS
        and word not in _PLURAL_KEPT
        and all("가" <= ch <= "힣" for ch in word)
    ):
        return word[:-1]
    return word


def split_word(word: str) -> list[str]:
    """The stem of a word, plus a meaningful particle it carried ('시부터' -> ['시', '부터'])."""
    if word in MEANINGFUL_PARTICLES:
        return [word]
    for particle in MEANINGFUL_PARTICLES:
        if word.endswith(particle) and len(word) > len(particle):
            rest = stem(word[: -len(particle)]) or word[: -len(particle)]
            return [rest, particle]
    s = stem(word)
    # The particle before a copula: '언제부터였는데' -> 언제, 부터; '몇시까지야' -> 몇시, 까지.
    bare = s.removesuffix("였").removesuffix("이었")
    if s != word and bare not in MEANINGFUL_PARTICLES and bare.endswith(MEANINGFUL_PARTICLES):
        return split_word(bare)
    return [s] if s else []


def to_jamo(text: str) -> str:
    """Decompose Hangul syllables into jamo, so '원잉' and '원인' differ by one letter."""
    out: list[str] = []
    for ch in text:
        code = ord(ch) - HANGUL_BASE
        if 0 <= code <= HANGUL_END - HANGUL_BASE:
            out.append(_CHOSEONG[code // 588])
            out.append(_JUNGSEONG[(code // 28) % 21])
            if code % 28:
                out.append(_JONGSEONG[code % 28])
        else:
            out.append(ch)
    return "".join(out)


# Letters people swap when they mistype: tense and plain consonants, ㅐ/ㅔ, ㅗ/ㅜ ...
_CONFUSABLE_INITIALS = {"ㄲ": "ㄱ", "ㄸ": "ㄷ", "ㅃ": "ㅂ", "ㅆ": "ㅅ", "ㅉ": "ㅈ"}
_CONFUSABLE_VOWELS = {
    "ㅔ": "ㅐ",
    "ㅖ": "ㅐ",
    "ㅒ": "ㅐ",
    "ㅚ": "ㅙ",
    "ㅞ": "ㅙ",
    "ㅜ": "ㅗ",
    "ㅘ": "ㅏ",  # the ㅗ of a double vowel missed ('사가' for '사과')
    "ㅕ": "ㅓ",
    "ㅢ": "ㅣ",
}
# Vowels one key apart on the keyboard: ㅏ and ㅣ inside a double vowel ('사괴' for '사과',
# '괸련' for '관련').
_NEIGHBOUR_VOWELS = frozenset(
    {
        frozenset({"ㅘ", "ㅚ"}),
        # ... and the keys above or beside a vowel's: ㅑ over ㅏ, ㅛ over ㅗ, ㅠ by ㅜ
        # ('코로냐' for '코로나').
        frozenset({"ㅑ", "ㅏ"}),
        frozenset({"ㅛ", "ㅗ"}),
        frozenset({"ㅠ", "ㅜ"}),
    }
)


def _syllable_parts(ch: str) -> tuple[str, str, str] | None:
    code = ord(ch) - HANGUL_BASE
    if not 0 <= code <= HANGUL_END - HANGUL_BASE:
        return None
    return _CHOSEONG[code // 588], _JUNGSEONG[(code // 28) % 21], _JONGSEONG[code % 28]


def with_double_final(syllable: str) -> str | None:
    """The syllable with its final ㅅ doubled ('갓' -> '갔'), or None without a final ㅅ."""
    parts = _syllable_parts(syllable) if len(syllable) == 1 else None
    if parts is None or parts[2] != "ㅅ":
        return None
    return chr(ord(syllable) + _JONGSEONG.index("ㅆ") - _JONGSEONG.index("ㅅ"))


def plausible_typo(typed: str, word: str) -> bool:
    """Could `typed` be `word` with one slip of the keyboard or spelling ('장에'/'장애',
    '원잉'/'원인', '결재'/'결제', '몃'/'몇')? Used to accept fuzzy matches of short words,
    where a one-letter difference is often a different word ('보상'/'비상')."""
    if len(typed) != len(word):
        return False
    differing = [(a, b) for a, b in zip(typed, word, strict=True) if a != b]
    if len(differing) != 1:
        return not differing
    a, b = differing[0]
    pa, pb = _syllable_parts(a), _syllable_parts(b)
    if pa is None or pb is None:
        return False
    initial = _CONFUSABLE_INITIALS.get(pa[0], pa[0]) == _CONFUSABLE_INITIALS.get(pb[0], pb[0])
    vowel = _CONFUSABLE_VOWELS.get(pa[1], pa[1]) == _CONFUSABLE_VOWELS.get(pb[1], pb[1]) or (
        frozenset({pa[1], pb[1]}) in _NEIGHBOUR_VOWELS
    )
    # The initial may slip between plain and tense, the vowel to a similar sound, and the
    # final consonant to anything (몃/몇, 잇/있, 원잉/원인); nothing else.
    return initial and vowel


def plausible_name_slip(typed: str, name: str) -> bool:
    """Could `typed` be the name `name` with one slip? As plausible_typo; and in a name of
    four syllables or more, one initial consonant before the last syllable may be any other
    ('랭기닷컴' for '랭키닷컴'): so long a name with three syllables as typed is no other
    word. (The last syllable may be an ending: '선물하지' is no slip of '선물하기'.)"""
    if plausible_typo(typed, name):
        return True
    if len(typed) != len(name) or len(name) < 4:
        return False
    differing = [n for n, (a, b) in enumerate(zip(typed, name, strict=True)) if a != b]
    if len(differing) != 1 or differing[0] == len(name) - 1:
        return False
    pa, pb = _syllable_parts(typed[differing[0]]), _syllable_parts(name[differing[0]])
    return pa is not None and pb is not None and pa[1:] == pb[1:]


# Contracted vowels of past forms, undone: 졌 (ㅈ+ㅕ) -> 지, 췄 (ㅊ+ㅝ) -> 추, 됐 -> 되.
_UNCONTRACT = {"ㅕ": "ㅣ", "ㅝ": "ㅜ", "ㅘ": "ㅗ", "ㅙ": "ㅚ", "ㅐ": "ㅏ"}


def verb_key(word: str) -> str | None:
    """A key shared by the forms of one verb: '터졌', '터진', '터짐' -> '터지';
    '멈췄', '멈춘' -> '멈추'. None for words too short or not Hangul."""
    if len(word) < 2 or not all("가" <= ch <= "힣" for ch in word):
        return None
    parts = _syllable_parts(word[-1])
    if parts is None:
        return None
    initial, vowel, _final = parts
    return word[:-1] + _compose(initial, _UNCONTRACT.get(vowel, vowel), "")


def is_mostly_latin(text: str) -> bool:
    """True when the letters of `text` are mostly Latin (an English question)."""
    latin = sum(1 for ch in text if ch.isascii() and ch.isalpha())
    hangul = sum(1 for ch in text if "가" <= ch <= "힣" or "ㄱ" <= ch <= "ㅣ")
    return latin > 0 and latin >= 2 * hangul


# English verbs of two words that mean one thing: 'log in' and 'login' alike.
_PHRASAL_RE = re.compile(r"\b(?:log|logg(?:ed|ing)|sign(?:ed|ing)?)\s+(?:in|on)\b")
# 'what happened' typed as one word ('뭔일임', '무슨일', '먼일이야'): the question word is
# filler and 일 the topic, as when they are spaced.
_WHAT_MATTER_RE = re.compile(r"(?<![가-힣])(?:무슨|뭔|먼)(?=일)")
# A negated 되다 glued to the word before ('로그인안됐어', '카톡못됨'): two words.
_GLUED_NEGATION_RE = re.compile(r"(?<=[가-힣]{2})(?=[안못][되됐된돼됬됨됏될])")


# The shift of a final ㅆ missed before an ending ('햇어', '잇음', '됐엇는데'): the past
# and 있다 forms they are. (The words spelled so are others: 햇살, 잇다; not before these.)
_MISSED_SHIFT_RE = re.compile(r"([햇잇엇앗])(?=[어었음다는냐니지던고나네])")


# A year of two digits ('22년 카톡 먹통', "'16년 지진"; the apostrophe is noise): the year
# in full, as the knowledge and the year rules read it. Only the years KakaoTalk's outages
# can fall in (15-29); not a number of years ('10년 된 카톡', '20년 만에', '16년째').
_SHORT_YEAR_RE = re.compile(
    r"(?<![\d.,])([12]\d)(?=\s*년(?!\s*(?:동안|간|만|전|째|후|뒤|이상|넘|정도|가까이|쯤|된|쓴"
    r"|차|이나|인데|이야|이고|이면|짜리|도\s*넘|도\s*안)))"
)


# Dates in Sino-Korean number words ('이천이십년 삼월 이일', '오월'): in digits, as the
# year and date rules read them. A year needs its 천, a month stands as a word of its own,
# and a day only follows a month ('이일' alone is '이 일', this matter).
_SINO_DIGITS = {
    "일": 1,
    "이": 2,
    "삼": 3,
    "사": 4,
    "오": 5,
    "육": 6,
    "륙": 6,
    "칠": 7,
    "팔": 8,
    "구": 9,
}
_SINO_UNITS = {"십": 10, "백": 100, "천": 1000}
_SINO = "[일이삼사오육륙칠팔구십백천]"
_SINO_YEAR_RE = re.compile(rf"(?<![가-힣])([이]?천{_SINO}*)(?=년)")
_SINO_MONTH_RE = re.compile(
    r"(?<![가-힣])(십이|십일|시|유|일|이|삼|사|오|육|칠|팔|구)"
    r"(?=월(?:$|[\s\d]|에|엔|의|은|는|이|도|부터|까지|말|초|중|달))"
)
_SINO_DAY_RE = re.compile(rf"(\d월\s*)({_SINO}{{1,3}})(?=일)")
_IRREGULAR_MONTHS = {"시": 10, "유": 6}


def sino_number(word: str) -> int | None:
    """'이천이십삼' -> 2023, '십이' -> 12, '삼십일' -> 31; None if not such a number."""
    total, digit = 0, None
    for ch in word:
        if ch in _SINO_DIGITS:
            if digit is not None:
                return None  # two digits in a row: no number
            digit = _SINO_DIGITS[ch]
        elif ch in _SINO_UNITS:
            total += (digit or 1) * _SINO_UNITS[ch]
            digit = None
        else:
            return None
    return total + (digit or 0) if word else None


def _sino_dates(text: str) -> str:
    if "년" not in text and "월" not in text:
        return text

    def year(m: re.Match[str]) -> str:
        n = sino_number(m.group(1))
        return str(n) if n is not None and 1900 <= n <= 2099 else m.group(0)

    def month(m: re.Match[str]) -> str:
        word = m.group(1)
        return str(_IRREGULAR_MONTHS.get(word) or sino_number(word))

    def day(m: re.Match[str]) -> str:
        n = sino_number(m.group(2))
        return m.group(1) + str(n) if n is not None and 1 <= n <= 31 else m.group(0)

    text = _SINO_YEAR_RE.sub(year, text)
    text = _SINO_MONTH_RE.sub(month, text)
    return _SINO_DAY_RE.sub(day, text)


def _full_year(match: re.Match[str]) -> str:
    digits = match.group(1)
    return "20" + digits if "15" <= digits <= "29" else digits


# Where Hangul and Latin letters meet inside a word ('사람들이sns에뭐라고했어', 'pc카톡'):
# two words, as they would be read; a particle right after the Latin letters stays with
# them ('sns에뭐라고' -> 'sns에 뭐라고', '카카오T는왜' -> '카카오 t는 왜', 'sns에는' whole).
_HANGUL_BEFORE_LATIN_RE = re.compile(r"(?<=[가-힣])(?=[a-z])")
_LATIN_THEN_HANGUL_RE = re.compile(r"(?<=[a-z])([가-힣]+)")


def _after_latin(match: re.Match[str]) -> str:
    hangul = match.group(1)
    for particle in _PARTICLES:
        if hangul.startswith(particle):
            rest = hangul[len(particle) :]
            return f"{particle} {rest}" if rest else hangul
    return f" {hangul}"


# ... and where a number meets Hangul ('안된날이2020년몇월며칠이야' -> '안된날이 2020년
# 몇월며칠이야', '2일오전8시' -> '2일 오전 8시'): a number and its unit are a word of their
# own; what belongs to the unit stays with it (see _KEEP_AFTER_UNIT).
_HANGUL_BEFORE_DIGIT_RE = re.compile(r"(?<=[가-힣])(?=\d)")
_UNIT_THEN_HANGUL_RE = re.compile(r"(?<=\d)(년|월|일|시간|시|분|명|번)([가-힣]{2,})")


# What may follow a unit as part of its word: a particle, the copula ('10시17분이었어',
# '41분인가요'), 까지/부터/째/반 ... ('8시58분까지', '2번째', '1시간반'), or a day in
# number words ('3월이십일'). Anything else after the unit is the next word ('2일오전').
_KEEP_AFTER_UNIT = tuple(
    sorted(
        {
            *_PARTICLES,
            *("까지", "부터", "쯤", "경", "께", "동안", "정도", "이후", "이전", "만에"),
            *("넘게", "가량", "째", "반", "간", "이", "였", "인", "입", "임", "일", "십"),
        },
        key=len,
        reverse=True,
    )
)


def _after_unit(match: re.Match[str]) -> str:
    unit, hangul = match.groups()
    if hangul.startswith(_KEEP_AFTER_UNIT):
        return match.group(0)
    return f"{unit} {hangul}"


def _part_scripts(text: str) -> str:
    text = _LATIN_THEN_HANGUL_RE.sub(_after_latin, _HANGUL_BEFORE_LATIN_RE.sub(" ", text))
    if not any(ch.isdigit() for ch in text):
        return text
    return _UNIT_THEN_HANGUL_RE.sub(_after_unit, _HANGUL_BEFORE_DIGIT_RE.sub(" ", text))


def clean(text: str) -> str:
    """NFKC, case folding, noise removal and elongation squeezing, in that order; then
    the spelling slips and glued words people type in a hurry."""
    squeezed = squeeze_repeats(strip_noise(nfkc(text)))
    spaced = _GLUED_NEGATION_RE.sub(" ", _PHRASAL_RE.sub("login", squeezed))
    spaced = _part_scripts(spaced)
    spelled = _MISSED_SHIFT_RE.sub(lambda m: with_double_final(m.group(1)) or "", spaced)
    spelled = _SHORT_YEAR_RE.sub(_full_year, _sino_dates(spelled))
    return _WHAT_MATTER_RE.sub("무슨 ", spelled)


@dataclass(frozen=True)
class Normalized:
    """A text in every form the matcher compares."""

    original: str
    cleaned: str
    words: tuple[str, ...]
    stems: tuple[str, ...]
    compact: str
    jamo: str
    english: bool

    @property
    def is_empty(self) -> bool:
        return not self.compact


def normalize(text: str) -> Normalized:
    """Run the whole pipeline on one text."""
    cleaned = clean(text)
    words = tuple(cleaned.split())
    stems = tuple(s for w in words for s in split_word(w))
    compact = "".join(stems)
    return Normalized(
        original=text,
        cleaned=cleaned,
        words=words,
        stems=stems,
        compact=compact,
        jamo=to_jamo(compact),
        english=is_mostly_latin(cleaned),
    )
