"""A fictional multi-level country, Arcadia (阿卡迪亚), for demos, tests and benchmarks.

``generate_country`` returns one row per jurisdiction -- the country, its provinces, cities and communities --
with invented but pronounceable English names, Chinese local names, populations that add up the tree and
coordinates that nest (communities cluster around their city, cities around their province), so a Voronoi
tessellation of the points gives regions that look nested.

Randomness: every purpose (names, structure, geography, populations, and the outbreak and reporting purposes
used by the sibling modules) draws from its own ``numpy.random.Generator``, spawned from one
``numpy.random.SeedSequence(seed)`` (see :func:`stream`), so changing one aspect leaves the others identical.

Pure: no database, web or CLI code.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from accord.errors import AccordError, Problem

COUNTRY_CODE: Final = "AR"
COUNTRY_NAME: Final = "Arcadia"
COUNTRY_LOCAL_NAME: Final = "阿卡迪亚"

#: The levels, top down; ``level`` is data in Accord, these are the ones the demo country uses.
LEVELS: Final = ("country", "province", "city", "community")
COLUMNS: Final = ("code", "name", "local_name", "level", "parent_code", "population", "lon", "lat")

#: Bounding box of the country (degrees).
LON_RANGE: Final = (100.0, 120.0)
LAT_RANGE: Final = (22.0, 40.0)

#: Community population: lognormal with this median and log-sd (heavy right tail, a few of 50k+).
COMMUNITY_MEDIAN: Final = 8_000.0
COMMUNITY_LOG_SD: Final = 0.8
COMMUNITY_MIN: Final = 300

#: One random stream per purpose, in a fixed order: appending keeps the existing streams unchanged.
PURPOSES: Final[tuple[str, ...]] = (
    "names",
    "structure",
    "geography",
    "populations",
    "transmission",
    "importation",
    "clinical",
    "testing",
    "delays",
    "gaps",
    "corrections",
    "replays",
    "errors",
)


def seed_sequence(seed: int, purpose: str) -> np.random.SeedSequence:
    """The ``SeedSequence`` of one purpose: child ``PURPOSES.index(purpose)`` of ``SeedSequence(seed)``."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown random stream purpose {purpose!r}; known: {', '.join(PURPOSES)}")
    return np.random.SeedSequence(seed).spawn(len(PURPOSES))[PURPOSES.index(purpose)]


def stream(seed: int, purpose: str) -> np.random.Generator:
    """The random generator of one purpose, derived from ``seed``."""
    return np.random.Generator(np.random.PCG64(seed_sequence(seed, purpose)))


# Syllables of the invented names with the hanzi used to transcribe them (one hanzi per syllable, each hanzi
# used once, so distinct syllable sequences give distinct local names up to accidental string collisions,
# which the generator rejects).
_FIRST: Final[dict[str, str]] = {
    "a": "阿", "e": "埃", "i": "伊", "o": "奥", "u": "乌",
    "ba": "巴", "be": "贝", "bo": "波", "da": "达", "de": "德", "di": "迪", "do": "多", "fa": "法",
    "fi": "菲", "ga": "加", "go": "戈", "ha": "哈", "he": "赫", "ka": "卡", "ke": "克", "ko": "科",
    "la": "拉", "le": "莱", "li": "利", "lo": "洛", "ma": "马", "me": "梅", "mi": "米", "mo": "莫",
    "na": "纳", "ne": "内", "no": "诺", "pa": "帕", "pe": "佩", "ro": "罗", "sa": "萨", "se": "塞",
    "so": "索", "ta": "塔", "te": "特", "to": "托", "va": "瓦", "ve": "维", "za": "扎", "ze": "泽",
}  # fmt: skip
_MIDDLE: Final[dict[str, str]] = {
    "ri": "里", "ru": "鲁", "lu": "卢", "ni": "尼", "si": "西", "ti": "蒂", "vi": "薇", "mu": "穆",
    "gu": "古", "du": "杜", "ki": "基", "pi": "皮", "bi": "比", "ra": "瑞", "na": "娜", "ve": "韦",
}  # fmt: skip
_LAST: Final[dict[str, str]] = {
    "ria": "瑞亚", "nia": "妮亚", "ton": "顿", "dan": "丹", "lan": "兰", "mar": "玛", "vin": "文",
    "dor": "铎", "mont": "蒙", "bel": "贝尔", "ros": "洛斯", "sen": "森", "gard": "加德", "wick": "威克",
    "by": "比", "stad": "斯塔", "ven": "芬", "ia": "亚", "ra": "拉", "na": "那", "lo": "罗", "ta": "塔",
    "mi": "弥", "vo": "沃", "ka": "喀", "rin": "林", "tal": "塔尔", "per": "珀", "zan": "赞",
}  # fmt: skip
_FIRST_KEYS: Final = tuple(_FIRST)
_MIDDLE_KEYS: Final = tuple(_MIDDLE)
_LAST_KEYS: Final = tuple(_LAST)
_VOWELS: Final = frozenset("aeiouy")

_LOCAL_SUFFIX: Final[dict[str, str]] = {"province": "省", "city": "市", "community": "社区"}


def _names(rng: np.random.Generator, count: int) -> list[tuple[str, str]]:
    """``count`` unique (English, hanzi) name pairs, none equal to the country's own."""
    used_en = {COUNTRY_NAME}
    used_zh = {COUNTRY_LOCAL_NAME}
    out: list[tuple[str, str]] = []
    while len(out) < count:
        n = max(64, 2 * (count - len(out)))
        first = rng.integers(0, len(_FIRST_KEYS), n)
        has_middle = rng.random(n) < 0.45
        middle = rng.integers(0, len(_MIDDLE_KEYS), n)
        last = rng.integers(0, len(_LAST_KEYS), n)
        for k in range(n):
            parts = [_FIRST_KEYS[first[k]]]
            zh = [_FIRST[parts[0]]]
            if has_middle[k]:
                parts.append(_MIDDLE_KEYS[middle[k]])
                zh.append(_MIDDLE[parts[-1]])
            end = _LAST_KEYS[last[k]]
            if parts[-1][-1] in _VOWELS and end[0] in _VOWELS:
                continue  # avoid "Oia", "Daia": two vowels across the seam read badly
            parts.append(end)
            zh.append(_LAST[end])
            en = "".join(parts).capitalize()
            local = "".join(zh)
            if len(en) < 4 or en in used_en or local in used_zh:
                continue
            used_en.add(en)
            used_zh.add(local)
            out.append((en, local))
            if len(out) == count:
                break
    return out


def _split(rng: np.random.Generator, total: int, parts: int, concentration: float) -> npt.NDArray[np.int64]:
    """Split ``total`` items over ``parts`` bins unevenly, every bin at least one."""
    weights = rng.dirichlet(np.full(parts, concentration))
    return (1 + rng.multinomial(total - parts, weights)).astype(np.int64)


def _spread_points(rng: np.random.Generator, count: int) -> npt.NDArray[np.float64]:
    """``count`` well-spread points in the bounding box (best-candidate sampling), shape (count, 2)."""
    lo = np.array([LON_RANGE[0] + 1.0, LAT_RANGE[0] + 1.0])
    hi = np.array([LON_RANGE[1] - 1.0, LAT_RANGE[1] - 1.0])
    points = np.empty((count, 2))
    points[0] = rng.uniform(lo, hi)
    for k in range(1, count):
        candidates = rng.uniform(lo, hi, size=(12, 2))
        d2 = ((candidates[:, None, :] - points[None, :k, :]) ** 2).sum(axis=2).min(axis=1)
        points[k] = candidates[int(np.argmax(d2))]
    return points


def _scatter(
    rng: np.random.Generator, centres: npt.NDArray[np.float64], sd: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Points normally scattered around ``centres`` (shape (n, 2)) with per-point ``sd``, kept in the box."""
    pts = centres + rng.normal(size=centres.shape) * sd[:, None]
    for axis, (lo, hi) in enumerate((LON_RANGE, LAT_RANGE)):
        # reflect at the border (clipping would pile points up on it), then clip the rare far outlier
        col = pts[:, axis]
        col = np.where(col > hi, 2 * hi - col, col)
        col = np.where(col < lo, 2 * lo - col, col)
        pts[:, axis] = np.clip(col, lo, hi)
    return pts


def _width(count: int, minimum: int) -> int:
    return max(minimum, len(str(count)))


def _check_sizes(provinces: int, cities: int, communities: int) -> None:
    problems = []
    if provinces < 1:
        problems.append(Problem("there must be at least one province", field="provinces"))
    if cities < provinces:
        problems.append(Problem(f"{cities} cities cannot give each of {provinces} provinces a city", field="cities"))
    if communities < cities:
        problems.append(
            Problem(
                f"{communities} communities cannot give each of {cities} cities a community",
                field="communities",
            )
        )
    if problems:
        raise AccordError(title="Cannot generate the demo country", problems=problems)


def generate_country(seed: int = 7, provinces: int = 8, cities: int = 60, communities: int = 1000) -> pd.DataFrame:
    """The jurisdiction tree of Arcadia as a frame with columns ``COLUMNS``, top level first.

    - ``code``: ``AR``, ``AR-01``, ``AR-01-03``, ``AR-01-03-012`` (zero-padded, widened when counts need it);
    - ``level``: ``country`` / ``province`` / ``city`` / ``community``; ``parent_code`` ``''`` for the root;
    - ``population`` (int64): communities lognormal, every other level the sum of its children;
    - ``lon``, ``lat`` (float64, degrees).

    Deterministic for a seed. Raises ``AccordError`` when the counts cannot form a tree (fewer cities than
    provinces, fewer communities than cities).
    """
    _check_sizes(provinces, cities, communities)
    structure = stream(seed, "structure")
    geography = stream(seed, "geography")
    populations = stream(seed, "populations")
    names = _names(stream(seed, "names"), provinces + cities + communities)

    cities_per_prov = _split(structure, cities, provinces, 4.0)
    city_prov = np.repeat(np.arange(provinces), cities_per_prov)
    comms_per_city = _split(structure, communities, cities, 2.0)
    comm_city = np.repeat(np.arange(cities), comms_per_city)

    # codes: index within the parent, 1-based
    city_rank = np.arange(cities) - np.repeat(np.cumsum(cities_per_prov) - cities_per_prov, cities_per_prov) + 1
    comm_rank = np.arange(communities) - np.repeat(np.cumsum(comms_per_city) - comms_per_city, comms_per_city) + 1
    wp = _width(provinces, 2)
    wc = _width(int(cities_per_prov.max()), 2)
    wm = _width(int(comms_per_city.max()), 3)
    prov_codes = [f"{COUNTRY_CODE}-{p + 1:0{wp}d}" for p in range(provinces)]
    city_codes = [f"{prov_codes[p]}-{r:0{wc}d}" for p, r in zip(city_prov, city_rank, strict=True)]
    comm_codes = [f"{city_codes[c]}-{r:0{wm}d}" for c, r in zip(comm_city, comm_rank, strict=True)]

    # populations: communities drawn, every level above their sum
    comm_pop = np.maximum(
        np.rint(populations.lognormal(np.log(COMMUNITY_MEDIAN), COMMUNITY_LOG_SD, communities)),
        COMMUNITY_MIN,
    ).astype(np.int64)
    city_pop = np.bincount(comm_city, weights=comm_pop, minlength=cities).astype(np.int64)
    prov_pop = np.bincount(city_prov, weights=city_pop, minlength=provinces).astype(np.int64)

    # coordinates: provinces spread over the box, cities around their province, communities around their city
    prov_xy = _spread_points(geography, provinces)
    prov_spacing = np.sqrt((LON_RANGE[1] - LON_RANGE[0]) * (LAT_RANGE[1] - LAT_RANGE[0]) / provinces)
    city_sd = np.full(cities, 0.28 * prov_spacing)
    city_xy = _scatter(geography, prov_xy[city_prov], city_sd)
    city_spacing = prov_spacing / np.sqrt(cities_per_prov[city_prov])
    comm_xy = _scatter(geography, city_xy[comm_city], 0.22 * city_spacing[comm_city])
    country_xy = np.average(prov_xy, axis=0, weights=prov_pop)

    en = [n for n, _ in names]
    zh = [z for _, z in names]
    ip, ic = provinces, provinces + cities
    frame = pd.DataFrame(
        {
            "code": [COUNTRY_CODE, *prov_codes, *city_codes, *comm_codes],
            "name": [COUNTRY_NAME, *en],
            "local_name": [
                COUNTRY_LOCAL_NAME,
                *(z + _LOCAL_SUFFIX["province"] for z in zh[:ip]),
                *(z + _LOCAL_SUFFIX["city"] for z in zh[ip:ic]),
                *(z + _LOCAL_SUFFIX["community"] for z in zh[ic:]),
            ],
            "level": ["country"] + ["province"] * provinces + ["city"] * cities + ["community"] * communities,
            "parent_code": [
                "",
                *([COUNTRY_CODE] * provinces),
                *(prov_codes[p] for p in city_prov),
                *(city_codes[c] for c in comm_city),
            ],
            "population": np.concatenate([[int(prov_pop.sum())], prov_pop, city_pop, comm_pop]).astype(np.int64),
            "lon": np.round(np.concatenate([[country_xy[0]], prov_xy[:, 0], city_xy[:, 0], comm_xy[:, 0]]), 5),
            "lat": np.round(np.concatenate([[country_xy[1]], prov_xy[:, 1], city_xy[:, 1], comm_xy[:, 1]]), 5),
        },
        columns=list(COLUMNS),
    )
    return frame
