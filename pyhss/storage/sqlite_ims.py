"""The IMS role (:class:`~pyhss.storage.interface.IImsSubscriptions`) of
the SQLite store: its tables, and what each method does on the worker's
connection.  :class:`SqliteImsMixin` is mixed into
:class:`pyhss.storage.sqlite.SqliteStore` (``_submit``, ``_read``).

One row per subscription holds its provisioning and its registration
state (the S-CSCF and the identities' states as ``uri<TAB>state`` lines:
a SAR writes one row); its public identities are rows of their own, keyed
by URI, so an identity belongs to one subscription and LIR finds it by
index.
"""

import sqlite3

from twisted.internet import defer

from pyhss.auc.sqn import SqnRequest, advance
from pyhss.storage.errors import DuplicateError, InUseError, NotFoundError, ValidationError
from pyhss.storage.ims_records import (
    IfcTemplate, ImsRegistration, ImsSubscription, PublicIdentity, normalise_impu,
)
from pyhss.storage.ims_state import Assignment, Authentication, assigned, authenticated
from pyhss.storage.interface import ANY_STATE
from pyhss.storage.records import changed
from pyhss.storage.sqlite_rows import SELECT_SUBSCRIBER, subscriber_from_row

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

_SUBSCRIPTION = "SELECT impi, imsi, digest_ha1, digest_realm, ifc FROM ims_subscription"
_REGISTRATION = ("SELECT impi, server_name, scscf_host, scscf_realm, peer, pending, states, updated_at "
                 "FROM ims_subscription WHERE impi = ?")
_IMPUS = "SELECT uri, barred, implicit_set FROM ims_public_identity WHERE impi = ? ORDER BY position"
_INSERT_IMPU = ("INSERT INTO ims_public_identity (uri, impi, position, barred, implicit_set) "
                "VALUES (?, ?, ?, ?, ?)")
_WRITE_REGISTRATION = ("UPDATE ims_subscription SET server_name = ?, scscf_host = ?, scscf_realm = ?, peer = ?, "
                       "pending = ?, states = ?, updated_at = ? WHERE impi = ?")


def _encode_states(states):
    return "\n".join(f"{uri}\t{state}" for uri, state in states)


def _decode_states(text):
    return tuple(tuple(line.split("\t", 1)) for line in text.split("\n") if line)


def _subscription(conn, row):
    if row is None:
        return None
    impi, imsi, ha1, realm, ifc = row
    impus = tuple(PublicIdentity(uri, bool(barred), implicit_set)
                  for uri, barred, implicit_set in conn.execute(_IMPUS, (impi,)))
    return ImsSubscription(impi, imsi, impus, ha1, realm, ifc)


def _registration(conn, impi):
    row = conn.execute(_REGISTRATION, (impi,)).fetchone()
    if row is None:
        return None
    impi, server_name, host, realm, peer, pending, states, updated_at = row
    return ImsRegistration(impi, server_name, host, realm, peer, bool(pending), _decode_states(states), updated_at)


def _write_registration(conn, registration):
    conn.execute(_WRITE_REGISTRATION, (
        registration.server_name, registration.scscf_host, registration.scscf_realm, registration.peer,
        int(registration.pending), _encode_states(registration.states), registration.updated_at,
        registration.impi))


def _by_impi(conn, impi):
    return _subscription(conn, conn.execute(_SUBSCRIPTION + " WHERE impi = ?", (impi,)).fetchone())


def _by_impu(conn, impu):
    try:
        uri = normalise_impu(impu)
    except ValidationError:
        return None
    row = conn.execute("SELECT impi FROM ims_public_identity WHERE uri = ?", (uri,)).fetchone()
    return None if row is None else _by_impi(conn, row[0])


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
    conn.execute("INSERT INTO ims_subscription (impi, imsi, digest_ha1, digest_realm, ifc) VALUES (?, ?, ?, ?, ?)",
                 (subscription.impi, subscription.imsi, subscription.digest_ha1, subscription.digest_realm,
                  subscription.ifc))
    _insert_impus(conn, subscription)


def _update_subscription(conn, impi, changes):
    current = _by_impi(conn, impi)
    if current is None:
        raise NotFoundError(f"no IMS subscription {impi}")
    updated = changed(current, changes)
    _check_links(conn, updated)
    conn.execute("UPDATE ims_subscription SET imsi = ?, digest_ha1 = ?, digest_realm = ?, ifc = ? WHERE impi = ?",
                 (updated.imsi, updated.digest_ha1, updated.digest_realm, updated.ifc, impi))
    conn.execute("DELETE FROM ims_public_identity WHERE impi = ?", (impi,))
    _insert_impus(conn, updated)
    registration = _registration(conn, impi)
    kept = {impu.uri for impu in updated.impus}
    states = tuple((uri, state) for uri, state in registration.states if uri in kept)
    if states != registration.states:
        _write_registration(conn, changed(registration, {"states": states}))
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
    subscription = _by_impi(conn, impi) if impi is not None else _by_impu(conn, impu)
    if subscription is None:
        return None, None
    return subscription, _registration(conn, subscription.impi)


def _authenticate(conn, request):
    if request.sqn_request is not None and type(request.sqn_request) is not SqnRequest:
        raise ValidationError(f"expected a SqnRequest, got {type(request.sqn_request).__name__}")
    subscription = _by_impi(conn, request.impi)
    if subscription is None or subscription.identity(request.impu) is None:
        return subscription, None, None, None
    before = _registration(conn, request.impi)
    subscriber = subscriber_from_row(conn.execute(SELECT_SUBSCRIBER, (subscription.imsi,)).fetchone())
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
    subscription = _by_impi(conn, request.impi) if request.impi is not None else _by_impu(conn, request.impu)
    if subscription is None or (request.impu is not None and subscription.identity(request.impu) is None):
        return subscription, None, None, None, None
    before = _registration(conn, subscription.impi)
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
            rows = conn.execute(_SUBSCRIPTION + " ORDER BY impi LIMIT ? OFFSET ?",
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
