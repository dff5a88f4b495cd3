"""Logging set-up from the ``logging`` section of config.yaml (twisted.logger).

``make_observer`` builds the observer: text lines to standard output or
to the configured file, dropping events below the configured level.

Two ways to install it:

* ``configure_logging(config.logging)`` adds it to the global publisher
  (scripts, tests; returns it so the caller can remove it again);
* ``set_application_observer(application, config.logging)`` makes it the
  log observer ``twistd`` uses for that application (twistd reads the
  application's ``ILogObserver`` component when it starts logging, which
  is after the plugin's ``makeService``), so ``twistd -n pyhss`` honours
  ``logging.level`` and ``logging.file`` without duplicate lines.

:class:`LogSummariser` keeps floods out of the log: the first of a kind of
event is logged in full, the rest within :data:`SUMMARY_INTERVAL` seconds
are counted and logged as one summary line.
"""

import io
import os
import re
import sys

from twisted.logger import (
    FilteringLogObserver, ILogObserver, LogLevel, LogLevelFilterPredicate, formatEvent,
    globalLogPublisher, textFileLogObserver,
)

# config.yaml spelling -> twisted.logger level
LEVELS = {
    "debug": LogLevel.debug,
    "info": LogLevel.info,
    "warn": LogLevel.warn,
    "error": LogLevel.error,
    "critical": LogLevel.critical,
}


def level_predicate(level_name):
    """A LogLevelFilterPredicate letting ``level_name`` and above through."""
    return LogLevelFilterPredicate(defaultLogLevel=LEVELS[level_name])


def open_log_file(logging_config, stdout=None):
    """The text stream log lines go to: ``stdout`` for "-", else the file
    (appended; created 0600, as the database is: no key is logged, but a
    log says who is served where)."""
    if logging_config.file == "-":
        return stdout if stdout is not None else sys.stdout
    return io.open(private_append(logging_config.file), "a", encoding="utf-8", buffering=1,
                   closefd=True)


def private_append(path):
    """A file descriptor of ``path`` open for appending, created 0600."""
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)


def make_observer(logging_config, stdout=None):
    """FilteringLogObserver writing formatted lines at the configured level."""
    stream = open_log_file(logging_config, stdout)
    return FilteringLogObserver(textFileLogObserver(stream), [level_predicate(logging_config.level)])


def configure_logging(logging_config, publisher=None, stdout=None):
    """Add the configured observer to ``publisher`` (the global one by default); returns it."""
    observer = make_observer(logging_config, stdout)
    (publisher if publisher is not None else globalLogPublisher).addObserver(observer)
    return observer


def set_application_observer(application, logging_config, stdout=None):
    """Make the configured observer the one twistd uses for ``application``."""
    observer = make_observer(logging_config, stdout)
    application.setComponent(ILogObserver, observer)
    return observer


# --- rate limiting ------------------------------------------------------------------

# Seconds over which repeats of one kind of event are counted into one line.
SUMMARY_INTERVAL = 10.0
# Kinds tracked at once; past it, new kinds share one summary (bounded memory).
MAX_KINDS = 1024
_OTHER_KINDS = ("pyhss.logsetup", "other kinds")
_NUMBERS = re.compile(r"0x[0-9a-fA-F]+|\d+")


def failure_key(reason):
    """A failure's cause: its exception type and message, numbers masked.

    Masking digits makes "disk full writing page 1234" and "... page 1235"
    one cause, and keeps IMSIs and ids from making every failure distinct.
    """
    kind = reason.type.__module__ + "." + reason.type.__qualname__
    return (kind, _NUMBERS.sub("#", reason.getErrorMessage())[:200])


class _Kind:
    __slots__ = ("started", "count", "call", "level", "text")

    def __init__(self, started, level, text):
        self.started = started
        self.count = 0
        self.call = None
        self.level = level
        self.text = text


class LogSummariser:
    """Log the first event of each kind in full and count the repeats.

    ``key`` names the kind (any hashable, e.g. ``("unknown hop-by-hop",
    peer)``).  The first event of a kind is logged as usual.  Repeats within
    ``interval`` seconds of it are only counted; when the interval ends (a
    timer on ``clock``) one line at the first event's level says::

        <the first event's text> (and 99999 more like it in the last 10 s)

    with the fields ``summary``, ``repeats`` and ``seconds``.  Repeats in
    the next interval are counted the same way; after a quiet interval the
    next event is logged in full again.  :meth:`failure` keys by the cause
    (:func:`failure_key`), so a failing disk gives one traceback, not one
    per request.  Call :meth:`flush` when stopping to log pending counts and
    cancel the timers.

    @param log: the L{twisted.logger.Logger} to write to.
    @param clock: an C{IReactorTime} (L{task.Clock} in tests).
    """

    def __init__(self, log, clock, interval=SUMMARY_INTERVAL, max_kinds=MAX_KINDS):
        self.log = log
        self.clock = clock
        self.interval = interval
        self.max_kinds = max_kinds
        self._kinds = {}

    # --- the Logger methods, with a key first ---

    def debug(self, key, format, **fields):
        return self.emit(LogLevel.debug, key, format, **fields)

    def info(self, key, format, **fields):
        return self.emit(LogLevel.info, key, format, **fields)

    def warn(self, key, format, **fields):
        return self.emit(LogLevel.warn, key, format, **fields)

    def error(self, key, format, **fields):
        return self.emit(LogLevel.error, key, format, **fields)

    def critical(self, key, format, **fields):
        return self.emit(LogLevel.critical, key, format, **fields)

    def emit(self, level, key, format, **fields):
        """Log or count one event; True when it was logged in full."""
        key = self._key(key)
        if self._counted(key):
            return False
        self.log.emit(level, format, **fields)
        self._remember(key, level, formatEvent(dict(fields, log_format=format)))
        return True

    def failure(self, format, reason, key=None, level=LogLevel.critical, **fields):
        """Like C{Logger.failure}: the traceback once per ``key`` (by default
        the cause, :func:`failure_key`) and interval; True when logged."""
        key = self._key(failure_key(reason) if key is None else key)
        if self._counted(key):
            return False
        self.log.failure(format, reason, level, **fields)
        self._remember(key, level, "%s: %s: %s" % (
            formatEvent(dict(fields, log_format=format)), reason.type.__name__, reason.getErrorMessage()))
        return True

    def flush(self):
        """Log every pending count now and cancel the timers."""
        for key, kind in list(self._kinds.items()):
            if kind.call is not None:
                kind.call.cancel()
                self._summarise(key)

    # --- bookkeeping ---

    def _key(self, key):
        """``key``, or the shared one when too many kinds are tracked."""
        if key in self._kinds or len(self._kinds) < self.max_kinds:
            return key
        now = self.clock.seconds()
        for old in [old for old, kind in self._kinds.items()
                    if kind.call is None and now - kind.started >= self.interval]:
            del self._kinds[old]
        return key if len(self._kinds) < self.max_kinds else _OTHER_KINDS

    def _counted(self, key):
        """True (and counted) when ``key`` was logged within the interval."""
        kind = self._kinds.get(key)
        if kind is None:
            return False
        now = self.clock.seconds()
        if kind.call is None and now - kind.started >= self.interval:
            return False   # quiet for an interval: log in full again
        kind.count += 1
        if kind.call is None:
            kind.call = self.clock.callLater(kind.started + self.interval - now, self._summarise, key)
        return True

    def _remember(self, key, level, text):
        if key == _OTHER_KINDS:
            text = "events of other kinds, the first: " + text
        self._kinds[key] = _Kind(self.clock.seconds(), level, text)

    def _summarise(self, key):
        kind = self._kinds[key]
        now = self.clock.seconds()
        self.log.emit(kind.level, "{summary} (and {repeats} more like it in the last {seconds:g} s)",
                      summary=kind.text, repeats=kind.count, seconds=round(now - kind.started, 1))
        kind.started, kind.count, kind.call = now, 0, None
