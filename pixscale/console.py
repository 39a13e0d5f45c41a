"""What the ``pixscale`` command shows on the terminal: lines, the library's messages and a progress bar.

The library prints nothing: its messages go to the ``"pixscale"`` logger and
name options as Python keywords (``resume=True``); a run draws progress only
through the factory its caller passes.  The command (:mod:`pixscale.cli`)
shows them here: :func:`to_flags` turns each option into the flag that sets
it (``--resume``), :func:`messages` prints the logger's records on standard
error, and :func:`progress_bar` is the bar.  Nothing here fails the command:
a closed, full or broken stream swallows what cannot be written.
"""

import argparse
import ast
import contextlib
import logging
import os
import re
import shlex
import sys

from .pipeline.dataset import for_terminal
from .pipeline.options import ALIASES

LOGGER = "pixscale"
# An option as a library message names it: `name=value`, or `name=` for the option itself.
MENTION = re.compile(r"`([a-z_]+)=([^`]*)`")


def flag_table(parser):
    """``{option: [argparse actions]}`` of every option of ``parser`` and its subcommands, by Python name."""
    table: dict[str, list[argparse.Action]] = {}
    parsers = [parser]
    while parsers:
        p = parsers.pop()
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers += list(action.choices.values())
            elif action.option_strings and action.dest != "help":
                known = table.setdefault(action.dest, [])
                if all(a.option_strings != action.option_strings for a in known):
                    known.append(action)
    return table


def to_flags(text, table):
    """``text`` with every option it names as a Python keyword written as the flag that sets it.

    ```resume=True``` becomes ``--resume``, ```exact=False``` ``--no-exact``,
    ```keep="largest"``` ``--keep largest`` (a text as a shell takes it:
    ```mask="{stem}.png"``` is ``--mask '{stem}.png'``) and ```min_component=```
    (the option itself) ``--min-component``; an option without a flag is left
    as it is.
    """

    def flag(match):
        name, text = match.groups()
        actions = table.get(name) or table.get(_RUN_NAMES.get(name, ""), [])
        valued = next((a for a in actions if a.nargs != 0), None)  # the flag that takes a value
        if text == "":
            chosen = valued or (actions[0] if actions else None)
            return _long(chosen) if chosen else match.group(0)
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            value = text  # written bare: local:N
        if isinstance(value, bool):
            switch = next((a for a in actions if a.nargs == 0 and a.const is value), None)
            if switch is not None:
                return _long(switch)
        if valued is None or isinstance(value, bool) or not isinstance(value, (str, int, float)):
            return match.group(0)  # no flag says it (None, a point, True for a valued flag): left as it is
        return f"{_long(valued)} {shlex.quote(value) if isinstance(value, str) else text}"

    return MENTION.sub(flag, text)


# The image API's name of an option where a run's (and so its flag's) differs: output_shape is --output-size.
_RUN_NAMES = {field: run_name for run_name, field in ALIASES.items()}


def _long(action):
    return next((s for s in action.option_strings if s.startswith("--")), action.option_strings[0])


def write(stream, text):
    """Print a line to ``stream``; a closed, full or broken stream (and the name it cannot encode) is no error."""
    if stream is None:  # started with the stream closed (cron, a daemon: 1>&- or 2>&-)
        return
    line = for_terminal(text) + "\n"
    try:
        try:
            stream.write(line)
        except UnicodeEncodeError:  # a name the terminal's encoding cannot show (café under LANG=C)
            encoding = getattr(stream, "encoding", None) or "utf-8"
            stream.write(line.encode(encoding, "backslashreplace").decode(encoding))
        stream.flush()
    except (OSError, ValueError):  # a broken pipe (| head), a full disk, a closed stream: nowhere to print
        try:  # and keep the interpreter's last flush from failing the same way
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stream.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass


class Drawing:
    """Standard error for messages and the progress bar, which never fails the run.

    Closed (``2>&-``: ``sys.stderr`` is None), full (``/dev/full``), a pipe
    nobody reads any more, or a pipe that is full: what cannot be written at
    once goes nowhere (a full pipe drops progress updates rather than block the run).
    """

    def __init__(self, stream):
        self.stream = stream
        try:
            self.fd = stream.fileno() if stream is not None else None
        except (OSError, ValueError, AttributeError):
            self.fd = None

    @property
    def usable(self):
        return self.stream is not None

    def _room(self):
        import select

        if self.fd is None:  # a stream without a file (captured, StringIO): it never blocks
            return True
        try:
            return bool(select.select([], [self.fd], [], 0)[1])
        except (OSError, ValueError):
            return False

    def write(self, text):
        if not self.usable or not self._room():
            return
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            self.stream = None

    def flush(self):
        pass

    def isatty(self):
        try:
            return self.usable and self.stream.isatty()
        except (OSError, ValueError):
            return False

    def fileno(self):
        if self.fd is None:
            raise OSError("no file behind this stream")
        return self.fd


def progress_bar(total, unit):
    """The command's progress bar on standard error (a run calls it as its ``progress`` factory)."""
    from tqdm import tqdm

    drawing = Drawing(sys.stderr)
    return tqdm(total=total, unit=unit, disable=not drawing.usable, file=drawing, dynamic_ncols=True)


class _Shown(logging.Handler):
    """Shows the library's messages on standard error as the command's lines (``warning: `` before a warning)."""

    def __init__(self, translate):
        super().__init__(logging.INFO)
        self.translate = translate

    def emit(self, record):
        try:
            text = record.getMessage()
            if record.levelno >= logging.WARNING:
                text = "warning: " + text
            Drawing(sys.stderr).write(for_terminal(self.translate(text)) + "\n")
        except Exception:  # pragma: no cover - logging's own convention: a message never fails the work
            self.handleError(record)


@contextlib.contextmanager
def messages(translate, quiet=False):
    """While the block runs, show the ``"pixscale"`` logger's messages (``quiet``: none) on standard error."""
    logger = logging.getLogger(LOGGER)
    handler = logging.NullHandler() if quiet else _Shown(translate)  # quiet: not even Python's last resort
    old = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # shown here once, not again by a handler of the root logger
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old[0])
        logger.propagate = old[1]


def os_error_line(exc, args):
    """An OSError as the command's one line: the folder argument it concerns, what is wrong in words, the fix."""
    from .pipeline.files import LinkError, os_problem

    if isinstance(exc, LinkError) or exc.filename is None:  # already worded
        return str(exc)
    where = os.path.abspath(os.fsdecode(exc.filename))
    roles = [
        ("OUT_DIR", getattr(args, "out_dir", None)),
        ("--report-dir", getattr(args, "report_dir", None)),
        ("--out", getattr(args, "out", None)),
        ("IN_DIR", getattr(args, "in_dir", None)),
        ("DIR", getattr(args, "dir", None)),
    ]
    for role, path in roles:
        if path is None:
            continue
        full = os.path.abspath(path)
        if where == full or os.path.commonpath([where, full]) in (where, full):
            problem, fix = os_problem(exc, reading=role in ("IN_DIR", "DIR"), path=path)
            return f"{role} {path} cannot be used: {problem}; {fix}."
    problem, fix = os_problem(exc)
    return f"{problem}; {fix}."


def check_report_dir(path, name="--report-dir"):
    """Refuse up front a folder written at the end (created if missing) that cannot be: a file, or not writable."""
    import errno
    import os
    import stat

    from .pipeline.files import os_problem

    if path is None:
        return
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"{name} {path} is a file; pass a folder (it is created if missing).")
    near = os.path.abspath(path)
    while not os.path.lexists(near) and os.path.dirname(near) != near:
        near = os.path.dirname(near)
    try:
        st = os.stat(near)
    except OSError as exc:  # a link loop, or a link to nothing
        problem, fix = os_problem(exc, path=path)
        raise ValueError(f"{name} {path} cannot be used: {problem}; {fix}.") from None
    code = errno.ENOTDIR if not stat.S_ISDIR(st.st_mode) else None
    if code is None and not os.access(near, os.W_OK | os.X_OK):
        code = errno.EACCES
    if code is not None:
        problem, fix = os_problem(OSError(code, os.strerror(code), os.fspath(path)), path=path)
        raise ValueError(f"{name} {path} cannot be used: {problem}; {fix}.")


class _StorageOption(argparse.Action):
    """``--storage-option KEY=VALUE``, repeatable: merged into one dict of fsspec options (dotted keys nest)."""

    def __call__(self, parser, namespace, values, option_string=None):
        from .pipeline.store import merge_options, parse_storage_option

        try:
            given = parse_storage_option(values)
        except ValueError as exc:
            parser.error(f"{option_string}: {exc}")
        setattr(namespace, self.dest, merge_options(getattr(namespace, self.dest, None), given))


def add_store_arguments(p, lock=False):
    """The flags of a command that takes object-store URLs: ``--storage-option`` (``lock``: and ``--break-lock``)."""
    p.add_argument(
        "--storage-option",
        dest="storage_options",
        action=_StorageOption,
        metavar="KEY=VALUE",
        default=None,
        help="an fsspec option for s3://, gs://... URLs (repeatable; VALUE as JSON when it parses; "
        "a.b=1 nests), e.g. endpoint_url=http://127.0.0.1:9000, anon=true",
    )
    if lock:
        p.add_argument(
            "--break-lock",
            action="store_true",
            help="on an object store: remove the lock a dead run left on OUT_DIR (only when that run is gone)",
        )
