"""Label and field selectors as the API server parses them (`a=b,c!=d,e in (x,y),!f`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Predicate = Callable[[Mapping[str, str]], bool]

_SET = re.compile(r"^\s*(?P<key>[^\s!=]+)\s+(?P<op>in|notin)\s+\((?P<values>[^)]*)\)\s*$")
_EQUALITY = re.compile(r"^\s*(?P<key>[^\s!=]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^\s,]*)\s*$")
_EXISTS = re.compile(r"^\s*(?P<neg>!?)\s*(?P<key>[^\s!=(),]+)\s*$")


class SelectorError(ValueError):
    """A selector the API server would refuse (answered as 400 BadRequest)."""


def _split_terms(text: str) -> list[str]:
    """Split on the commas that are not inside a set's parentheses."""
    terms: list[str] = []
    depth = 0
    current = ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    terms.append(current)
    return [term for term in terms if term.strip()]


def _term(text: str) -> Predicate:
    if match := _SET.match(text):
        key = match["key"]
        values = {value.strip() for value in match["values"].split(",") if value.strip()}
        if match["op"] == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if match := _EQUALITY.match(text):
        key, value = match["key"], match["value"]
        if match["op"] == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if match := _EXISTS.match(text):
        key = match["key"]
        if match["neg"]:
            return lambda labels: key not in labels
        return lambda labels: key in labels
    raise SelectorError(f"unable to parse requirement: {text.strip()!r}")


def parse_selector(text: str | None) -> Predicate:
    """A predicate over a label mapping; an empty or absent selector matches everything."""
    terms = [_term(term) for term in _split_terms(text or "")]
    return lambda labels: all(term(labels) for term in terms)


_FIELDS = ("metadata.name", "metadata.namespace")


def parse_field_selector(text: str | None) -> Callable[[Mapping[str, Any]], bool]:
    """A predicate over an object for `metadata.name` / `metadata.namespace` selectors (the
    fields every resource supports); other fields are refused as the API server does."""
    terms = _split_terms(text or "")
    for term in terms:
        match = _EQUALITY.match(term)
        if match is None or match["key"] not in _FIELDS:
            raise SelectorError(f"field label not supported: {term.strip()!r}")
    predicate = parse_selector(text)

    def check(obj: Mapping[str, Any]) -> bool:
        meta = obj.get("metadata", {})
        fields = {
            "metadata.name": meta.get("name", ""),
            "metadata.namespace": meta.get("namespace", ""),
        }
        return predicate(fields)

    return check
