"""Signed data packages between instances (pure: frames and bytes in, frames and bytes out).

A package is one ZIP file (stored, not deflated: Parquet is compressed already) holding

- ``manifest.json``: who sends it (``sender``, the jurisdiction the instance speaks for, and ``key_id``), to
  whom (``receiver``), the jurisdiction subtree and period it covers, the indicators, the SHA-256 of the data
  and places files, the ``sequence`` number on the link and the ``previous_id`` (a hash chain), the ids of
  earlier packages it revises, ``created_at`` and the link configuration it was cut with;
- ``signature.txt``: the detached Ed25519 signature of the canonical manifest bytes;
- ``data.parquet``: observations in our long format (jurisdiction, date, indicator, disaggregation, value,
  reason);
- ``places.parquet``: the jurisdictions the data names, with their parents (code, name, local_name, level,
  parent_code, population), so a hub can place them under the member's country.

The package id is the SHA-256 of the canonical manifest without ``id`` and ``created_at``: the same content on
the same link at the same position is the same package, whenever it was cut.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from accord.disclosure import suppression
from accord.errors import AccordError, Problem
from accord.federation import keys

FORMAT = "accord-package/1"
DATA_COLUMNS = ["jurisdiction", "date", "indicator", "disaggregation", "value", "reason"]
PLACE_COLUMNS = ["code", "name", "local_name", "level", "parent_code", "population"]
MEMBERS = ("manifest.json", "signature.txt", "data.parquet", "places.parquet")
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)  # fixed member timestamps: the same content gives the same bytes

#: refusal codes (stored in the receiver's inbox log)
MALFORMED, UNKNOWN_SENDER, UNKNOWN_KEY, BAD_SIGNATURE = "malformed", "unknown_sender", "unknown_key", "bad_signature"
HASH_MISMATCH, WRONG_SCOPE, CLOCK_SKEW, OUT_OF_ORDER = "hash_mismatch", "wrong_scope", "clock_skew", "out_of_order"
WRONG_RECEIVER, REJECTED, WRONG_SENDER = "wrong_receiver", "rejected", "wrong_sender"


def refusal(code: str, message: str, *, field: str | None = None, status: int = 422) -> AccordError:
    """A refusal whose first problem carries the code the inbox log stores."""
    return AccordError(
        f"package refused ({code.replace('_', ' ')})", [Problem(message, field=field, code=code)], status=status
    )


@dataclass(frozen=True)
class LinkConfig:
    """What goes up a link: levels 0..``depth`` below the sender's root (0 = the country total only), which
    indicators (None = all stored ones), which view (public = approved figures only), and small-count
    suppression (counts 1..below-1 at depth >= ``suppress_from_depth`` are withheld, not sent)."""

    depth: int = 1
    indicators: tuple[str, ...] | None = None
    view: str = "public"
    suppress_below: int = 0
    suppress_from_depth: int = 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "depth": self.depth,
            "indicators": list(self.indicators) if self.indicators else None,
            "view": self.view,
            "suppress_below": self.suppress_below,
            "suppress_from_depth": self.suppress_from_depth,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> LinkConfig:
        d = dict(d or {})
        problems = []
        if d.get("view", "public") not in ("public", "all"):
            problems.append(Problem("view must be 'public' or 'all'", field="view"))
        if not isinstance(d.get("depth", 1), int) or d.get("depth", 1) < 0:
            problems.append(Problem("depth must be a whole number >= 0", field="depth"))
        if problems:
            raise AccordError("invalid link configuration", problems)
        inds = d.get("indicators")
        return cls(
            depth=int(d.get("depth", 1)),
            indicators=tuple(inds) if inds else None,
            view=str(d.get("view", "public")),
            suppress_below=int(d.get("suppress_below", 0)),
            suppress_from_depth=int(d.get("suppress_from_depth", 1)),
        )


@dataclass(frozen=True)
class Built:
    id: str
    manifest: dict[str, Any]
    payload: bytes


@dataclass(frozen=True)
class Opened:
    manifest: dict[str, Any]
    signature: str
    data: bytes
    places: bytes

    @property
    def id(self) -> str:
        return str(self.manifest["id"])


# ------------------------------------------------------------------------------------------- selection
def select_upward(frame: pd.DataFrame, depth: np.ndarray, config: LinkConfig) -> pd.DataFrame:
    """Rows of ``frame`` (one per jurisdiction-day-indicator; ``depth`` relative to the sender's root, aligned
    with the rows) that the link sends: levels 0..depth, chosen indicators, small counts withheld."""
    keep = depth <= config.depth
    if config.indicators:
        keep &= frame["indicator"].isin(list(config.indicators)).to_numpy()
    policy = suppression.SuppressionPolicy(config.suppress_below, config.suppress_from_depth)
    if policy.enabled:
        values = frame["value"].to_numpy(dtype=np.float64)[:, None]
        keep &= ~suppression.primary(depth.astype(np.int64), values, policy)[:, 0]
    return frame[keep].reset_index(drop=True)


# ------------------------------------------------------------------------------------------ encoding
def canonical(obj: Mapping[str, Any]) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def package_id(manifest: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical({k: v for k, v in manifest.items() if k not in ("id", "created_at")})).hexdigest()


def data_bytes(frame: pd.DataFrame) -> bytes:
    """Observations as Parquet (zstd, dictionary-encoded codes), in key order."""
    out = frame.reindex(columns=DATA_COLUMNS)
    table = pa.table(
        {
            "jurisdiction": pa.array(out["jurisdiction"].astype(str).to_numpy(), pa.string()),
            "date": pa.array(pd.to_datetime(out["date"]).dt.date.to_numpy(), pa.date32()),
            "indicator": pa.array(out["indicator"].astype(str).to_numpy(), pa.string()),
            "disaggregation": pa.array(out["disaggregation"].fillna("").astype(str).to_numpy(), pa.string()),
            "value": pa.array(out["value"].to_numpy(dtype=np.float64), pa.float64()),
            "reason": pa.array(out["reason"].fillna("").astype(str).to_numpy(), pa.string()),
        }
    )
    return _parquet(table)


def places_bytes(places: pd.DataFrame) -> bytes:
    out = places.reindex(columns=PLACE_COLUMNS)
    table = pa.table(
        {
            **{c: pa.array(out[c].fillna("").astype(str).to_numpy(), pa.string()) for c in PLACE_COLUMNS[:5]},
            "population": pa.array(pd.to_numeric(out["population"]).astype("Int64"), pa.int64(), from_pandas=True),
        }
    )
    return _parquet(table)


def _parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd", use_dictionary=True, write_statistics=False)
    return sink.getvalue()


def read_data(data: bytes) -> pd.DataFrame:
    try:
        frame = pq.read_table(io.BytesIO(data)).to_pandas()
    except (pa.ArrowException, OSError) as exc:
        raise refusal(MALFORMED, f"data.parquet is not a readable Parquet file ({exc})", field="data") from exc
    missing = [c for c in DATA_COLUMNS if c not in frame]
    if missing:
        raise refusal(MALFORMED, f"data.parquet lacks the column(s) {', '.join(missing)}", field="data")
    out: pd.DataFrame = frame[DATA_COLUMNS]
    return out


def read_places(data: bytes) -> pd.DataFrame:
    try:
        frame = pq.read_table(io.BytesIO(data)).to_pandas()
    except (pa.ArrowException, OSError) as exc:
        raise refusal(MALFORMED, f"places.parquet is not a readable Parquet file ({exc})", field="places") from exc
    missing = [c for c in PLACE_COLUMNS if c not in frame]
    if missing:
        raise refusal(MALFORMED, f"places.parquet lacks the column(s) {', '.join(missing)}", field="places")
    frame["parent_code"] = frame["parent_code"].fillna("").astype(str)
    out: pd.DataFrame = frame[PLACE_COLUMNS]
    return out


def build(
    frame: pd.DataFrame,
    places: pd.DataFrame,
    *,
    key: Ed25519PrivateKey,
    sender: str,
    receiver: str,
    subtree: str,
    start: date,
    end: date,
    indicators: Sequence[str],
    sequence: int,
    previous_id: str | None,
    revises: Sequence[str],
    created_at: datetime,
    link: LinkConfig,
) -> Built:
    """Cut, sign and pack one package."""
    data, place_data = data_bytes(frame), places_bytes(places)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "sender": sender,
        "receiver": receiver,
        "key_id": keys.key_id(keys.public_text(key)),
        "subtree": subtree,
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "indicators": sorted(indicators),
        "rows": len(frame),
        "content_hash": hashlib.sha256(data).hexdigest(),
        "places_hash": hashlib.sha256(place_data).hexdigest(),
        "sequence": sequence,
        "previous_id": previous_id,
        "revises": list(revises),
        "link": link.as_dict(),
        "created_at": created_at.astimezone(UTC).isoformat(),
    }
    manifest["id"] = package_id(manifest)
    signature = keys.sign(key, canonical(manifest))
    return Built(manifest["id"], manifest, pack(manifest, signature, data, place_data))


def pack(manifest: Mapping[str, Any], signature: str, data: bytes, places: bytes) -> bytes:
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as z:
        for name, content in zip(MEMBERS, (canonical(manifest), signature.encode(), data, places), strict=True):
            z.writestr(zipfile.ZipInfo(name, _ZIP_TIME), content)
    return sink.getvalue()


# ------------------------------------------------------------------------------------------ decoding
def open_payload(payload: bytes) -> Opened:
    """Unpack a package; a file that is not one is refused as malformed, naming what is wrong."""
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as z:
            names = set(z.namelist())
            missing = [m for m in MEMBERS if m not in names]
            if missing:
                raise refusal(MALFORMED, f"the package lacks {', '.join(missing)}", field="package")
            raw = {m: z.read(m) for m in MEMBERS}
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise refusal(MALFORMED, "the package is not a ZIP file (truncated or corrupted?)", field="package") from exc
    try:
        manifest = json.loads(raw["manifest.json"])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise refusal(MALFORMED, f"manifest.json is not JSON ({exc})", field="manifest.json") from exc
    check_manifest(manifest)
    return Opened(
        manifest, raw["signature.txt"].decode(errors="replace").strip(), raw["data.parquet"], raw["places.parquet"]
    )


_FIELDS: dict[str, type | tuple[type, ...]] = {
    "format": str,
    "sender": str,
    "receiver": str,
    "key_id": str,
    "subtree": str,
    "period": dict,
    "indicators": list,
    "rows": int,
    "content_hash": str,
    "places_hash": str,
    "sequence": int,
    "previous_id": (str, type(None)),
    "revises": list,
    "link": dict,
    "created_at": str,
    "id": str,
}


def check_manifest(manifest: Any) -> None:
    """Every field present with its type, the period and timestamp parseable, the id matching the content."""
    if not isinstance(manifest, dict):
        raise refusal(MALFORMED, "manifest.json must be a JSON object", field="manifest.json")
    for name, kind in _FIELDS.items():
        if name not in manifest:
            raise refusal(MALFORMED, f"manifest.json lacks '{name}'", field=name)
        if not isinstance(manifest[name], kind) or (kind is int and isinstance(manifest[name], bool)):
            raise refusal(MALFORMED, f"manifest field '{name}' has the wrong type", field=name)
    if manifest["format"] != FORMAT:
        raise refusal(MALFORMED, f"format '{manifest['format']}' is not {FORMAT}", field="format")
    if manifest["sequence"] < 1:
        raise refusal(MALFORMED, "sequence must be 1 or more", field="sequence")
    try:
        start = date.fromisoformat(manifest["period"]["start"])
        end = date.fromisoformat(manifest["period"]["end"])
        created = datetime.fromisoformat(manifest["created_at"])
    except (KeyError, TypeError, ValueError) as exc:
        raise refusal(MALFORMED, f"period or created_at is not an ISO date ({exc})", field="period") from exc
    if end < start:
        raise refusal(MALFORMED, "the period ends before it starts", field="period")
    if created.tzinfo is None:
        raise refusal(MALFORMED, "created_at must carry a time zone", field="created_at")
    if package_id(manifest) != manifest["id"]:
        raise refusal(MALFORMED, "the manifest id does not match its content", field="id")


def verify(opened: Opened, public: Ed25519PublicKey) -> None:
    """Signature over the manifest, then the manifest's hashes over the files."""
    if not keys.verify(public, canonical(opened.manifest), opened.signature):
        raise refusal(
            BAD_SIGNATURE,
            f"the signature of package {opened.id[:12]} does not verify with key "
            f"{opened.manifest['key_id']} of '{opened.manifest['sender']}'",
            field="signature",
            status=403,
        )
    for name, content, field in (
        ("data.parquet", opened.data, "content_hash"),
        ("places.parquet", opened.places, "places_hash"),
    ):
        if hashlib.sha256(content).hexdigest() != opened.manifest[field]:
            raise refusal(HASH_MISMATCH, f"{name} does not match the manifest's {field}", field=field)


def check_clock(manifest: Mapping[str, Any], now: datetime, max_skew_seconds: float) -> None:
    created = datetime.fromisoformat(str(manifest["created_at"]))
    if created - now > timedelta(seconds=max_skew_seconds):
        ahead = (created - now).total_seconds()
        raise refusal(
            CLOCK_SKEW,
            f"created_at {created.isoformat()} is {ahead:.0f} s ahead of this instance's clock "
            f"(at most {max_skew_seconds:.0f} s allowed); check the sender's clock",
            field="created_at",
        )


def check_scope(frame: pd.DataFrame, places: pd.DataFrame, subtree: str) -> None:
    """Every place of the package descends from ``subtree`` (through the package's own parent links), and every
    data row names one of those places: a country cannot submit another country's data."""
    parent = dict(zip(places["code"].astype(str), places["parent_code"].astype(str), strict=True))
    if subtree not in parent:
        raise refusal(
            WRONG_SCOPE, f"the package's places do not include its subtree root '{subtree}'", field="places", status=403
        )
    inside = {subtree}
    pending = [c for c in parent if c != subtree]
    while pending:  # breadth by rounds: at most the tree's depth rounds
        grown = [c for c in pending if parent[c] in inside]
        if not grown:
            raise refusal(WRONG_SCOPE, f"place '{pending[0]}' is not within '{subtree}'", field="places", status=403)
        inside.update(grown)
        pending = [c for c in pending if c not in inside]
    outside = ~frame["jurisdiction"].astype(str).isin(list(inside))
    if outside.any():
        code = frame.loc[outside, "jurisdiction"].iat[0]
        raise refusal(
            WRONG_SCOPE,
            f"row for '{code}' is outside the sender's jurisdiction '{subtree}' ({int(outside.sum())} such rows)",
            field="jurisdiction",
            status=403,
        )


# ------------------------------------------------------------------------------------------ chunking
def chunk_hashes(payload: bytes, chunk_bytes: int) -> list[str]:
    """SHA-256 of every chunk: the upload is content-addressed, so a resumed push sends only what is missing."""
    return [
        hashlib.sha256(payload[o : o + chunk_bytes]).hexdigest() for o in range(0, max(len(payload), 1), chunk_bytes)
    ]
