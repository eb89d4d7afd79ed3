"""Map labels in English, French and Portuguese (the action plan's working languages)."""

from __future__ import annotations

LANGUAGES = ("en", "fr", "pt")

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Mine sites and sales points",
        "mine": "Mine site",
        "sales_point": "Sales point",
        "name": "Name",
        "kind": "Kind",
        "minerals": "Minerals",
        "country": "Country",
        "status": "Status",
        "last_observed": "Last observed",
        "border": "Border",
        "borders": "International borders",
        "sites": "Sites",
        "shown": "{shown} of {matched} sites shown",
        "sea": "at sea",
        "disputed": "disputed area",
        "outside": "outside the covered countries",
        "band": "Within {km:g} km of {border}",
        "clusters": "Clusters",
        "clusters_title": "Clusters of sites",
        "cross_border": "Cross-border cluster",
        "local_cluster": "Cluster in one country",
        "members": "Sites",
        "span": "Span",
        "countries": "Countries",
        "zoom_in": "Zoom in",
        "zoom_out": "Zoom out",
        "layers": "Layers",
        "close": "Close",
        "leaflet_title": "A JavaScript library for interactive maps",
        "legend": "Legend",
        "Boundaries": "Boundaries",
        "OpenStreetMap contributors": "OpenStreetMap contributors",
        "public domain": "public domain",
    },
    "fr": {
        "title": "Sites miniers et points de vente",
        "mine": "Site minier",
        "sales_point": "Point de vente",
        "name": "Nom",
        "kind": "Type",
        "minerals": "Minerais",
        "country": "Pays",
        "status": "Statut",
        "last_observed": "Dernière visite",
        "border": "Frontière",
        "borders": "Frontières internationales",
        "sites": "Sites",
        "shown": "{shown} sites affichés sur {matched}",
        "sea": "en mer",
        "disputed": "zone contestée",
        "outside": "hors des pays couverts",
        "band": "À moins de {km:g} km de {border}",
        "clusters": "Groupes",
        "clusters_title": "Groupes de sites",
        "cross_border": "Groupe transfrontalier",
        "local_cluster": "Groupe dans un seul pays",
        "members": "Sites",
        "span": "Étendue",
        "countries": "Pays",
        "zoom_in": "Zoom avant",
        "zoom_out": "Zoom arrière",
        "layers": "Couches",
        "close": "Fermer",
        "leaflet_title": "Une bibliothèque JavaScript pour les cartes interactives",
        "legend": "Légende",
        "Boundaries": "Frontières",
        "OpenStreetMap contributors": "les contributeurs d'OpenStreetMap",
        "public domain": "domaine public",
    },
    "pt": {
        "title": "Locais de mineração e pontos de venda",
        "mine": "Local de mineração",
        "sales_point": "Ponto de venda",
        "name": "Nome",
        "kind": "Tipo",
        "minerals": "Minerais",
        "country": "País",
        "status": "Estado",
        "last_observed": "Última visita",
        "border": "Fronteira",
        "borders": "Fronteiras internacionais",
        "sites": "Locais",
        "shown": "{shown} de {matched} locais mostrados",
        "sea": "no mar",
        "disputed": "área disputada",
        "outside": "fora dos países cobertos",
        "band": "A menos de {km:g} km de {border}",
        "clusters": "Agrupamentos",
        "clusters_title": "Agrupamentos de locais",
        "cross_border": "Agrupamento transfronteiriço",
        "local_cluster": "Agrupamento num só país",
        "members": "Locais",
        "span": "Extensão",
        "countries": "Países",
        "zoom_in": "Aproximar",
        "zoom_out": "Afastar",
        "layers": "Camadas",
        "close": "Fechar",
        "leaflet_title": "Uma biblioteca JavaScript para mapas interativos",
        "legend": "Legenda",
        "Boundaries": "Fronteiras",
        "OpenStreetMap contributors": "colaboradores do OpenStreetMap",
        "public domain": "domínio público",
    },
}


def labels(lang: str) -> dict[str, str]:
    return LABELS.get(lang, LABELS["en"])


#: English phrases of dataset and tile attributions, translated by ``localise_attribution``
#: (each is a key of every language's labels). The licence names stay as written.
ATTRIBUTION_PHRASES = ("OpenStreetMap contributors", "public domain", "Boundaries")


def localise_attribution(text: str, lang: str) -> str:
    """An attribution (written in English by the boundary recipe) in ``lang``."""
    words = labels(lang)
    for phrase in ATTRIBUTION_PHRASES:
        text = text.replace(phrase, words[phrase])
    return text
