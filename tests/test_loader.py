"""Broken knowledge files: each kind of mistake is refused with a message precise enough to fix
it (file, line, entry, field, what is wrong), and every problem is reported at once."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.errors import KnowledgeInvalid, KnowledgeProblem
from bot.knowledge.loader import load_knowledge, phrasing_key

YAML_NAME = "kakaotalk-outage-2020-03-02.yaml"
ARTICLE_NAME = "kakaotalk-outage-2020-03-02.txt"

Content = dict[str, Any] | str | bytes


@dataclass
class Expect:
    """The problem a broken file must produce."""

    message: str  # what is wrong (substring of the message)
    entry: str | None = None  # e.g. "intents[3] (id=outage_start)"
    field: str | None = None  # e.g. "phrasings"
    line: int | None = None  # exact line, when the case knows it
    line_text: str | None = None  # or: text found on the reported line of the file
    load_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    extra: Callable[[Path], None] | None = None  # prepares files beside the knowledge folder


@dataclass
class Case:
    build: Callable[[dict[str, Any], str], tuple[Content, Expect]]
    level: str  # "text": before YAML data exists; "schema": pydantic; "semantic": after


CASES: dict[str, Case] = {}


def case(level: str) -> Callable[[Callable[..., tuple[Content, Expect]]], Any]:
    def register(fn: Callable[..., tuple[Content, Expect]]) -> Any:
        CASES[fn.__name__.removeprefix("case_")] = Case(fn, level)
        return fn

    return register


def _label(data: dict[str, Any], section: str, index: int) -> str:
    return f"{section}[{index}] (id={data[section][index]['id']})"


def _line_number(text: str, line: str) -> int:
    """1-based number of the first line equal to `line`."""
    return text.splitlines().index(line) + 1


def _with_entity_answers(data: dict[str, Any], skip: int = 0) -> int:
    """Index of an intent that has entity answers (the `skip`-th such intent)."""
    found = [n for n, i in enumerate(data["intents"]) if i.get("entity_answers")]
    return found[skip]


# --- Problems found before there is any YAML data ------------------------------------------


@case("text")
def case_yaml_syntax_error(data: dict[str, Any], text: str) -> tuple[Content, Expect]:
    line = _line_number(text, "  title: 개요")
    lines = text.splitlines(keepends=True)
    lines[line - 1] = "  title: 개요: 잘못 들어간 콜론\n"
    return "".join(lines), Expect(message="YAML error", line=line)


@case("text")
def case_duplicate_yaml_key(data: dict[str, Any], text: str) -> tuple[Content, Expect]:
    # A second `title:` in the same entry: PyYAML alone would keep the last one silently.
    line = _line_number(text, "  title_en: Overview") + 1
    lines = text.splitlines(keepends=True)
    lines.insert(line - 1, "  title: 두 번째 제목\n")
    return "".join(lines), Expect(message="duplicate key 'title'", line=line)


@case("text")
def case_not_utf8(data: dict[str, Any], text: str) -> tuple[Content, Expect]:
    line = _line_number(text, "  title: 개요")
    lines = [t.encode("utf-8") for t in text.splitlines(keepends=True)]
    lines[line - 1] = "  title: 개요\n".encode("euc-kr")
    return b"".join(lines), Expect(message="not valid UTF-8", line=line)


@case("text")
def case_file_too_large(data: dict[str, Any], text: str) -> tuple[Content, Expect]:
    size = len(text.encode("utf-8"))
    return text, Expect(
        message=f"file is {size} bytes, over the limit of 1000 bytes",
        load_kwargs={"max_file_bytes": 1000},
    )


@case("text")
def case_too_many_aliases(data: dict[str, Any], text: str) -> tuple[Content, Expect]:
    bomb = (
        "lol1: &l1 [lol, lol, lol]\n"
        "lol2: &l2 [*l1, *l1, *l1]\n"  # aliases 1-3
        "lol3: &l3 [*l2, *l2, *l2]\n"  # aliases 4-6: the 5th is over the limit of 4
        "lol4: [*l3, *l3, *l3]\n"
    )
    text = text if text.endswith("\n") else text + "\n"
    bomb_line = len(text.splitlines()) + 3
    return text + bomb, Expect(
        message="too many YAML aliases (more than 4)",
        line=bomb_line,
        load_kwargs={"max_aliases": 4},
    )


# --- Problems found by the schema ----------------------------------------------------------


@case("schema")
def case_wrong_type(data: dict[str, Any], text: str) -> tuple[Content, Expect]:
    data["intents"][1]["phrasings"] = "카카오 종목코드가 뭐예요?"
    return data, Expect(
        message="valid list",
        entry=_label(data, "intents", 1),
        field="phrasings",
        line_text="phrasings: 카카오 종목코드가 뭐예요?",
    )


@case("schema")
def case_unknown_field(data: dict[str, Any], text: str) -> tuple[Content, Expect]:
    data["intents"][2]["answer_kr"] = "2020년 3월 2일입니다."
    return data, Expect(
        message="unknown field",
        entry=_label(data, "intents", 2),
        field="answer_kr",
        line_text="answer_kr:",
    )


@case("schema")
def case_missing_field(data: dict[str, Any], text: str) -> tuple[Content, Expect]:
    del data["intents"][3]["answer"]
    return data, Expect(
        message="required field is missing",
        entry=_label(data, "intents", 3),
        field="answer",
        line_text=f"- id: {data['intents'][3]['id']}",  # the entry that lacks it
    )


@case("schema")
def case_empty_string(data: dict[str, Any], text: str) -> tuple[Content, Expect]:
    data["intents"][4]["question"] = "   "
    return data, Expect(
        message="must not be empty",
        entry=_label(data, "intents", 4),
        field="question",
        line_text="question:",
    )


@case("schema")
def case_empty_list(data: dict[str, Any], text: str) -> tuple[Content, Expect]:
    data["entities"][2]["synonyms"] = []
    return data, Expect(
        message="must not be an empty list",
        entry=_label(data, "entities", 2),
        field="synonyms",
        line_text="synonyms: []",
    )


@case("schema")
def case_bad_identifier(data: dict[str, Any], text: str) -> tuple[Content, Expect]:
    data["categories"][1]["id"] = "Timeline Category"
    return data, Expect(
        message="should match pattern",
        entry="categories[1] (id=Timeline Category)",
        field="id",
        line_text="id: Timeline Category",
    )


# --- Problems found after validation: duplicates, references, quotes, source -------------


@case("semantic")
def case_duplicate_intent_id(data: dict[str, Any], text: str) -> tuple[Content, Expect]:
    first = data["intents"][5]["id"]
    data["intents"][6]["id"] = first
    return data, Expect(
        message=f"duplicate id '{first}' (first used by intents[5])",
        entry=f"intents[6] (id={first})",
        field="id",
    )


@case("semantic")
def case_duplicate_entity_id(data: dict[str, Any], text: str) -> tuple[Content, Expect]:
    first = data["entities"][4]["id"]
    data["entities"][5]["id"] = first
    return data, Expect(
        message=f"duplicate id '{first}' (first used by entities[4])",
        entry=f"entities[5] (id={first})",
        field="id",
    )


@case("semantic")
def case_duplicate_phrasing(data: dict[str, Any], text: str) -> tuple[Content, Expect]:
    original = data["intents"][7]["phrasings"][1]
    # Same phrasing, spaced and punctuated differently: still the same question.
    variant = original.replace(" ", "") + "!!"
    assert phrasing_key(variant) == phrasing_key(original)
    phrasings = data["intents"][8]["phrasings"]
    phrasings.append(variant)
    return data, Expect(
        message=f"is also a phrasing of intent '{data['intents'][7]['id']}'",
        entry=_label(data, "intents", 8),
        field=f"phrasings[{len(phrasings) - 1}]",
        line_text=variant,
    )


@case("semantic")
def case_related_intent_missing(data: dict[str, Any], text: str) -> tuple[Content, Expect]:
    related = data["intents"][10].setdefault("related", [])
    related.append("no_such_intent")
    return data, Expect(
        message="related intent 'no_such_intent' does not exist",
        entry=_label(data, "intents", 10),
        field=f"related[{len(related) - 1}]",
        line_text="- no_such_intent",
    )


@case("semantic")
def case_entity_answer_entity_missing(data: dict[str, Any], text: str) -> tuple[Content, Expect]:
    n = _with_entity_answers(data, 0)
    data["intents"][n]["entity_answers"][0]["entity"] = "no_such_entity"
    return data, Expect(
        message="entity 'no_such_entity' does not exist",
        entry=_label(data, "intents", n),
        field="entity_answers[0].entity",
        line_text="entity: no_such_entity",
    )


@case("semantic")
def case_default_intent_missing(data: dict[str, Any], text: str) -> tuple[Content, Expect]:
    data["entities"][3]["default_intent"] = "no_such_intent"
    return data, Expect(
        message="default intent 'no_such_intent' does not exist",
        entry=_label(data, "entities", 3),
        field="default_intent",
        line_text="default_intent: no_such_intent",
    )


@case("semantic")
def case_category_missing(data: dict[str, Any], text: str) -> tuple[Content, Expect]:
    data["intents"][11]["category"] = "no_such_category"
    return data, Expect(
        message="category 'no_such_category' is not defined in categories",
        entry=_label(data, "intents", 11),
        field="category",
        line_text="category: no_such_category",
    )


@case("semantic")
def case_quote_not_verbatim(data: dict[str, Any], text: str) -> tuple[Content, Expect]:
    quotes = data["intents"][12]["quotes"]
    # One character off: a paraphrase, not a quote.
    quotes[0] = quotes[0][:-1] + ("요" if quotes[0][-1] != "요" else "다")
    return data, Expect(
        message=f"quote is not verbatim in {ARTICLE_NAME}",
        entry=_label(data, "intents", 12),
        field="quotes[0]",
        line_text=quotes[0][:30],
    )


@case("semantic")
def case_entity_answer_quote_not_verbatim(
    data: dict[str, Any], text: str
) -> tuple[Content, Expect]:
    n = _with_entity_answers(data, 1)
    quotes = data["intents"][n]["entity_answers"][0]["quotes"]
    quotes.append("카카오톡은 이날 하루 종일 멈췄다.")
    return data, Expect(
        message=f"quote is not verbatim in {ARTICLE_NAME}: '카카오톡은 이날 하루 종일 멈췄다.'",
        entry=_label(data, "intents", n),
        field=f"entity_answers[0].quotes[{len(quotes) - 1}]",
        line_text="카카오톡은 이날 하루 종일 멈췄다.",
    )


@case("semantic")
def case_source_document_missing(data: dict[str, Any], text: str) -> tuple[Content, Expect]:
    data["incident"]["source"]["document"] = "no-such-article.txt"
    return data, Expect(
        message="cannot read the source document no-such-article.txt",
        entry="incident",
        field="source.document",
        line_text="document: no-such-article.txt",
    )


def _article_beside(folder: Path) -> None:
    """A real copy of the article just outside the knowledge folder."""
    (folder.parent / "outside.txt").write_bytes((folder / ARTICLE_NAME).read_bytes())


@case("semantic")
def case_source_document_outside(data: dict[str, Any], text: str) -> tuple[Content, Expect]:
    data["incident"]["source"]["document"] = "../outside.txt"
    return data, Expect(
        message="the source document must be inside the knowledge folder",
        entry="incident",
        field="source.document",
        line_text="document: ../outside.txt",
        extra=_article_beside,
    )


@case("semantic")
def case_source_document_absolute(data: dict[str, Any], text: str) -> tuple[Content, Expect]:
    data["incident"]["source"]["document"] = "/etc/hostname"
    return data, Expect(
        message="the source document must be inside the knowledge folder",
        entry="incident",
        field="source.document",
        line_text="document: /etc/hostname",
    )


# --- Helpers -------------------------------------------------------------------------------


def _load_problems(folder: Path, **kwargs: Any) -> list[KnowledgeProblem]:
    with pytest.raises(KnowledgeInvalid) as info:
        load_knowledge([folder], **kwargs)
    problems = info.value.problems
    assert problems, "KnowledgeInvalid must carry its problems"
    assert str(info.value) == "\n".join(str(p) for p in problems)
    return problems


def _matching(problems: list[KnowledgeProblem], expect: Expect) -> KnowledgeProblem:
    found = [
        p
        for p in problems
        if expect.message in p.message
        and expect.entry in (None, p.entry)
        and expect.field in (None, p.field)
    ]
    assert found, f"no problem says {expect.message!r}; got:\n" + "\n".join(map(str, problems))
    return found[0]


def _check_problem(problem: KnowledgeProblem, expect: Expect, folder: Path) -> None:
    text = str(problem)
    assert YAML_NAME in text, text
    assert Path(problem.file).name == YAML_NAME
    assert expect.message in text
    if expect.entry is not None:
        assert problem.entry == expect.entry
        assert f": {expect.entry}: " in text
    if expect.field is not None:
        assert problem.field == expect.field
        assert f"field '{expect.field}'" in text
    if expect.line is not None:
        assert problem.line == expect.line
        assert f"{YAML_NAME}:{expect.line}: " in text
    if expect.line_text is not None:
        assert problem.line is not None, text
        lines = (folder / YAML_NAME).read_text(encoding="utf-8").splitlines()
        assert expect.line_text in lines[problem.line - 1], (problem.line, text)


# --- Tests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(CASES))
def test_broken_file_is_refused_with_a_precise_problem(
    kind: str,
    knowledge_data: dict[str, Any],
    shipped_yaml_text: str,
    make_knowledge: Callable[..., Path],
) -> None:
    content, expect = CASES[kind].build(knowledge_data, shipped_yaml_text)
    folder = make_knowledge(content, name="knowledge")
    if expect.extra is not None:
        expect.extra(folder)
    problems = _load_problems(folder, **expect.load_kwargs)
    _check_problem(_matching(problems, expect), expect, folder)


def test_every_case_starts_from_valid_knowledge(
    knowledge_data: dict[str, Any], make_knowledge: Callable[..., Path]
) -> None:
    # The dumped, unmutated copy loads: each case's failure is due to its own mutation.
    folder = make_knowledge(knowledge_data)
    assert len(load_knowledge([folder]).intents) == len(knowledge_data["intents"])


COMBINABLE = {
    level: [name for name, c in CASES.items() if c.level == level]
    for level in ("schema", "semantic")
}
# The three document cases break the same field, and quotes cannot be checked without the
# source document: leave those out of combinations.
_NO_DOCUMENT = {"source_document_missing", "source_document_outside", "source_document_absolute"}
# Each case together with the next one of its level: every case is combined at least once,
# with a different section or kind of check each time.
PAIRS = [
    pytest.param(a, b, id=f"{a}+{b}")
    for level in ("schema", "semantic")
    for a, b in itertools.pairwise(COMBINABLE[level])
    if not ({a, b} <= _NO_DOCUMENT or ({a, b} & _NO_DOCUMENT and "quote" in a + b))
]


@pytest.mark.parametrize(("first", "second"), PAIRS)
def test_two_problems_in_one_file_are_both_reported(
    first: str,
    second: str,
    knowledge_data: dict[str, Any],
    shipped_yaml_text: str,
    make_knowledge: Callable[..., Path],
) -> None:
    data, expect_first = CASES[first].build(knowledge_data, shipped_yaml_text)
    assert isinstance(data, dict)
    data, expect_second = CASES[second].build(data, shipped_yaml_text)
    assert isinstance(data, dict)
    folder = make_knowledge(data, name="knowledge")
    for expect in (expect_first, expect_second):
        if expect.extra is not None:
            expect.extra(folder)
    problems = _load_problems(folder)
    for expect in (expect_first, expect_second):
        _check_problem(_matching(problems, expect), expect, folder)


def test_all_semantic_problems_are_reported_at_once(
    knowledge_data: dict[str, Any],
    shipped_yaml_text: str,
    make_knowledge: Callable[..., Path],
) -> None:
    data: Any = knowledge_data
    expects = []
    for name in COMBINABLE["semantic"]:
        if name in _NO_DOCUMENT:
            continue
        data, expect = CASES[name].build(data, shipped_yaml_text)
        expects.append(expect)
    folder = make_knowledge(data, name="knowledge")
    problems = _load_problems(folder)
    for expect in expects:
        _check_problem(_matching(problems, expect), expect, folder)
    assert len(problems) >= len(expects)
    assert len(set(problems)) == len(problems), "a problem is reported twice"


def test_problems_of_several_files_are_all_reported(
    knowledge_data: dict[str, Any],
    shipped_yaml_text: str,
    make_knowledge: Callable[..., Path],
) -> None:
    folder = make_knowledge(shipped_yaml_text, name="knowledge")
    # A second file: the same incident again, with a syntax error of its own.
    broken, expect_syntax = CASES["yaml_syntax_error"].build(knowledge_data, shipped_yaml_text)
    assert isinstance(broken, str)
    (folder / "zz-second.yaml").write_text(broken, encoding="utf-8")
    # A third file: a copy of the valid one, so every id is defined twice.
    (folder / "aa-copy.yml").write_text(shipped_yaml_text, encoding="utf-8")
    problems = _load_problems(folder)
    files = {Path(p.file).name for p in problems}
    assert files == {"zz-second.yaml", YAML_NAME}
    syntax = [p for p in problems if Path(p.file).name == "zz-second.yaml"]
    assert [p.line for p in syntax] == [expect_syntax.line]
    first_intent = knowledge_data["intents"][0]["id"]
    assert any(
        f"intent id '{first_intent}' is also defined in" in p.message and "aa-copy.yml" in str(p)
        for p in problems
    )


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        pytest.param(lambda d: None, "no knowledge files found", id="empty-folder"),
        pytest.param(
            lambda d: (d / YAML_NAME).write_text("   \n\n", encoding="utf-8"),
            "file is empty",
            id="blank-file",
        ),
        pytest.param(
            lambda d: (d / YAML_NAME).write_text("- just\n- a list\n", encoding="utf-8"),
            "must be a YAML mapping",
            id="not-a-mapping",
        ),
    ],
)
def test_folder_without_usable_knowledge_is_refused(
    tmp_path: Path, setup: Callable[[Path], object], message: str
) -> None:
    setup(tmp_path)
    problems = _load_problems(tmp_path)
    assert len(problems) == 1
    assert message in str(problems[0])
