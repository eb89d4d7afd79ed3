"""Refuse XML with DOCTYPE or ENTITY declarations before GDAL's parser sees it.

Entity expansion (billion laughs) and external entities can only be declared in a DOCTYPE, and
a DOCTYPE may only stand in the prolog, before the root element. So reading the document up to
its root element's start tag with defusedxml (``forbid_dtd``) decides it: no declaration there,
none anywhere. That also names the root element, which is how GPX and KML are told apart.

GPX and KML never need a DOCTYPE; neither do the XML parts of XLSX files. Every part of every
container is guarded (:func:`guard_xml_part`) whatever its name: a workbook's parts are found
through its relationships, not their extensions, so ``xl/worksheets/sheet1.bin`` may be XML.
"""

from __future__ import annotations

import io
import re
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from geo.errors import UnreadableFile, XMLDeclarationRefused, quoted

# An honest prolog (XML declaration, stylesheet, comments) is a few hundred bytes.
PROLOG_LIMIT_BYTES = 1024 * 1024
# Byte-order marks, blanks and the NULs of UTF-16/32 text before a document's first character.
_LEADING = re.compile(rb"^(?:\xef\xbb\xbf|\xff\xfe|\xfe\xff|[\s\x00])*")
_XML_SUFFIXES = (".xml", ".kml", ".gpx", ".rels", ".vrt", ".svg", ".xsd", ".gml")


def guard_xml_part(head: bytes, name: str) -> None:
    """Refuse one container part that is XML with declarations, whatever the part is called.

    ``head`` is the start of the part (:data:`PROLOG_LIMIT_BYTES` are enough). A part is XML
    when its name says so or when its first character (after byte-order marks, blanks and
    NULs) is ``<``; a part that is nothing but blanks up to the limit counts too, so padding
    cannot hide a DOCTYPE from the check.

    Raises
    ------
    XMLDeclarationRefused, UnreadableFile
        As :func:`xml_root`, naming the part.
    """
    rest = _LEADING.sub(b"", head, count=1)
    padded = not rest and len(head) >= PROLOG_LIMIT_BYTES
    named = bool(rest) and name.casefold().endswith(_XML_SUFFIXES)
    if rest.startswith(b"<") or padded or named:
        xml_root(head, what=f"zip member {quoted(name)}")


def xml_root(head: bytes, *, what: str = "the file") -> str:
    """Local name of the root element (``"gpx"``, ``"kml"``), lower-cased.

    Parameters
    ----------
    head
        The start of the document; the first :data:`PROLOG_LIMIT_BYTES` are enough.
    what
        How to name the document in messages (``"zip member 'doc.kml'"``).

    Raises
    ------
    XMLDeclarationRefused
        The prolog declares a DOCTYPE or entities.
    UnreadableFile
        No root element within the first :data:`PROLOG_LIMIT_BYTES`, or not XML at all.
    """
    stream = io.BytesIO(head[:PROLOG_LIMIT_BYTES])
    try:
        for _event, element in iterparse(stream, events=("start",), forbid_dtd=True):
            return str(element.tag).rsplit("}", 1)[-1].casefold()
    except DefusedXmlException as exc:
        raise XMLDeclarationRefused(
            f"{what} declares a DOCTYPE or entities, which survey files never need "
            "(refused: entity expansion and external entities are attack vectors)"
        ) from exc
    except ParseError as exc:
        raise UnreadableFile(
            f"{what} is not well-formed XML before its root element: {exc}"
        ) from exc
    raise UnreadableFile(f"{what} has no root element")
