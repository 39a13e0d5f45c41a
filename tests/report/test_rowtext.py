"""report.json's views written from the rows file's compact JSON: the very text json.dumps(indent=2) writes."""

import json
import math

import numpy as np
import pytest

from pixscale._measure import Measurement
from pixscale.pipeline.records import ViewRecord
from pixscale.report.rowtext import _indented, indented, shown_row


class _T:
    def __init__(self, rng):
        self.scale = self.wanted_scale = float(rng.uniform(0.5, 2))
        self.limited = bool(rng.integers(2))
        self.shift = (float(rng.normal()), -0.0)
        self.cut_pixels = int(rng.integers(0, 5))
        self.src_center = (float(rng.uniform(0, 9)), 1e-300)
        self.dst_center = (16.0, 1e22)
        self.achieved_ratio = float(rng.uniform())


def _records(rng):
    names = ["obj", 'qu"ote', "back\\slash", "ünïcödé/ビュー", "tab\tnew\nline", "%s %d {x}", "[a, b]: {c}", ""]
    out = []
    for i in range(60):
        name = names[i % len(names)]
        before = Measurement(int(rng.integers(0, 500)), (float(rng.uniform()), 2.5), (1, 2, 30, 31), (32, 32))
        empty = Measurement(0, None, None, (32, 32))
        after = Measurement(
            5, (math.nan if i % 7 == 0 else 1.0, math.inf if i % 11 == 0 else 2.0), (0, 0, 1, 1), (8, 8)
        )
        kind = i % 4
        if kind == 0:
            out.append(ViewRecord.failed(name, f"{name}/{i}.png", f"broken: {name}", retry=bool(i % 8)))
        elif kind == 1:
            islands = None if i % 3 else {"components": 2, "pixels": 7}
            out.append(ViewRecord.measured(name, f"{name}/{i}.png", before if i % 5 else empty, islands))
        else:
            islands = {"components": 1, "pixels": int(rng.integers(9))} if i % 2 else None
            on = None if i % 3 == 0 else bool(i % 2)
            out.append(ViewRecord.written(name, f"{i}.png", before, after, _T(rng), on_target=on, islands=islands))
    return out


@pytest.mark.parametrize("pad", ["\n", "\n    ", "\n  "])
def test_indented_row_is_json_dumps_indent_2(pad):
    rng = np.random.default_rng(3)
    for r in _records(rng):
        row, text, _ = shown_row(r)
        want = json.dumps(json.loads(text), indent=2).replace("\n", pad)
        assert indented(row, pad) == want
        assert indented(json.loads(text), pad) == want
        assert _indented(row, pad) == want


def test_odd_rows_take_the_slow_way():
    odd = [{}, [], {"a": []}, [{}, [1, [2, {}]]], {"k": "x, y: [z]"}, [None, True, False, -1.5e-300], 3, "s"]
    odd += [{"a": [1, 2]}, {"a": [1, 2, 3]}, {"a": {"b": 1}}, {"a": [[1]]}, {"a": "{%s}"}, {"a": math.nan}]
    odd += [{"a": (1, 2)}, {"a": np.float64(0.1)}, {1: 2}, {"a": {1.5: "x"}}, {"a": float("inf")}]
    for _ in range(2):  # the second time through the shapes remembered
        for value in odd:
            assert indented(value) == json.dumps(value, indent=2)
    with pytest.raises(TypeError):
        indented({"a": [1, np.int64(2)]})  # as json.dumps refuses it, after a row of that shape


def test_shown_row_says_when_the_row_is_not_the_record():
    rng = np.random.default_rng(4)
    for r in _records(rng):
        row, text, changed = shown_row(r)
        assert json.loads(text) == row
        if not changed:
            assert ViewRecord.from_row(row) == r
