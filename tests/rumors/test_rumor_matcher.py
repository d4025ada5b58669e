"""The matcher (pure): normalisation, robustness to word order, spelling, scripts; batch = single; limits;
duplicates; accuracy on our evaluation set against the keyword baseline; the dense backend interface."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rumor_eval import load, topk_accuracy

from accord.errors import AccordError
from accord.rumors import matcher

CLAIMS = [
    "Drinking hot water kills the coronavirus",
    "5G networks spread COVID-19",
    "Eating garlic prevents infection with the new coronavirus",
    "喝热水可以杀死新冠病毒",
    "5G基站会传播新冠肺炎",
    "吃大蒜可以预防新冠病毒感染",
    "ตะไคร้ช่วยป้องกันโควิด",  # Thai: lemongrass prevents covid
    "ლიმონი კლავს ვირუსს",  # Georgian: lemon kills the virus
]


@pytest.fixture(scope="module")
def index() -> matcher.Index:
    return matcher.build_index(CLAIMS)


def test_normalise_folds_width_case_punctuation_and_script_edges() -> None:
    assert matcher.normalise("ＣＯＶＩＤ－１９！！") == "covid 19"
    assert matcher.normalise("喝热水可以杀死coronavirus。") == "喝热水可以杀死 coronavirus"
    assert matcher.normalise("  Hello,\tWORLD\n ") == "hello world"
    assert matcher.normalise("<script>alert(1)</script>") == "script alert 1 script"


def test_word_order_spelling_and_width_variants_find_the_claim(index: matcher.Index) -> None:
    assert matcher.match(index, "the coronavirus is killed by drinking hot water")[0][0] == 0
    assert matcher.match(index, "drinkin hot watter kils coronavirus")[0][0] == 0
    assert matcher.match(index, "ＣＯＶＩＤ－１９ is spread by 5Ｇ")[0][0] == 1
    assert matcher.match(index, "多喝热水能杀死新冠病毒")[0][0] == 3
    assert matcher.match(index, "吃garlic大蒜能预防新冠")[0][0] == 5


def test_unknown_languages_still_match_on_characters(index: matcher.Index) -> None:
    assert matcher.match(index, "ตะไคร้ป้องกันโควิดได้")[0][0] == 6
    assert matcher.match(index, "ვირუსს კლავს ლიმონი")[0][0] == 7


def test_scores_are_cosines_and_an_exact_restatement_scores_one(index: matcher.Index) -> None:
    for pos, text in enumerate(CLAIMS):
        best = matcher.match(index, text, k=3)
        assert best[0][0] == pos and best[0][1] == pytest.approx(1.0, abs=1e-4)
        assert all(0.0 <= s <= 1.0 for _, s in best)
    # a claim buried in much other text scores lower than the claim alone
    long = CLAIMS[0] + " " + " ".join(f"unrelated word{i} chatter" for i in range(30))
    assert matcher.match(index, long)[0][1] < 0.6


def test_nothing_in_common_gives_no_match(index: matcher.Index) -> None:
    assert matcher.match(index, "qqqq zzzz") == []
    assert matcher.match_batch(matcher.build_index([]), ["anything"], 5) == [[]]


def test_batch_is_the_same_as_one_by_one(index: matcher.Index) -> None:
    messages = ["hot water kills virus", "5G COVID", "大蒜预防", "nothing xq"]
    batch = matcher.match_batch(index, messages, k=3)
    assert batch == [matcher.match(index, m, k=3) for m in messages]


def test_batch_chunks_give_the_same_results(monkeypatch: pytest.MonkeyPatch, index: matcher.Index) -> None:
    messages = [c + " today" for c in CLAIMS]
    whole = matcher.match_batch(index, messages, k=2)
    monkeypatch.setattr(matcher, "CHUNK_CELLS", 1)  # one message per product
    assert matcher.match_batch(index, messages, k=2) == whole


def test_duplicates_at_entry(index: matcher.Index) -> None:
    assert [p for p, _ in matcher.duplicates(index, "drinking hot water kills the coronavirus!")] == [0]
    assert matcher.duplicates(index, "Eating garlic cures baldness") == []


def test_clean_message_refuses_empty_enormous_and_binary() -> None:
    assert matcher.clean_message("  hello  ") == "hello"
    assert matcher.clean_message("喝热水".encode()) == "喝热水"
    for bad, code in (("", "empty"), ("   \n\t", "empty"), ("!!! ...", "empty")):
        with pytest.raises(AccordError) as exc:
            matcher.clean_message(bad)
        assert exc.value.problems[0].code == code and exc.value.status == 422
    with pytest.raises(AccordError) as exc:
        matcher.clean_message("x" * (matcher.MAX_MESSAGE_CHARS + 1))
    assert exc.value.status == 413 and "over the limit" in str(exc.value)
    for binary in (b"\xff\xfe\x00\x01garbage", "text\x00with nul", "\x01\x02\x03\x04abc"):
        with pytest.raises(AccordError) as exc:
            matcher.clean_message(binary)
        assert exc.value.problems[0].code == "binary"


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=60), min_size=1, max_size=8), st.text(max_size=80))
def test_any_text_is_safe_and_scores_stay_in_range(texts: list[str], message: str) -> None:
    index = matcher.build_index(texts)
    hits = matcher.match(index, message, k=5)
    assert len(hits) <= 5
    assert all(0 <= p < len(texts) and 0.0 < s <= 1.0 for p, s in hits)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.text(alphabet=st.characters(categories=["L", "N"]), min_size=3, max_size=40), min_size=1, max_size=6)
)
def test_every_claim_finds_itself_first(texts: list[str]) -> None:
    index = matcher.build_index(texts)
    for pos, text in enumerate(texts):
        hits = matcher.match(index, text, k=len(texts))
        if not matcher.normalise(text) or not hits:
            continue
        # the best score is 1 and the claim (or an identical text) holds it
        assert hits[0][1] == pytest.approx(1.0, abs=1e-4)
        assert matcher.normalise(texts[hits[0][0]]) == matcher.normalise(text) or any(
            p == pos and s == pytest.approx(1.0, abs=1e-4) for p, s in hits
        )


def test_evaluation_set_accuracy_beats_the_keyword_baseline() -> None:
    rows, claims, queries, gold = load()
    assert len(queries) >= 150 and len(rows) >= 50
    ours = matcher.match_batch(matcher.build_index(claims), queries, k=5)
    base = matcher.keyword_match_batch(claims, queries, k=5)
    top1, top5 = topk_accuracy(ours, gold, 1), topk_accuracy(ours, gold, 5)
    assert top1 >= 0.9 and top5 >= 0.97, (top1, top5)
    assert top1 > topk_accuracy(base, gold, 1) + 0.2
    assert top5 > topk_accuracy(base, gold, 5)


def test_dense_backend_interface_with_a_stand_in_encoder() -> None:
    vocab = {"hot": 0, "water": 1, "garlic": 2, "5g": 3}

    def encode(texts: object) -> np.ndarray:
        out = np.zeros((len(texts), len(vocab)))  # type: ignore[arg-type]
        for i, t in enumerate(texts):  # type: ignore[attr-defined]
            for w in str(t).split():
                if w in vocab:
                    out[i, vocab[w]] += 1
        return out

    backends: list[matcher.Backend] = [matcher.DenseBackend(encode), matcher.TfidfBackend()]
    for backend in backends:
        idx = backend.build(["hot water", "garlic", "5G towers"])
        assert backend.match_batch(idx, ["water hot", "Garlic!"], 2)[0][0][0] == 0
        assert backend.match_batch(idx, ["water hot", "Garlic!"], 2)[1][0][0] == 1
