"""The IMS role (:class:`~pyhss.storage.interface.IImsSubscriptions`) of
the SQLite store: its tables, and what each method does on the worker's
connection.  :class:`SqliteImsMixin` is mixed into
:class:`pyhss.storage.sqlite.SqliteStore` (``_submit``, ``_read``).

One row per subscription holds its provisioning, its public identities
(``uri<TAB>barred<TAB>set`` lines) and its registration state (the S-CSCF
and the identities' states as ``uri<TAB>state`` lines): UAR, MAR and SAR
read one row (MAR joins the subscriber's) and SAR writes one.  The public
identities are also rows of their own, keyed by URI, so that an identity
belongs to one subscription and LIR finds it by index.

Rows read back are built without re-running the records' checks (they
were checked on the way in: about 60 of a UAR's 110 microseconds on the
store's thread); a row that does not decode (edited by another tool) is
built the checking way, which names the problem.
"""

import sqlite3

from twisted.internet import defer

from pyhss.auc.sqn import SqnRequest, advance
from pyhss.storage.errors import DuplicateError, InUseError, NotFoundError, ValidationError
from pyhss.storage.ims_records import (
    REGISTERED, UNREGISTERED, IfcTemplate, ImsRegistration, ImsSubscription, PublicIdentity, normalise_impu,
)
from pyhss.storage.ims_state import Assignment, Authentication, assigned, authenticated, for_identities
from pyhss.storage.interface import ANY_STATE
from pyhss.storage.records import changed, trusted_constructor
from pyhss.storage.sqlite_rows import SUBSCRIBER_COLUMNS, subscriber_from_row

IMS_SCHEMA = """
CREATE TABLE IF NOT EXISTS ifc_template (
    name TEXT PRIMARY KEY NOT NULL,
    xml TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ims_subscription (
    impi TEXT PRIMARY KEY NOT NULL,
    imsi TEXT NOT NULL,
    digest_ha1 TEXT,
    digest_realm TEXT,
    ifc TEXT,
    impus TEXT NOT NULL,
    server_name TEXT,
    scscf_host TEXT,
    scscf_realm TEXT,
    peer TEXT,
    pending INTEGER NOT NULL DEFAULT 0,
    states TEXT NOT NULL DEFAULT '',
    updated_at REAL NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ims_subscription_by_imsi ON ims_subscription (imsi);
CREATE INDEX IF NOT EXISTS ims_subscription_by_ifc ON ims_subscription (ifc);
CREATE TABLE IF NOT EXISTS ims_public_identity (
    uri TEXT PRIMARY KEY NOT NULL,
    impi TEXT NOT NULL,
    position INTEGER NOT NULL,
    barred INTEGER NOT NULL,
    implicit_set INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ims_public_identity_by_impi ON ims_public_identity (impi, position);
"""

_COLUMNS = ("s.impi, s.imsi, s.digest_ha1, s.digest_realm, s.ifc, s.impus, s.server_name, s.scscf_host, "
            "s.scscf_realm, s.peer, s.pending, s.states, s.updated_at")
_SUBSCRIPTION = f"SELECT {_COLUMNS} FROM ims_subscription s"
_BY_IMPU = (f"SELECT {_COLUMNS} FROM ims_public_identity p JOIN ims_subscription s ON s.impi = p.impi "
            f"WHERE p.uri = ?")
_WITH_SUBSCRIBER = (f"SELECT {_COLUMNS}, {', '.join('u.' + c for c in SUBSCRIBER_COLUMNS.split(', '))} "
                    f"FROM ims_subscription s LEFT JOIN subscriber u ON u.imsi = s.imsi WHERE s.impi = ?")
_INSERT_IMPU = ("INSERT INTO ims_public_identity (uri, impi, position, barred, implicit_set) "
                "VALUES (?, ?, ?, ?, ?)")
_WIDTH = len(_COLUMNS.split(", "))
_WRITE_REGISTRATION = ("UPDATE ims_subscription SET server_name = ?, scscf_host = ?, scscf_realm = ?, peer = ?, "
                       "pending = ?, states = ?, updated_at = ? WHERE impi = ?")


def _encode_states(states):
    return "\n".join(f"{uri}\t{state}" for uri, state in states)


def _decode_states(text):
    return tuple(tuple(line.split("\t", 1)) for line in text.split("\n") if line)


def _encode_impus(impus):
    return "\n".join(f"{i.uri}\t{int(i.barred)}\t{i.implicit_set}" for i in impus)


# Records from stored values, without their checks (see the module doc).
_trusted_identity = trusted_constructor(PublicIdentity)
_trusted_subscription = trusted_constructor(ImsSubscription)
_trusted_registration = trusted_constructor(ImsRegistration)
_STATE_NAMES = {state: state for state in (REGISTERED, UNREGISTERED)}


def _decode_row(row):
    """(ImsSubscription, ImsRegistration) of a row of _COLUMNS, built the
    fast way; ValueError (and the like) for a row the store did not write."""
    impi, imsi, ha1, realm, ifc, impus, server_name, host, scscf_realm, peer, pending, states, updated_at = row
    identities = []
    for line in impus.split("\n"):
        uri, barred, implicit_set = line.split("\t")
        if barred not in ("0", "1"):
            raise ValueError(f"barred flag {barred!r}")
        identities.append(_trusted_identity(uri, barred == "1", int(implicit_set)))
    decoded_states = []
    for line in states.split("\n") if states else ():
        uri, state = line.split("\t")
        decoded_states.append((uri, _STATE_NAMES[state]))
    if type(impi) is not str or type(imsi) is not str or pending not in (0, 1):
        raise ValueError("not a row of this store")
    subscription = _trusted_subscription(impi, imsi, tuple(identities), ha1, realm, ifc)
    registration = _trusted_registration(impi, server_name, host, scscf_realm, peer, pending == 1,
                                         tuple(decoded_states), updated_at)
    return subscription, registration


def _checked_row(row):
    """The same, every field checked: names what is wrong with a row."""
    impi, imsi, ha1, realm, ifc, impus, server_name, host, scscf_realm, peer, pending, states, updated_at = row
    identities = []
    for line in (impus or "").split("\n"):
        parts = line.split("\t")
        if len(parts) != 3 or not parts[2].isdigit():
            raise ValidationError(f"stored public identities of {impi!r} are not uri/barred/set lines")
        identities.append(PublicIdentity(parts[0], parts[1] == "1", int(parts[2])))
    return (ImsSubscription(impi, imsi, tuple(identities), ha1, realm, ifc),
            ImsRegistration(impi, server_name, host, scscf_realm, peer, bool(pending), _decode_states(states or ""),
                            updated_at))


def _both(row):
    if row is None:
        return None, None
    try:
        return _decode_row(row)
    except (ValueError, KeyError, TypeError, AttributeError):
        return _checked_row(row)


def _subscription(conn, row):
    return _both(row)[0]


def _write_registration(conn, registration):
    """One UPDATE of the registration columns of its subscription's row."""
    conn.execute(_WRITE_REGISTRATION, (
        registration.server_name, registration.scscf_host, registration.scscf_realm, registration.peer,
        int(registration.pending), _encode_states(registration.states), registration.updated_at,
        registration.impi))


def _both_by_impi(conn, impi):
    return _both(conn.execute(_SUBSCRIPTION + " WHERE s.impi = ?", (impi,)).fetchone())


def _both_by_impu(conn, impu):
    try:
        uri = normalise_impu(impu)
    except ValidationError:
        return None, None
    return _both(conn.execute(_BY_IMPU, (uri,)).fetchone())


def _by_impi(conn, impi):
    return _both_by_impi(conn, impi)[0]


def _by_impu(conn, impu):
    return _both_by_impu(conn, impu)[0]


def _check_links(conn, subscription):
    if conn.execute("SELECT 1 FROM subscriber WHERE imsi = ?", (subscription.imsi,)).fetchone() is None:
        raise ValidationError(f"no subscriber {subscription.imsi} for {subscription.impi}")
    if subscription.ifc is not None and conn.execute(
            "SELECT 1 FROM ifc_template WHERE name = ?", (subscription.ifc,)).fetchone() is None:
        raise ValidationError(f"unknown iFC template {subscription.ifc!r}")
    for impu in subscription.impus:
        row = conn.execute("SELECT impi FROM ims_public_identity WHERE uri = ?", (impu.uri,)).fetchone()
        if row is not None and row[0] != subscription.impi:
            raise DuplicateError(f"public identity {impu.uri} belongs to {row[0]}")


def _insert_impus(conn, subscription):
    conn.executemany(_INSERT_IMPU, [(impu.uri, subscription.impi, position, int(impu.barred), impu.implicit_set)
                                    for position, impu in enumerate(subscription.impus)])


# --- on the worker ------------------------------------------------------------------------

def _add_template(conn, template):
    try:
        conn.execute("INSERT INTO ifc_template (name, xml) VALUES (?, ?)", (template.name, template.xml))
    except sqlite3.IntegrityError:
        raise DuplicateError(f"iFC template {template.name!r} already exists") from None


def _update_template(conn, template):
    if conn.execute("UPDATE ifc_template SET xml = ? WHERE name = ?", (template.xml, template.name)).rowcount == 0:
        raise NotFoundError(f"no iFC template {template.name!r}")
    return [row[0] for row in conn.execute("SELECT impi FROM ims_subscription WHERE ifc = ? ORDER BY impi",
                                           (template.name,))]


def _delete_template(conn, name):
    if conn.execute("SELECT 1 FROM ifc_template WHERE name = ?", (name,)).fetchone() is None:
        raise NotFoundError(f"no iFC template {name!r}")
    row = conn.execute("SELECT impi FROM ims_subscription WHERE ifc = ? LIMIT 1", (name,)).fetchone()
    if row is not None:
        raise InUseError(f"iFC template {name!r} is used by {row[0]}")
    conn.execute("DELETE FROM ifc_template WHERE name = ?", (name,))


def _add_subscription(conn, subscription):
    if conn.execute("SELECT 1 FROM ims_subscription WHERE impi = ?", (subscription.impi,)).fetchone():
        raise DuplicateError(f"IMS subscription {subscription.impi} already exists")
    _check_links(conn, subscription)
    conn.execute("INSERT INTO ims_subscription (impi, imsi, digest_ha1, digest_realm, ifc, impus) "
                 "VALUES (?, ?, ?, ?, ?, ?)",
                 (subscription.impi, subscription.imsi, subscription.digest_ha1, subscription.digest_realm,
                  subscription.ifc, _encode_impus(subscription.impus)))
    _insert_impus(conn, subscription)


def _update_subscription(conn, impi, changes):
    current, registration = _both_by_impi(conn, impi)
    if current is None:
        raise NotFoundError(f"no IMS subscription {impi}")
    updated = changed(current, changes)
    _check_links(conn, updated)
    conn.execute("UPDATE ims_subscription SET imsi = ?, digest_ha1 = ?, digest_realm = ?, ifc = ?, impus = ? "
                 "WHERE impi = ?", (updated.imsi, updated.digest_ha1, updated.digest_realm, updated.ifc,
                                    _encode_impus(updated.impus), impi))
    conn.execute("DELETE FROM ims_public_identity WHERE impi = ?", (impi,))
    _insert_impus(conn, updated)
    kept = for_identities(registration, updated)
    if kept is not registration:
        _write_registration(conn, kept)
    return updated


def _delete_subscription(conn, impi):
    if conn.execute("DELETE FROM ims_subscription WHERE impi = ?", (impi,)).rowcount == 0:
        raise NotFoundError(f"no IMS subscription {impi}")
    conn.execute("DELETE FROM ims_public_identity WHERE impi = ?", (impi,))


def ims_user_of(conn, imsi):
    """The IMPI of an IMS subscription naming ``imsi``, or None (deleting
    that subscriber is refused)."""
    row = conn.execute("SELECT impi FROM ims_subscription WHERE imsi = ? LIMIT 1", (imsi,)).fetchone()
    return None if row is None else row[0]


def _lookup(conn, impi, impu):
    return _both_by_impi(conn, impi) if impi is not None else _both_by_impu(conn, impu)


def _authenticate(conn, request):
    if request.sqn_request is not None and type(request.sqn_request) is not SqnRequest:
        raise ValidationError(f"expected a SqnRequest, got {type(request.sqn_request).__name__}")
    row = conn.execute(_WITH_SUBSCRIBER, (request.impi,)).fetchone()
    if row is None:
        return None, None, None, None
    subscription, before = _both(row[:_WIDTH])
    if subscription.identity(request.impu) is None:
        return subscription, None, None, None
    subscriber = subscriber_from_row(row[_WIDTH:]) if row[_WIDTH] is not None else None
    sqns = None
    if request.sqn_request is not None and (request.required or ANY_STATE).met_by(subscriber):
        new_sqn, sqns = advance(subscriber.sqn, request.sqn_request)
        if new_sqn != subscriber.sqn:
            conn.execute("UPDATE subscriber SET sqn = ? WHERE imsi = ?", (new_sqn, subscriber.imsi))
    after = authenticated(before, request)
    if after is not before:
        _write_registration(conn, after)
    return subscription, before, subscriber, sqns


def _assign(conn, request):
    subscription, before = _lookup(conn, request.impi, request.impu)
    if subscription is None or (request.impu is not None and subscription.identity(request.impu) is None):
        return subscription, None, None, None, None
    outcome, after = assigned(subscription, before, request)
    if after is not before:
        _write_registration(conn, after)
    template = None
    if subscription.ifc is not None:
        row = conn.execute("SELECT name, xml FROM ifc_template WHERE name = ?", (subscription.ifc,)).fetchone()
        template = None if row is None else IfcTemplate(*row)
    return subscription, before, after, outcome, template


class SqliteImsMixin:
    """The IMS role's methods for SqliteStore."""

    def _refuse_type(self, value, cls):
        if not isinstance(value, cls):
            return defer.fail(ValidationError(f"expected a {cls.__name__}, got {type(value).__name__}"))
        return None

    def add_ifc_template(self, template):
        return self._refuse_type(template, IfcTemplate) or self._submit(_add_template, template, write=True)

    def get_ifc_template(self, name):
        return self._submit(self._read, "SELECT name, xml FROM ifc_template WHERE name = ?", (name,),
                            lambda c: _template(c.fetchone()))

    def list_ifc_templates(self):
        return self._submit(self._read, "SELECT name, xml FROM ifc_template ORDER BY name", (),
                            lambda c: [IfcTemplate(*row) for row in c])

    def update_ifc_template(self, template):
        return self._refuse_type(template, IfcTemplate) or self._submit(_update_template, template, write=True)

    def delete_ifc_template(self, name):
        return self._submit(_delete_template, name, write=True)

    def add_ims_subscription(self, subscription):
        return (self._refuse_type(subscription, ImsSubscription)
                or self._submit(_add_subscription, subscription, write=True))

    def _on_connection(self, function, *args):
        return function(self._worker.connection(), *args)

    def get_ims_subscription(self, impi):
        return self._submit(self._on_connection, _by_impi, impi)

    def find_ims_subscription(self, impu):
        return self._submit(self._on_connection, _by_impu, impu)

    def list_ims_subscriptions(self, offset=0, limit=None):
        def listing(conn):
            rows = conn.execute(_SUBSCRIPTION + " ORDER BY s.impi LIMIT ? OFFSET ?",
                                (-1 if limit is None else limit, offset)).fetchall()
            return [_subscription(conn, row) for row in rows]
        return self._submit(self._on_connection, listing)

    def count_ims_subscriptions(self):
        return self._submit(self._read, "SELECT count(*) FROM ims_subscription", (), lambda c: c.fetchone()[0])

    def update_ims_subscription(self, impi, /, **changes):
        return self._submit(_update_subscription, impi, changes, write=True)

    def delete_ims_subscription(self, impi):
        return self._submit(_delete_subscription, impi, write=True)

    def ims_lookup(self, impi=None, impu=None):
        return self._submit(self._on_connection, _lookup, impi, impu)

    def ims_authenticate(self, request):
        return self._refuse_type(request, Authentication) or self._submit(_authenticate, request, write=True)

    def ims_assign(self, request):
        return self._refuse_type(request, Assignment) or self._submit(_assign, request, write=True)


def _template(row):
    return None if row is None else IfcTemplate(*row)
