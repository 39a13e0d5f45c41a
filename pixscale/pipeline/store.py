"""Object stores: one prefix of one fsspec filesystem (``s3://``, ``gs://``, ``memory://`` ...) as a run uses it.

A :class:`Store` is a URL's filesystem and prefix; it pickles (fsspec
filesystems pickle as their options), so Dask and process workers read and
write the store themselves: no shared folder is needed.  Keys are paths
relative to the prefix, with ``/`` separators; a key that would leave the
prefix is refused (:class:`StoreError`), so nothing is read or written
outside it.

What a run relies on (docs/running.md, "Object stores"):

* :meth:`Store.put` writes an object whole, in one request (S3: one
  ``PutObject`` below s3fs's multipart threshold of 100 MiB; above it a
  multipart upload that s3fs aborts if it fails), so no partial object is
  ever visible;
* :meth:`Store.create` is a conditional create (S3: ``PutObject`` with
  ``If-None-Match: *``, answered 412 when the object exists; local and
  ``memory://``: an exclusive create), the one primitive the run's lock needs;
* :meth:`Store.walk` streams the listing: S3 one page of 1,000 keys at a
  time, other filesystems one folder at a time, never the whole listing.

fsspec is imported when a URL is first opened; the filesystems of other
protocols are extras (``pip install "pixscale[s3]"``).
"""

import json
import os
import posixpath
import re

from .files import atomic_write_bytes

URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# The extra that installs a protocol's filesystem (setup.cfg), and the package it brings.
EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs", "az": "azure", "abfs": "azure", "abfss": "azure"}
BUCKETED = ("s3", "s3a", "gs", "gcs", "az", "abfs", "abfss")  # the first part of the path is a bucket
PAGE = 1000  # keys taken from a paged listing at a time
READ_ONLY = ("http", "https")  # read from, never written to


class Url(str):
    """A URL that joins as a path does, for messages: ``Url("s3://b/out") / "report.md"``."""

    def __truediv__(self, name):
        return Url(f"{self.rstrip('/')}/{name}")


class StoreError(ValueError):
    """A URL that cannot be used (bad, unknown protocol, missing bucket, refused credentials), in one line."""


def is_url(text):
    """Whether ``text`` is a URL (``PROTOCOL://...``) rather than a local path."""
    return isinstance(text, str) and URL.match(text) is not None


def parse_storage_option(text):
    """``KEY=VALUE`` as ``{KEY: VALUE}``: the value as JSON when it parses (``true``, ``3``), else as text.

    A dotted key nests: ``client_kwargs.endpoint_url=http://...`` is
    ``{"client_kwargs": {"endpoint_url": "http://..."}}`` (what s3fs takes).
    """
    key, sep, raw = text.partition("=")
    if not sep or not key.strip() or any(not part for part in key.strip().split(".")):
        raise ValueError(f"a storage option is KEY=VALUE (e.g. anon=true); got {text!r}")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    out: dict = {}
    parts = key.strip().split(".")
    inner = out
    for part in parts[:-1]:
        inner = inner.setdefault(part, {})
    inner[parts[-1]] = value
    return out


def merge_options(*options):
    """The storage options ``options`` merged, nested dicts key by key (a later value wins)."""
    out: dict = {}
    for given in options:
        for key, value in (given or {}).items():
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = merge_options(out[key], value)
            else:
                out[key] = value
    return out


class StoreObject:
    """An object of a store as a run names it: its key, and the size and version tag the listing gave.

    What a view's ``path`` is on a store: :func:`~pixscale.pipeline.io.read_view`
    reads it through :meth:`read`; ``str()`` is its URL, for messages.
    """

    __slots__ = ("store", "key", "size", "token")

    def __init__(self, store, key, size=None, token=None):
        self.store, self.key, self.size, self.token = store, key, size, token

    def read(self, max_bytes=None):
        """The object's bytes; ValueError if the listing said it is larger than ``max_bytes``."""
        if max_bytes is not None and self.size is not None and self.size > max_bytes:
            raise ValueError(f"the object is {self.size:,} bytes, more than the {max_bytes:,}-byte limit")
        return self.store.read(self.key)

    def head(self, n):
        """The object's first ``n`` bytes."""
        return self.store.read(self.key, end=n)

    @property
    def stem(self):
        return posixpath.splitext(posixpath.basename(self.key))[0]

    def __str__(self):
        return self.store.url_of(self.key)

    def __repr__(self):
        return f"StoreObject({str(self)!r})"


def _refusal(url, exc, *, what):
    """The one line that says why ``url`` cannot be used, from the exception fsspec raised."""
    name = type(exc).__name__
    if isinstance(exc, PermissionError) or "AccessDenied" in str(exc) or "Forbidden" in str(exc):
        return StoreError(
            f"{url}: access refused ({exc or name}); check the credentials (environment, config file, or "
            "`storage_options=`) and that they may read and write this prefix"
        )
    if "Credentials" in name or "credentials" in str(exc).lower():
        return StoreError(
            f"{url}: no credentials were found ({name}); set them the usual way for this store (environment "
            "variables or config file), or pass them in `storage_options=`"
        )
    return StoreError(f"{url}: the {what} cannot be reached ({name}: {exc})")


class Store:
    """One prefix (``root``) of one fsspec filesystem (``fs``), as :meth:`open` made it from a URL."""

    def __init__(self, fs, root, url):
        self.fs, self.root, self.url = fs, root.rstrip("/"), url
        self.local = fs.protocol in ("file", ("file", "local"))  # a folder: written as a folder run writes

    @classmethod
    def open(cls, url, storage_options=None, *, name="IN_DIR", must_exist=False):
        """The store of ``url`` (a local path too: its folder), checked before any work.

        Raises :class:`StoreError`, in one line, for a URL without a bucket or
        path, an unknown protocol (or one whose extra is not installed: the
        message names it), bad ``storage_options``, a missing bucket, missing
        or refused credentials, or (``must_exist``) a prefix with nothing under it.
        """
        import fsspec

        text = os.fspath(url)
        match = URL.match(text) if isinstance(text, str) else None
        protocol = match.group(1).lower() if match else "file"
        if not match:
            text = os.path.abspath(text)
        rest = text[match.end() :] if match else text
        if not rest.strip("/"):
            raise StoreError(f"{name} {url}: the URL names no {'bucket' if protocol in BUCKETED else 'path'}")
        try:
            cls_ = fsspec.get_filesystem_class(protocol)
        except ImportError:
            extra = EXTRAS.get(protocol)
            fix = f'pip install "pixscale[{extra}]"' if extra else f"install the fsspec filesystem of {protocol}://"
            raise StoreError(f"{name} {url}: reading {protocol}:// needs its fsspec filesystem; {fix}") from None
        except ValueError:
            raise StoreError(
                f"{name} {url}: unknown protocol {protocol!r}; fsspec knows s3://, gs://, az://, memory://, http:// "
                "and others, or give a local path"
            ) from None
        try:
            fs = cls_(**(storage_options or {}))
        except (TypeError, ValueError) as exc:
            raise StoreError(f"{name} {url}: the storage options are not accepted ({exc})") from None
        root = cls_._strip_protocol(text).rstrip("/")
        store = cls(fs, root, text.rstrip("/") if match else text)  # s3://b/in/ is s3://b/in: one prefix, one name
        store._check(name, protocol, must_exist)
        return store

    def _check(self, name, protocol, must_exist):
        """Refuse a missing bucket, refused credentials or (``must_exist``) an empty prefix: before any work."""
        try:
            if protocol in BUCKETED:
                bucket = self.root.split("/", 1)[0]
                try:
                    self.fs.info(bucket)
                except FileNotFoundError:
                    raise StoreError(
                        f"{name} {self.url}: the bucket {bucket!r} does not exist (or these credentials cannot see "
                        "it); create it, or check the URL"
                    ) from None
            if must_exist:
                try:
                    info = self.fs.info(self.root)
                except FileNotFoundError:
                    why = "does not exist; check the path"
                    why = why if self.local else "nothing is stored under this prefix; check the URL"
                    raise StoreError(f"{name} {self.url}: {why}") from None
                if info.get("type") != "directory" and protocol not in READ_ONLY:  # a web page lists links
                    raise StoreError(f"{name} {self.url} is one object, not a prefix; give the prefix of the dataset")
        except StoreError:
            raise
        except TypeError as exc:  # s3fs hands its options to its session at the first request
            raise StoreError(f"{name} {self.url}: the storage options are not accepted ({exc})") from None
        except Exception as exc:  # credentials, a refused request, an endpoint that does not answer
            raise _refusal(f"{name} {self.url}", exc, what="store") from None

    # --- keys -------------------------------------------------------------------------------------

    def path(self, key):
        """The filesystem path of ``key``; a key that would leave the prefix is refused (StoreError)."""
        norm = posixpath.normpath(key) if key else ""
        if (
            not isinstance(key, str)
            or not key
            or key.startswith("/")
            or norm != key.rstrip("/")
            or norm in (".", "..")
            or norm.startswith("../")
            or "\0" in key
        ):
            raise StoreError(f"the key {key!r} would leave {self.url}; nothing is read or written outside it")
        return f"{self.root}/{norm}"

    def url_of(self, key):
        return f"{self.url.rstrip('/')}/{key}"

    def object(self, key, size=None, token=None):
        return StoreObject(self, key, size, token)

    def overlaps(self, other):
        """Whether this prefix and ``other``'s are one in the other, on the same kind of filesystem.

        Their options are not compared: the same bucket reached with two sets
        of credentials is the same bucket.
        """
        if type(self.fs) is not type(other.fs):
            return False
        a, b = self.root + "/", other.root + "/"
        return a.startswith(b) or b.startswith(a)

    # --- reading ---------------------------------------------------------------------------------

    def read(self, key, end=None):
        """The bytes of ``key`` (its first ``end`` bytes)."""
        path = self.path(key)
        return self.fs.cat_file(path) if end is None else self.fs.cat_file(path, start=0, end=end)

    def read_many(self, keys):
        """``{key: bytes, or the exception that reading it raised}`` of ``keys``, read at once (S3: concurrently)."""
        paths = {self.path(key): key for key in keys}
        got = self.fs.cat(list(paths), on_error="return")
        out = {paths[p]: data for p, data in got.items() if p in paths}
        for path, key in paths.items():  # a filesystem that names paths its own way: read one at a time
            if key not in out:
                try:
                    out[key] = self.fs.cat_file(path)
                except Exception as exc:
                    out[key] = exc
        return out

    def size(self, key):
        """The size of object ``key``, or None if there is none."""
        try:
            info = self.fs.info(self.path(key))
        except FileNotFoundError:
            return None
        return info.get("size") if info.get("type") == "file" else None

    def walk(self, under=""):
        """Every object below the prefix (or its folder ``under``) as a :class:`StoreObject`, streamed.

        S3 is listed without a delimiter, one page at a time, in key order;
        other filesystems one folder at a time, in name order (a folder's
        objects before its subfolders').  The listing is never held whole.
        """
        top = self.path(under) if under else self.root
        if type(self.fs).__name__ == "S3FileSystem":
            yield from self._pages(top)
            return
        stack = [top]
        while stack:
            folder = stack.pop()
            try:
                entries = self.fs.ls(folder, detail=True)
            except FileNotFoundError:
                continue
            if hasattr(self.fs, "invalidate_cache"):
                self.fs.invalidate_cache(folder)  # the listing is not kept (1M keys are not held twice)
            entries.sort(key=lambda e: e["name"])
            subfolders = []
            for e in entries:
                if e.get("type") == "directory":
                    subfolders.append(e["name"].rstrip("/"))
                else:
                    yield self._object_of(e["name"], e)
            stack.extend(reversed(subfolders))

    def _pages(self, top):
        """s3fs's listing, :data:`PAGE` keys at a time, in key order."""
        from fsspec.asyn import sync

        bucket, prefix, _ = self.fs.split_path(top)
        pages = self.fs._iterdir(bucket, prefix=prefix + "/" if prefix else "", delimiter="")

        async def take():
            out: list = []
            try:
                while len(out) < PAGE:
                    out.append(await pages.__anext__())
            except StopAsyncIteration:
                pass
            return out

        while True:
            page = sync(self.fs.loop, take)
            for e in page:
                name = e.get("Key") or e.get("name")
                if not name.endswith("/"):  # a folder marker is not an object
                    yield self._object_of(name, e)
            if len(page) < PAGE:
                return

    def _object_of(self, name, info):
        key = name[len(self.root) + 1 :] if name.startswith(self.root + "/") else name
        token = info.get("ETag") or info.get("etag") or info.get("mtime") or info.get("LastModified")
        token = info.get("created") if token is None else token
        return StoreObject(self, key, info.get("size"), None if token is None else str(token))

    # --- writing ---------------------------------------------------------------------------------

    def put(self, key, data):
        """Write object ``key`` whole, in one request: it is there complete, or not at all.

        S3 (s3fs): one ``PutObject`` for data below 100 MiB (twice s3fs's
        50 MiB chunk); larger data goes up as a multipart upload, which s3fs
        aborts when a part fails, so no partial object is left visible.
        A local folder is written through a temporary file and a rename
        (:func:`~pixscale.pipeline.files.atomic_write_bytes`), following no link below it.
        """
        if self.local:
            atomic_write_bytes(self.path(key), bytes(data), root=self.root)
            return
        self.fs.pipe_file(self.path(key), bytes(data))

    def create(self, key, data):
        """Write object ``key`` only if there is none; True if written, False if one was there.

        S3 (s3fs): ``PutObject`` with ``If-None-Match: *`` (412 when it exists);
        a local folder and ``memory://``: an exclusive create.  Other
        filesystems fall back to fsspec's look-then-write, which is not atomic.
        """
        path = self.path(key)
        try:
            if self.local:
                self.fs.makedirs(posixpath.dirname(path), exist_ok=True)
                with self.fs.open(path, "xb") as f:
                    f.write(bytes(data))
            else:
                self.fs.pipe_file(path, bytes(data), mode="create")
        except FileExistsError:
            return False
        return True

    def delete(self, key):
        """Remove object ``key`` (nothing if there is none)."""
        try:
            self.fs.rm_file(self.path(key))
        except FileNotFoundError:
            pass

    def __str__(self):
        return self.url

    def __repr__(self):
        return f"Store({self.url!r})"
