"""The EU vocabularies the catalogues speak: update frequency and licence as IRIs."""

from __future__ import annotations

import math
import re
from datetime import timedelta

__all__ = ["accrual_periodicity", "licence_uri"]

# --- vocabularies ----------------------------------------------------------------------

_FREQUENCY = "http://publications.europa.eu/resource/authority/frequency/"

_DAY = 86_400.0
# Codes of the EU frequency authority table that name a regular period, by that period.
# DAILY_2 (twice a day) is the same period as 12HRS, which is the more precise name.
_PERIODS: tuple[tuple[float, str], ...] = (
    (60, "1MIN"),
    (300, "5MIN"),
    (600, "10MIN"),
    (900, "15MIN"),
    (1800, "30MIN"),
    (3600, "HOURLY"),
    (7200, "BIHOURLY"),
    (10800, "TRIHOURLY"),
    (43200, "12HRS"),
    (_DAY, "DAILY"),
    (3.5 * _DAY, "WEEKLY_2"),
    (7 * _DAY, "WEEKLY"),
    (14 * _DAY, "BIWEEKLY"),
    (30 * _DAY, "MONTHLY"),
    (91 * _DAY, "QUARTERLY"),
    (182 * _DAY, "ANNUAL_2"),
    (365 * _DAY, "ANNUAL"),
    (730 * _DAY, "BIENNIAL"),
)
# A period further than this factor from every code's is not approximated by one.
_PERIOD_TOLERANCE = 1.5

_CC_LICENCE = re.compile(r"CC-(BY(?:-NC)?(?:-SA|-ND)?)-(\d\.\d)(?:-([A-Z]{2,3}))?", re.IGNORECASE)
_KNOWN_LICENCES = {
    "cc0-1.0": "https://creativecommons.org/publicdomain/zero/1.0/",
    "pddl-1.0": "https://opendatacommons.org/licenses/pddl/1-0/",
    "odc-by-1.0": "https://opendatacommons.org/licenses/by/1-0/",
    "odbl-1.0": "https://opendatacommons.org/licenses/odbl/1-0/",
    "ogl-uk-3.0": "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/",
}


def accrual_periodicity(every: timedelta | None) -> str:
    """The EU frequency authority IRI for a topic's update frequency.

    Sub-minute updates are continuous (CONT); a period near one of the table's (within a
    factor 1.5) takes that code; anything else is OTHER, and no frequency is UNKNOWN.
    """
    if every is None:
        return _FREQUENCY + "UNKNOWN"
    seconds = every.total_seconds()
    if seconds < 60:
        return _FREQUENCY + "CONT"
    period, code = min(_PERIODS, key=lambda entry: abs(math.log(seconds / entry[0])))
    if max(seconds / period, period / seconds) > _PERIOD_TOLERANCE:
        return _FREQUENCY + "OTHER"
    return _FREQUENCY + code


def licence_uri(licence: str) -> str:
    """The licence as a URI: a URL as given; an SPDX id mapped to the licence's own page
    (Creative Commons, Open Data Commons, OGL), else to its SPDX page."""
    if licence.startswith(("http://", "https://")):
        return licence
    match = _CC_LICENCE.fullmatch(licence)
    if match is not None:
        kind, version, port = match[1].lower(), match[2], match[3]
        jurisdiction = f"{port.lower()}/" if port else ""
        return f"https://creativecommons.org/licenses/{kind}/{version}/{jurisdiction}"
    return _KNOWN_LICENCES.get(licence.lower(), f"https://spdx.org/licenses/{licence}.html")
