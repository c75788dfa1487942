"""Splitting long texts for Telegram: examples a reader can check by eye, then properties over generated texts."""

import re
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bots.telegram.text import TELEGRAM_TEXT_LIMIT, split_text, utf16_len

# -- examples ----------------------------------------------------------------------------------------------------


def test_a_text_that_fits_is_sent_as_it_is():
    text = "  Flood warning\n\nMove to higher ground.  "
    assert split_text(text) == [text]
    assert split_text("") == []
    assert split_text(" \n\n ") == []


def test_the_cut_prefers_a_paragraph_then_a_line_then_a_space():
    paragraph = "word " * 150  # 750 characters
    text = f"{paragraph.strip()}\n\n{paragraph.strip()}\nshort line\n{paragraph.strip()}"
    parts = split_text(text, limit=1000)
    assert parts[0] == paragraph.strip()  # at the blank line, although more would fit
    assert parts[1] == f"{paragraph.strip()}\nshort line"  # at the line break
    assert parts[2] == paragraph.strip()


def test_a_paragraph_break_that_leaves_the_part_nearly_empty_gives_way_to_a_line_or_space():
    text = "Alert: Flood\n\n" + " ".join(f"w{i}" for i in range(400))
    parts = split_text(text, limit=200)
    assert parts[0].startswith("Alert: Flood\n\nw0 w1")
    assert all(len(part) <= 200 for part in parts)


def test_only_a_word_longer_than_a_message_is_cut():
    long_word = "x" * 25
    parts = split_text(f"aa bb {long_word} cc", limit=10)
    assert parts == ["aa bb", "x" * 10, "x" * 10, "xxxxx cc"]


def test_length_is_counted_as_telegram_counts_it_in_utf16_units():
    flood = "🌊"  # outside the BMP: two UTF-16 units
    assert utf16_len(flood) == 2
    parts = split_text(" ".join([flood * 3] * 10), limit=13)
    assert all(utf16_len(part) <= 13 for part in parts)
    assert parts[0] == f"{flood * 3} {flood * 3}"


def test_html_tags_are_closed_at_a_cut_and_reopened_with_their_attributes():
    text = '<b>Evacuate</b> <a href="https://example.org/map">see the map of the zones now</a> and go.'
    parts = split_text(text, limit=72, parse_mode="HTML")
    assert parts == [
        '<b>Evacuate</b> <a href="https://example.org/map">see the map of the</a>',  # 72 with the closing tag
        '<a href="https://example.org/map">zones now</a> and go.',
    ]


def test_html_entities_and_tags_are_never_broken():
    text = "<i>" + " ".join(["AT&amp;T"] * 30) + "</i>"
    for limit in range(20, 60):
        for part in split_text(text, limit=limit, parse_mode="HTML"):
            assert len(part) <= limit
            assert part.startswith("<i>")
            assert part.endswith("</i>")
            assert re.fullmatch(r"<i>(AT&amp;T ?)+</i>", part), part


def test_a_cut_next_to_a_tag_leaves_no_empty_element():
    text = "one two <b>three four</b> five"
    parts = split_text(text, limit=17, parse_mode="HTML")
    assert "<b></b>" not in "".join(parts)
    assert parts == ["one two", "<b>three four</b>", "five"]


def test_a_limit_too_small_for_the_markup_is_refused():
    with pytest.raises(ValueError, match="too small"):
        split_text('<a href="https://example.org/a-long-address">link text</a>', limit=20, parse_mode="HTML")


# -- properties: plain text --------------------------------------------------------------------------------------

WORD = st.text(alphabet="abcdeé🌊", min_size=1, max_size=30)
SPACE = st.sampled_from([" ", " ", " ", "  ", "\n", "\n\n", "\n \n"])


@st.composite
def texts(draw: st.DrawFn) -> str:
    words = draw(st.lists(WORD, min_size=1, max_size=120))
    pieces = [words[0]]
    for word in words[1:]:
        pieces += [draw(SPACE), word]
    return "".join(pieces)


def _normalised(text: str) -> str:
    return " ".join(text.split())


@settings(max_examples=300, deadline=None)
@given(text=texts(), limit=st.integers(min_value=8, max_value=300))
def test_plain_parts_fit_lose_nothing_and_break_no_word(text: str, limit: int) -> None:
    parts = split_text(text, limit=limit)
    assert parts, "a text with words gives at least one part"
    assert all(0 < utf16_len(part) <= limit for part in parts)
    assert all(part.strip() == part for part in parts) or parts == [text]
    # Nothing lost, nothing added, in order.
    assert "".join("".join(part.split()) for part in parts) == "".join(text.split())
    words = text.split()
    long_words = [word for word in words if utf16_len(word) > limit]
    if not long_words:
        assert _normalised(" ".join(parts)) == _normalised(text)  # every word whole, in order
    for part in parts:
        for word in part.split():
            assert word in words or any(word in long_word for long_word in long_words)


@settings(max_examples=100, deadline=None)
@given(text=texts())
def test_default_limit_is_telegrams(text: str) -> None:
    parts = split_text(text * 50)
    assert all(utf16_len(part) <= TELEGRAM_TEXT_LIMIT for part in parts)


# -- properties: HTML --------------------------------------------------------------------------------------------

TAGS = [
    ("<b>", "</b>"),
    ("<i>", "</i>"),
    ("<u>", "</u>"),
    ("<s>", "</s>"),
    ('<span class="tg-spoiler">', "</span>"),
    ('<a href="https://example.org/?a=1&amp;b=2">', "</a>"),
    ("<code>", "</code>"),
    ("<blockquote>", "</blockquote>"),
]
HTML_WORD = st.lists(st.sampled_from(["ab", "é", "&amp;", "&lt;", "&#127754;", "🌊", "x"]), min_size=1, max_size=6).map(
    "".join
)


def html_trees(depth: int = 3) -> st.SearchStrategy[str]:
    leaf = st.lists(HTML_WORD, min_size=1, max_size=8).flatmap(
        lambda words: st.lists(SPACE, min_size=len(words), max_size=len(words)).map(
            lambda spaces: "".join(word + space for word, space in zip(words, spaces, strict=True))
        )
    )

    def wrap(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        element = st.tuples(st.sampled_from(TAGS), children).map(lambda pair: pair[0][0] + pair[1] + pair[0][1])
        return st.lists(st.one_of(element, leaf), min_size=1, max_size=5).map("".join)

    return st.recursive(leaf, wrap, max_leaves=25)


class _Formatting(HTMLParser):
    """Each visible character with the tags open around it; fails on markup Telegram would refuse."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.characters: list[tuple[str, tuple[str, ...]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack.append(self.get_starttag_text() or tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack, f"</{tag}> closes nothing"
        assert self.stack[-1].startswith(f"<{tag}"), f"</{tag}> closes {self.stack[-1]}"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.characters += [(char, tuple(self.stack)) for char in data if not char.isspace()]


def formatting(html: str) -> list[tuple[str, tuple[str, ...]]]:
    parser = _Formatting()
    parser.feed(html)
    parser.close()
    assert not parser.stack, f"left open: {parser.stack}"
    return parser.characters


def deepest_markup(html: str) -> int:
    """The most UTF-16 units that reopening and closing the tags open at one point takes."""
    parser = _Formatting()
    deepest = 0
    original = parser.handle_starttag

    def opened(tag: str, attrs: list[tuple[str, str | None]]) -> None:
        nonlocal deepest
        original(tag, attrs)
        deepest = max(deepest, sum(utf16_len(raw) + len(raw.split()[0].strip("<>")) + 3 for raw in parser.stack))

    parser.handle_starttag = opened  # type: ignore[method-assign] # measure while parsing
    parser.feed(html)
    return deepest


@settings(max_examples=300, deadline=None)
@given(html=html_trees(), room=st.integers(min_value=0, max_value=300))
def test_html_parts_are_whole_markup_with_the_same_formatting(html: str, room: int) -> None:
    # Any limit that leaves room for the deepest markup and the longest word's first piece (9 units: &#127754;).
    limit = deepest_markup(html) + 9 + room
    parts = split_text(html, limit=limit, parse_mode="HTML")
    assert all(utf16_len(part) <= limit for part in parts)
    # Each part is well-formed on its own (formatting() asserts it), and every visible character keeps exactly
    # the tags around it that it had, in the same order.
    assert [item for part in parts for item in formatting(part)] == formatting(html)
    for part in parts:
        assert re.search(r"&[a-z#0-9]*$", part) is None, "an entity cut at the end"
        assert re.search(r"<[^>]*$", part) is None, "a tag cut at the end"
