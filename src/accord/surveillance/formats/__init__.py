"""Data formats in and out: a registry the service, API and CLI look formats up in.

Every format has ``parse(data: bytes, filename: str, **options) -> ParseResult`` and, where it can be
written, ``render(frame, **options) -> bytes``. See :mod:`.common` for the observation frame they share.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from accord.errors import AccordError
from accord.surveillance.formats import canghailan, dhis2, jhu, longcsv, owid, who
from accord.surveillance.formats.common import ParseResult


@dataclass(frozen=True, slots=True)
class Format:
    name: str
    label: str
    #: file name extension without the dot, as in ``f"{stem}.{extension}"``
    extension: str
    media_type: str
    parse: Callable[..., ParseResult]
    render: Callable[..., bytes] | None
    #: the beginning of the header / a marker of the document that identifies the format (for :func:`detect`)
    signature: tuple[str, ...] = ()


def _checked(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse unknown options with a clear 400 instead of a TypeError from deep inside."""
    params = inspect.signature(function).parameters
    allowed = [p for p, spec in params.items() if spec.kind is inspect.Parameter.KEYWORD_ONLY]

    @functools.wraps(function)
    def call(*args: Any, **options: Any) -> Any:
        unknown = sorted(set(options) - set(allowed))
        if unknown:
            raise AccordError(
                f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} for format "
                f"'{name}'; its options are: {', '.join(allowed) or 'none'}",
                status=400,
                kind="invalid-option",
            )
        return function(*args, **options)

    return call


def _format(
    name: str,
    label: str,
    extension: str,
    media_type: str,
    parse: Callable[..., ParseResult],
    render: Callable[..., bytes] | None,
    signature: tuple[str, ...],
) -> Format:
    return Format(
        name, label, extension, media_type, _checked(name, parse), _checked(name, render) if render else None, signature
    )


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        _format("csv", "Accord long CSV", "csv", "text/csv", longcsv.parse, longcsv.render, ("jurisdiction,",)),
        _format("owid", "Our World in Data (long CSV)", "csv", "text/csv", owid.parse, owid.render, ("iso_code,",)),
        _format(
            "jhu",
            "JHU CSSE time series (wide CSV, cumulative)",
            "csv",
            "text/csv",
            jhu.parse,
            jhu.render,
            ("Province/State,", "UID,iso2,"),
        ),
        _format("who", "WHO COVID-19 global data (CSV)", "csv", "text/csv", who.parse, who.render, ("Date_reported,",)),
        _format(
            "canghailan",
            "canghailan China daily (CSV, cumulative)",
            "csv",
            "text/csv",
            canghailan.parse,
            canghailan.render,
            ("date,country,countryCode,",),
        ),
        _format(
            "dhis2",
            "DHIS2 data value set (JSON)",
            "json",
            "application/json",
            dhis2.parse,
            dhis2.render,
            ('"dataValues"',),
        ),
        _format(
            "adx",
            "IHE ADX (XML)",
            "xml",
            "application/adx+xml",
            dhis2.parse_adx,
            dhis2.render_adx,
            ("urn:ihe:qrph:adx:2015",),
        ),
    )
}


def names() -> list[str]:
    return list(FORMATS)


def get(name: str) -> Format:
    """The format called ``name``; an AccordError listing the known ones otherwise."""
    try:
        return FORMATS[name]
    except KeyError:
        raise AccordError(
            f"unknown format '{name}'; known formats: {', '.join(FORMATS)}", status=400, kind="unknown-format"
        ) from None


def detect(filename: str, head: bytes) -> str | None:
    """Guess a format from the file name and its first bytes (say 4 KB); None when unsure.

    CSV layouts are told apart by their header line; JSON and XML by a marker near the top.
    """
    text = head[:4096].decode("utf-8", errors="replace").lstrip("\ufeff").lstrip()
    first_line = text.split("\n", 1)[0].replace(" ", "")
    suffix = PurePath(filename).suffix.lower()
    for fmt in FORMATS.values():
        if fmt.extension == "csv":
            found = suffix in ("", ".csv", ".txt") and any(first_line.startswith(s) for s in fmt.signature)
        else:
            found = (suffix in ("." + fmt.extension, "") or text[:1] in "{<") and any(s in text for s in fmt.signature)
        if found:
            return fmt.name
    return None


__all__ = ["FORMATS", "Format", "ParseResult", "detect", "get", "names"]
