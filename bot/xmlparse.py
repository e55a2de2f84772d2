"""Parse untrusted WeCom XML into plain dicts, with DTDs and entities refused (defusedxml)."""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

__all__ = ["XmlError", "parse_xml"]


class XmlError(ValueError):
    """Malformed XML, or XML using DTDs / entities (refused outright)."""


def _value(node: Element) -> Any:
    children = list(node)
    if not children:
        return node.text or ""
    # WeCom encodes lists as repeated <Item> children (MemChangeList, SelectedItems …).
    if all(child.tag == "Item" for child in children):
        return [_value(child) for child in children]
    return {child.tag: _value(child) for child in children}


def parse_xml(data: bytes | str) -> dict[str, Any]:
    """Return the root's children as a dict (text, nested dict, or list for <Item> runs)."""
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError) as err:
        raise XmlError(f"malformed or unsafe XML: {type(err).__name__}") from err
    value = _value(root)
    if not isinstance(value, dict):
        raise XmlError("XML root has no fields")
    return value
