"""Entity mentions: find the services and things a question names, whatever nickname is used.

A mention is replaced by one private-use character per entity, so '카톡', '카카오톡' and
'kakaotalk' all read the same to the matcher and weigh as little as one letter.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.language.normalize import clean, plausible_name_slip

_PLACEHOLDER_BASE = 0xE000
# Particles that may stick to a mention ('카스는', '플친도'): consumed with it.
_TRAILING_PARTICLE = (
    r"(?:에서는|에서도|으로는|으로도|으로만|이랑|하고|에서|에선|에는|에도|은요|는요|으로|로도|로만"
    r"|은|는|이|가|을|를|에|의|도|로|와|과|랑|만)?"
)
# Particles that also come off when the next word follows without a space ('카톡도먹통',
# '카스는언제'); not 이/가/의/에/로/와/과, which begin words too ('카톡이용시간', '카카오의문').
_GLUED_PARTICLE = (
    r"(?:에서는|에서도|에서만|에서|에게|한테|보다|처럼|까지|부터|이랑|도|는|은|를|을|만|랑)"
)


_MIN_SLIP_NAME = 3
_HANGUL_WORD_RE = re.compile(r"^[가-힣]+$")
_PARTICLE_END_RE = re.compile(_TRAILING_PARTICLE.removesuffix("?") + "$")


def _masks(word: str) -> list[str]:
    """The word with each of its letters in turn replaced by '?'."""
    return [f"{word[:n]}?{word[n + 1 :]}" for n in range(len(word))]


@dataclass(frozen=True)
class EntityMention:
    entity_id: str
    text: str


def placeholder(index: int) -> str:
    """The character that stands for the entity with this index."""
    return chr(_PLACEHOLDER_BASE + index)


def is_placeholder(ch: str) -> bool:
    return len(ch) == 1 and _PLACEHOLDER_BASE <= ord(ch) < _PLACEHOLDER_BASE + 0x1000


def _pattern(synonym: str) -> str | None:
    cleaned = clean(synonym)
    letters = cleaned.replace(" ", "")
    if not letters:
        return None
    body = r"\s*".join(re.escape(ch) for ch in letters)
    if letters.isascii():
        # English plurals too: 'gifts', 'emoticons'.
        return rf"(?<![a-z0-9]){body}(?:s|es)?(?![a-z0-9])"
    if len(letters) == 1:
        # A one-syllable nickname ('폰', '톡') only counts as a word of its own.
        return rf"(?<![가-힣]){body}{_TRAILING_PARTICLE}(?![가-힣])"
    # A name ending in a Latin letter ('카카오T') is no part of a longer Latin word
    # ('카카오TV').
    bare = rf"{body}(?![a-z0-9])" if letters[-1].isascii() else body
    return rf"{body}{_TRAILING_PARTICLE}(?=\s|$)|{body}{_GLUED_PARTICLE}(?=[가-힣])|{bare}"


class EntityRecognizer:
    """Finds entity mentions in cleaned text and replaces them by placeholders."""

    def __init__(self, entities: Iterable[tuple[str, Iterable[str]]]) -> None:
        self.ids: list[str] = []
        # (letters without spaces, entity index, pattern), longest names first so that
        # '카카오스토리' wins over '카카오'.
        self._alternatives: list[tuple[str, int, str]] = []
        for index, (entity_id, names) in enumerate(entities):
            self.ids.append(entity_id)
            for name in names:
                pattern = _pattern(name)
                if pattern is not None:
                    letters = clean(name).replace(" ", "")
                    self._alternatives.append((letters, index, pattern))
        self._alternatives.sort(key=lambda item: -len(item[0]))
        self._compiled = [re.compile(pattern) for _, _, pattern in self._alternatives]
        # Korean names of three syllables or more, by length, for slips ('톡채녈'): shorter
        # names are too close to ordinary words for a one-letter slip to be a name.
        # Each such name under each of its letters masked ('톡?널'): a word's own masks
        # then find the names one letter away in a few lookups.
        self._names: set[str] = set()
        self._by_mask: dict[str, list[str]] = {}
        for letters, _index, _pattern_text in self._alternatives:
            if len(letters) >= _MIN_SLIP_NAME and _HANGUL_WORD_RE.match(letters):
                self._names.add(letters)
                for mask in _masks(letters):
                    self._by_mask.setdefault(mask, []).append(letters)

    def _present(self, compact: str) -> list[int]:
        """The names whose letters occur in the text (longest first): a few substring
        tests are much cheaper than running every name's pattern over every text."""
        return [n for n, (letters, _, _) in enumerate(self._alternatives) if letters in compact]

    def replace(self, cleaned: str) -> tuple[str, list[EntityMention]]:
        """Replace mentions in already cleaned text; return the new text and the mentions.

        As one alternation of the present names, longest first, scanned left to right:
        where several names match at one place the longest wins, and matches never
        overlap. Each name's pattern is compiled once, when the recognizer is built (a
        regex compiled per question cost a millisecond for every new question)."""
        if self._names:
            cleaned = self._correct_slips(cleaned)
        present = self._present(cleaned.replace(" ", ""))
        if not present:
            return cleaned, []
        found: list[tuple[int, int, int, int]] = []  # start, rank, end, alternative
        for rank, n in enumerate(present):
            found.extend(
                (m.start(), rank, m.end(), n) for m in self._compiled[n].finditer(cleaned)
            )
        found.sort()
        mentions: list[EntityMention] = []
        pieces: list[str] = []
        position = 0
        for start, _rank, end, n in found:
            if start < position or end == start:
                continue  # inside a name already taken, or an empty match
            index = self._alternatives[n][1]
            pieces += [cleaned[position:start], f" {placeholder(index)} "]
            mentions.append(EntityMention(self.ids[index], cleaned[start:end]))
            position = end
        pieces.append(cleaned[position:])
        return " ".join("".join(pieces).split()), mentions

    def _correct_slips(self, text: str) -> str:
        """Words that are a name with one plausible slip, alone or with a particle
        ('톡채녈도', '카카오스토르는'), spelt as the name: the exact pass then finds them
        (and a shorter name inside them, '카카오', no longer takes them)."""
        words = text.split()
        changed = False
        for n, word in enumerate(words):
            if len(word) < _MIN_SLIP_NAME or not _HANGUL_WORD_RE.match(word):
                continue
            bare = _PARTICLE_END_RE.sub("", word)
            for core in dict.fromkeys((word, bare)):
                if core in self._names:
                    break  # a name as it is
                name = next(
                    (
                        letters
                        for mask in _masks(core)
                        for letters in self._by_mask.get(mask, ())
                        if plausible_name_slip(core, letters)
                    ),
                    None,
                )
                if name is not None:
                    words[n] = name + word[len(core) :]
                    changed = True
                    break
        return " ".join(words) if changed else text
