"""Refuse XML with DOCTYPE or ENTITY declarations before GDAL's parser sees it.

Entity expansion (billion laughs) and external entities can only be declared in a DOCTYPE, and
a DOCTYPE may only stand in the prolog, before the root element. So reading the document up to
its root element's start tag with defusedxml (``forbid_dtd``) decides it: no declaration there,
none anywhere. That also names the root element, which is how GPX and KML are told apart.

GPX and KML never need a DOCTYPE; neither do the XML parts of XLSX files.
"""

from __future__ import annotations

import io
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from geo.errors import UnreadableFile, XMLDeclarationRefused

# An honest prolog (XML declaration, stylesheet, comments) is a few hundred bytes.
PROLOG_LIMIT_BYTES = 1024 * 1024


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
