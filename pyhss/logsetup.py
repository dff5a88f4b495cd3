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
"""

import io
import sys

from twisted.logger import (
    FilteringLogObserver, ILogObserver, LogLevel, LogLevelFilterPredicate, globalLogPublisher,
    textFileLogObserver,
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
    """The text stream log lines go to: ``stdout`` for "-", else the file (appended)."""
    if logging_config.file == "-":
        return stdout if stdout is not None else sys.stdout
    return io.open(logging_config.file, "a", encoding="utf-8", buffering=1)


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
