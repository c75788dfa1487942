"""Cutting a long text into Telegram messages: at paragraphs, then lines, then spaces, never inside a word, and in
HTML never inside a tag or an entity, with the formatting closed at the end of a part and reopened in the next.

Lengths are counted in UTF-16 code units, as Telegram counts them, and in HTML the markup counts too: Telegram
counts only the visible text, so every part is safely within its limit whatever it holds.
"""

import re
from dataclasses import dataclass

TELEGRAM_TEXT_LIMIT = 4096

_BREAKS = ("\n\n", "\n", " ")  # best first
_NO_BREAK = frozenset("\u00a0\u2007\u202f\u2060\ufeff")  # spaces that must not become a cut
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)\b[^<>]*>")
_ENTITY = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[a-zA-Z][a-zA-Z0-9]*);")


def utf16_len(text: str) -> int:
    """Telegram's length of a text: UTF-16 code units (a character outside the BMP, like most emoji, counts 2)."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def split_text(text: str, *, limit: int = TELEGRAM_TEXT_LIMIT, parse_mode: str | None = None) -> list[str]:
    """The parts to send, in order; [] for a blank text, [text] unchanged when it fits.

    Each part is at most `limit` UTF-16 code units. A cut falls on the last paragraph break that fits, else the
    last line break, else the last space; only a single word longer than a part is cut inside. The whitespace at a
    cut is dropped. With parse_mode "HTML" tags and entities stay whole, and the tags open at a cut are closed at
    the end of the part and opened again, with their attributes, at the start of the next.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    if not text.strip():
        return []
    if utf16_len(text) <= limit:
        return [text]
    html = (parse_mode or "").upper() == "HTML"
    return _split_atoms(_html_atoms(text) if html else [_Atom(char) for char in text], limit)


@dataclass(frozen=True, slots=True)
class _Atom:
    """One indivisible piece: a character, an HTML entity, or a tag (`opens`/`closes` name it)."""

    raw: str
    opens: str = ""
    closes: str = ""

    @property
    def is_tag(self) -> bool:
        return bool(self.opens or self.closes)

    @property
    def is_space(self) -> bool:
        return not self.is_tag and self.raw.isspace() and self.raw not in _NO_BREAK

    @property
    def is_visible(self) -> bool:
        return not self.is_tag and not self.is_space


def _html_atoms(text: str) -> list[_Atom]:
    atoms: list[_Atom] = []
    position = 0
    while position < len(text):
        char = text[position]
        match = None
        if char == "<":
            match = _TAG.match(text, position)
            if match is not None:
                name = match.group(2).lower()
                closing = bool(match.group(1))
                atoms.append(_Atom(match.group(0), opens="" if closing else name, closes=name if closing else ""))
        elif char == "&":
            match = _ENTITY.match(text, position)
            if match is not None:
                atoms.append(_Atom(match.group(0)))
        if match is None:
            atoms.append(_Atom(char))
            position += 1
        else:
            position = match.end()
    return atoms


def _closing(stack: list[_Atom]) -> str:
    return "".join(f"</{tag.opens}>" for tag in reversed(stack))


def _split_atoms(atoms: list[_Atom], limit: int) -> list[str]:
    parts: list[str] = []
    stack: list[_Atom] = []  # tags open where the current part starts (reopened at its start)
    start = 0
    while True:
        # Leading whitespace of a part is the rest of a cut; tags closed right at the start cancel their reopening.
        while start < len(atoms) and (
            atoms[start].is_space or (stack and atoms[start].closes and atoms[start].closes == stack[-1].opens)
        ):
            if not atoms[start].is_space:
                stack.pop()
            start += 1
        if not any(atom.is_visible for atom in atoms[start:]):
            break  # only whitespace or empty markup is left
        end, next_stack = _part_end(atoms, start, stack, limit)
        body = atoms[start:end]
        # Tags opened at the very end of a part would be empty here: they open in the next part instead.
        open_here = list(stack)
        for atom in body:
            if atom.opens:
                open_here.append(atom)
            elif atom.closes and open_here and open_here[-1].opens == atom.closes:
                open_here.pop()
        while body and (body[-1].opens or body[-1].is_space):
            if body.pop().opens:
                open_here.pop()
        text = "".join(tag.raw for tag in stack) + "".join(atom.raw for atom in body) + _closing(open_here)
        if any(atom.is_visible for atom in body):
            parts.append(text)
        stack, start = next_stack, end
        if start >= len(atoms):
            break
    return parts


def _part_end(atoms: list[_Atom], start: int, stack: list[_Atom], limit: int) -> tuple[int, list[_Atom]]:
    """Where the part that starts at `start` ends (exclusive), and the tags open there."""
    used = sum(utf16_len(tag.raw) for tag in stack)
    open_tags = list(stack)
    closing = utf16_len(_closing(open_tags))
    best: dict[str, tuple[int, list[_Atom], int]] = {}  # break kind -> the latest cut of that kind that fits
    position = start
    while position < len(atoms):
        atom = atoms[position]
        if atom.is_space and position > start:
            kind = _break_kind(atoms, position)
            best[kind] = (position, list(open_tags), used)
        size = utf16_len(atom.raw)
        if atom.opens:
            after_closing = closing + len(atom.opens) + 3
        elif atom.closes and open_tags and open_tags[-1].opens == atom.closes:
            after_closing = closing - len(atom.closes) - 3
        else:
            after_closing = closing
        if used + size + after_closing > limit:
            break
        used += size
        closing = after_closing
        if atom.opens:
            open_tags.append(atom)
        elif atom.closes and open_tags and open_tags[-1].opens == atom.closes:
            open_tags.pop()
        position += 1
    else:
        return len(atoms), open_tags
    # The best kind of break, unless it leaves the part less than half full (a short headline alone in a message
    # costs the chat a second of its rate); then the best kind that does, and else the best kind there is.
    for kinds_wanted, fullness in ((_BREAKS, limit // 2), (_BREAKS, 0)):
        for kind in kinds_wanted:
            if kind in best and best[kind][2] >= fullness:
                return best[kind][0], best[kind][1]
    if position == start:
        raise ValueError(f"limit {limit} is too small for the markup open at this point")
    return position, open_tags  # one word longer than a part: the only thing cut


def _break_kind(atoms: list[_Atom], position: int) -> str:
    """The kind of break a whitespace atom starts: a paragraph (a blank line), a line, or a space."""
    if atoms[position].raw != "\n":
        return " "
    following = position + 1
    while following < len(atoms) and atoms[following].is_space and atoms[following].raw != "\n":
        following += 1
    if following < len(atoms) and atoms[following].raw == "\n":
        return "\n\n"
    previous = position - 1
    while previous >= 0 and atoms[previous].is_space and atoms[previous].raw != "\n":
        previous -= 1
    return "\n\n" if previous >= 0 and atoms[previous].raw == "\n" else "\n"
