"""Write the sample survey files of ``data/samples/`` from one table of Central African sites.

Run from the repository root: ``.venv/bin/python data/samples/make_samples.py``. The output is
deterministic (fixed dates, fixed zip timestamps, GDAL's ``OGR_CURRENT_DATE``), so running it
again rewrites identical files.

GDAL (pyogrio) writes every format it has a driver for: GPX, KML (zipped into the KMZ),
Shapefile, GeoPackage, GeoJSON, XLSX. The CSV samples are written with Python's ``csv`` module
because they imitate particular tools byte for byte (KoBo's quoted ``;`` export, ODK Central,
French Excel with decimal commas in Windows-1252), which GDAL's CSV driver cannot produce.

``expected.csv`` lists, for every row a reader must return with a position, the file, the row
number, the site name and its lon/lat in EPSG:4326, straight from the table below.
``mixed_bad_rows.expected.csv`` lists every issue the validator must report for
``mixed_bad_rows.csv`` (see the README for the rules it is validated with).
"""

from __future__ import annotations

import csv
import io
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import shapely

HERE = Path(__file__).resolve().parent
ZIP_TIME = (2024, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Site:
    """A plausible site: invented name, real surroundings, coordinates on land in ``iso3``."""

    key: str
    name: str
    iso3: str
    kind: str  # "mine" or "sales_point"
    minerals_fr: str
    minerals_en: str
    lon: float
    lat: float
    accuracy_m: float
    visited: date


def _site(*fields: object) -> Site:
    key, name, iso3, kind, fr, en, lon, lat, accuracy, visited = fields
    return Site(
        str(key), str(name), str(iso3), str(kind), str(fr), str(en),
        float(str(lon)), float(str(lat)), float(str(accuracy)), date.fromisoformat(str(visited)),
    )  # fmt: skip


# key, name, country, kind, minerals (fr), minerals (en), lon, lat, accuracy m, visit date
SITES = {
    site.key: site
    for site in (
        _site("gbako", "Chantier Gbako", "CAF", "mine", "diamant", "diamond",
              15.741032, 4.298517, 4.0, "2024-03-05"),
        _site("berberati", "Comptoir Berbérati Centre", "CAF", "sales_point", "diamant or",
              "diamond gold", 15.792514, 4.260836, 6.5, "2024-03-05"),
        _site("banga", "Chantier Banga", "CAF", "mine", "diamant", "diamond",
              15.905218, 4.981107, 8.0, "2024-03-07"),
        _site("kanza", "Chantier Kanza", "CAF", "mine", "or", "gold",
              16.113741, 3.471926, 12.0, "2024-03-11"),
        _site("nola", "Comptoir Nola Marché", "CAF", "sales_point", "diamant", "diamond",
              16.051833, 3.529047, 5.0, "2024-03-12"),
        _site("niem", "Chantier Niem", "CAF", "mine", "or", "gold",
              15.684025, 6.071236, 9.5, "2024-03-14"),
        _site("pk5", "Bureau d'achat PK5", "CAF", "sales_point", "diamant or", "diamond gold",
              18.541127, 4.372018, 3.5, "2024-02-26"),
        _site("ndassima", "Chantier Ndassima", "CAF", "mine", "or", "gold",
              20.448213, 6.224571, 15.0, "2024-02-20"),
        _site("bria", "Comptoir Bria", "CAF", "sales_point", "diamant", "diamond",
              21.985034, 6.539172, 7.0, "2024-02-22"),
        _site("gbiti", "Chantier Gbiti", "CMR", "mine", "or diamant", "gold diamond",
              14.971208, 4.172033, 4.5, "2024-04-02"),
        _site("garoua", "Comptoir Garoua-Boulaï", "CMR", "sales_point", "or", "gold",
              14.548216, 5.885104, 3.0, "2024-04-03"),
        _site("kambele", "Chantier Kambélé", "CMR", "mine", "or", "gold",
              14.328045, 4.398012, 6.0, "2024-04-04"),
        _site("kenzou", "Marché de Kenzou", "CMR", "sales_point", "diamant", "diamond",
              15.035112, 4.120537, 5.5, "2024-04-15"),
        _site("betare", "Chantier Bétaré-Oya", "CMR", "mine", "or", "gold",
              14.092031, 5.608144, 10.0, "2024-04-16"),
        _site("ouesso", "Comptoir Ouesso Port", "COG", "sales_point", "or", "gold",
              16.047021, 1.615012, 4.0, "2024-05-06"),
        _site("elogo", "Chantier Elogo", "COG", "mine", "or", "gold",
              14.201537, 2.052118, 11.0, "2024-05-08"),
        _site("gbadolite", "Comptoir Gbadolite", "COD", "sales_point", "diamant", "diamond",
              21.008044, 4.282171, 5.0, "2024-05-20"),
        _site("zongo", "Comptoir Zongo Beach", "COD", "sales_point", "diamant or",
              "diamond gold", 18.602019, 4.339025, 3.0, "2024-05-21"),
        _site("libenge", "Chantier Libenge", "COD", "mine", "or", "gold",
              18.640127, 3.660214, 7.5, "2024-05-23"),
        _site("bondo", "Chantier Bondo", "COD", "mine", "or", "gold",
              23.690311, 3.820145, 9.0, "2024-05-27"),
        _site("tshikapa", "Chantier Kamonia", "COD", "mine", "diamant", "diamond",
              20.799018, -6.421034, 6.0, "2024-06-03"),
        _site("bakwa", "Comptoir Bakwanga", "COD", "sales_point", "diamant", "diamond",
              23.593027, -6.140022, 4.0, "2024-06-05"),
        _site("lulua", "Chantier Lulua", "COD", "mine", "diamant", "diamond",
              22.420041, -5.890017, 8.5, "2024-06-07"),
        _site("gombe", "Comptoir Kinshasa Gombe", "COD", "sales_point", "or coltan",
              "gold coltan", 15.311024, -4.305019, 2.5, "2024-06-13"),
        _site("sibiti", "Chantier Sibiti", "COG", "mine", "or", "gold",
              13.352016, -3.681042, 12.5, "2024-06-18"),
        _site("dolisie", "Comptoir Dolisie", "COG", "sales_point", "or", "gold",
              12.668023, -4.197031, 5.0, "2024-06-19"),
        _site("amtiman", "Chantier Am Timan", "TCD", "mine", "or", "gold",
              20.285017, 10.985042, 14.0, "2024-01-16"),
        _site("sarh", "Comptoir Sarh", "TCD", "sales_point", "or", "gold",
              18.395024, 9.142013, 6.0, "2024-01-18"),
        _site("gore", "Chantier Goré", "TCD", "mine", "or", "gold",
              16.634012, 7.932045, 9.0, "2024-01-22"),
    )
}  # fmt: skip

FILES: dict[str, tuple[str, ...]] = {
    "kobo_survey.csv": ("gbako", "berberati", "banga", "kanza", "nola", "niem"),
    "odk_central.csv": ("gbiti", "garoua", "kambele", "kenzou", "betare"),
    "handheld.gpx": ("gbako", "berberati", "banga", "nola"),
    "google_earth.kmz": ("ouesso", "elogo", "zongo", "libenge"),
    "my_maps.kml": ("gbiti", "kambele", "betare", "garoua", "kenzou"),
    "sites_utm34n.zip": (
        "pk5", "ndassima", "bria", "gbadolite", "zongo", "libenge", "bondo", "amtiman", "sarh",
    ),
    "field_team.gpkg": ("amtiman", "sarh", "gore", "niem", "kanza"),
    "sites.geojson": ("berberati", "garoua", "ouesso", "gbadolite", "amtiman"),
    "comptoirs.xlsx": (
        "berberati", "nola", "pk5", "bria", "garoua", "kenzou", "ouesso", "gbadolite", "zongo",
        "gombe", "dolisie", "sarh",
    ),
    "dms_coordinates.csv": ("gbako", "banga", "gbiti", "kambele", "betare", "gbadolite", "bondo"),
    "decimal_comma.csv": ("tshikapa", "bakwa", "lulua", "gombe", "sibiti", "dolisie"),
}  # fmt: skip

KIND_FR = {"mine": "chantier", "sales_point": "comptoir"}
KIND_EN = {"mine": "mine", "sales_point": "buying_house"}


def sites_of(filename: str) -> list[Site]:
    return [SITES[key] for key in FILES[filename]]


def stamp(visited: date, minutes: int) -> datetime:
    """A deterministic time of day for a visit."""
    return datetime.combine(visited, time(8, 0)) + timedelta(minutes=minutes)


def write_csv(
    path: Path, header: Sequence[str], rows: Iterable[Sequence[object]], **kw: str
) -> None:
    encoding = kw.pop("encoding", "utf-8")
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n", **kw)  # type: ignore[arg-type]
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))


def write_kobo(path: Path) -> list[tuple[int, Site]]:
    """KoBo's default CSV export: ``;``, every value quoted, XML names with group paths."""
    group = "groupe_site"
    header = [
        "start", "end", "today", f"{group}/nom_site", f"{group}/type_site",
        f"{group}/minerais", f"{group}/nombre_creuseurs", f"{group}/gps",
        f"{group}/_gps_latitude", f"{group}/_gps_longitude", f"{group}/_gps_altitude",
        f"{group}/_gps_precision", "_id", "_uuid", "_submission_time", "_validation_status",
        "_status", "_submitted_by", "_index",
    ]  # fmt: skip
    rows = []
    for i, site in enumerate(sites_of(path.name), start=1):
        start = stamp(site.visited, 7 * i)
        altitude = 500 + 17 * i
        rows.append([
            start.isoformat(timespec="milliseconds") + "+01:00",
            (start + timedelta(minutes=25)).isoformat(timespec="milliseconds") + "+01:00",
            site.visited.isoformat(), site.name, KIND_FR[site.kind], site.minerals_fr,
            str(20 + 13 * i), f"{site.lat!r} {site.lon!r} {altitude} {site.accuracy_m:g}",
            repr(site.lat), repr(site.lon), str(altitude), f"{site.accuracy_m:g}",
            str(81_000_000 + i), f"5b1f7a3c-0d6e-4c1b-9a2e-{i:012d}",
            (start + timedelta(hours=6)).isoformat(timespec="seconds"), "", "submitted_via_web",
            "equipe_berberati", str(i),
        ])  # fmt: skip
    write_csv(path, header, rows, delimiter=";", quoting=csv.QUOTE_ALL)  # type: ignore[arg-type]
    return [(i + 2, site) for i, site in enumerate(sites_of(path.name))]


def write_odk(path: Path) -> list[tuple[int, Site]]:
    """ODK Central's CSV: ``group-field-Latitude`` columns, a Briefcase-style visit date."""
    header = [
        "SubmissionDate", "site-nom_site", "site-type_site", "site-minerals",
        "site-date_visite", "site-location-Latitude", "site-location-Longitude",
        "site-location-Altitude", "site-location-Accuracy", "meta-instanceID", "KEY",
        "SubmitterID", "SubmitterName", "AttachmentsPresent", "AttachmentsExpected", "Status",
        "ReviewState", "DeviceID", "Edits", "FormVersion",
    ]  # fmt: skip
    rows = []
    for i, site in enumerate(sites_of(path.name), start=1):
        submitted = stamp(site.visited + timedelta(days=1), 11 * i)
        briefcase = f"{site.visited:%b} {site.visited.day}, {site.visited.year}"
        uuid = f"uuid:7d0c2f4e-91b2-4f7a-8c3d-{i:012d}"
        rows.append([
            submitted.isoformat(timespec="milliseconds") + "Z", site.name,
            KIND_EN[site.kind], site.minerals_en, briefcase, repr(site.lat), repr(site.lon),
            str(610 + 9 * i), f"{site.accuracy_m:g}", uuid, uuid, "12", "equipe-est", "0",
            "0", "", "approved", f"collect:Xk{i:04d}", "0", "2024031201",
        ])  # fmt: skip
    write_csv(path, header, rows)
    return [(i + 2, site) for i, site in enumerate(sites_of(path.name))]


def write_gpx(path: Path) -> list[tuple[int, Site]]:
    """A handheld's GPX 1.1: named waypoints with elevation and time, and one track."""
    sites = sites_of(path.name)
    waypoints = gpd.GeoDataFrame(
        {
            "name": [f"{i:03d} {site.name}" for i, site in enumerate(sites, start=1)],
            "ele": [512.4 + 7.3 * i for i in range(len(sites))],
            "time": pd.to_datetime(
                [stamp(site.visited, 9 * i).isoformat() + "Z" for i, site in enumerate(sites)]
            ),
            "cmt": [site.minerals_fr for site in sites],
            "desc": [KIND_FR[site.kind] for site in sites],
            "sym": ["Mine" if site.kind == "mine" else "Flag, Blue" for site in sites],
        },
        geometry=shapely.points([s.lon for s in sites], [s.lat for s in sites]),
        crs=4326,
    )
    first = sites[0]
    track_lon = first.lon + np.linspace(0, 0.0514, 12)
    track_lat = first.lat - np.linspace(0, 0.0377, 12) + 0.002 * np.sin(np.arange(12))
    track = gpd.GeoDataFrame(
        {"name": ["Piste Gbako - Berbérati"]},
        geometry=[shapely.MultiLineString([np.column_stack([track_lon, track_lat])])],
        crs=4326,
    )
    with tempfile.TemporaryDirectory() as tmp:
        pyogrio.write_dataframe(waypoints, Path(tmp) / "w.gpx", layer="waypoints", driver="GPX")
        pyogrio.write_dataframe(track, Path(tmp) / "t.gpx", layer="tracks", driver="GPX")
        doc = (Path(tmp) / "w.gpx").read_text(encoding="utf-8")
        track_doc = (Path(tmp) / "t.gpx").read_text(encoding="utf-8")
    # GDAL's GPX driver cannot append a layer to a file, so the track is spliced in as written.
    trk = track_doc[track_doc.index("<trk>") : track_doc.index("</trk>") + len("</trk>")]
    path.write_text(doc.replace("</gpx>", trk + "\n</gpx>"), encoding="utf-8")
    return [(i + 1, site) for i, site in enumerate(sites)]


def write_kmz(path: Path) -> list[tuple[int, Site]]:
    """Google Earth style: doc.kml with Placemarks, ExtendedData and one path, zipped."""
    sites = sites_of(path.name)
    path_line = shapely.LineString([(s.lon, s.lat) for s in sites[:2]])
    frame = gpd.GeoDataFrame(
        {
            "Name": [s.name for s in sites] + ["Piste Ouesso - Elogo"],
            "Description": [f"Visite du {s.visited:%d/%m/%Y}" for s in sites] + [""],
            "type_site": [KIND_FR[s.kind] for s in sites] + [""],
            "minerais": [s.minerals_fr for s in sites] + [""],
            "date_visite": [f"{s.visited:%d/%m/%Y}" for s in sites] + [""],
            "precision_m": [s.accuracy_m for s in sites] + [None],
        },
        geometry=[*shapely.points([s.lon for s in sites], [s.lat for s in sites]), path_line],
        crs=4326,
    )
    with tempfile.TemporaryDirectory() as tmp:
        kml = Path(tmp) / "doc.kml"
        pyogrio.write_dataframe(frame, kml, layer="Sites_frontaliers", driver="KML")
        write_zip(path, {"doc.kml": kml.read_bytes()})
    return [(i + 1, site) for i, site in enumerate(sites)]


def write_kml(path: Path) -> list[tuple[int, Site]]:
    """A Google My Maps export: one KML, one Folder per map layer (mines, then comptoirs)."""
    sites = sites_of(path.name)
    folders = []
    with tempfile.TemporaryDirectory() as tmp:
        for layer, kind in (("Chantiers", "mine"), ("Comptoirs", "sales_point")):
            chosen = [s for s in sites if s.kind == kind]
            frame = gpd.GeoDataFrame(
                {
                    "Name": [s.name for s in chosen],
                    "description": [
                        f"{s.minerals_fr}, visite du {s.visited:%d/%m/%Y}" for s in chosen
                    ],
                    "minerais": [s.minerals_fr for s in chosen],
                    "date": [f"{s.visited:%d/%m/%Y}" for s in chosen],
                },
                geometry=shapely.points([s.lon for s in chosen], [s.lat for s in chosen]),
                crs=4326,
            )
            written = Path(tmp) / f"{layer}.kml"
            pyogrio.write_dataframe(frame, written, layer=layer, driver="KML")
            folders.append(written.read_text(encoding="utf-8"))
    # GDAL's KML driver writes one layer per file; the second file's Schema and Folder are
    # spliced into the first, which is how a two-layer My Maps export looks.
    first, second = folders
    body = second[second.index("<Schema") : second.rindex("</Document>")]
    path.write_text(first.replace("</Document>", body + "</Document>"), encoding="utf-8")
    ordered = [s for s in sites if s.kind == "mine"] + [s for s in sites if s.kind != "mine"]
    return [(i + 1, site) for i, site in enumerate(ordered)]


def write_zip(path: Path, members: dict[str, bytes]) -> None:
    """A zip with fixed timestamps, so the bytes do not change from run to run."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)


def write_shapefile(path: Path) -> list[tuple[int, Site]]:
    """A Shapefile in WGS 84 / UTM 34N (EPSG:32634) with its .prj, zipped."""
    sites = sites_of(path.name)
    frame = gpd.GeoDataFrame(
        {
            "nom": [s.name for s in sites],
            "type": [KIND_FR[s.kind] for s in sites],
            "minerais": [s.minerals_fr for s in sites],
            "date": [s.visited.isoformat() for s in sites],
            "precision": [s.accuracy_m for s in sites],
        },
        geometry=shapely.points([s.lon for s in sites], [s.lat for s in sites]),
        crs=4326,
    ).to_crs(32634)
    with tempfile.TemporaryDirectory() as tmp:
        shp = Path(tmp) / "sites_utm34n.shp"
        pyogrio.write_dataframe(
            frame, shp, driver="ESRI Shapefile", encoding="UTF-8",
            layer_options={"DBF_DATE_LAST_UPDATE": "2024-01-01"},
        )  # fmt: skip
        members = {f"sites_utm34n/{p.name}": p.read_bytes() for p in sorted(Path(tmp).iterdir())}
    write_zip(path, members)
    return [(i + 1, site) for i, site in enumerate(sites)]


def write_gpkg(path: Path) -> list[tuple[int, Site]]:
    """A QField-style GeoPackage: a point layer and an attribute table of the team."""
    sites = sites_of(path.name)
    frame = gpd.GeoDataFrame(
        {
            "site_name": [s.name for s in sites],
            "site_type": ["Chantier" if s.kind == "mine" else "Comptoir" for s in sites],
            "minerals": [s.minerals_fr.replace(" ", ", ").title() for s in sites],
            "visit_date": pd.to_datetime([s.visited for s in sites]).date,
            "horizontal_accuracy": [s.accuracy_m for s in sites],
        },
        geometry=shapely.points([s.lon for s in sites], [s.lat for s in sites]),
        crs=4326,
    )
    team = pd.DataFrame({"membre": ["Enquêteur 1", "Enquêteur 2"], "role": ["GPS", "Notes"]})
    path.unlink(missing_ok=True)
    pyogrio.write_dataframe(frame, path, layer="sites", driver="GPKG")
    pyogrio.write_dataframe(team, path, layer="equipe", driver="GPKG", append=True)
    return [(i + 1, site) for i, site in enumerate(sites)]


def write_geojson(path: Path) -> list[tuple[int, Site]]:
    """RFC 7946 GeoJSON with English property names."""
    sites = sites_of(path.name)
    frame = gpd.GeoDataFrame(
        {
            "name": [s.name for s in sites],
            "kind": [s.kind for s in sites],
            "minerals": [s.minerals_en.replace(" ", "; ") for s in sites],
            "date": [s.visited.isoformat() for s in sites],
            "accuracy_m": [s.accuracy_m for s in sites],
        },
        geometry=shapely.points([s.lon for s in sites], [s.lat for s in sites]),
        crs=4326,
    )
    pyogrio.write_dataframe(
        frame, path, driver="GeoJSON", layer_options={"RFC7946": "YES", "COORDINATE_PRECISION": 9}
    )
    return [(i + 1, site) for i, site in enumerate(sites)]


def write_xlsx(path: Path) -> list[tuple[int, Site]]:
    """A spreadsheet of comptoirs typed by hand: French headers, d/m/Y dates as text."""
    sites = sites_of(path.name)
    table = pd.DataFrame(
        {
            "Nom du comptoir": [s.name for s in sites],
            "Type": ["Comptoir" if s.kind == "sales_point" else "Chantier" for s in sites],
            "Minerais": [s.minerals_fr.replace(" ", ", ") for s in sites],
            "Longitude": [s.lon for s in sites],
            "Latitude": [s.lat for s in sites],
            "Date de visite": [f"{s.visited:%d/%m/%Y}" for s in sites],
            "Précision (m)": [s.accuracy_m for s in sites],
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        written = Path(tmp) / "comptoirs.xlsx"
        pyogrio.write_dataframe(table, written, layer="Comptoirs", driver="XLSX")
        with zipfile.ZipFile(written) as workbook:
            members = {name: workbook.read(name) for name in sorted(workbook.namelist())}
    write_zip(path, members)
    return [(i + 2, site) for i, site in enumerate(sites)]


def write_dms(path: Path) -> list[tuple[int, Site]]:
    """Coordinates copied from a GPS screen: DMS and degrees-decimal-minutes, mixed."""
    sites = sites_of(path.name)
    rows = []
    for i, site in enumerate(sites):
        lat, lon = _angle_text(site.lat, "NS", i % 3), _angle_text(site.lon, "EW", i % 3)
        french_date = f"{site.visited.day} {_MOIS[site.visited.month - 1]} {site.visited.year}"
        rows.append([site.name, lat, lon, site.minerals_fr, KIND_FR[site.kind], french_date])
    write_csv(path, ["Site", "Latitude", "Longitude", "Minerai", "Type", "Date"], rows)
    return [(i + 2, site) for i, site in enumerate(sites)]


def _angle_text(value: float, letters: str, style: int) -> str:
    """``4°21'33.1234"N`` (style 0), ``4 21.552000 N`` (1) or ``N 4°21.552000'`` (2).

    Written here independently of ``geo.coords`` so a shared mistake cannot hide.
    """
    letter = letters[0] if value >= 0 else letters[1]
    degrees = int(abs(value))
    minutes = (abs(value) - degrees) * 60
    if style == 0:
        whole = int(minutes)
        seconds = (minutes - whole) * 60
        return f"{degrees}°{whole:02d}'{seconds:07.4f}\"{letter}"
    if style == 1:
        return f"{degrees} {minutes:09.6f} {letter}"
    return f"{letter} {degrees}°{minutes:09.6f}'"


_MOIS = (
    "janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
    "octobre", "novembre", "décembre",
)  # fmt: skip


def write_decimal_comma(path: Path) -> list[tuple[int, Site]]:
    """French Excel's "CSV (séparateur : point-virgule)": ``;``, ``-6,421034``, Windows-1252."""
    sites = sites_of(path.name)
    rows = [
        [
            s.name, repr(s.lat).replace(".", ","), repr(s.lon).replace(".", ","),
            s.minerals_fr.replace(" ", ", "), KIND_FR[s.kind], f"{s.visited:%d/%m/%Y}",
            f"{s.accuracy_m:g}".replace(".", ","),
        ]
        for s in sites
    ]  # fmt: skip
    header = ["Nom", "Latitude", "Longitude", "Minerais", "Type", "Date visite", "Précision"]
    write_csv(path, header, rows, delimiter=";", encoding="cp1252")
    return [(i + 2, site) for i, site in enumerate(sites)]


# mixed_bad_rows.csv: an IPIS-like export of a DRC team (declared country COD). Each entry is
# (site or None, name, longitude, latitude, accuracy, visit date m/d/Y, mineral1, mineral2,
# kind, expected issues as (column, code)).
_MIXED: list[tuple[object, ...]] = [
    ("gbadolite", None, None, None, None, None, None, None, None, []),
    ("libenge", None, None, None, None, None, None, None, None, []),
    (None, "Chantier sans GPS", "", "", "", "5/24/2024", "or", "", "mine",
     [("longitude, latitude", "missing_coordinates")]),
    (None, "Point zéro", "0", "0", "", "5/24/2024", "or", "", "mine",
     [("longitude, latitude", "zero_zero")]),
    (None, "Latitude impossible", "21.0101", "95.2811", "", "5/24/2024", "diamant", "", "mine",
     [("longitude, latitude", "out_of_range")]),
    (None, "Minutes impossibles", "18°36'07\"E", "4°75'12\"N", "", "5/24/2024", "or", "",
     "comptoir", [("latitude", "unparseable_coordinate")]),
    (None, "Comptoir Gbadolite inversé", "4.282171", "21.008044", "", "5/25/2024", "diamant",
     "", "comptoir", [("longitude, latitude", "swapped_lat_lon")]),
    (None, "Comptoir Lubumbashi", "27.479012", "11.664018", "", "5/25/2024", "cuivre",
     "cobalt", "comptoir", [("latitude", "dropped_minus_sign")]),
    (None, "Point en mer", "4.000000", "-1.000000", "", "5/25/2024", "or", "", "mine",
     [("longitude, latitude", "at_sea")]),
    (None, "Comptoir Nairobi", "36.821946", "-1.292066", "", "5/25/2024", "or", "",
     "comptoir", [("longitude, latitude", "outside_region")]),
    ("bondo", None, None, None, "250", None, None, None, None,
     [("accuracy", "low_accuracy")]),
    (None, "Chantier date illisible", "18.640127", "3.660214", "", "13/45/2024", "or", "",
     "mine", [("visit_date", "unparseable_date")]),
    ("zongo", None, None, None, None, None, "kryptonite", None, None,
     [("mineral1, mineral2", "unknown_mineral")]),
    ("gombe", None, None, None, None, None, None, None, "école", [("kind", "unknown_kind")]),
    ("pk5", None, None, None, None, None, None, None, None,
     [("longitude, latitude", "country_mismatch")]),
]  # fmt: skip
_MALFORMED_AFTER = 3  # a row with an unquoted comma in its name comes after this many rows


def write_mixed(path: Path) -> list[tuple[int, Site]]:
    header = [
        "id", "name", "longitude", "latitude", "accuracy", "visit_date", "mineral1", "mineral2",
        "kind",
    ]  # fmt: skip
    rows: list[list[str]] = []
    good: list[tuple[int, Site]] = []
    expected: list[tuple[int, str, str, str]] = []
    for key, name, lon, lat, accuracy, visited, mineral1, mineral2, kind, issues in _MIXED:
        if len(rows) == _MALFORMED_AFTER:
            number = len(rows) + 2
            rows.append([str(number), "Comptoir Zongo", " Beach", "18.602019", "4.339025", "",
                         "5/21/2024", "diamant", "", "comptoir"])  # fmt: skip
            expected.append((number, "", "malformed_row", "error"))
        number = len(rows) + 2
        site = SITES[str(key)] if key else None
        values = [
            name if name is not None else site.name if site else "",
            lon if lon is not None else repr(site.lon) if site else "",
            lat if lat is not None else repr(site.lat) if site else "",
            accuracy if accuracy is not None else f"{site.accuracy_m:g}" if site else "",
            visited if visited is not None else _mdy(site.visited) if site else "",
            mineral1 if mineral1 is not None else site.minerals_fr.split()[0] if site else "",
            mineral2 if mineral2 is not None else " ".join(site.minerals_fr.split()[1:])
            if site else "",
            kind if kind is not None else KIND_FR[site.kind] if site else "",
        ]  # fmt: skip
        rows.append([str(number), *map(str, values)])
        for column, code in issues:  # type: ignore[attr-defined]
            severity = "error" if code not in _WARNINGS else "warning"
            expected.append((number, column, code, severity))
        if site is not None and all(code in _WARNINGS for _, code in issues):  # type: ignore[attr-defined]
            good.append((number, site))
    write_csv(path, header, rows)
    write_csv(
        HERE / "mixed_bad_rows.expected.csv",
        ["row", "column", "code", "severity"],
        sorted(expected),
    )
    return good


def _mdy(day: date) -> str:
    return f"{day.month}/{day.day}/{day.year}"


_WARNINGS = {"low_accuracy", "unknown_mineral", "unknown_kind", "country_mismatch"}

WRITERS = {
    "kobo_survey.csv": write_kobo,
    "odk_central.csv": write_odk,
    "handheld.gpx": write_gpx,
    "google_earth.kmz": write_kmz,
    "my_maps.kml": write_kml,
    "sites_utm34n.zip": write_shapefile,
    "field_team.gpkg": write_gpkg,
    "sites.geojson": write_geojson,
    "comptoirs.xlsx": write_xlsx,
    "dms_coordinates.csv": write_dms,
    "decimal_comma.csv": write_decimal_comma,
    "mixed_bad_rows.csv": write_mixed,
}


def main() -> None:
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2024-01-01T00:00:00Z"})
    assert pyproj.CRS.from_epsg(32634).utm_zone == "34N"
    expected = []
    for filename, write in WRITERS.items():
        for row, site in write(HERE / filename):
            expected.append(
                [filename, str(row), site.name, site.iso3, repr(site.lon), repr(site.lat)]
            )
        sys.stdout.write(f"wrote {filename}\n")
    write_csv(HERE / "expected.csv", ["file", "row", "name", "iso3", "lon", "lat"], expected)


if __name__ == "__main__":
    main()
