"""Moving packages over HTTP: resumable, content-addressed push; ranged pull; retries with backoff.

No database here: the callers (CLI, service glue) hand in bytes and get dicts back. A push first asks the
receiver which chunks it already holds, then sends only the others, then commits; after a broken connection
the whole exchange simply starts again and the receiver's answer makes it resume where it stopped. Every request
is signed by the sending instance (``Signer``, an httpx auth: each attempt gets its own time and nonce).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.errors import AccordError, Conflict, Forbidden, NotFound, Problem
from accord.federation import httpsig, package

API = "/api/v1/federation"
RETRYABLE = (httpx.TransportError,)


class Signer(httpx.Auth):
    """Signs each request as ``sender`` to the instance of ``receiver`` (see ``accord.federation.httpsig``)."""

    requires_request_body = True

    def __init__(
        self,
        sender: str,
        receiver: str,
        key_id: str,
        key: Ed25519PrivateKey,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sender, self.receiver, self.key_id, self.key, self.clock = sender, receiver, key_id, key, clock

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(
            httpsig.sign(
                self.key,
                self.key_id,
                method=request.method,
                path=request.url.path,
                query=request.url.query.decode("ascii"),
                body=request.content,
                sender=self.sender,
                receiver=self.receiver,
                created=int(self.clock()),
            )
        )
        yield request


def _auth(auth: httpx.Auth | None) -> Any:
    """Per-request auth: the signer, or the client's own default (never 'none' by accident)."""
    return auth if auth is not None else httpx.USE_CLIENT_DEFAULT


def _raise_for(response: httpx.Response, what: str) -> None:
    """A refusal of the other side, as our own error (its problem document's title and first problem)."""
    if response.status_code < 400:
        return
    try:
        body = response.json()
    except ValueError:
        body = {"title": response.text[:200]}
    title = str(body.get("detail") or body.get("title") or f"HTTP {response.status_code}")
    problems = [
        Problem(str(p.get("message", "")), field=p.get("field"), code=str(p.get("code", "invalid")))
        for p in body.get("errors") or []
        if isinstance(p, dict)
    ]
    message = f"{what}: {title}"
    if response.status_code == 404:
        raise NotFound(message)
    if response.status_code in (401, 403):
        err = Forbidden(message)
        err.problems.extend(problems)
        raise err
    if response.status_code == 409:
        raise Conflict(message, problems)
    raise AccordError(message, problems, status=response.status_code)


class Retrying:
    """Calls ``attempt`` until it succeeds; a transport error or a 5xx waits ``base * 2**n`` seconds (capped)."""

    def __init__(
        self,
        attempts: int = 6,
        base_seconds: float = 0.5,
        cap_seconds: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.attempts, self.base, self.cap, self.sleep = attempts, base_seconds, cap_seconds, sleep
        self.retries = 0

    def __call__(self, attempt: Callable[[], dict[str, Any]], what: str) -> dict[str, Any]:
        for n in range(self.attempts):
            try:
                return attempt()
            except RETRYABLE as exc:
                last: Exception = exc
            except _ServerError as exc:
                last = exc
            if n + 1 < self.attempts:
                self.retries += 1
                self.sleep(min(self.cap, self.base * 2**n))
        raise AccordError(f"{what} failed after {self.attempts} attempts: {last}", status=503)


class _ServerError(Exception):
    pass


def _check(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.status_code >= 500:
        raise _ServerError(f"{what}: HTTP {response.status_code}")
    _raise_for(response, what)
    body: dict[str, Any] = response.json()
    return body


def push(
    client: httpx.Client,
    base_url: str,
    manifest: dict[str, Any],
    payload: bytes,
    *,
    chunk_bytes: int = 4 * 1024 * 1024,
    retrying: Retrying | None = None,
    progress: Callable[[int, int], None] | None = None,
    auth: httpx.Auth | None = None,
) -> dict[str, Any]:
    """Deliver one package to a parent; returns the parent's answer (applied, held, replay). ``auth``: the
    sender's ``Signer`` (the parent refuses unsigned uploads)."""
    retrying = retrying or Retrying()
    hashes = package.chunk_hashes(payload, chunk_bytes)
    base = base_url.rstrip("/") + API
    sent = {"chunks": 0, "bytes": 0}

    def attempt() -> dict[str, Any]:
        start = _check(
            client.post(
                f"{base}/uploads",
                json={
                    "package_id": manifest["id"],
                    "sender": manifest["sender"],
                    "size": len(payload),
                    "chunk_bytes": chunk_bytes,
                    "chunk_hashes": hashes,
                },
                auth=_auth(auth),
            ),
            "starting the upload",
        )
        if start["status"] == "applied":
            return {"package_id": manifest["id"], "status": "replay", "result": start.get("result")}
        have = set(start["have"])
        for i in range(len(hashes)):
            if i in have:
                continue
            chunk = payload[i * chunk_bytes : (i + 1) * chunk_bytes]
            _check(
                client.put(
                    f"{base}/uploads/{manifest['id']}/chunks/{i}",
                    content=chunk,
                    headers={"content-type": "application/octet-stream"},
                    auth=_auth(auth),
                ),
                f"sending chunk {i}",
            )
            sent["chunks"] += 1
            sent["bytes"] += len(chunk)
            if progress:
                progress(i + 1, len(hashes))
        return _check(
            client.post(f"{base}/uploads/{manifest['id']}/commit", auth=_auth(auth)), "committing the package"
        )

    result = retrying(attempt, f"pushing package {manifest['sequence']} to {base_url}")
    result["transfer"] = {**sent, "chunks_total": len(hashes), "retries": retrying.retries}
    return result


def list_outbox(
    client: httpx.Client,
    child_url: str,
    receiver: str,
    after: int,
    retrying: Retrying | None = None,
    *,
    auth: httpx.Auth | None = None,
) -> list[dict[str, Any]]:
    """The packages a member holds for ``receiver`` (this parent, proving it with ``auth``) after ``after``."""
    retrying = retrying or Retrying()
    url = child_url.rstrip("/") + API + "/outbox"
    params: dict[str, str | int] = {"receiver": receiver, "after": after}
    body = retrying(
        lambda: _check(client.get(url, params=params, auth=_auth(auth)), "listing the outbox"),
        "listing the outbox",
    )
    return list(body["packages"])


def fetch(
    client: httpx.Client,
    child_url: str,
    package_id: str,
    size: int,
    *,
    retrying: Retrying | None = None,
    range_bytes: int = 4 * 1024 * 1024,
    auth: httpx.Auth | None = None,
) -> bytes:
    """Download a package by byte ranges: after a broken connection only the missing tail is fetched again."""
    retrying = retrying or Retrying()
    url = child_url.rstrip("/") + API + f"/outbox/{package_id}"
    parts: list[bytes] = []
    got = 0

    def attempt() -> dict[str, Any]:
        nonlocal got
        while got < size:
            end = min(size, got + range_bytes) - 1
            response = client.get(url, headers={"range": f"bytes={got}-{end}"}, auth=_auth(auth))
            if response.status_code >= 500:
                raise _ServerError(f"HTTP {response.status_code}")
            _raise_for(response, f"fetching package {package_id[:12]}")
            parts.append(response.content)
            got += len(response.content)
        return {}

    retrying(attempt, f"fetching package {package_id[:12]}")
    return b"".join(parts)


def post_json(
    client: httpx.Client, url: str, body: dict[str, Any], what: str, retrying: Retrying | None = None
) -> dict[str, Any]:
    retrying = retrying or Retrying()
    return retrying(lambda: _check(client.post(url, json=body), what), what)


def get_json(
    client: httpx.Client, url: str, what: str, params: dict[str, Any] | None = None, retrying: Retrying | None = None
) -> dict[str, Any]:
    retrying = retrying or Retrying()
    return retrying(lambda: _check(client.get(url, params=params), what), what)
