"""Text users write never runs as a template on a map page.

Folium pages go through Jinja twice (branca renders each element, then renders the output
again as a new template): a site named ``{{ 7*7 }}`` once drew "49", one named
``{{ cycler.__init__.__globals__.os.getpid() }}`` ran Python in the service, and one named
``Broken {{ map`` made every sites map a 500. Each map renderer is fed such names through each
place user text reaches it: sites, cluster members, route ends, zones, the legend's note.
"""

from __future__ import annotations

from typing import Any

import pytest

from app.db.routes import Flow
from app.maps.clusters_map import render_clusters_map
from app.maps.common import MapOptions, map_text, script_json
from app.maps.flows_map import render_flows_map
from app.maps.sites_map import render_sites_map
from tests.maps.test_sites_map import BORDERS, collection, feature

#: Each would change the page if it were evaluated (49, "ran", an error) or break out of a
#: JavaScript template literal (folium's tooltips).
HOSTILE = [
    "Mine {{ 6007*7 }}",
    "Broken {{ map",
    "Stmt {% if true %}ran{% endif %}",
    "Comment {# hidden #} end",
    "Call {{ cycler.__init__.__globals__.os.getpid() }}",
    "Literal `${6007*7}` \\` end",
    "Triple {{{ 6007*7 }}}",
]


def _shown(page: str, name: str, *, as_json: bool = True) -> None:
    """``name`` stands in the page as text (its JSON form in a script, or its HTML form),
    and nothing in it was evaluated."""
    assert "42049" not in page, "6007*7 was evaluated"
    assert "Stmt ran" not in page, "a statement was run"
    written = script_json(name)[1:-1] if as_json else map_text(name)
    assert written in page, written


@pytest.mark.parametrize("name", HOSTILE)
def test_site_names_on_the_sites_map_are_text(name: str) -> None:
    zones = collection(
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [15.0, 4.0]},
            "properties": {"name": name, "zone_set": name},
        }
    )
    options = MapOptions(note=name, extra_layers=[("Zones", zones, {"color": "#000"})])
    page = render_sites_map(collection(feature(name)), BORDERS, options, None)
    _shown(page, name)


@pytest.mark.parametrize("name", HOSTILE)
def test_member_names_on_the_clusters_map_are_text(name: str) -> None:
    clusters = collection(
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [15.0, 4.0]},
            "properties": {
                "cross_border": True,
                "member_count": 2,
                "countries": ["CAF", "CMR"],
                "kinds": ["mine"],
                "minerals": ["gold"],
                "span_km": 1.0,
                "members": [name],
            },
        }
    )
    page = render_clusters_map(
        clusters, collection(feature(name)), BORDERS, MapOptions(note=name), None
    )
    _shown(page, name)


@pytest.mark.parametrize("name", HOSTILE)
def test_route_ends_on_the_flows_map_are_text(name: str) -> None:
    flow = Flow(name, name, 15.0, 4.0, 15.5, 4.5, 3, True, "CAF-CMR", ["gold"])
    page = render_flows_map([flow], BORDERS, MapOptions(), None)
    _shown(page, name, as_json=False)
    assert "`${" not in page, "a backquote or ${ would end folium's template literal"


def test_map_text_and_script_json_keep_the_text() -> None:
    """What is escaped still reads as the text: character references in HTML, JSON escapes
    in scripts."""
    import html
    import json

    for name in HOSTILE:
        assert html.unescape(map_text(name)) == name
        data: Any = {"name": name, "nested": [{"n": name}]}
        assert json.loads(script_json(data)) == data
        assert not any(o in script_json(data) for o in ("{{", "{%", "{#"))
