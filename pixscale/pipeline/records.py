"""The per-view record of a run: what each view became, or why it failed.

:class:`ViewRecord` is the one place a row is built.  The pipeline and the
report (:mod:`pixscale.report`: summary, text, figures) read its attributes;
the manifest, ``report.json``, ``pixscale stats --json`` and the rows that
:func:`~pixscale.pipeline.driver.run` returns get :meth:`ViewRecord.as_row`,
one JSON object per view with its keys in a fixed order.  A row has one of
three forms, told apart by what it holds:

* failed: ``sample, view, status="failed", error, before=None, after=None,
  scale=None, limited=None`` and ``retry=True`` when the machine, not the data,
  failed it (``resume`` redoes it);
* written (a run): ``sample, view, status="ok", error=None, before, after,
  scale, wanted_scale, limited, shift, cut_pixels, src_center, dst_center,
  achieved_ratio, on_target, islands``;
* measured (``measure_dataset``: nothing written): ``sample, view,
  status="ok", error=None, before, after=None, scale=None, limited=None, islands``.

``before`` and ``after`` are :meth:`~pixscale.Measurement.to_dict` of the
object in the input and in the written output; ``islands`` is
:meth:`Islands.to_dict` (or None).

A row read back from JSON (a manifest's, ``report.json``'s views) becomes a
record once, where it is read, with :meth:`ViewRecord.from_row`; the report
takes records only.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._measure import Measurement


@dataclass(frozen=True, slots=True)
class Islands:
    """The small islands measured as part of a view's object (no component filter dropped them).

    What :func:`pixscale.pipeline.unit.islands` finds: islands below its
    fraction of the largest, which count toward size and centre.
    """

    components: int
    pixels: int

    def to_dict(self) -> dict[str, int]:
        """``{"components", "pixels"}``: the islands as a row holds them."""
        return {"components": self.components, "pixels": self.pixels}

    @classmethod
    def of(cls, d: Mapping[str, Any] | None) -> "Islands | None":
        """The islands of their :meth:`to_dict` (the unit's and a row's form); None for None."""
        if d is None:
            return None
        if not isinstance(d, Mapping) or not all(
            isinstance(d.get(k), int) and not isinstance(d.get(k), bool) for k in ("components", "pixels")
        ):
            raise ValueError(f"islands are {d!r}, not their components and pixels")
        return cls(d["components"], d["pixels"])


@dataclass(frozen=True, slots=True)
class ViewRecord:
    """One view's outcome (a view of the dataset, or a sample, list file or report that failed as a whole).

    Build it with :meth:`failed`, :meth:`measured` or :meth:`written`;
    :meth:`as_row` is its row, :meth:`from_row` reads one back (a manifest's).
    """

    sample: str
    view: str  # the view's path relative to the input root (the key of its output and report line)
    error: str | None = None  # why it failed; None when it is ok
    before: Measurement | None = None  # the object in the input
    after: Measurement | None = None  # the object in the written output (None unless written)
    scale: float | None = None
    wanted_scale: float | None = None  # the scale before the fit limited it
    limited: bool | None = None
    shift: tuple[float, float] | None = None  # how far the fit moved the object off the canvas centre
    cut_pixels: int | None = None
    src_center: tuple[float, float] | None = None
    dst_center: tuple[float, float] | None = None
    achieved_ratio: float | None = None
    on_target: bool | None = None  # None with one scale per sample (the mean view is on target)
    islands: Islands | None = None  # small islands measured as part of the object (see unit.islands)
    retry: bool = False  # failed by the machine (disk full, a lost worker): ``resume`` redoes it

    def __post_init__(self):
        if self.error is None and self.before is None:
            raise ValueError(f"the ok record of {self.view!r} has no measurement of its input (`before=`)")

    @classmethod
    def failed(cls, sample, view, error, *, retry=False):
        """A view (or sample, list file, report) that failed with ``error``."""
        return cls(sample, view, error=str(error), retry=bool(retry))

    @classmethod
    def measured(cls, sample, view, before, islands=None):
        """A view measured, not written (``measure_dataset``); ``islands``: an :meth:`Islands.to_dict` or None."""
        return cls(sample, view, before=before, islands=Islands.of(islands))

    @classmethod
    def written(cls, sample, view, before, after, transform, *, on_target, islands=None):
        """A view written with ``transform`` (a :class:`~pixscale.ScaleTransform`); ``islands`` as :meth:`measured`."""
        t = transform
        return cls(
            sample,
            view,
            before=before,
            after=after,
            scale=t.scale,
            wanted_scale=t.wanted_scale,
            limited=t.limited,
            shift=tuple(t.shift),
            cut_pixels=t.cut_pixels,
            src_center=tuple(t.src_center),
            dst_center=tuple(t.dst_center),
            achieved_ratio=t.achieved_ratio,
            on_target=on_target,
            islands=Islands.of(islands),
        )

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def status(self) -> str:
        return "ok" if self.error is None else "failed"

    @property
    def is_written(self) -> bool:
        """Whether the view was written (a run's ok view), not only measured."""
        return self.error is None and self.after is not None

    def as_row(self) -> dict[str, Any]:
        """The record as its JSON row (the manifest's, the report's and what a run returns)."""
        row: dict[str, Any] = {
            "sample": self.sample,
            "view": self.view,
            "status": self.status,
            "error": self.error,
            "before": None if self.before is None else self.before.to_dict(),
            "after": None if self.after is None else self.after.to_dict(),
            "scale": self.scale,
        }
        if self.is_written:
            row["wanted_scale"] = self.wanted_scale
        row["limited"] = self.limited
        if self.is_written:
            row.update(
                shift=_list(self.shift),
                cut_pixels=self.cut_pixels,
                src_center=_list(self.src_center),
                dst_center=_list(self.dst_center),
                achieved_ratio=self.achieved_ratio,
                on_target=self.on_target,
            )
        if self.ok:
            row["islands"] = None if self.islands is None else self.islands.to_dict()
        if self.retry:
            row["retry"] = True
        return row

    @classmethod
    def from_row(cls, row):
        """The record of a row that :meth:`as_row` wrote (read back from a manifest).

        Raises ValueError (or TypeError) for anything else.  A row of an
        earlier pixscale that lacks a key of this one's reads as that key's
        default; its :meth:`as_row` is then this version's form of it.
        """
        if not isinstance(row, dict) or not isinstance(row.get("sample"), str) or not isinstance(row.get("view"), str):
            raise ValueError("a row does not name a view")
        sample, view = row["sample"], row["view"]
        if row.get("status") == "failed":
            if not isinstance(row.get("error"), str):
                raise ValueError(f"the failed row of {view} gives no reason")
            return cls.failed(sample, view, row["error"], retry=row.get("retry") is True)
        if row.get("status") != "ok":
            raise ValueError(f"the row of {view} is neither ok nor failed")
        before = _measurement(row.get("before"))
        if row.get("after") is None:
            return cls.measured(sample, view, before, row.get("islands"))
        return cls(
            sample,
            view,
            before=before,
            after=_measurement(row["after"]),
            scale=row.get("scale"),
            wanted_scale=row.get("wanted_scale"),
            limited=row.get("limited"),
            shift=_tuple(row.get("shift")),
            cut_pixels=row.get("cut_pixels"),
            src_center=_tuple(row.get("src_center")),
            dst_center=_tuple(row.get("dst_center")),
            achieved_ratio=row.get("achieved_ratio"),
            on_target=row.get("on_target"),
            islands=Islands.of(row.get("islands")),
        )


def rows_of(records):
    """The JSON rows of ``records`` (see :meth:`ViewRecord.as_row`)."""
    return [r.as_row() for r in records]


def _list(value):
    return None if value is None else list(value)


def _tuple(value):
    return None if value is None else tuple(value)


def _measurement(d):
    """The :class:`~pixscale.Measurement` of its :meth:`~pixscale.Measurement.to_dict` (derived values recomputed)."""
    if not isinstance(d, dict) or not isinstance(d.get("count"), int) or not isinstance(d.get("shape"), list):
        raise ValueError("a measurement is not a count with its image shape")
    return Measurement(
        d["count"],
        _tuple(d.get("centroid")),
        _tuple(d.get("bbox")),
        tuple(d["shape"]),
        d.get("dropped_components", 0),
        d.get("dropped_pixels", 0),
    )
