"""RunOptions: a run's options, composing the image API's pixscale.Options."""

import pytest

import pixscale
from pixscale.pipeline.options import RunOptions


def test_image_options_given_whole_are_the_runs():
    image = pixscale.Options(target=0.4, threshold=20, fit="shrink", margin=3, exact=False, filter="lanczos4")
    opts = RunOptions(image=image, scale="per-sample")
    assert opts.image == image and opts.scale == "per-sample"
    assert opts == RunOptions(
        target=0.4, threshold=20, fit="shrink", margin=3, exact=False, filter="lanczos4", scale="per-sample"
    )


def test_an_image_background_is_refused_not_dropped():
    # A run's background is a 0-255 colour for its PNG views (RunOptions.background); one given inside
    # image= would be on the image's own scale, and was silently dropped.
    with pytest.raises(TypeError, match="RunOptions\\(background=...\\)"):
        RunOptions(image=pixscale.Options(background="white", premultiplied=False))
    assert RunOptions(background=(255, 255, 255)).background == (255, 255, 255)


def test_image_options_and_keywords_are_one_or_the_other():
    with pytest.raises(TypeError, match="not both"):
        RunOptions(image=pixscale.Options(), target=0.4)
