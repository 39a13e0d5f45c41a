"""Holding Ctrl-C, SIGTERM and SIGHUP while a block that must not be cut in half runs."""

import contextlib


@contextlib.contextmanager
def signals_held():
    """Hold Ctrl-C, SIGTERM and SIGHUP while the block runs (in the main thread); yields the list of those
    that arrived, so the caller can stop after the block rather than leave its files half done.

    A signal the process ignores (``nohup``, ``cmd &``: SIG_IGN) stays ignored.
    On the way out, the held signals are replayed through the handlers they
    were held from, so these count them (the command's: the first stops the
    run, later ones are ignored); a KeyboardInterrupt that a replay raises is
    raised after all of them are replayed.
    """
    import signal
    import threading

    held: list = []
    if threading.current_thread() is not threading.main_thread():
        yield held
        return
    sigs = [s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None]
    old = {
        s: signal.signal(s, lambda signum, frame: held.append(signum))
        for s in sigs
        if signal.getsignal(s) is not signal.SIG_IGN
    }
    try:
        yield held
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        interrupted = None
        for signum in list(held):  # acted on now, by the handlers they were held from
            try:
                signal.raise_signal(signum)
            except KeyboardInterrupt as exc:
                interrupted = interrupted or exc
        if interrupted is not None:
            raise interrupted
