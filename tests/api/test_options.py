"""pixscale.Options: one frozen record of the options, checked once, taken by every entry point."""

import dataclasses
import pickle

import numpy as np
import pytest

import pixscale
from pixscale import _options


def _image(size=48):
    img = np.zeros((size, size, 4), np.uint8)
    img[10:24, 14:30] = (200, 120, 40, 255)
    return img


def test_it_is_frozen_hashable_picklable_and_normalizes_its_values():
    o = pixscale.Options(target=1, threshold=20, center=[10, 12.5], output_shape=(40.0, 50), background=[1, 2, 3])
    assert (o.target, o.threshold, o.center, o.output_shape, o.background) == (
        1.0,
        20.0,
        (10.0, 12.5),
        (40, 50),
        (1, 2, 3),
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        o.target = 0.5  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(o)) == o and hash(o) == hash(pixscale.Options(**o.to_dict()))
    assert o.object_mask == pixscale.ObjectMask(20)
    assert pickle.loads(pickle.dumps(o)).object_mask == o.object_mask
    assert repr(pixscale.Options()) == "Options()"
    assert repr(o.replace(target=0.3, center="centroid", background=None)) == (
        "Options(threshold=20.0, output_shape=(40, 50))"
    )


def test_fields_and_mapping_round_trip():
    """The pipeline builds one from a mapping of field names and lists the fields."""
    names = [f.name for f in dataclasses.fields(pixscale.Options)]
    assert names == list(_options.OPTION_NAMES) == list(pixscale.Options().to_dict())
    o = pixscale.Options(center=(3, 4), margin="5%", min_component=0.05, keep="largest", erase_specks=True)
    d = o.to_dict()
    assert d["center"] == [3.0, 4.0] and d["margin"] == "5%"
    assert pixscale.Options(**d) == o
    assert dataclasses.replace(o, exact=False) == o.replace(exact=False)


@pytest.mark.parametrize(
    "kw, error, match",
    [
        ({"target": 0}, ValueError, r"`target=` is a size ratio"),
        ({"target": "0.3"}, TypeError, r"`target=` must be a number"),
        ({"threshold": 255}, ValueError, r"`threshold=255` selects no pixel"),
        ({"min_component": -1}, ValueError, r"`min_component=` must be"),
        ({"keep": "biggest"}, ValueError, r"`keep=` must be one of 'all', 'largest'"),
        ({"erase_specks": True}, ValueError, r"`erase_specks=True` needs a component filter.*`min_component=`"),
        ({"erase_specks": "yes", "keep": "largest"}, TypeError, r"`erase_specks=` must be True or False"),
        ({"center": "middle"}, ValueError, r"`center=` must be one of 'centroid', 'bbox', 'image'"),
        ({"center": (1, float("nan"))}, ValueError, r"`center=` must be finite"),
        ({"output_shape": (0, 10)}, ValueError, r"`output_shape=` must be two positive ints"),
        ({"output_shape": (10, 10), "margin": 6}, ValueError, r"`margin=6` leaves no pixel of room.*\(10, 10\)"),
        ({"fit": "squeeze"}, ValueError, r"`fit=` must be one of 'shift', 'shrink', 'none'"),
        ({"margin": "60%"}, ValueError, r"`margin=` must be"),
        ({"exact": 1}, TypeError, r"`exact=` must be True or False"),
        ({"filter": "cubic"}, ValueError, r"`filter=` must be one of 'bilinear'"),
        ({"premultiplied": None}, TypeError, r"`premultiplied=` must be True or False"),
        ({"background": "mauve"}, ValueError, r"unknown colour 'mauve'"),
    ],
)
def test_a_bad_option_is_refused_at_construction_by_every_entry_point(kw, error, match):
    img = _image()
    for call in (
        lambda: pixscale.Options(**kw),
        lambda: pixscale.Normalizer(**kw),
        lambda: pixscale.normalize(img, **kw),
        lambda: pixscale.normalize_batch([img], **kw),
        lambda: pixscale.normalize_batch(img[None], **kw),
    ):
        with pytest.raises(error, match=match):
            call()


def test_options_are_checked_once_per_call_not_per_image(monkeypatch):
    calls = []
    check = _options.check_target
    monkeypatch.setattr(_options, "check_target", lambda t: calls.append(t) or check(t))
    batch = np.stack([_image()] * 5)
    pixscale.normalize_batch(batch, target=0.4, threads=2)
    pixscale.normalize_batch(list(batch), target=0.4, threads=1)
    assert calls == [0.4, 0.4]
    options = pixscale.Options(target=0.35)
    del calls[:]
    norm = pixscale.Normalizer(options=options)
    for img in batch:
        pixscale.normalize(img, options=options)
        norm(img)
    pixscale.plan_group(list(batch), options=options)
    assert calls == []


def test_options_and_keywords_are_one_or_the_other():
    img = _image()
    options = pixscale.Options(target=0.4)
    for call, name in (
        (lambda: pixscale.normalize(img, options=options, target=0.4), "normalize"),
        (lambda: pixscale.plan(img, options=options, margin=2), "plan"),
        (lambda: pixscale.plan_group([img], options=options, exact=False), "plan_group"),
        (lambda: pixscale.normalize_batch([img], options=options, fit="none"), "normalize_batch"),
        (lambda: pixscale.Normalizer(0.4, options=options), "Normalizer"),
    ):
        with pytest.raises(TypeError, match=rf"^{name}\(\) takes its options either as `options=` or as keywords"):
            call()
    with pytest.raises(TypeError, match=r"`options=options.replace\(margin=...\)`"):
        pixscale.plan(img, options=options, margin=2)
    with pytest.raises(TypeError, match=r"`options=` must be a pixscale.Options; got dict"):
        pixscale.normalize(img, options={"target": 0.4})


def test_an_unknown_keyword_names_the_nearest_option():
    img = _image()
    nearest = r"normalize\(\) got an unexpected keyword argument 'targt'; did you mean `target=`\?"
    with pytest.raises(TypeError, match=nearest):
        pixscale.normalize(img, targt=0.4)
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'zzz'; its options are target, threshold"):
        pixscale.normalize_batch([img], zzz=1)
    with pytest.raises(TypeError, match=r"Options.replace\(\) got an unexpected keyword argument 'fitt'"):
        pixscale.Options().replace(fitt="none")


@pytest.mark.parametrize("name, value", [("erase_specks", True), ("premultiplied", False), ("background", "white")])
def test_plan_takes_no_output_only_keyword_but_reads_past_it_in_options(name, value):
    img = _image()
    with pytest.raises(TypeError, match=rf"plan\(\) takes no `{name}=`: it changes the output image, not the plan"):
        pixscale.plan(img, **{name: value})
    with pytest.raises(TypeError, match=rf"plan_group\(\) takes no `{name}=`"):
        pixscale.plan_group([img], **{name: value})
    options = pixscale.Options(keep="largest", **{name: value})
    assert pixscale.plan(img, options=options) == pixscale.plan(img, keep="largest")


def test_the_entry_points_take_one_options_record():
    img = _image()
    options = pixscale.Options(target=0.4, margin=3, filter="lanczos4", output_shape=(40, 44))
    t = pixscale.plan(img, options=options)
    assert t == pixscale.plan(img, target=0.4, margin=3, filter="lanczos4", output_shape=(40, 44))
    assert pixscale.plan_group([img], options=options) == [t]
    out = pixscale.normalize(img, options=options)
    assert out.shape == (40, 44, 4)
    np.testing.assert_array_equal(out, pixscale.warp(img, t))
    norm = pixscale.Normalizer(options=options)
    assert norm.options is options and norm.target == 0.4 and norm.output_shape == (40, 44)
    assert norm == pixscale.Normalizer(target=0.4, margin=3, filter="lanczos4", output_shape=(40, 44))
    assert repr(norm) == (
        "Normalizer(target=0.4, threshold=10.0, center='centroid', fit='shift', margin=3, exact=True, "
        "output_shape=(40, 44), filter='lanczos4')"
    )
    with pytest.raises(AttributeError, match="no attribute 'no_such'"):
        norm.no_such  # noqa: B018


@pytest.mark.parametrize(
    "mask, match",
    [
        (np.zeros((2, 48, 48), bool), r"an \(N, H, W\) array with N = 3, .*got an array of shape \(2, 48, 48\)"),
        (np.zeros((3, 48, 48, 1), bool), r"got an array of shape \(3, 48, 48, 1\)"),
        (np.zeros(48, bool), r"got an array of shape \(48,\)"),
        ([np.zeros((48, 48), bool)] * 2, r"is a list of 2 masks for a batch of 3 images"),
    ],
)
def test_a_batch_mask_of_another_form_names_the_shapes(mask, match):
    rgb = np.zeros((3, 48, 48, 3), np.uint8)
    for images in (rgb, list(rgb)):
        with pytest.raises(ValueError, match=rf"^`mask=` .*{match}"):
            pixscale.normalize_batch(images, mask=mask)


def test_a_batch_mask_of_the_wrong_size_names_the_image():
    rgb = np.zeros((3, 48, 48, 3), np.uint8)
    masks = [np.ones((48, 48), bool), np.ones((48, 48), bool), np.ones((40, 48), bool)]
    with pytest.raises(ValueError, match=r"image 2 of the batch: `mask=` has shape \(40, 48\)"):
        pixscale.normalize_batch(rgb, mask=masks)


def test_a_batch_array_with_a_mask_gains_the_alpha_channel():
    """The bug: normalize_batch(array, mask=m) returned (N, H, W, 3) where normalize(mask=m) returns RGBA."""
    rgb = np.full((2, 48, 48, 3), 90, np.uint8)
    gray = rgb[..., 0]
    matte = np.zeros((48, 48), bool)
    matte[10:20, 12:30] = True
    out = pixscale.normalize_batch(rgb, mask=matte, target=0.4)
    assert out.shape == (2, 48, 48, 4) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[1], pixscale.normalize(rgb[1], mask=matte, target=0.4))
    assert out[..., 3].any()
    out = pixscale.normalize_batch(gray, mask=matte, target=0.4, output_shape=(30, 40))
    assert out.shape == (2, 30, 40, 2)
    np.testing.assert_array_equal(out[0], pixscale.normalize(gray[0], mask=matte, target=0.4, output_shape=(30, 40)))


def test_a_big_endian_batch_comes_back_in_native_order():
    batch = (np.stack([_image()] * 2).astype(np.uint16) * 257).astype(">u2")
    assert not batch.dtype.isnative
    out = pixscale.normalize_batch(batch, target=0.4, threads=1)
    assert out.dtype == np.dtype("=u2")
    np.testing.assert_array_equal(out[0], pixscale.normalize(batch[0], target=0.4))


def test_to_dict_is_json_ready_for_numpy_values_too():
    import json

    options = pixscale.Options(background=np.array([1, 2, 3]), margin=np.float64(2.0), target=np.float32(0.25))
    d = json.loads(json.dumps(options.to_dict()))
    assert d["background"] == [1, 2, 3] and d["margin"] == 2.0 and d["target"] == 0.25
    assert pixscale.Options(**d) == options.replace(background=(1, 2, 3), margin=2.0)
