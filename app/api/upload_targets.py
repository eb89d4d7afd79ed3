"""The ``target`` of ``POST /uploads`` and the form fields only some targets read, declared
once as a dependency of the upload route (see :mod:`app.services.upload_targets`)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Depends, Form

from app.api.text_checks import MULTI_LINE
from app.services.upload_targets import Target, TargetFields


def target_fields(
    target: Annotated[
        Target,
        Form(
            description="What the file holds: sites (survey rows, the default), zones "
            "(polygons of a zone set), routes (lines from source to destination, or a "
            "CSV/XLSX table of source and destination sites) or actors (a CSV/XLSX registry)"
        ),
    ] = "sites",
    zone_set: Annotated[
        str | None,
        Form(
            max_length=200,
            pattern=MULTI_LINE,
            description="target=zones: the zone set's name (default: source, else the file "
            "name); a set of that name is replaced",
        ),
    ] = None,
    zone_type: Annotated[
        str | None,
        Form(
            max_length=100,
            pattern=MULTI_LINE,
            description="target=zones: kp_compliant_zone, protected_area, concession, "
            "security_incident_area or other (any EN/FR/PT label)",
        ),
    ] = None,
    valid_from: Annotated[
        dt.date | None, Form(description="target=zones: first day the zones apply")
    ] = None,
    valid_to: Annotated[
        dt.date | None, Form(description="target=zones: last day the zones apply")
    ] = None,
) -> TargetFields:
    return TargetFields(target, zone_set, zone_type, valid_from, valid_to)


TargetFieldsDep = Annotated[TargetFields, Depends(target_fields)]
