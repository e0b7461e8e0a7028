"""Service and exec-check commands, split the way Pebble splits them (no shell is run).

Pebble uses a Google-style shlex rather than POSIX rules, and the difference shows: inside
double quotes a backslash escapes any character (`"a\\qb"` is `aqb`), and a `#` that starts a
word comments out the rest of the line. A service command may end with a `[ args ]` group
holding default arguments that `pebble run --args` replaces.
"""

from __future__ import annotations

__all__ = ["parse_command", "split_command"]

_SPACE = " \t\r\n"


class _Lexer:
    """One pass over the text; `words` is the result, `error` Pebble's message if any."""

    def __init__(self) -> None:
        self.words: list[str] = []
        self.word: list[str] | None = None
        self.state = "start"

    def feed(self, char: str) -> None:
        handler = getattr(self, "_" + self.state)
        handler(char)

    def _emit(self) -> None:
        if self.word is not None:
            self.words.append("".join(self.word))
        self.word = None

    def _start(self, char: str) -> None:
        if char in _SPACE:
            return
        if char == "#":
            self.state = "comment"
            return
        self.word = []
        self._word(char)

    def _word(self, char: str) -> None:
        assert self.word is not None
        if char in _SPACE:
            self._emit()
            self.state = "start"
        elif char == '"':
            self.state = "double"
        elif char == "'":
            self.state = "single"
        elif char == "\\":
            self.state = "escape"
        else:
            self.word.append(char)
            self.state = "word"

    def _escape(self, char: str) -> None:
        assert self.word is not None
        self.word.append(char)
        self.state = "word"

    def _double(self, char: str) -> None:
        assert self.word is not None
        if char == '"':
            self.state = "word"
        elif char == "\\":
            self.state = "double_escape"
        else:
            self.word.append(char)

    def _double_escape(self, char: str) -> None:
        assert self.word is not None
        self.word.append(char)
        self.state = "double"

    def _single(self, char: str) -> None:
        assert self.word is not None
        if char == "'":
            self.state = "word"
        else:
            self.word.append(char)

    def _comment(self, char: str) -> None:
        if char == "\n":
            self.state = "start"


def split_command(text: str) -> list[str]:
    """The words of `text`; ValueError with Pebble's message on an open quote or escape."""
    lexer = _Lexer()
    for char in text:
        lexer.feed(char)
    if lexer.state in ("escape", "double_escape"):
        raise ValueError("EOF found after escape character")
    if lexer.state in ("double", "single"):
        raise ValueError("EOF found when expecting closing quote")
    lexer._emit()
    return lexer.words


def parse_command(command: str) -> tuple[list[str], list[str]]:
    """The command's words and its default arguments (the trailing `[ ... ]` group);
    ValueError worded as Pebble's `plan service ... command invalid` reason."""
    base: list[str] = []
    extra: list[str] = []
    in_group = had_group = False
    for position, word in enumerate(split_command(command)):
        if in_group:
            if word == "[":
                raise ValueError("cannot nest [ ... ] groups")
            if word == "]":
                in_group = False
            else:
                extra.append(word)
            continue
        if had_group:
            raise ValueError("cannot have any arguments after [ ... ] group")
        if word == "[":
            if position == 0:
                raise ValueError("cannot start command with [ ... ] group")
            in_group = had_group = True
        elif word == "]":
            raise ValueError("cannot have ] outside of [ ... ] group")
        else:
            base.append(word)
    return base, extra
