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
    },
}


def labels(lang: str) -> dict[str, str]:
    return LABELS.get(lang, LABELS["en"])
