"""The contact sheet composed as an image: thumbnails pasted into a grid, marks and labels drawn on the pixels.

Drawing 36 views through matplotlib axes cost seconds (a layout engine, tick
machinery and image resampling per axes); composing the same sheet in NumPy
costs milliseconds.  Text is drawn with Pillow (a dependency of matplotlib,
and only needed where the figures are drawn) in the DejaVu Sans matplotlib
draws the other figures with, at the same sizes (6 pt titles, 8 pt sample
labels at 100 dpi), so the sheet looks as it did.

:func:`compose` returns the sheet as an ``(H, W, 3)`` uint8 array and each
panel's image box; :func:`png` encodes an array.
"""

import functools
import importlib.util
import io
import os
from dataclasses import dataclass

import numpy as np

DPI = 100
CELL = (260, 220)  # (height, width) in px of one view's panel: 2.6 x 2.2 inches, as the sheet's axes were
LABELS = 40  # px left of the first column, for the samples' labels
TITLE_PT, LABEL_PT, MESSAGE_PT = 6, 8, 7  # font sizes, as the axes' titles and texts were
LINE = 1.2  # line height, in font sizes (matplotlib's linespacing)
WHITE = 255
CENTRE_MARK = ((77, 77, 77), 12, 1.0)  # '+' at the canvas centre: colour "0.3", 12 pt wide, 1 pt lines
CENTROID_MARK = ((255, 0, 0), 10, 2.0)  # 'x' at the centroid: red, 10 pt wide, 2 pt lines
FRAME_PX = 3  # the visible half of a 4 pt frame clipped to its axes


@dataclass(frozen=True)
class Panel:
    """One view's panel: its title lines, and its thumbnail with marks, or a message where it could not be read.

    ``image`` is an RGBA or gray+alpha thumbnail (any integer dtype);
    ``shape`` the full view's ``(H, W)``, the coordinates of ``centroid``;
    ``frame`` a colour (``"#rrggbb"``) for the frame of a marked view.
    """

    lines: tuple
    image: np.ndarray | None = None
    shape: tuple = (1, 1)
    centroid: tuple | None = None
    frame: str | None = None


def over_checkerboard(image, rows=None, cols=None):
    """An RGBA or gray+alpha image composited over a grey checkerboard, uint8 RGB.

    The board has 16 squares along the image's shorter side.  With ``rows``
    and ``cols`` (indices into the image), only those pixels are composited:
    a nearest-neighbour resampling of the whole composite, at its cost.
    """
    h, w = image.shape[:2]
    rows = np.arange(h) if rows is None else rows
    cols = np.arange(w) if cols is None else cols
    img = image[rows[:, None], cols[None, :]].astype(np.float32) / np.iinfo(image.dtype).max
    rgb = img[..., :3] if img.shape[2] == 4 else np.repeat(img[..., :1], 3, axis=2)
    alpha = img[..., -1:]
    cell = max(4, min(h, w) // 16)
    board = np.where((rows[:, None] // cell + cols[None, :] // cell) % 2, 0.8, 0.6).astype(np.float32)[..., None]
    return np.rint(255 * np.clip(rgb * alpha + board * (1 - alpha), 0, 1)).astype(np.uint8)


def _px(points):
    return points * DPI / 72


@functools.lru_cache(maxsize=8)
def _font(points):
    """DejaVu Sans (matplotlib's default font, from its data folder) at ``points``; Pillow's own font without it."""
    from PIL import ImageFont

    spec = importlib.util.find_spec("matplotlib")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = os.path.join(folder, "mpl-data", "fonts", "ttf", "DejaVuSans.ttf")
        if os.path.isfile(path):
            try:
                return ImageFont.truetype(path, _px(points))  # 8.33 px: matplotlib's 6 pt at 100 dpi
            except TypeError:  # Pillow < 10.1: whole pixels
                return ImageFont.truetype(path, round(_px(points)))
    try:
        return ImageFont.load_default(round(_px(points)))
    except TypeError:  # Pillow < 10.1: one bitmap size
        return ImageFont.load_default()


def _line_height(points):
    return round(LINE * _px(points))


def _box(panel, top, left, title_px):
    """(y0, x0, y1, x1) of the panel's image: the view's aspect, as large as fits below the titles, centred."""
    height, width = CELL
    room_h, room_w = height - title_px - 6, width - 12
    h, w = max(1, panel.shape[0]), max(1, panel.shape[1])
    scale = min(room_h / h, room_w / w)
    bh, bw = max(1, round(h * scale)), max(1, round(w * scale))
    y0 = top + title_px + 2 + (room_h - bh) // 2
    x0 = left + (width - bw) // 2
    return y0, x0, y0 + bh, x0 + bw


def _paste(canvas, panel, box):
    """The thumbnail over its checkerboard, resampled to the box by nearest neighbour (as imshow did)."""
    y0, x0, y1, x1 = box
    th, tw = panel.image.shape[:2]
    rows = ((np.arange(y1 - y0) + 0.5) * th / (y1 - y0)).astype(np.intp)
    cols = ((np.arange(x1 - x0) + 0.5) * tw / (x1 - x0)).astype(np.intp)
    canvas[y0:y1, x0:x1] = over_checkerboard(panel.image, rows, cols)


def _stroke(canvas, centre, segments, colour, width, clip):
    """Antialiased straight lines ``segments`` (pairs of (dx, dy) from ``centre``) of ``width`` px, inside ``clip``."""
    cx, cy = centre
    reach = max(abs(v) for seg in segments for p in seg for v in p) + width
    y0, x0 = max(clip[0], int(cy - reach)), max(clip[1], int(cx - reach))
    y1, x1 = min(clip[2], int(cy + reach) + 2), min(clip[3], int(cx + reach) + 2)
    if y0 >= y1 or x0 >= x1:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1] + 0.5
    cover = np.zeros(yy.shape)
    for (ax, ay), (bx, by) in segments:
        px, py, dx, dy = xx - cx - ax, yy - cy - ay, bx - ax, by - ay
        t = np.clip((px * dx + py * dy) / (dx * dx + dy * dy), 0, 1)
        d = np.hypot(px - t * dx, py - t * dy)
        cover = np.maximum(cover, np.clip(width / 2 + 0.5 - d, 0, 1))
    patch = canvas[y0:y1, x0:x1].astype(np.float64)
    patch += cover[..., None] * (np.asarray(colour, np.float64) - patch)
    canvas[y0:y1, x0:x1] = np.rint(patch).astype(np.uint8)


def _marks(canvas, panel, box):
    """'+' at the canvas centre, 'x' at the centroid, the frame of a marked view."""
    y0, x0, y1, x1 = box
    sy, sx = (y1 - y0) / max(1, panel.shape[0]), (x1 - x0) / max(1, panel.shape[1])
    colour, size, lw = CENTRE_MARK
    r = _px(size) / 2
    centre = (x0 + sx * panel.shape[1] / 2, y0 + sy * panel.shape[0] / 2)
    _stroke(canvas, centre, [((-r, 0), (r, 0)), ((0, -r), (0, r))], colour, _px(lw), box)
    if panel.centroid is not None and np.all(np.isfinite(panel.centroid)):
        colour, size, lw = CENTROID_MARK
        r = _px(size) / 2
        at = (x0 + sx * panel.centroid[0], y0 + sy * panel.centroid[1])
        _stroke(canvas, at, [((-r, -r), (r, r)), ((-r, r), (r, -r))], colour, _px(lw), box)
    if panel.frame is not None:
        rgb = [int(panel.frame[i : i + 2], 16) for i in (1, 3, 5)]
        f = min(FRAME_PX, (y1 - y0) // 2, (x1 - x0) // 2)
        for rows, cols in ((slice(y0, y0 + f), slice(x0, x1)), (slice(y1 - f, y1), slice(x0, x1))):
            canvas[rows, cols] = rgb
        for rows, cols in ((slice(y0, y1), slice(x0, x0 + f)), (slice(y0, y1), slice(x1 - f, x1))):
            canvas[rows, cols] = rgb


def compose(rows):
    """The sheet of ``rows``: ``[(label or None, [Panel or None, ...]), ...]``, a row of panels each.

    Returns ``(sheet, boxes)``: the ``(H, W, 3)`` uint8 image, and for each
    row a list of each panel's image box ``(y0, x0, y1, x1)`` (``None`` for
    no panel, or a message panel).  The label of a row is written sideways
    at its left; a ``None`` panel is left blank.
    """
    from PIL import Image, ImageDraw

    n_cols = max((len(panels) for _, panels in rows), default=0)
    height, width = CELL
    canvas = np.full((max(1, height * len(rows)), LABELS + width * n_cols, 3), WHITE, np.uint8)
    lines = max(
        (len(p.lines) for _, panels in rows for p in panels if p is not None and p.image is not None), default=0
    )
    title_px = lines * _line_height(TITLE_PT) + 2
    boxes: list[list[tuple | None]] = []
    texts: list[tuple[str, str, tuple]] = []
    for i, (label, panels) in enumerate(rows):
        top = i * height
        boxes.append([])
        if label is not None:
            texts.append(("label", label, (LABELS // 2, top + height // 2)))
        for j, panel in enumerate(panels):
            left = LABELS + j * width
            box = None
            if panel is not None and panel.image is not None:
                box = _box(panel, top, left, title_px)
                _paste(canvas, panel, box)
                _marks(canvas, panel, box)
                texts.append(("title", "\n".join(panel.lines), (left + width // 2, box[0] - 2)))
            elif panel is not None:
                texts.append(("message", "\n".join(panel.lines), (left + width // 2, top + height // 2)))
            boxes[-1].append(box)
    image = Image.fromarray(canvas)
    draw = ImageDraw.Draw(image)
    for kind, text, (x, y) in texts:
        if kind == "title":  # bottom line just above the box
            font = _font(TITLE_PT)
            draw.multiline_text((x, y), text, fill=(0, 0, 0), font=font, anchor="md", align="center", spacing=2)
        elif kind == "message":
            font = _font(MESSAGE_PT)
            draw.multiline_text((x, y), text, fill=(0, 0, 0), font=font, anchor="mm", align="center", spacing=2)
        else:
            _sideways(image, text, (x, y))
    return np.asarray(image), boxes


def _sideways(image, text, centre):
    """``text`` written bottom to top, centred on ``centre``."""
    from PIL import Image, ImageDraw

    font = _font(LABEL_PT)
    probe = [round(v) for v in ImageDraw.Draw(image).multiline_textbbox((0, 0), text, font=font, spacing=3)]
    strip = Image.new("L", (probe[2] - probe[0] + 4, probe[3] - probe[1] + 4), 0)
    ImageDraw.Draw(strip).multiline_text(
        (2 - probe[0], 2 - probe[1]), text, fill=255, font=font, align="center", spacing=3
    )
    strip = strip.rotate(90, expand=True)
    x, y = centre[0] - strip.width // 2, centre[1] - strip.height // 2
    image.paste((0, 0, 0), (max(0, x), max(0, y)), strip.crop((max(0, -x), max(0, -y), strip.width, strip.height)))


def png(array, level=1):
    """PNG bytes of an (H, W, 3) or (H, W, 4) uint8 array; zlib ``level`` 1: a sheet of flat colours packs well fast."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="png", compress_level=level)
    return buf.getvalue()
