"""The kinds of image ``Normalizer`` takes and gives back: NumPy arrays, PIL images, torch tensors."""

import numpy as np

from ._validate import with_mask


def kind_of(image):
    """``"numpy"``, ``"pil"`` or ``"torch"``: duck-typed, so neither PIL nor torch is imported to ask."""
    module = type(image).__module__
    if module.startswith("PIL.") and hasattr(image, "mode"):
        return "pil"
    if module.startswith("torch") and hasattr(image, "permute"):
        return "torch"
    return "numpy"


# PIL modes read through Normalizer, by what they hold: gray or colour without alpha (a mask
# or a ``transparency`` key gives it one), with alpha (kept), and one-channel modes deeper than
# 8 bits, which PIL has no mode with an alpha channel for.
_PIL_GRAY = ("1", "L")
_PIL_COLOUR = ("P", "RGB", "RGBX")
_PIL_ALPHA = {"LA": "LA", "La": "LA", "PA": "RGBA", "RGBA": "RGBA", "RGBa": "RGBA"}
_PIL_DEEP = {
    "I": "32-bit integer",
    "I;16": "16-bit",
    "I;16L": "16-bit",
    "I;16B": "16-bit",
    "I;16N": "16-bit",
    "F": "32-bit float",
}


def _pil_has_alpha(image):
    """Whether a PIL image carries transparency: an alpha band, a ``transparency`` key or a palette's alpha."""
    if image.mode in _PIL_ALPHA:
        return True
    has = getattr(image, "has_transparency_data", None)  # Pillow >= 10.1 (palette alpha included)
    if has is not None:
        return bool(has)
    return "transparency" in image.info


def _pil_to_array(image, mask):
    """A PIL image as an 8-bit (H, W, C) array: gray / RGB with ``mask`` given, LA / RGBA without."""
    mode = image.mode
    if mode in _PIL_DEEP:
        how = (
            "np.asarray(image).astype(np.uint16) if its values are 16-bit"
            if mode == "I"
            else "np.asarray(image) (float values in [0, 1])"
            if mode == "F"
            else "np.asarray(image)"
        )
        raise TypeError(
            f"a PIL image of mode {mode!r} is {_PIL_DEEP[mode]} gray, and PIL has no mode for {_PIL_DEEP[mode]} "
            f"gray with an alpha channel to return the result in (8 bits would lose its depth); pass the pixels "
            f"as an array, {how}, with its mask as `mask=`: the result comes back as an (H, W, 2) array of "
            "the same dtype"
        )
    if mode not in _PIL_GRAY + _PIL_COLOUR + tuple(_PIL_ALPHA):
        raise TypeError(
            f"PIL images of mode {mode!r} are not read; convert it first, image.convert('RGBA') (or 'RGB' with `mask=`)"
        )
    has_alpha = _pil_has_alpha(image)
    if mask is not None:
        if has_alpha:
            raise ValueError(
                f"the PIL image (mode {mode!r}) has an alpha channel or transparency of its own and a `mask=` "
                "was given too; to measure by the mask pass image.convert('RGB') (or 'L'), or leave out "
                "`mask=` to use its alpha"
            )
        return np.asarray(image.convert("L" if mode in _PIL_GRAY else "RGB"))
    if not has_alpha:
        raise ValueError(
            f"a PIL image of mode {mode!r} has no alpha channel to measure the object by; give an RGBA or LA "
            "image (Image.putalpha adds a mask), or the object mask as `mask=`"
        )
    if mode in _PIL_ALPHA:
        target = _PIL_ALPHA[mode]
    else:
        target = "LA" if mode in _PIL_GRAY else "RGBA"
    return np.asarray(image if mode == target else image.convert(target))


def to_array(image, kind, mask=None):
    """The image as an (H, W, C) array (a tensor's (C, H, W) moved), with ``mask`` as its alpha if given."""
    if kind == "pil":
        array = _pil_to_array(image, mask)
        return array if mask is None else with_mask(array, mask)
    if mask is not None:
        return with_mask(to_array(image, "torch") if kind == "torch" else image, mask)
    if kind == "torch":
        if image.ndim != 3:
            raise ValueError(f"a tensor image must be (C, H, W); got shape {tuple(image.shape)}")
        return image.detach().cpu().numpy().transpose(1, 2, 0)
    return image


def from_array(out, like, kind):
    if kind == "pil":
        from PIL import Image

        return Image.fromarray(out, mode="LA" if out.shape[2] == 2 else "RGBA")
    if kind == "torch":
        import torch

        return torch.from_numpy(np.ascontiguousarray(out.transpose(2, 0, 1))).to(like.device)
    return out
