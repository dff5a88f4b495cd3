"""The checks of config.yaml's values, each C{check(value, base) ->
normalised value} raising L{_Invalid} with what is wrong, and L{_key}, which
declares a field with its YAML key, check, default and documentation once
(L{pyhss.config} builds its schema from them and adds the file and key to
the message)."""

import ipaddress
import os
import re
from dataclasses import MISSING, field

_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


class _Invalid(Exception):
    """Raised by a check; the loader adds the file and key."""


class _KeyedInvalid(Exception):
    """A problem with a key other than the one being checked (the loader adds the file)."""

    def __init__(self, key, problem):
        Exception.__init__(self, key, problem)
        self.key = key
        self.problem = problem


# The loader's build function, set by pyhss.config (which imports this module).
SECTION_LOADER = {}


def _section(name, cls, required=False):
    """A nested mapping loaded into ``cls``; missing means all defaults."""
    metadata = {"key": name, "section": cls, "required": required}
    if required:
        return field(metadata=metadata)
    return field(default_factory=lambda: SECTION_LOADER["build"](cls, {}, "", "<defaults>", ""), metadata=metadata)


def _describe(value):
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "nothing"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"{value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def integer(low, high):
    def check(value, base):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Invalid(f"must be an integer, got {_describe(value)}")
        if not low <= value <= high:
            raise _Invalid(f"must be between {low} and {high}, got {value}")
        return value
    return check


def seconds(low_exclusive, high):
    def check(value, base):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Invalid(f"must be a number of seconds, got {_describe(value)}")
        if not low_exclusive < value <= high:
            raise _Invalid(f"must be a number greater than {low_exclusive} and at most {high}, got {value}")
        return float(value)
    return check


def text(value, base):
    if not isinstance(value, str) or not value:
        raise _Invalid(f"must be a non-empty string, got {_describe(value)}")
    return value


def diameter_identity(value, base):
    """DiameterIdentity (RFC 6733 4.3.1): an FQDN."""
    value = text(value, base)
    if len(value) > 255 or not all(_LABEL.match(label) for label in value.split(".")):
        raise _Invalid(f"must be a fully qualified domain name (letters, digits, '-', dots), got {value!r}")
    return value


def digits(count_low, count_high, what):
    def check(value, base):
        if isinstance(value, int) and not isinstance(value, bool):
            raise _Invalid(f"must be a quoted string of {what} (YAML reads 001 as the number 1), got {value}")
        if not isinstance(value, str) or not value.isdigit() or not value.isascii() \
                or not count_low <= len(value) <= count_high:
            raise _Invalid(f"must be a string of {what}, got {_describe(value)}")
        return value
    return check


def choice(options):
    def check(value, base):
        if value not in options:
            raise _Invalid(f"unknown value {_describe(value)}; expected one of {', '.join(options)}")
        return value
    return check


def ip_address(value, base):
    if not isinstance(value, str):
        raise _Invalid(f"must be an IP address string, got {_describe(value)}")
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise _Invalid(f"not an IP address: {value!r}") from None


def ip_network(value, base):
    """An IP address or a network in CIDR notation."""
    if not isinstance(value, str):
        raise _Invalid(f"must be an IP address or network string, got {_describe(value)}")
    try:
        return ipaddress.ip_network(value)
    except ValueError as e:
        raise _Invalid(f"not an IP address or network: {e}") from None


def path(value, base):
    """A file path; relative to the configuration file's directory."""
    value = text(value, base)
    if value == ":memory:":
        return value
    return os.path.normpath(os.path.join(base, os.path.expanduser(value)))


# sun_path is 108 bytes on Linux, one of them the terminating NUL.
MAX_UNIX_SOCKET_PATH = 107


def unix_socket_path(value, base):
    """A UNIX socket path (relative to the configuration file); empty: none."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _Invalid(f"must be a path string (empty: off), got {_describe(value)}")
    value = path(value, base)
    length = len(os.fsencode(value))
    if length > MAX_UNIX_SOCKET_PATH:
        raise _Invalid(f"too long for a UNIX socket: {value!r} is {length} bytes, "
                       f"at most {MAX_UNIX_SOCKET_PATH}")
    return value


def log_file(value, base):
    value = text(value, base)
    return value if value == "-" else path(value, base)


def boolean(value, base):
    if not isinstance(value, bool):
        raise _Invalid(f"must be true or false, got {_describe(value)}")
    return value


def list_of(item_check, non_empty=True, unique=True):
    def check(value, base, key=None):
        if not isinstance(value, list):
            raise _Invalid(f"must be a list, got {_describe(value)}")
        if non_empty and not value:
            raise _Invalid("must not be empty")
        items = []
        for index, item in enumerate(value):
            try:
                items.append(item_check(item, base))
            except _Invalid as e:
                raise _Invalid(f"item {index}: {e}") from None
        if unique and len(set(items)) != len(items):
            raise _Invalid("lists the same value twice")
        return tuple(items)
    return check


def _key(name, check, default=MISSING, doc="", check_default=False):
    """A field read from YAML key ``name``; without default it is required.

    ``check_default`` runs the check on the default too (relative paths
    must resolve against the configuration file even when left out).
    """
    metadata = {"key": name, "check": check, "doc": doc, "check_default": check_default}
    if default is MISSING:
        return field(metadata=metadata)
    return field(default=default, metadata=metadata)


def seconds_or_zero(high):
    """Seconds from 0 to ``high``; 0 usually means "no limit"."""
    def check(value, base):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Invalid(f"must be a number of seconds, got {_describe(value)}")
        if not 0 <= value <= high:
            raise _Invalid(f"must be a number from 0 to {high}, got {value}")
        return float(value)
    return check


def sip_uri(value, base):
    value = text(value, base)
    if not re.match(r"^sips?:[^\s<>\"]+$", value, re.IGNORECASE):
        raise _Invalid(f"must be a sip: or sips: URI, got {value!r}")
    return value


def diameter_uri_text(value, base):
    value = text(value, base)
    if any(ord(c) <= 32 or ord(c) == 127 for c in value):
        raise _Invalid(f"must be a DiameterURI without spaces, got {value!r}")
    return value
