"""Every list and series in three shapes: JSON (default), CSV and Parquet, chosen by ``format`` or Accept."""

from __future__ import annotations

import io
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
            out[col] = out[col].dt.strftime("%Y-%m-%d")
    out = out.astype(object).where(out.notna(), None)
    return [{str(k): v for k, v in row.items()} for row in out.to_dict(orient="records")]


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
