"""The lexical layer of pip requirements files: logical lines, comments, variables and option tokens.

This follows pip's req_file.py so that a file means the same to rennet as it does to pip.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

_COMMENT = re.compile(r"(^|\s+)#.*$")
# pip only expands ${NAME} with upper-case letters, digits and underscores (POSIX variable names).
_VARIABLE = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)\}")

# Options that take a value; every other known option is a flag.
TAKES_VALUE = frozenset(
    {
        "--requirement",
        "--constraint",
        "--editable",
        "--index-url",
        "--extra-index-url",
        "--find-links",
        "--trusted-host",
        "--only-binary",
        "--no-binary",
        "--use-feature",
        "--hash",
        "--config-settings",
        "--global-option",
    }
)
FLAGS = frozenset({"--no-index", "--pre", "--prefer-binary", "--require-hashes"})
_SHORT = {
    "-r": "--requirement",
    "-c": "--constraint",
    "-e": "--editable",
    "-i": "--index-url",
    "-f": "--find-links",
    "-C": "--config-settings",
}


@dataclass(frozen=True, slots=True)
class Option:
    name: str  # the long form, e.g. "--requirement" for "-r"
    value: str | None


class OptionError(ValueError):
    """An option token pip would refuse (unknown, or missing its value)."""


def logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(first physical line number, line) with continuations joined and comments and blank lines dropped.

    As in pip, a comment line ends a continuation, and a backslash only continues a line it ends.
    """
    pending: list[str] = []
    first = 0
    for number, line in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        is_comment = bool(_COMMENT.match(line))
        if line.endswith("\\") and not is_comment:
            first = first if pending else number
            pending.append(line[:-1])
            continue
        if pending:
            pending.append(" " + line if is_comment else line)
            yield from _cleaned(first, "".join(pending))
            pending = []
        else:
            yield from _cleaned(number, line)
    if pending:
        yield from _cleaned(first, "".join(pending))


def _cleaned(number: int, line: str) -> Iterator[tuple[int, str]]:
    stripped = _COMMENT.sub("", line).strip()
    if stripped:
        yield number, stripped


def expand_variables(line: str, environ: Mapping[str, str] | None) -> str:
    """Replace ${NAME} from environ; unknown names stay as written, as pip leaves them."""
    if not environ:
        return line
    return _VARIABLE.sub(lambda m: environ.get(m["name"], m[0]), line)


def split_line(line: str) -> tuple[str, str]:
    """(requirement part, options part): the requirement ends at the first word starting with '-'."""
    words = line.split(" ")
    for index, word in enumerate(words):
        if word.startswith("-"):
            return " ".join(words[:index]).strip(), " ".join(words[index:])
    return line, ""


def parse_options(text: str) -> list[Option]:
    """Option tokens in order; raises OptionError for unbalanced quotes, unknown options or missing values."""
    try:
        tokens = shlex.split(text)
    except ValueError as exc:
        raise OptionError(f"cannot split options: {exc}") from None
    options: list[Option] = []
    position = 0
    while position < len(tokens):
        option, used = _one_option(tokens, position)
        options.append(option)
        position += used
    return options


def _one_option(tokens: list[str], position: int) -> tuple[Option, int]:
    """The option at tokens[position] and how many tokens it used."""
    token = tokens[position]
    if not token.startswith("-"):
        raise OptionError(f"unexpected {token!r} among the options")
    name, has_value, value = token.partition("=")
    if not name.startswith("--") and len(name) > 2 and name[:2] in _SHORT:
        # optparse allows a short option glued to its value: -rbase.txt
        name, has_value, value = name[:2], "=", token[2:]
    name = _SHORT.get(name, name)
    if name in FLAGS:
        if has_value:
            raise OptionError(f"{name} takes no value")
        return Option(name, None), 1
    if name not in TAKES_VALUE:
        raise OptionError(f"unknown option {name}")
    if has_value:
        return Option(name, value), 1
    if position + 1 >= len(tokens):
        raise OptionError(f"{name} needs a value")
    return Option(name, tokens[position + 1]), 2
