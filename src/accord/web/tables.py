"""Every list and series in three shapes: JSON (default), CSV and Parquet, chosen by ``format`` or Accept."""

from __future__ import annotations

import io
from datetime import date, datetime
from typing import Any

import pandas as pd
from fastapi import Request
from fastapi.responses import JSONResponse, Response

from accord.errors import AccordError, Problem

FORMATS = ("json", "csv", "parquet")


def choose(request: Request, fmt: str | None) -> str:
    if fmt:
        if fmt not in FORMATS:
            raise AccordError(
                "unsupported format",
                [Problem(f"format must be one of {', '.join(FORMATS)}", field="format")],
                status=400,
            )
        return fmt
    accept = request.headers.get("accept", "")
    if "text/csv" in accept:
        return "csv"
    if "parquet" in accept:
        return "parquet"
    return "json"


def _jsonable(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = _timestamps_as_text(out[col])
        elif out[col].dtype == object:
            # services hand over Python dates and datetimes too: ISO 8601 text, as the datetime64 columns
            out[col] = out[col].map(_iso_cell)
    out = out.astype(object).where(out.notna(), None)
    return [{str(k): v for k, v in row.items()} for row in out.to_dict(orient="records")]


def _timestamps_as_text(column: pd.Series) -> pd.Series:
    """Days as YYYY-MM-DD; instants (a time zone, or a time of day) in full ISO 8601."""
    values = column.dropna()
    if column.dt.tz is None and (values == values.dt.normalize()).all():
        days: pd.Series = column.dt.strftime("%Y-%m-%d")
        return days
    return column.map(lambda v: None if pd.isna(v) else v.isoformat())


def _iso_cell(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


def render(frame: pd.DataFrame, fmt: str, filename: str, meta: dict[str, Any] | None = None) -> Response:
    if fmt == "csv":
        text = frame.to_csv(index=False, date_format="%Y-%m-%d")
        return Response(
            text,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'inline; filename="{filename}.csv"'},
        )
    if fmt == "parquet":
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        return Response(
            buf.getvalue(),
            media_type="application/vnd.apache.parquet",
            headers={"Content-Disposition": f'attachment; filename="{filename}.parquet"'},
        )
    return JSONResponse({**(meta or {}), "data": _jsonable(frame)})
