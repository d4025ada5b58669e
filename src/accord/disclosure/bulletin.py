"""The daily bulletin's text, assembled from numbers in the structure health commissions publish.

Pure: a :class:`Facts` value in, paragraphs and Markdown out, in English or Chinese. The service gathers
the numbers; the HTML page renders the same :class:`Bulletin` through a template.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from accord.surveillance import indicators as ind

LANGS = ("en", "zh")

#: a figure: a number, None where not reported, or the mark of a withheld small count ("<5", "x")
Fig = float | str | None


@dataclass(frozen=True)
class Part:
    """One sub-jurisdiction's new cases on the day."""

    code: str
    name: str
    name_zh: str | None
    new_confirmed: float | str
    imported: Fig = None
    local: Fig = None


@dataclass(frozen=True)
class Revision:
    code: str
    name: str
    day: date
    indicator: str
    old: Fig
    new: float | str
    reason: str
    part: str = ""


@dataclass(frozen=True)
class Facts:
    code: str
    name: str
    name_zh: str | None
    day: date
    new_confirmed: Fig
    imported: Fig
    local: Fig
    new_deaths: Fig
    new_recovered: Fig
    cum_confirmed: Fig
    cum_deaths: Fig
    cum_recovered: Fig
    severe: Fig = None  # ICU occupancy where reported
    hospitalised: Fig = None
    close_contacts: Fig = None  # under medical observation, where known
    new_tests: Fig = None
    parts: tuple[Part, ...] = ()
    revisions: tuple[Revision, ...] = ()
    #: the stock-out early warning of the resources capability, one sentence per language, where books are kept
    supply: dict[str, str] = field(default_factory=dict)

    @property
    def active(self) -> Fig:
        figures = (self.cum_confirmed, self.cum_deaths, self.cum_recovered)
        if any(isinstance(v, str) for v in figures):
            return "x"  # derived from a withheld figure
        if self.cum_confirmed is None:
            return None
        return float(self.cum_confirmed) - float(self.cum_deaths or 0) - float(self.cum_recovered or 0)


@dataclass
class Bulletin:
    title: str
    lang: str
    paragraphs: list[str] = field(default_factory=list)
    table_head: list[str] = field(default_factory=list)
    table: list[list[str]] = field(default_factory=list)
    revisions_head: str = ""
    revisions: list[str] = field(default_factory=list)


def n(value: Fig) -> str:
    """A count as text: thousands separated, '-' when not reported (never a made-up zero), the mark of a
    withheld small count as it is."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return f"{round(value):,}"


def _name(facts: Facts | Part, lang: str) -> str:
    return (facts.name_zh or facts.name) if lang == "zh" else facts.name


def _plural(value: Fig, one: str, many: str) -> str:
    return f"{n(value)} {one if value == 1 else many}"


def compose(facts: Facts, lang: str = "en") -> Bulletin:
    if lang not in LANGS:
        raise ValueError(f"language must be one of {', '.join(LANGS)}")
    return _compose_zh(facts) if lang == "zh" else _compose_en(facts)


def _parts_text(facts: Facts, lang: str) -> str:
    shown = [p for p in facts.parts if p.new_confirmed]
    sep = "，" if lang == "zh" else ", "
    if lang == "zh":
        return sep.join(f"{_name(p, lang)}{n(p.new_confirmed)}例" for p in shown)
    return sep.join(f"{_name(p, lang)} {n(p.new_confirmed)}" for p in shown)


def _compose_en(f: Facts) -> Bulletin:
    day = f"{f.day.day} {f.day:%B %Y}"
    b = Bulletin(title=f"{f.name}: epidemic situation on {day}", lang="en")
    cases = _plural(f.new_confirmed, "new confirmed case", "new confirmed cases")
    first = f"On {day} (0:00-24:00), {f.name} reported {cases}"
    if f.imported is not None or f.local is not None:
        first += f", of which {n(f.imported)} imported and {n(f.local)} local"
    parts = _parts_text(f, "en")
    first += f" ({parts})" if parts else ""
    first += (
        f"; {_plural(f.new_deaths, 'new death', 'new deaths')}; {_plural(f.new_recovered, 'recovery', 'recoveries')}."
    )
    b.paragraphs.append(first)
    extra = []
    if f.severe is not None:
        extra.append(f"{n(f.severe)} patients were in intensive care")
    if f.hospitalised is not None:
        extra.append(f"{n(f.hospitalised)} in hospital")
    if f.close_contacts is not None:
        extra.append(f"{n(f.close_contacts)} close contacts were under medical observation")
    if f.new_tests is not None:
        extra.append(f"{n(f.new_tests)} tests were performed")
    if extra:
        b.paragraphs.append("; ".join(extra).capitalize() + ".")
    b.paragraphs.append(
        f"As of 24:00, {f.name} has reported {n(f.cum_confirmed)} confirmed cases in total, {n(f.cum_deaths)} deaths "
        f"and {n(f.cum_recovered)} recoveries; {n(f.active)} cases are active."
    )
    if f.supply.get("en"):
        b.paragraphs.append(f.supply["en"])
    b.table_head = ["Jurisdiction", "New confirmed", "Imported", "Local"]
    b.table = [[_name(p, "en"), n(p.new_confirmed), n(p.imported), n(p.local)] for p in f.parts]
    b.revisions_head = f"Revisions recorded on {day}: {len(f.revisions)}"
    b.revisions = [_revision_text(r, "en") for r in f.revisions]
    return b


def _compose_zh(f: Facts) -> Bulletin:
    day = f"{f.day.year}年{f.day.month}月{f.day.day}日"
    name = _name(f, "zh")
    b = Bulletin(title=f"{name}{day}疫情通报", lang="zh")
    first = f"{day}0—24时，{name}报告新增确诊病例{n(f.new_confirmed)}例"
    if f.imported is not None or f.local is not None:
        first += f"，其中境外输入病例{n(f.imported)}例，本土病例{n(f.local)}例"
    parts = _parts_text(f, "zh")
    first += f"（{parts}）" if parts else ""
    first += f"；新增死亡病例{n(f.new_deaths)}例；新增治愈出院病例{n(f.new_recovered)}例。"
    b.paragraphs.append(first)
    extra = []
    if f.severe is not None:
        extra.append(f"现有重症病例{n(f.severe)}例")
    if f.hospitalised is not None:
        extra.append(f"住院病例{n(f.hospitalised)}例")
    if f.close_contacts is not None:
        extra.append(f"尚在医学观察的密切接触者{n(f.close_contacts)}人")
    if f.new_tests is not None:
        extra.append(f"当日检测{n(f.new_tests)}人次")
    if extra:
        b.paragraphs.append("，".join(extra) + "。")
    b.paragraphs.append(
        f"截至{f.day.month}月{f.day.day}日24时，{name}累计报告确诊病例{n(f.cum_confirmed)}例，累计死亡病例"
        f"{n(f.cum_deaths)}例，累计治愈出院病例{n(f.cum_recovered)}例，现有确诊病例{n(f.active)}例。"
    )
    if f.supply.get("zh"):
        b.paragraphs.append(f.supply["zh"])
    b.table_head = ["地区", "新增确诊", "境外输入", "本土"]
    b.table = [[_name(p, "zh"), n(p.new_confirmed), n(p.imported), n(p.local)] for p in f.parts]
    b.revisions_head = f"{day}记录的数据订正：{len(f.revisions)}条"
    b.revisions = [_revision_text(r, "zh") for r in f.revisions]
    return b


def _indicator_text(code: str, part: str, lang: str) -> str:
    spec = ind.get(code)
    label = code if spec is None else (spec.label_zh if lang == "zh" else spec.label)
    if not part:
        return label
    parts_zh = {"imported": "境外输入", "local": "本土"}
    return f"{label}（{parts_zh.get(part, part)}）" if lang == "zh" else f"{label} ({part})"


def _revision_text(r: Revision, lang: str) -> str:
    what = _indicator_text(r.indicator, r.part, lang)
    if lang == "zh":
        return f"{r.name} {r.day.isoformat()} {what}：{n(r.old)} → {n(r.new)}（{r.reason or '未说明原因'}）"
    return f"{r.name} {r.day.isoformat()} {what}: {n(r.old)} → {n(r.new)} ({r.reason or 'no reason given'})"


def _md_escape(text: str) -> str:
    """Names come from data: keep them from turning into Markdown markup or breaking table cells."""
    for ch in "\\`*_[]<>|#":
        text = text.replace(ch, "\\" + ch)
    return text


def to_markdown(b: Bulletin) -> str:
    lines = [f"# {_md_escape(b.title)}", ""]
    for p in b.paragraphs:
        lines += [_md_escape(p), ""]
    if b.table:
        lines.append("| " + " | ".join(b.table_head) + " |")
        lines.append("|" + "---|" * len(b.table_head))
        lines += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in b.table]
        lines.append("")
    lines += [f"## {_md_escape(b.revisions_head)}", ""]
    lines += [f"- {_md_escape(r)}" for r in b.revisions]
    return "\n".join(lines).rstrip() + "\n"
