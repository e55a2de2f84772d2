"""Parse untrusted WeCom XML into plain dicts, with DTDs and entities refused.

Entity expansion (billion laughs, external entities) needs a DTD, so a document that declares
one is refused before parsing. Almost every callback is flat (``<xml>`` and one level of fields,
text or CDATA): those are read by one regular expression that accepts only that shape, which on
the callback path costs a fraction of building an expat parser per document. Anything else
(nesting, attributes, entity references, comments, a declaration) goes to the standard library's
C parser, which gives the same result for the flat shape; a test holds the two to that.
"""

from __future__ import annotations

import re
from typing import Any
from xml.etree.ElementTree import Element, ParseError, fromstring  # guarded below

__all__ = ["XmlError", "parse_xml", "parse_flat", "parse_with_expat", "extract_encrypt"]

# XML allows these declarations only in upper case and right after "<!"; expat rejects any other
# spelling as malformed, so two substring checks (``_has_dtd``) refuse every DTD it would honour.
# The outer envelope carries one field we need; the signature check that follows authenticates it.
# This runs on unauthenticated input, so it must not backtrack: every quantifier is possessive, and
# each consumes a class (whitespace, base64) that the token after it cannot start with, so the
# greedy reading is the only one and a mismatch fails in one pass (linear in the body). The old
# ``\s*(?:<!\[CDATA\[)?\s*`` let two runs share the same whitespace: cubic on a near-miss.
_ENCRYPT = re.compile(rb"<Encrypt>\s*+(?:<!\[CDATA\[\s*+)?([A-Za-z0-9+/=]++)\s*+(?:\]\]>\s*+)?</Encrypt>")
# WeCom nests at most a few levels (SelectedItems/SelectedItem/OptionIds/OptionId); reading deeper
# input would only recurse toward Python's limit.
MAX_DEPTH = 32


# One field of a flat document: leading whitespace, <Name>, CDATA or plain text, </Name>. Plain
# text takes no markup or entity characters, and neither form takes characters XML forbids or
# a CR (the parser would normalise it), so whatever matches here means exactly its own text.
_FORBIDDEN = r"\x00-\x08\x0b\x0c\x0e-\x1f\r\ufffe\uffff"
_FLAT_FIELD = re.compile(
    r"([ \t\r\n]*<([A-Za-z_][A-Za-z0-9_.-]*)>"
    rf"(?:<!\[CDATA\[([^\]{_FORBIDDEN}]*)\]\]>|([^<&>{_FORBIDDEN}]*))"
    r"</\2>)"
)
_XML_SPACE = " \t\r\n"


class XmlError(ValueError):
    """Malformed XML, or XML using DTDs / entities (refused outright)."""


def _has_dtd(raw: bytes) -> bool:
    return b"<!DOCTYPE" in raw or b"<!ENTITY" in raw


def _value(node: Element, depth: int = 1) -> Any:
    if len(node) == 0:
        return node.text or ""
    if depth >= MAX_DEPTH:
        raise XmlError(f"XML nested deeper than {MAX_DEPTH} levels")
    # WeCom encodes lists as repeated <Item> children (MemChangeList, SelectedItems …).
    if all(child.tag == "Item" for child in node):
        return [_value(child, depth + 1) for child in node]
    return {child.tag: (child.text or "") if len(child) == 0 else _value(child, depth + 1) for child in node}


def parse_flat(doc: str) -> dict[str, str] | None:
    """The fields of a flat ``<xml>`` document, or None when it is not exactly that shape."""
    if not doc.startswith("<xml>"):
        return None
    end = doc.rfind("</xml>")
    if end < 0 or doc[end + 6 :].strip(_XML_SPACE):
        return None
    end = len(doc[:end].rstrip(_XML_SPACE))
    # Field after field, each anchored where the last one ended: nothing between them is skipped,
    # and a document that is not flat costs one failed attempt. (A findall, searching from every
    # offset, was quadratic in a run of whitespace or of unclosed CDATA openings.)
    match = _FLAT_FIELD.match
    fields: dict[str, str] = {}
    pos = 5
    while pos < end:
        found = match(doc, pos, end)
        if found is None:
            return None
        _, name, cdata, text = found.groups("")  # "" for the alternative not taken
        fields[name] = cdata or text
        pos = found.end()
    # An empty root, or one made only of <Item>s (a list, not fields), is the C parser's to judge.
    if not fields or fields.keys() == {"Item"}:
        return None
    return fields


def parse_xml(data: bytes | str) -> dict[str, Any]:
    """Return the root's children as a dict (text, nested dict, or list for <Item> runs)."""
    if isinstance(data, str):
        # A flat document cannot declare a DTD (its grammar has no place for one), so a customer's
        # text that merely quotes "<!ENTITY" inside CDATA is read as text; every other shape goes
        # to expat, which refuses DTD markers anywhere.
        flat = parse_flat(data)
        if flat is not None:
            return flat
    return parse_with_expat(data)


def parse_with_expat(data: bytes | str) -> dict[str, Any]:
    """:func:`parse_xml` for any shape, with the C parser."""
    raw = data.encode() if isinstance(data, str) else data
    if _has_dtd(raw):
        raise XmlError("DTDs and entity declarations are refused")
    try:
        root = fromstring(raw)  # noqa: S314 - DTDs refused above, so no entity can expand
    except (ParseError, ValueError) as err:
        raise XmlError(f"malformed XML: {type(err).__name__}") from err
    value = _value(root)
    if not isinstance(value, dict):
        raise XmlError("XML root has no fields")
    return value


def extract_encrypt(body: bytes) -> str:
    """The ``Encrypt`` value of a callback envelope, without parsing the rest."""
    if _has_dtd(body):
        raise XmlError("DTDs and entity declarations are refused")
    start = body.find(b"<Encrypt>")  # find + match: a regex search would try every offset
    match = _ENCRYPT.match(body, start) if start >= 0 else None
    if match is None:
        raise XmlError("no Encrypt element")
    return match.group(1).decode()
