"""Presets for model inputs: the canvas, background and size target each image-to-3D model family was trained on.

A preset is only defaults: :meth:`Preset.options` (and
:meth:`pixscale.Normalizer.from_preset`, ``pixscale run --preset``) start
from its values and every option given explicitly wins.

The targets of the bbox-framed models are measured, not guessed: each
model's public preprocessing frames the object by its bounding box
(``resize_foreground(ratio=0.85)`` in TripoSR, SF3D and InstantMesh,
``recenter(border_ratio=0.2)`` in LGM and DreamGaussian), and
``benchmarks/presets.py`` applies that rule to real cut-outs and takes the
median pixel-area size ratio it produces.  The docs page "Presets for model
inputs" has the calibration, and each preset names its sources.

Examples
--------
>>> import pixscale.presets
>>> "triposr" in pixscale.presets.names()
True
>>> p = pixscale.presets.get("facelift-gslrm")
>>> p.canvas, p.background, p.target
((512, 512), None, 0.3)
>>> p.options(target=0.4).target
0.4
"""

import dataclasses
import difflib
from typing import Any

from ._options import Options
from ._validate import check_shape, check_target, parse_colour

_TRIPOSR_UTILS = "https://github.com/VAST-AI-Research/TripoSR/blob/main/tsr/utils.py"  # resize_foreground
_TRIPOSR_RUN = "https://github.com/VAST-AI-Research/TripoSR/blob/main/run.py"  # ratio 0.85, gray 0.5
_SF3D_UTILS = "https://github.com/Stability-AI/stable-fast-3d/blob/main/sf3d/utils.py"  # resize_foreground
_SF3D_RUN = "https://github.com/Stability-AI/stable-fast-3d/blob/main/run.py"  # --foreground-ratio 0.85
_SF3D_APP = "https://github.com/Stability-AI/stable-fast-3d/blob/main/gradio_app.py"  # COND_WIDTH 512, gray 0.5
_INSTANTMESH_RUN = "https://github.com/TencentARC/InstantMesh/blob/main/run.py"  # resize_foreground(.., 0.85)
_INSTANTMESH_UTILS = "https://github.com/TencentARC/InstantMesh/blob/main/src/utils/infer_util.py"
_ZERO123PP = "https://github.com/SUDO-AI-3D/zero123plus/blob/main/diffusers-support/pipeline.py"  # to_rgb_image
_ZERO123PP_README = "https://github.com/SUDO-AI-3D/zero123plus/blob/main/README.md"  # square, >= 320x320
_KIUI_OP = "https://github.com/ashawkey/kiuikit/blob/main/kiui/op.py"  # recenter(image, mask, border_ratio=0.2)
_LGM_APP = "https://github.com/3DTopia/LGM/blob/main/app.py"  # recenter + white background, 256
_DG_PROCESS = "https://github.com/dreamgaussian/dreamgaussian/blob/main/process.py"  # --size 256 --border_ratio 0.2
_FACELIFT = "https://github.com/kafkapple/FaceLift"  # the seed: size ratio 0.3 at 512, RGBA

# Calibrated targets (benchmarks/presets.py; docs/presets.md has the table): the median pixel-area size
# ratio that each bbox rule gives the vendored real cut-outs.
RESIZE_FOREGROUND_085 = 0.528
RECENTER_020 = 0.496


@dataclasses.dataclass(frozen=True)
class Preset:
    """One model family's input convention: canvas, background, size target, and where they come from.

    Parameters
    ----------
    name : str
        The preset's name (``"triposr"``).
    canvas : (int, int)
        (H, W) of the model's input image, ``output_shape``.
    background : str or None
        The colour the model's preprocessing composites the object onto, as
        text on the 0-255 scale (``"white"``, ``"127.5,127.5,127.5"``); None
        keeps the RGBA image.
    target : float
        Pixel-area size ratio that frames objects as the model was trained.
    description : str
        One line: the model and how its preprocessing frames the object.
    rule : str
        The model's own framing rule (``"resize_foreground(ratio=0.85)"``).
    sources : tuple of str
        URLs of the public code the rule, canvas and background come from.

    Examples
    --------
    >>> import pixscale.presets
    >>> pixscale.presets.get("lgm").canvas
    (256, 256)
    """

    name: str
    canvas: tuple[int, int]
    background: str | None
    target: float
    description: str
    rule: str
    sources: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "canvas", check_shape(self.canvas, name="canvas"))
        object.__setattr__(self, "target", check_target(self.target))
        if self.background is not None:
            parse_colour(self.background)

    def keywords(self) -> dict[str, Any]:
        """The preset as :class:`pixscale.Options` keywords: ``target``, ``output_shape``, ``background``.

        Returns
        -------
        dict

        Examples
        --------
        >>> import pixscale.presets
        >>> pixscale.presets.get("facelift-gslrm").keywords()
        {'target': 0.3, 'output_shape': (512, 512), 'background': None}
        """
        return {"target": self.target, "output_shape": self.canvas, "background": self.background}

    def options(self, **overrides: Any) -> Options:
        """The :class:`pixscale.Options` of this preset, with ``overrides`` winning over its values.

        Parameters
        ----------
        **overrides
            Any option of :class:`pixscale.Options` (``target=0.4``).

        Returns
        -------
        Options

        Raises
        ------
        TypeError, ValueError
            As :class:`pixscale.Options`, for an unknown or bad option.

        Examples
        --------
        >>> import pixscale.presets
        >>> pixscale.presets.get("triposr").options(background=None).background is None
        True
        """
        return Options(**{**self.keywords(), **overrides})

    def run_keywords(self) -> dict[str, Any]:
        """The preset as a dataset run's options: ``target``, ``output_size``, ``background`` (0-255 RGB or None).

        Returns
        -------
        dict

        Examples
        --------
        >>> import pixscale.presets
        >>> pixscale.presets.get("lgm").run_keywords()["background"]
        (255.0, 255.0, 255.0)
        """
        colour = None if self.background is None else parse_colour(self.background)
        return {"target": self.target, "output_size": self.canvas, "background": colour}


def _preset(name, canvas, background, target, description, rule, *sources):
    return Preset(name, (canvas, canvas), background, target, description, rule, tuple(sources))


_GRAY_HALF = "127.5,127.5,127.5"  # 0.5 on a 0-1 scale, TripoSR's and SF3D's fill
_ZERO123_GRAY = "127,127,127"  # Zero123++'s to_rgb_image pastes the RGBA onto (127, 127, 127)

_PRESETS = {
    p.name: p
    for p in (
        _preset(
            "triposr",
            512,
            _GRAY_HALF,
            RESIZE_FOREGROUND_085,
            "TripoSR: 512 px, gray 0.5 background, framed as resize_foreground(ratio=0.85)",
            "resize_foreground(ratio=0.85)",
            _TRIPOSR_UTILS,
            _TRIPOSR_RUN,
        ),
        _preset(
            "sf3d",
            512,
            _GRAY_HALF,
            RESIZE_FOREGROUND_085,
            "Stable Fast 3D: 512 px, gray 0.5 background, framed as resize_foreground(ratio=0.85)",
            "resize_foreground(ratio=0.85)",
            _SF3D_UTILS,
            _SF3D_RUN,
            _SF3D_APP,
        ),
        _preset(
            "instantmesh",
            320,
            _ZERO123_GRAY,
            RESIZE_FOREGROUND_085,
            "InstantMesh: Zero123++'s 320 px input on gray 127, framed as resize_foreground(ratio=0.85)",
            "resize_foreground(ratio=0.85)",
            _INSTANTMESH_RUN,
            _INSTANTMESH_UTILS,
            _ZERO123PP,
        ),
        _preset(
            "zero123plus",
            320,
            _ZERO123_GRAY,
            RESIZE_FOREGROUND_085,
            "Zero123++: square 320 px on gray 127, framed as InstantMesh prepares it (resize_foreground 0.85)",
            "resize_foreground(ratio=0.85)",
            _ZERO123PP,
            _ZERO123PP_README,
            _INSTANTMESH_RUN,
            _INSTANTMESH_UTILS,
        ),
        _preset(
            "lgm",
            256,
            "white",
            RECENTER_020,
            "LGM: 256 px on white (ImageDream's input), framed as kiui's recenter(border_ratio=0.2)",
            "recenter(border_ratio=0.2)",
            _LGM_APP,
            _KIUI_OP,
        ),
        _preset(
            "dreamgaussian",
            256,
            "white",
            RECENTER_020,
            "DreamGaussian: 256 px, composited on white, framed as process.py's recenter (border_ratio 0.2)",
            "recenter(border_ratio=0.2)",
            _DG_PROCESS,
            _KIUI_OP,
        ),
        _preset(
            "facelift-mvdiffusion",
            512,
            None,
            0.3,
            "FaceLift MVDiffusion: 512 px RGBA, size ratio 0.3 (pixscale's defaults, the original method)",
            "size ratio 0.3 (pixel area)",
            _FACELIFT,
        ),
        _preset(
            "facelift-gslrm",
            512,
            None,
            0.3,
            "FaceLift GS-LRM: 512 px RGBA, size ratio 0.3 (pixscale's defaults, the original method)",
            "size ratio 0.3 (pixel area)",
            _FACELIFT,
        ),
    )
}


def names() -> tuple[str, ...]:
    """The names of the presets, in table order.

    Returns
    -------
    tuple of str

    Examples
    --------
    >>> import pixscale.presets
    >>> pixscale.presets.names()[:2]
    ('triposr', 'sf3d')
    """
    return tuple(_PRESETS)


def get(name: str) -> Preset:
    """The preset called ``name``.

    Parameters
    ----------
    name : str
        One of :func:`names` (case and surrounding spaces ignored).

    Returns
    -------
    Preset

    Raises
    ------
    ValueError
        For an unknown name; the message lists the names.
    TypeError
        For a name that is not text.

    Examples
    --------
    >>> import pixscale.presets
    >>> pixscale.presets.get("TripoSR").canvas
    (512, 512)
    """
    if not isinstance(name, str):
        raise TypeError(f"a preset name must be text; got {name!r}")
    key = name.strip().lower()
    if key in _PRESETS:
        return _PRESETS[key]
    near = difflib.get_close_matches(key, _PRESETS, n=1)
    hint = f"did you mean {near[0]!r}? " if near else ""
    raise ValueError(f"unknown preset {name!r}; {hint}the presets are: {', '.join(_PRESETS)}")


def format_table() -> str:
    """The presets as a table, one line each: name, canvas, background, target, description.

    Returns
    -------
    str
        A header line, then one line a preset: columns aligned, separated by
        spaces, the description last (``line.split(None, 4)`` parses a line);
        the background is ``rgba`` where the preset keeps the alpha.

    Examples
    --------
    >>> import pixscale.presets
    >>> pixscale.presets.format_table().splitlines()[0].split()
    ['name', 'canvas', 'background', 'target', 'description']
    """
    rows = [("name", "canvas", "background", "target", "description")]
    for p in _PRESETS.values():
        rows.append((p.name, f"{p.canvas[0]}x{p.canvas[1]}", p.background or "rgba", f"{p.target:g}", p.description))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join("  ".join([*(c.ljust(w) for c, w in zip(row, widths, strict=False)), row[4]]) for row in rows)
