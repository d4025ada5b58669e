// Accord health-code verifier, in the page: works offline once the signed trust list is cached.
// Same pipeline and reasons as accord.healthcode.codec: prefix, Base45, bounded zlib inflate, COSE_Sign1,
// canonical CBOR claims, kid lookup, ES256 signature (WebCrypto, raw r||s as COSE requires), revocation, time.
"use strict";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
const MAX_COSE = 16 * 1024;
const STORE = "accord-healthcode-trustlist";
const COLOURS = ["green", "yellow", "red"];

class Fail extends Error {
  constructor(reason, stage, detail) { super(detail); this.reason = reason; this.stage = stage; }
}

function b45decode(text) {
  if (text.length % 3 === 1) throw new Fail("bad encoding", "base45", "length is 1 modulo 3");
  const out = [];
  for (let i = 0; i < text.length; i += 3) {
    const d = [];
    for (let j = i; j < Math.min(i + 3, text.length); j++) {
      const v = ALPHABET.indexOf(text[j]);
      if (v < 0) throw new Fail("bad encoding", "base45", `character ${JSON.stringify(text[j])} at ${j}`);
      d.push(v);
    }
    if (d.length === 3) {
      const n = d[0] + 45 * d[1] + 2025 * d[2];
      if (n > 0xffff) throw new Fail("bad encoding", "base45", `group at ${i} above 65535`);
      out.push(n >> 8, n & 0xff);
    } else {
      const n = d[0] + 45 * d[1];
      if (n > 0xff) throw new Fail("bad encoding", "base45", `final group above 255`);
      out.push(n);
    }
  }
  return new Uint8Array(out);
}

async function inflate(bytes) {
  // "deflate" in the Compression Streams API is the zlib format; stop reading past the bound (zlib bomb)
  let reader;
  try {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
    reader = stream.getReader();
    const parts = [];
    let total = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > MAX_COSE) { reader.cancel(); throw new Fail("bad compression", "zlib", "inflates beyond the bound (zlib bomb)"); }
      parts.push(value);
    }
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  } catch (e) {
    if (e instanceof Fail) throw e;
    throw new Fail("bad compression", "zlib", "not a complete zlib stream");
  }
}

// ---- CBOR (RFC 8949), decoding what codes contain; maps become Map, byte strings Uint8Array
function cborDecode(bytes, reason, stage) {
  let pos = 0;
  const fail = (m) => { throw new Fail(reason, stage, m); };
  const need = (n) => { if (pos + n > bytes.length) fail("CBOR ends early"); };
  function arg(info) {
    if (info < 24) return info;
    const size = { 24: 1, 25: 2, 26: 4, 27: 8 }[info];
    if (!size) fail("indefinite or reserved length");
    need(size);
    let v = 0;
    for (let i = 0; i < size; i++) v = v * 256 + bytes[pos++];
    return v;
  }
  function item(depth) {
    if (depth > 32) fail("CBOR nested too deeply");
    need(1);
    const head = bytes[pos++], major = head >> 5, info = head & 31;
    if (major === 7) {
      if (info === 20) return false;
      if (info === 21) return true;
      if (info === 22 || info === 23) return null;
      if (info === 25 || info === 26 || info === 27) {
        const size = { 25: 2, 26: 4, 27: 8 }[info];
        need(size);
        const view = new DataView(bytes.buffer, bytes.byteOffset + pos, size);
        pos += size;
        if (size === 8) return view.getFloat64(0);
        if (size === 4) return view.getFloat32(0);
        const h = view.getUint16(0), e = (h >> 10) & 31, f = h & 1023, s = h >> 15 ? -1 : 1;
        return s * (e === 0 ? f * 2 ** -24 : e === 31 ? (f ? NaN : Infinity) : (1 + f / 1024) * 2 ** (e - 15));
      }
      fail("unsupported simple value");
    }
    const n = arg(info);
    if (major === 0) return n;
    if (major === 1) return -1 - n;
    if (major === 2 || major === 3) {
      need(n);
      const b = bytes.subarray(pos, pos + n);
      pos += n;
      return major === 2 ? b : new TextDecoder("utf-8", { fatal: true }).decode(b);
    }
    if (major === 4) { if (n > bytes.length) fail("array too long"); const a = []; for (let i = 0; i < n; i++) a.push(item(depth + 1)); return a; }
    if (major === 5) {
      if (n > bytes.length) fail("map too long");
      const m = new Map();
      for (let i = 0; i < n; i++) { const k = item(depth + 1); m.set(k, item(depth + 1)); }
      return m;
    }
    return { tag: n, value: item(depth + 1) };
  }
  try {
    const v = item(0);
    if (pos !== bytes.length) fail("bytes after the CBOR item");
    return v;
  } catch (e) {
    if (e instanceof Fail) throw e;
    fail("not valid CBOR");
  }
}

function cborHead(major, n) {
  if (n < 24) return [(major << 5) | n];
  if (n < 256) return [(major << 5) | 24, n];
  if (n < 65536) return [(major << 5) | 25, n >> 8, n & 255];
  return [(major << 5) | 26, (n >>> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function sigStructure(protectedBytes, payload) {
  const ctx = new TextEncoder().encode("Signature1");
  const parts = [[0x84], cborHead(3, ctx.length), ctx, cborHead(2, protectedBytes.length), protectedBytes,
    [0x40], cborHead(2, payload.length), payload];
  const len = parts.reduce((s, p) => s + p.length, 0);
  const out = new Uint8Array(len);
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

// Canonical check of our claims (RFC 8949 4.2.1): re-encode the decoded value deterministically and compare.
function cborEncodeCanonical(v) {
  const enc = new TextEncoder();
  const cat = (arrs) => { const n = arrs.reduce((s, a) => s + a.length, 0); const o = new Uint8Array(n); let i = 0; for (const a of arrs) { o.set(a, i); i += a.length; } return o; };
  if (typeof v === "number" && Number.isInteger(v)) return new Uint8Array(v >= 0 ? headBig(0, v) : headBig(1, -1 - v));
  if (typeof v === "string") { const b = enc.encode(v); return cat([new Uint8Array(cborHead(3, b.length)), b]); }
  if (v instanceof Uint8Array) return cat([new Uint8Array(cborHead(2, v.length)), v]);
  if (Array.isArray(v)) return cat([new Uint8Array(cborHead(4, v.length)), ...v.map(cborEncodeCanonical)]);
  if (v instanceof Map) {
    const items = [...v.entries()].map(([k, x]) => [cborEncodeCanonical(k), cborEncodeCanonical(x)]);
    items.sort((a, b) => compareBytes(a[0], b[0]));
    return cat([new Uint8Array(cborHead(5, items.length)), ...items.flat()]);
  }
  if (v === true) return new Uint8Array([0xf5]);
  if (v === false) return new Uint8Array([0xf4]);
  if (v === null) return new Uint8Array([0xf6]);
  throw new Fail("bad CBOR", "cbor", "unexpected value in the claims");
}
function headBig(major, n) {
  if (n < 2 ** 32) return cborHead(major, n);
  const hi = Math.floor(n / 2 ** 32), lo = n >>> 0;
  return [(major << 5) | 27, (hi >>> 24) & 255, (hi >> 16) & 255, (hi >> 8) & 255, hi & 255,
    (lo >>> 24) & 255, (lo >> 16) & 255, (lo >> 8) & 255, lo & 255];
}
function compareBytes(a, b) {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}
const sameBytes = (a, b) => a.length === b.length && compareBytes(a, b) === 0;
const hex = (b) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
const b64 = (t) => Uint8Array.from(atob(t), (c) => c.charCodeAt(0));

// ---- trust list: verify the root signature, keep issuer keys as WebCrypto keys
async function loadTrust(text, pinnedFingerprint) {
  const doc = JSON.parse(text);
  const body = JSON.parse(doc.signed);
  if (doc.alg !== "ES256") throw new Error("trust list is not ES256");
  if (pinnedFingerprint && body.root_fingerprint !== pinnedFingerprint) throw new Error("trust list signed by another root");
  const rootDer = b64(body.root);
  const fp = hex(new Uint8Array(await crypto.subtle.digest("SHA-256", rootDer)));
  if (fp !== body.root_fingerprint) throw new Error("root certificate does not match its fingerprint");
  const rootKey = await crypto.subtle.importKey("jwk", { kty: "EC", crv: "P-256", x: body.root_x, y: body.root_y },
    { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
  const ok = await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, rootKey, b64(doc.signature),
    new TextEncoder().encode(doc.signed));
  if (!ok) throw new Error("the trust list signature does not verify");
  const keys = new Map();
  for (const k of body.keys) {
    if (k.kty !== "EC") continue;
    const key = await crypto.subtle.importKey("jwk", { kty: "EC", crv: "P-256", x: k.x, y: k.y },
      { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
    keys.set(k.kid, { key, status: k.status, jurisdiction: k.jurisdiction, notAfter: Date.parse(k.not_after) });
  }
  return { version: body.version, issuedAt: body.issued_at, keys };
}

const N = BigInt("0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551");
function inRange(b) { const v = BigInt("0x" + (hex(b) || "0")); return v > 0n && v < N; }

async function verifyCode(code, trust, atMs) {
  const claimsOut = {};
  try {
    code = code.replace(/^\s+/, "").replace(/[\r\n\t]+$/, "");  // space is Base45: keep trailing spaces
    if (!code.startsWith("AC1:")) throw new Fail("bad prefix", "prefix", `starts with ${JSON.stringify(code.slice(0, 4))}, not AC1:`);
    const cose = await inflate(b45decode(code.slice(4)));
    const obj = cborDecode(cose, "bad COSE", "cose");
    if (!obj || obj.tag !== 18) throw new Fail("bad COSE", "cose", "not tagged as COSE_Sign1 (18)");
    const arr = obj.value;
    if (!Array.isArray(arr) || arr.length !== 4) throw new Fail("bad COSE", "cose", "COSE_Sign1 must be an array of 4");
    const [prot, , payload, sig] = arr;
    if (!(prot instanceof Uint8Array && payload instanceof Uint8Array && sig instanceof Uint8Array)) throw new Fail("bad COSE", "cose", "byte strings expected");
    const header = cborDecode(prot, "bad COSE", "cose");
    if (!(header instanceof Map)) throw new Fail("bad COSE", "cose", "the protected header must be a map");
    if (!sameBytes(cborEncodeCanonical(header), prot)) throw new Fail("bad COSE", "cose", "the protected header is not canonical CBOR");
    if (payload.length > 512) throw new Fail("bad CBOR", "cbor", "payload too large");
    const claims = cborDecode(payload, "bad CBOR", "cbor");
    if (!(claims instanceof Map) || !sameBytes(cborEncodeCanonical(claims), payload)) throw new Fail("bad CBOR", "cbor", "the payload is not canonical CBOR");
    const body = claims.get(-65537);
    if (!(body instanceof Map) || !COLOURS.includes(body.get(1))) throw new Fail("bad CBOR", "cbor", "the health claim is missing");
    Object.assign(claimsOut, { iss: claims.get(1), iat: claims.get(6), exp: claims.get(4), colour: body.get(1),
      ruleset: body.get(2), jurisdiction: body.get(3), initials: body.get(4), birth_day: body.get(5) });
    if (header.get(1) !== -7) throw new Fail("wrong algorithm", "algorithm", `algorithm ${header.get(1)} is not ES256 (-7)`);
    const kid = header.get(4);
    if (!(kid instanceof Uint8Array)) throw new Fail("unknown key", "key", "no key id");
    const entry = trust.keys.get(hex(kid));
    if (!entry) throw new Fail("unknown key", "key", `key ${hex(kid)} is not in the trust list`);
    if (sig.length !== 64) throw new Fail("bad signature", "signature", `ES256 signature of ${sig.length} bytes; COSE requires raw r||s of 64`);
    if (!inRange(sig.subarray(0, 32)) || !inRange(sig.subarray(32))) throw new Fail("bad signature", "signature", "r or s outside 1..n-1");
    const ok = await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, entry.key, sig, sigStructure(prot, payload));
    if (!ok) throw new Fail("bad signature", "signature", "the signature does not match");
    if (entry.status === "revoked") throw new Fail("revoked issuer", "trust", `key ${hex(kid)} of ${entry.jurisdiction} is revoked`);
    const now = atMs / 1000;
    if (now < claimsOut.iat) throw new Fail("not yet valid", "time", "issued in the future");
    if (now >= claimsOut.exp) throw new Fail("expired", "time", `expired at ${new Date(claimsOut.exp * 1000).toISOString()}`);
    if (atMs > entry.notAfter) throw new Fail("expired", "time", "the signing certificate expired");
    return { valid: true, reason: "valid", stage: "done", claims: claimsOut, detail: "" };
  } catch (e) {
    if (e instanceof Fail) return { valid: false, reason: e.reason, stage: e.stage, detail: e.message, claims: claimsOut };
    return { valid: false, reason: "bad CBOR", stage: "cbor", detail: String(e), claims: claimsOut };
  }
}

// ---- the page
async function currentTrust(root) {
  const pin = root.dataset.rootFingerprint || null;
  let text = null;
  try {
    const r = await fetch(root.dataset.trustUrl, { cache: "no-store" });
    if (r.ok) text = await r.text();
  } catch (e) { /* offline: use the cached copy */ }
  if (text) {
    const trust = await loadTrust(text, pin);  // only a list that verifies replaces the cache
    localStorage.setItem(STORE, text);
    return { trust, source: "downloaded" };
  }
  const cached = localStorage.getItem(STORE);
  if (!cached) throw new Error("no trust list yet: open this page once while online");
  return { trust: await loadTrust(cached, pin), source: "cached" };
}

function show(root, verdict) {
  const out = root.querySelector("#verdict");
  out.dataset.valid = verdict.valid ? "1" : "0";
  out.dataset.reason = verdict.reason;
  out.className = "panel verdict " + (verdict.valid ? "ok colour-" + verdict.claims.colour : "bad");
  const c = verdict.claims;
  const lines = verdict.valid
    ? [`${root.dataset.tValid}: ${c.colour.toUpperCase()}`, `${c.initials} · ${c.birth_day} · ${c.jurisdiction}`,
       `${root.dataset.tUntil} ${new Date(c.exp * 1000).toLocaleString()}`]
    : [`${root.dataset.tInvalid}: ${verdict.reason}`, verdict.detail];
  out.replaceChildren(...lines.map((t) => { const p = document.createElement("p"); p.textContent = t; return p; }));
}

async function main() {
  const root = document.getElementById("verifier");
  if (!root) return;
  if ("serviceWorker" in navigator) navigator.serviceWorker.register(root.dataset.swUrl).catch(() => {});
  const status = root.querySelector("#trust-status");
  let trust = null;
  try {
    const got = await currentTrust(root);
    trust = got.trust;
    status.textContent = `${root.dataset.tTrust} ${trust.version} (${trust.issuedAt}), ${got.source}`;
    status.dataset.version = trust.version;
    status.dataset.source = got.source;
  } catch (e) { status.textContent = String(e.message || e); status.dataset.error = "1"; }
  const check = async (code) => { if (trust) show(root, await verifyCode(code, trust, Date.now())); };
  root.querySelector("#check").addEventListener("click", () => check(root.querySelector("#code").value));
  const scan = root.querySelector("#scan");
  if ("BarcodeDetector" in window && navigator.mediaDevices) {
    scan.hidden = false;
    scan.addEventListener("click", async () => {
      const video = root.querySelector("#camera");
      video.hidden = false;
      video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
      await video.play();
      const detector = new BarcodeDetector({ formats: ["qr_code"] });
      const tick = async () => {
        const found = await detector.detect(video).catch(() => []);
        if (found.length) {
          video.srcObject.getTracks().forEach((t) => t.stop());
          video.hidden = true;
          root.querySelector("#code").value = found[0].rawValue;
          check(found[0].rawValue);
        } else setTimeout(tick, 250);
      };
      tick();
    });
  }
}

if (typeof window !== "undefined") {
  window.accordVerifier = { verifyCode, loadTrust, b45decode };
  main();
}
if (typeof module !== "undefined" && module.exports) module.exports = { verifyCode, loadTrust, b45decode };
