"""The report's figures: the contact sheet composed as an image, the plots, and what ``draw`` counts and says."""

import io

import imageio.v3 as iio
import numpy as np
import pytest

import pixscale
from pixscale.pipeline.records import ViewRecord
from pixscale.report import figures, sheet
from pixscale.report import summary as report

pytest.importorskip("matplotlib")

GREYS = {153, 204}  # the checkerboard under a transparent thumbnail


def _quadrants(h, w, colours):
    """An opaque RGBA thumbnail of four solid quadrants, ``colours[0..3]`` row by row."""
    img = np.full((h, w, 4), 255, np.uint8)
    for q, (rows, cols) in enumerate(_quarters(h, w)):
        img[rows, cols, :3] = colours[q]
    return img


def _quarters(h, w, inset=0):
    """(rows, cols) slices of the four quadrants of an h x w box, ``inset`` px away from its edges and middles."""
    ys = (slice(inset, h // 2 - inset), slice(h // 2 + inset, h - inset))
    xs = (slice(inset, w // 2 - inset), slice(w // 2 + inset, w - inset))
    return [(y, x) for y in ys for x in xs]


def test_the_sheet_pastes_each_thumbnail_in_its_box_with_its_marks(rng):
    colours = rng.integers(0, 256, (2, 3, 4, 3))
    shapes = [(160, 160), (120, 200), (200, 100)]  # thumbnails; the views are 4x larger
    rows = []
    for i in range(2):
        panels = []
        for j, (h, w) in enumerate(shapes):
            view = (4 * h, 4 * w)
            frame = "#17becf" if (i, j) == (1, 0) else None
            title = ("after 30.00%", f"s/v{j}.png", "shifted +1,+0 px") if frame else ("before 30.00%", f"s/v{j}.png")
            centroid = (view[1] / 2, view[0] / 2)  # the 'x' over the '+' at the middle
            panels.append(sheet.Panel(title, _quadrants(h, w, colours[i, j]), view, centroid, frame))
        rows.append(("best: s\noffset 0.5 px" if i == 0 else None, panels))
    rows.append((None, [sheet.Panel(("no such file",)), None, sheet.Panel(("t",), np.zeros((50, 80, 4), np.uint16))]))
    image, boxes = sheet.compose(rows)
    height, width = sheet.CELL
    assert image.shape == (3 * height, sheet.LABELS + 3 * width, 3) and image.dtype == np.uint8
    for i in range(2):
        for j, (h, w) in enumerate(shapes):
            y0, x0, y1, x1 = boxes[i][j]
            # inside its own cell, below its titles, the view's aspect
            assert i * height < y0 < y1 <= (i + 1) * height
            assert sheet.LABELS + j * width <= x0 < x1 <= sheet.LABELS + (j + 1) * width
            assert abs((x1 - x0) / (y1 - y0) - w / h) < 0.02
            assert (image[i * height : y0 - 1, x0:x1] < 128).any()  # the title above the box
            box = image[y0:y1, x0:x1]
            for q, (ys, xs) in enumerate(_quarters(y1 - y0, x1 - x0, inset=12)):
                assert (box[ys, xs] == colours[i, j, q]).all(), (i, j, q)
            assert (box[(y1 - y0) // 2, (x1 - x0) // 2] == (255, 0, 0)).all()  # the centroid's 'x'
    y0, x0, y1, x1 = boxes[1][0]
    assert (image[y0 : y0 + 3, x0:x1] == (0x17, 0xBE, 0xCF)).all()  # the frame of a shifted view
    assert (image[y1 - 3 : y1, x0:x1] == (0x17, 0xBE, 0xCF)).all()
    assert (image[:height, : sheet.LABELS] < 128).any() and (image[height:, : sheet.LABELS] == 255).all()
    # A message panel has text and no box; no panel is a blank cell; a transparent view shows the board.
    assert boxes[2][:2] == [None, None]
    assert (image[2 * height :, sheet.LABELS : sheet.LABELS + width] < 128).any()
    assert (image[2 * height :, sheet.LABELS + width : sheet.LABELS + 2 * width] == 255).all()
    y0, x0, y1, x1 = boxes[2][2]
    board = image[y0:y1, x0:x1][: (y1 - y0) // 3]  # above the marks
    assert set(np.unique(board)) == GREYS


def _records(rng, n_samples=3, views=4, size=(48, 64)):
    """Records of samples whose objects sit further off centre sample by sample, with their thumbnails."""
    rows, sources = [], {}
    h, w = size
    for s in range(n_samples):
        for v in range(views):
            alphas = []
            for shift in (4 * s + 2, 0):  # before: off centre by sample; after: centred
                a = np.zeros(size, np.uint8)
                a[h // 2 - 8 : h // 2 + 8, w // 2 - 8 + shift : w // 2 + 8 + shift] = 255
                alphas.append(a)
            before, after = (pixscale.measure(a) for a in alphas)
            r = ViewRecord(f"s{s}", f"s{s}/v{v}.png", before=before, after=after, scale=1.0 + 0.1 * v, limited=False)
            rows.append(r)
            colour = [rng.integers(0, 256, 3) for _ in range(2)]
            sources[r.view] = tuple(
                figures.Thumbnail.of(
                    np.dstack([np.broadcast_to(c, (h, w, 3)), np.full(size, 255)]).astype(np.uint8), m, r.view
                )
                for c, m in zip(colour, (before, after), strict=True)
            )
    return rows, sources


def test_the_contact_sheet_shows_best_median_and_worst_views_before_and_after(rng):
    rows, sources = _records(rng)
    out, missing = figures.draw(report.summarize(rows, target=0.3), rows, sources)
    assert not missing
    sheet_image = iio.imread(out["contact_sheet.png"])[..., :3]
    height, width = sheet.CELL
    assert sheet_image.shape == (6 * height, sheet.LABELS + 4 * width, 3)
    # s0 is best (its objects were nearest the centre), s1 median, s2 worst: a row before, a row after each.
    for k, name in enumerate(["s0", "s1", "s2"]):
        for stage in (0, 1):
            for v in range(4):
                thumb = sources[f"{name}/v{v}.png"][stage]
                cy, cx = (2 * k + stage) * height + height // 2, sheet.LABELS + v * width + width // 2
                assert (sheet_image[cy + 30, cx + 40] == thumb.image[0, 0, :3]).all(), (name, stage, v)


def test_draw_counts_its_figures_prints_nothing_and_keeps_their_order(rng, capsys):
    rows, sources = _records(rng)
    summary = report.summarize(rows, target=0.3)
    bars = []

    class Bar:
        def __init__(self, total, unit):
            self.total, self.unit, self.done, self.closed = total, unit, 0, 0
            bars.append(self)

        def update(self, n):
            self.done += n

        def close(self):
            self.closed += 1

    out, missing = figures.draw(summary, rows, sources, progress=Bar)
    names = ["size_ratio_hist.png", "centre_offsets.png", "per_sample.png", "scale_hist.png", "contact_sheet.png"]
    assert list(out) == names and not missing
    assert [(b.total, b.unit, b.done, b.closed) for b in bars] == [(5, "figure", 5, 1)]
    for data in out.values():
        image = iio.imread(io.BytesIO(data))
        assert image.ndim == 3 and min(image.shape[:2]) > 100
    out, _ = figures.draw(summary, rows, {}, progress=Bar)  # no sources, no sheet
    assert list(out) == names[:-1] and (bars[-1].total, bars[-1].done) == (4, 4)
    assert capsys.readouterr() == ("", "")


def test_a_sheet_that_cannot_be_made_is_named_and_the_plots_still_drawn(rng, monkeypatch):
    rows, sources = _records(rng)

    def broken(*args):
        raise ValueError("no room")

    monkeypatch.setattr(figures, "compose", broken)
    out, missing = figures.draw(report.summarize(rows, target=0.3), rows, sources)
    assert missing == {"contact_sheet.png": "ValueError: no room"} and len(out) == 4


def test_per_sample_ticks_are_whole_samples(rng):
    """per_sample.png's x axis showed 0.25, 0.5, ... between three samples."""
    from matplotlib.figure import Figure

    rows, _ = _records(rng, n_samples=3)
    fig = Figure(figsize=(8, 3.5))
    figures._per_sample(fig, report.summarize(rows, target=0.3))
    ticks = fig.axes[0].get_xticks()
    assert len(ticks) >= 3 and (ticks == np.round(ticks)).all(), ticks


def test_histograms_count_as_numpy_does(rng):
    from matplotlib.figure import Figure

    rows, _ = _records(rng, n_samples=5)
    fig = Figure()
    figures._scale_histogram(fig, rows)
    counts = fig.axes[0].patches[0].get_data().values
    assert (counts == np.histogram([r.scale for r in rows], bins=30)[0]).all() and counts.sum() == len(rows)


def test_the_offset_scatter_is_coloured_by_size_ratio_with_a_colour_bar(rng):
    """As FaceLift's compare_preprocessing_all.py: each point's colour is its view's size ratio."""
    from matplotlib.figure import Figure

    rows = []
    for v, half in enumerate(rng.integers(4, 20, 6)):
        alphas = []
        for shift in (v + 1, 0):
            a = np.zeros((64, 64), np.uint8)
            a[32 - half : 32 + half, 32 - half + shift : 32 + half + shift] = 255
            alphas.append(a)
        before, after = (pixscale.measure(a) for a in alphas)
        rows.append(ViewRecord("s0", f"s0/v{v}.png", before=before, after=after, scale=1.0, limited=False))
    fig = Figure()
    figures._offset_figure(fig, rows, ["before", "after"])
    scatter = fig.axes[1]
    points = scatter.collections
    assert len(points) == 2
    for stage, collection in zip(["before", "after"], points, strict=True):
        want = [100 * getattr(r, stage).size_ratio for r in rows]
        assert np.allclose(collection.get_array(), want) and np.ptp(want) > 0
        assert collection.norm.vmin == pytest.approx(min(want)) and collection.norm.vmax == pytest.approx(max(want))
        offsets = [np.subtract(getattr(r, stage).centroid, (32, 32)) for r in rows]
        assert np.allclose(collection.get_offsets(), offsets)
    assert len(fig.axes) == 3 and fig.axes[2].get_ylabel() == "size ratio (%)"  # the colour bar
