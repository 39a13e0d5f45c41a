"""pixscale's version, from the installed package's metadata: its one home.

The front door (``pixscale.__version__``) and the files a run writes (cameras,
manifest, report) read it from here, so the pipeline does not import the
package's ``__init__`` (which imports the pipeline back, lazily).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pixscale")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"
