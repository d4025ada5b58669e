"""Nearest known claims for a message: character n-gram TF-IDF with cosine similarity. Pure.

Text is normalised (NFKC, which also folds full-width forms to half-width; casefold; punctuation and symbols
to spaces; a space wherever the script changes between CJK and anything else), then cut into character
n-grams *within* words, padded with one space at each end (so word order does not matter, and a misspelt
word still shares most of its n-grams). Chinese and Japanese have no spaces: a run of CJK characters is one
"word" and its 2-4-character n-grams carry the meaning. Any other script is handled the same way, on
characters, without knowing the language.

The n-grams are hashed with numpy over the whole corpus at once (no Python loop per n-gram), weighted by
sublinear TF x smoothed IDF, L2-normalised, and stored as a ``scipy.sparse`` CSR matrix. A batch of messages
is one sparse matrix product against the index. Scores are true cosines in [0, 1]: n-grams of a message that
no claim has still count in the message's norm (with the highest IDF), so a message that merely *contains* a
claim among much other text scores lower than a restatement of it.

Another backend (e.g. sentence embeddings from a package that ships its model) plugs in through
:class:`Backend`; :class:`DenseBackend` takes any ``encode(texts) -> array`` function.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from accord.errors import AccordError, Problem

#: longest message (in characters, after decoding) the matcher accepts; longer ones are refused, not cut
MAX_MESSAGE_CHARS = 5_000
#: a claim at least this similar to an existing one is a duplicate at entry (unless forced)
DUPLICATE_THRESHOLD = 0.8
#: n-gram lengths (inclusive) in alphabetic scripts and in CJK (where one character is often a word)
NGRAM_RANGE = (2, 4)
CJK_NGRAM_RANGE = (1, 2)
#: rows of a batch multiplied at once (bounds the dense score block to CHUNK_CELLS cells)
CHUNK_CELLS = 8_000_000

Match = tuple[int, float]
FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
HashArray = npt.NDArray[np.uint64]

_CJK = (
    r"\u2e80-\u2fdf\u3040-\u30ff\u3100-\u312f\u3190-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    r"\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002fa1f"
)
_SCRIPT_EDGE = re.compile(rf"(?<=[{_CJK}])(?=[^{_CJK}\s])|(?<=[^{_CJK}\s])(?=[{_CJK}])")
_SPACES = re.compile(r"\s+")
_HASH_MUL = np.uint64(0x9E3779B97F4A7C15)  # 64-bit multiplicative hash, wrapping (collisions ~1e-7 at 1e6 n-grams)


# ------------------------------------------------------------------------------------------ normalisation
@functools.cache
def _separators() -> dict[int, str]:
    """Every punctuation, symbol, control and separator code point, mapped to a space (built once, ~0.3 s)."""
    return {cp: " " for cp in range(sys.maxunicode + 1) if unicodedata.category(chr(cp))[0] in "PSCZ"}


def normalise(text: str) -> str:
    """NFKC, casefold, punctuation/symbols/controls to spaces, spaces at CJK script edges, single spaces."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(_separators())
    if not text.isascii():
        text = _SCRIPT_EDGE.sub(" ", text)
    return " ".join(text.split())


def clean_message(raw: str | bytes, *, max_chars: int = MAX_MESSAGE_CHARS, what: str = "message") -> str:
    """The text of a message to match or store, or a clear refusal (empty, too long, binary)."""
    if isinstance(raw, bytes | bytearray):
        try:
            raw = bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise AccordError(
                f"the {what} is not text",
                [Problem("it is not valid UTF-8 text (binary data?)", field=what, code="binary")],
            ) from None
    if len(raw) > max_chars:
        raise AccordError(
            f"the {what} is too long",
            [Problem(f"{len(raw):,} characters is over the limit of {max_chars:,}", field=what, code="too-long")],
            status=413,
            kind="too-large",
        )
    controls = sum(1 for c in raw if unicodedata.category(c) in ("Cc", "Cs", "Co", "Cn") and c not in "\t\n\r")
    if (controls and controls > 0.05 * len(raw)) or "\x00" in raw:
        raise AccordError(
            f"the {what} is not text",
            [Problem("it contains control characters (binary data?)", field=what, code="binary")],
        )
    text = raw.strip()
    if not normalise(text):
        raise AccordError(
            f"the {what} is empty",
            [Problem("give some text (letters or digits)", field=what, code="empty")],
        )
    return text


# ------------------------------------------------------------------------------------------ n-gram hashes
_CJK_RANGES = (
    (0x2E80, 0x2FDF),
    (0x3040, 0x30FF),
    (0x3100, 0x312F),
    (0x3190, 0x31FF),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xAC00, 0xD7AF),
    (0xF900, 0xFAFF),
    (0x20000, 0x2FA1F),
)


def _ngram_hashes(
    texts: Sequence[str], ngram_range: tuple[int, int], cjk_range: tuple[int, int]
) -> tuple[IntArray, HashArray]:
    """(document row, n-gram hash) of every in-word n-gram of every text, computed over one code-point array.

    Words of CJK characters get n-grams of ``cjk_range`` lengths, all other words of ``ngram_range`` lengths.
    """
    if not texts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint64)
    padded = [" " + normalise(t) + " " for t in texts]
    lengths = np.fromiter((len(p) + 1 for p in padded), dtype=np.int64, count=len(padded))
    joined = "\x00".join(padded) + "\x00"
    codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    doc_of = np.repeat(np.arange(len(padded), dtype=np.int64), lengths)
    is_sep = codes == 0
    is_space = codes == 32
    is_cjk = np.zeros(len(codes), dtype=bool)
    for lo_cp, hi_cp in _CJK_RANGES:
        is_cjk |= (codes >= lo_cp) & (codes <= hi_cp)
    # the script of an n-gram is that of its first non-space character (words never mix scripts)
    first_cjk = np.where(is_space, np.r_[is_cjk[1:], False], is_cjk)
    rows: list[IntArray] = []
    hashes: list[HashArray] = []
    lo = min(ngram_range[0], cjk_range[0])
    hi = max(ngram_range[1], cjk_range[1])
    for n in range(lo, hi + 1):
        m = len(codes) - n + 1
        if m <= 0:
            continue
        h = np.full(m, np.uint64(n), dtype=np.uint64)  # the length is part of the hash
        ok = np.ones(m, dtype=bool)
        for j in range(n):
            h = h * _HASH_MUL + codes[j : j + m]
            ok &= ~is_sep[j : j + m]
            if 0 < j < n - 1:
                ok &= ~is_space[j : j + m]
        h = h * _HASH_MUL
        # no n-gram of spaces only (nor a lone space in a unigram)
        ok &= ~(is_space[:m] & is_space[n - 1 : n - 1 + m])
        if n == 1:
            ok &= ~is_space[:m]
        cjk = first_cjk[:m]
        ok &= np.where(cjk, cjk_range[0] <= n <= cjk_range[1], ngram_range[0] <= n <= ngram_range[1])
        rows.append(doc_of[:m][ok])
        hashes.append(h[ok])
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint64)
    return np.concatenate(rows), np.concatenate(hashes)


def _counts(rows: IntArray, cols: IntArray, n_rows: int, n_cols: int) -> sp.csr_matrix:
    data = np.ones(len(rows), dtype=np.float32)
    m = sp.csr_matrix((data, (rows, cols)), shape=(n_rows, n_cols), dtype=np.float32)
    m.sum_duplicates()
    return m


def _sublinear_l2(m: sp.csr_matrix, idf: FloatArray, extra_sq: npt.NDArray[np.float64] | None = None) -> sp.csr_matrix:
    m = m.copy()
    m.data = (1.0 + np.log(m.data)).astype(np.float32)
    m = sp.csr_matrix(m.multiply(idf[np.newaxis, :]), dtype=np.float32)
    sq = np.asarray(m.multiply(m).sum(axis=1), dtype=np.float64).ravel()
    if extra_sq is not None:
        sq = sq + extra_sq
    norms = np.sqrt(sq)
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags((1.0 / norms).astype(np.float32)) @ m, dtype=np.float32)


# ------------------------------------------------------------------------------------------------- index
@dataclass(frozen=True)
class Index:
    """A TF-IDF index of claim texts; positions are the order of the texts given to :func:`build_index`."""

    vocabulary: HashArray  # sorted n-gram hashes
    idf: FloatArray
    matrix: sp.csr_matrix  # claims x vocabulary, rows L2-normalised
    matrix_t: sp.csr_matrix  # its transpose (vocabulary x claims) in CSR, so a product needs no conversion
    ngram_range: tuple[int, int]
    cjk_range: tuple[int, int]

    @property
    def size(self) -> int:
        return int(self.matrix.shape[0])

    @property
    def max_idf(self) -> float:
        return float(self.idf.max()) if len(self.idf) else 1.0


def build_index(
    texts: Sequence[str], ngram_range: tuple[int, int] = NGRAM_RANGE, cjk_range: tuple[int, int] = CJK_NGRAM_RANGE
) -> Index:
    """Index claim texts (positions in the index are their order here)."""
    rows, hashes = _ngram_hashes(texts, ngram_range, cjk_range)
    vocabulary = np.unique(hashes)
    cols = np.searchsorted(vocabulary, hashes).astype(np.int64)
    counts = _counts(rows, cols, len(texts), len(vocabulary))
    df = np.bincount(counts.indices, minlength=len(vocabulary)).astype(np.float64)
    idf = (np.log((1.0 + len(texts)) / (1.0 + df)) + 1.0).astype(np.float32)
    matrix = _sublinear_l2(counts, idf)
    return Index(vocabulary.astype(np.uint64), idf, matrix, sp.csr_matrix(matrix.T.tocsr()), ngram_range, cjk_range)


def vectorise(index: Index, messages: Sequence[str]) -> sp.csr_matrix:
    """Messages as L2-normalised rows over the index's vocabulary (unknown n-grams only in the norm)."""
    rows, hashes = _ngram_hashes(messages, index.ngram_range, index.cjk_range)
    n_vocab = len(index.vocabulary)
    pos = np.searchsorted(index.vocabulary, hashes)
    known = pos < n_vocab
    known[known] = index.vocabulary[pos[known]] == hashes[known]
    # unknown n-grams: weight (1 + log tf) * max idf, counted per message into the norm only
    unknown = np.zeros(len(messages), dtype=np.float64)
    if (~known).any():
        uh = hashes[~known]
        ur = rows[~known]
        order = np.lexsort((uh, ur))
        ur, uh = ur[order], uh[order]
        starts = np.flatnonzero(np.r_[True, (ur[1:] != ur[:-1]) | (uh[1:] != uh[:-1])])
        tf = np.diff(np.r_[starts, len(ur)])
        w = (1.0 + np.log(tf)) * index.max_idf
        np.add.at(unknown, ur[starts], w * w)
    counts = _counts(rows[known], pos[known].astype(np.int64), len(messages), n_vocab)
    return _sublinear_l2(counts, index.idf, unknown)


def match_batch(index: Index, messages: Sequence[str], k: int = 5) -> list[list[Match]]:
    """The ``k`` nearest claims of every message, best first: ``(claim position, cosine)``; zero scores left out."""
    if k < 1 or index.size == 0 or not messages:
        return [[] for _ in messages]
    k = min(k, index.size)
    q = vectorise(index, messages)
    out: list[list[Match]] = []
    step = max(1, CHUNK_CELLS // max(index.size, 1))
    for start in range(0, len(messages), step):
        block = (q[start : start + step] @ index.matrix_t).toarray()
        if k < index.size:
            top = np.argpartition(-block, k - 1, axis=1)[:, :k]
        else:
            top = np.tile(np.arange(index.size), (block.shape[0], 1))
        scores = np.take_along_axis(block, top, axis=1)
        # best first; ties by claim position so results are deterministic
        order = np.lexsort((top, -scores), axis=1)
        top = np.take_along_axis(top, order, axis=1)
        scores = np.take_along_axis(scores, order, axis=1)
        for r in range(block.shape[0]):
            out.append([(int(c), min(1.0, float(s))) for c, s in zip(top[r], scores[r], strict=True) if s > 1e-6])
    return out


def match(index: Index, message: str, k: int = 5) -> list[Match]:
    return match_batch(index, [message], k)[0]


def duplicates(index: Index, text: str, threshold: float = DUPLICATE_THRESHOLD, k: int = 5) -> list[Match]:
    """Known claims at least ``threshold`` similar to ``text`` (a restatement, not a new claim)."""
    return [m for m in match(index, text, k) if m[1] >= threshold]


# --------------------------------------------------------------------------------------------- backends
class Backend(Protocol):
    """How claims are indexed and messages matched. The TF-IDF backend is the default."""

    name: str

    def build(self, texts: Sequence[str]) -> object: ...

    def match_batch(self, index: object, messages: Sequence[str], k: int) -> list[list[Match]]: ...


class TfidfBackend:
    name = "tfidf-char"

    def __init__(self, ngram_range: tuple[int, int] = NGRAM_RANGE, cjk_range: tuple[int, int] = CJK_NGRAM_RANGE):
        self.ngram_range = ngram_range
        self.cjk_range = cjk_range

    def build(self, texts: Sequence[str]) -> object:
        return build_index(texts, self.ngram_range, self.cjk_range)

    def match_batch(self, index: object, messages: Sequence[str], k: int) -> list[list[Match]]:
        assert isinstance(index, Index)
        return match_batch(index, messages, k)


Encoder = Callable[[Sequence[str]], npt.NDArray[np.floating]]


class DenseBackend:
    """Sentence embeddings from any ``encode(texts) -> (n, d) array`` (e.g. a model a package ships offline).

    Vectors are L2-normalised here, so the scores are cosines as with TF-IDF.
    """

    def __init__(self, encode: Encoder, name: str = "dense") -> None:
        self.encode = encode
        self.name = name

    def _unit(self, texts: Sequence[str]) -> FloatArray:
        v = np.asarray(self.encode([normalise(t) for t in texts]), dtype=np.float32)
        norms = np.linalg.norm(v, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        unit: FloatArray = (v / norms).astype(np.float32)
        return unit

    def build(self, texts: Sequence[str]) -> object:
        return self._unit(texts) if texts else np.zeros((0, 0), dtype=np.float32)

    def match_batch(self, index: object, messages: Sequence[str], k: int) -> list[list[Match]]:
        assert isinstance(index, np.ndarray)
        if not messages or index.shape[0] == 0:
            return [[] for _ in messages]
        scores = self._unit(messages) @ index.T
        k = min(k, index.shape[0])
        out: list[list[Match]] = []
        for row in scores:
            top = np.argsort(-row, kind="stable")[:k]
            out.append([(int(i), float(min(1.0, max(0.0, row[i])))) for i in top if row[i] > 1e-6])
        return out


# -------------------------------------------------------------------------------------- keyword baseline
def keywords(text: str) -> list[str]:
    """Words of a text for the keyword baseline: Latin words and whole CJK runs, as a LIKE search would use."""
    return [w for w in normalise(text).split(" ") if w]


def keyword_match_batch(claims: Sequence[str], messages: Sequence[str], k: int = 5) -> list[list[Match]]:
    """Plain keyword search (the baseline): how many of the message's words occur in a claim (SQL LIKE)."""
    normed = [" " + normalise(c) + " " for c in claims]
    out: list[list[Match]] = []
    for m in messages:
        words = set(keywords(m))
        if not words:
            out.append([])
            continue
        hits = np.array([sum(1 for w in words if w in c) for c in normed], dtype=np.float64) / len(words)
        top = np.argsort(-hits, kind="stable")[:k]
        out.append([(int(i), float(hits[i])) for i in top if hits[i] > 0])
    return out
