"""The registry of dataset layouts: one reader per layout, tried in the table's order."""

import numpy as np
import pytest

from pixscale import synth
from pixscale.pipeline.dataset import CAMERAS, Sample, View
from pixscale.pipeline.discover import detect_layout, discover
from pixscale.pipeline.io import write_png
from pixscale.pipeline.layouts import LAYOUTS, REGISTRY, FolderLayout

SIZE = 48


def _view(seed):
    return synth.mouse_view(np.random.default_rng(seed), size=SIZE)


def test_the_table_is_the_list_of_layouts():
    assert LAYOUTS == ("auto", *REGISTRY)
    assert set(REGISTRY) == {"gslrm", "mvdiffusion", "flat", "co3d"}
    for name, layout in REGISTRY.items():
        assert layout.name == name and layout.title and layout.example
    # Only GS-LRM samples carry cameras, in FaceLift's OpenCV file.
    assert {name: layout.cameras for name, layout in REGISTRY.items()} == {
        "gslrm": CAMERAS,
        "mvdiffusion": None,
        "flat": None,
        "co3d": None,
    }


@pytest.mark.parametrize("layout", ["gslrm", "mvdiffusion", "flat"])
def test_each_layout_is_detected_and_read_by_its_reader(tmp_path, layout):
    root = tmp_path / "in"
    synth.write_dataset(root, n_samples=2, n_views=2, size=SIZE, seed=3, layout=layout)
    assert detect_layout(root) == layout
    dataset = discover(root)
    assert dataset.layout == layout and dataset.title == REGISTRY[layout].title
    assert dataset.describe().startswith(REGISTRY[layout].title + ", ")
    assert dataset.n_views == 4
    assert all((s.cameras is not None) == (layout == "gslrm") for s in dataset.samples)


def test_a_co3d_folder_is_detected(tmp_path):
    for name in ("seq_a", "seq_b"):
        (tmp_path / name / "images").mkdir(parents=True)
        write_png(tmp_path / name / "images" / "f000.png", _view(len(name)))
    assert detect_layout(tmp_path) == "co3d"
    assert discover(tmp_path).describe() == "CO3D-style, 2 samples, 2 views"


def test_detection_tries_the_table_in_order(tmp_path):
    """Loose images beside an images/ folder: flat comes before co3d in the table, so flat wins."""
    (tmp_path / "seq" / "images").mkdir(parents=True)
    write_png(tmp_path / "seq" / "images" / "f000.png", _view(1))
    write_png(tmp_path / "loose.png", _view(2))
    names = list(REGISTRY)
    assert names.index("flat") < names.index("co3d")
    assert detect_layout(tmp_path) == "flat"
    assert discover(tmp_path, layout="co3d").describe() == "CO3D-style, 1 sample, 1 view"


class _Pairs(FolderLayout):
    """A layout a test adds: ``<sample>/left.png`` and ``<sample>/right.png``."""

    name, title, example = "pairs", "stereo pairs", "<sample>/left.png"

    def matches(self, scan, suffixes):
        return any((p / "left.png").is_file() for p in scan.folders())

    def folder_sample(self, folder, rel_dir, suffixes):
        views = [View(folder / f, f, f"{rel_dir}/{f}") for f in ("left.png", "right.png") if (folder / f).is_file()]
        return Sample(name=rel_dir, rel_dir=rel_dir, views=views, sources=[v.path for v in views]), []


def test_a_new_layout_is_one_class_and_one_entry(tmp_path, monkeypatch):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        for i, side in enumerate(("left", "right")):
            write_png(tmp_path / name / f"{side}.png", _view(i))
    monkeypatch.setitem(REGISTRY, "pairs", _Pairs())
    dataset = discover(tmp_path, layout="pairs")
    assert dataset.describe() == "stereo pairs, 2 samples, 4 views"
    assert [v.key for s in dataset.samples for v in s.views] == [
        "a/left.png",
        "a/right.png",
        "b/left.png",
        "b/right.png",
    ]
    # Detection finds it too, after the layouts before it in the table found nothing.
    assert detect_layout(tmp_path) == "pairs"


def test_an_unknown_layout_names_the_table(tmp_path):
    with pytest.raises(ValueError, match=r"layout must be one of \('auto', 'gslrm', 'mvdiffusion', 'flat', 'co3d'\)"):
        discover(tmp_path, layout="nope")
