"""API tokens: ``pyhss-admin token add NAME [--read-only]``, checked as ``Authorization: Bearer``.

The token file (``api.tokens``, JSON, mode 0600, written whole and renamed
into place) keeps each token's name, scope and SHA-256: never the token,
which is shown once when it is made.  A token is 32 random bytes, so a
plain hash is enough (nothing to guess from it); the server looks the
presented token's hash up, and reads the file again when it changed (at
most once a second), so a token added or removed takes effect without a
restart.

Without any token the API is open, and the server only listens on a
loopback address (``check_listen``); with tokens every request needs one,
and a read-only token may only GET.
"""

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import time

from pyhss.storage.errors import DuplicateError, NotFoundError, ValidationError

READ_ONLY = "read-only"
READ_WRITE = "read-write"
SCOPES = (READ_ONLY, READ_WRITE)
TOKEN_PREFIX = "pyhss_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
RELOAD_INTERVAL = 1.0
FILE_MODE = 0o600


class TokenError(Exception):
    """Base class of the token refusals."""


class Unauthorized(TokenError):
    """No token, or one that is not known: 401."""


class Forbidden(TokenError):
    """A known token that may not do this (a read-only token writing): 403."""


class Token:
    __slots__ = ("name", "scope", "sha256", "created")

    def __init__(self, name, scope, sha256, created):
        self.name = name
        self.scope = scope
        self.sha256 = sha256
        self.created = created

    @property
    def read_only(self):
        return self.scope == READ_ONLY

    def as_json(self):
        return {"name": self.name, "scope": self.scope, "sha256": self.sha256, "created": self.created}


# Who made a request when no token is configured (loopback only).
LOCAL = Token("local (no token configured)", READ_WRITE, None, None)


def digest(token):
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token():
    return TOKEN_PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii").rstrip("=")


def check_name(name):
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValidationError(f"token name must be 1-64 letters, digits, '.', '_', '@' or '-', "
                              f"starting with a letter or digit, got {name!r}", field="name")
    return name


class TokenFile:
    """The token file at ``path``; a missing file holds no tokens."""

    def __init__(self, path):
        self.path = path

    def read(self):
        """The tokens, by name; ValidationError for a file that is not ours."""
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
        except FileNotFoundError:
            return {}
        except OSError as e:
            raise ValidationError(f"{self.path}: cannot read: {e.strerror or e}") from None
        except (ValueError, UnicodeDecodeError) as e:
            raise ValidationError(f"{self.path}: not a token file: {e}") from None
        tokens = {}
        try:
            for entry in data["tokens"]:
                token = Token(check_name(entry["name"]), entry["scope"], entry["sha256"], entry.get("created"))
                if token.scope not in SCOPES or not re.match(r"^[0-9a-f]{64}$", token.sha256):
                    raise ValueError(f"token {token.name}: bad scope or hash")
                tokens[token.name] = token
        except (KeyError, TypeError, ValueError, ValidationError) as e:
            raise ValidationError(f"{self.path}: not a token file: {e}") from None
        return tokens

    def write(self, tokens):
        directory = os.path.dirname(self.path) or "."
        os.makedirs(directory, mode=0o700, exist_ok=True)
        temporary = f"{self.path}.{os.getpid()}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"tokens": [token.as_json() for token in tokens.values()]}, handle, indent=2)
                handle.write("\n")
            os.replace(temporary, self.path)
        except BaseException:
            try:
                os.unlink(temporary)
            except FileNotFoundError:
                pass
            raise

    def add(self, name, read_only=False, now=time.time):
        """Make a token; returns it (the only time it is seen)."""
        check_name(name)
        tokens = self.read()
        if name in tokens:
            raise DuplicateError(f"a token named {name} exists (remove it first)")
        token = new_token()
        tokens[name] = Token(name, READ_ONLY if read_only else READ_WRITE, digest(token),
                             time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now())))
        self.write(tokens)
        return token

    def remove(self, name):
        tokens = self.read()
        if tokens.pop(name, None) is None:
            raise NotFoundError(f"no token named {name}")
        self.write(tokens)


class Authenticator:
    """Checks a request's bearer token against the token file.

    @param loopback_only: the API listens on a loopback address only; then,
        and only then, no token configured means no check.
    """

    def __init__(self, token_file, loopback_only, clock=time.monotonic):
        self.token_file = token_file
        self.loopback_only = loopback_only
        self.clock = clock
        self._by_digest = {}
        self._stamp = None
        self._checked_at = None
        self.reload()

    def reload(self):
        """Read the file if it changed; a broken file keeps the tokens known."""
        self._checked_at = self.clock()
        try:
            info = os.stat(self.token_file.path)
            stamp = (info.st_ino, info.st_mtime_ns, info.st_size)
        except FileNotFoundError:
            stamp = None
        except OSError:
            return
        if stamp == self._stamp:
            return
        try:
            tokens = self.token_file.read()
        except ValidationError:
            if self._stamp is not None or stamp is None:
                return
            tokens = {}
        self._stamp = stamp
        self._by_digest = {token.sha256: token for token in tokens.values()}

    @property
    def required(self):
        return bool(self._by_digest) or not self.loopback_only

    def check(self, request, write):
        """The Token of ``request`` (a twisted.web request); Unauthorized,
        Forbidden."""
        if self.clock() - self._checked_at >= RELOAD_INTERVAL:
            self.reload()
        header = request.getHeader(b"authorization")
        if not self._by_digest:
            if self.loopback_only:
                return LOCAL
            raise Unauthorized("no API token is configured: add one with pyhss-admin token add NAME")
        if header is None:
            raise Unauthorized("send an API token: Authorization: Bearer TOKEN")
        scheme, _, presented = header.partition(b" ")
        if scheme.lower() != b"bearer" or not presented.strip():
            raise Unauthorized("send an API token: Authorization: Bearer TOKEN")
        presented_digest = hashlib.sha256(presented.strip()).hexdigest()
        found = self._by_digest.get(presented_digest)
        if found is None or not hmac.compare_digest(found.sha256, presented_digest):
            raise Unauthorized("unknown API token")
        if write and found.read_only:
            raise Forbidden(f"token {found.name} is read-only")
        return found


def check_listen(config, token_file=None):
    """None, or why the API must not start: tokens missing on an address
    that is not loopback."""
    api = config.api
    if api.listen is None or api.listen.loopback:
        return None
    token_file = token_file or TokenFile(api.tokens)
    try:
        tokens = token_file.read()
    except ValidationError as e:
        return str(e)
    if not tokens:
        return (f"listening on {api.listen.interface} needs an API token (pyhss-admin token add NAME; "
                f"none in {api.tokens}); without tokens the API listens on 127.0.0.1 only")
    return None
