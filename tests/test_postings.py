"""The packed posting lists: what goes in comes out, in either weight storage."""

from __future__ import annotations

import numpy as np
import pytest

from bot.engine.postings import PostingsFiller


@pytest.mark.parametrize("unit", [False, True])
def test_filled_postings_give_back_their_ids_and_weights(unit: bool) -> None:
    rows = {"장애": 0, "복구": 1, "없음": 2}
    filler = PostingsFiller(rows, [3, 1, 0], unit=unit)
    entries = [(0, 4, 0.5), (1, 7, 1.0), (0, 9, 0.125), (0, 2, 0.0)]
    for row, id_, weight in entries:
        filler.add(row, id_, weight)
    postings = filler.done()
    ids, weights = postings["장애"]
    assert ids.tolist() == [4, 9, 2]
    assert weights.tolist() == pytest.approx([0.5, 0.125, 0.0], abs=1e-5)
    assert postings["복구"][0].tolist() == [7]
    assert len(postings["없음"][0]) == 0
    assert postings.get("모름") is None
    summed = postings.accumulate([("장애", 2.0), ("복구", 1.0), ("모름", 5.0)], 10)
    expected = np.zeros(10)
    expected[[4, 9, 2, 7]] = [1.0, 0.25, 0.0, 1.0]
    assert summed == pytest.approx(expected, abs=1e-4)


def test_unit_weights_keep_five_decimals() -> None:
    values = np.random.default_rng(7).random(1000)
    filler = PostingsFiller({"k": 0}, [len(values)], unit=True)
    for n, value in enumerate(values):
        filler.add(0, n, float(value))
    weights = filler.done()["k"][1]
    assert np.abs(weights - values).max() <= 0.5 / 65535 + 1e-12


def test_packed_ids_share_rows_and_give_no_ids_for_a_key_they_lack() -> None:
    from array import array

    from bot.engine.postings import PackedIds

    rows = {"복구": 0, "장애": 1, "원인": 2}
    packed = PackedIds({"장애": array("i", [3, 5]), "복구": array("i", [1])}, rows)
    assert packed["장애"].tolist() == [3, 5]
    assert packed["복구"].tolist() == [1]
    assert packed["원인"].tolist() == []
    assert packed.get("모름") is None
    assert len(packed) == 3


@pytest.mark.parametrize(
    ("ids_below", "dtype"), [(None, np.int32), (70_000, np.int32), (3, np.uint16)]
)
def test_small_ids_are_kept_in_two_bytes(ids_below: int | None, dtype: type) -> None:
    filler = PostingsFiller({"장애": 0}, [2], ids_below=ids_below)
    filler.add(0, 2, 0.5)
    filler.add(0, 1, 0.25)
    ids, weights = filler.done()["장애"]
    assert ids.dtype == dtype
    assert ids.tolist() == [2, 1]
    assert weights.tolist() == pytest.approx([0.5, 0.25])


def test_packed_ids_refuse_a_key_without_a_row() -> None:
    from array import array

    from bot.engine.postings import PackedIds

    with pytest.raises(ValueError, match="row"):
        PackedIds({"장애": array("i", [1])}, {"복구": 0})
