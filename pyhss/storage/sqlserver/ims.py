"""The IMS role (IImsSubscriptions) on a SQL server: iFC templates, IMS
subscriptions, their public identities and the Cx registration state
(schema version 2, as in SQLite).

The layout is SQLite's (:mod:`pyhss.storage.sqlite_ims`), so a row reads
back through the same decoder: one ``ims_subscription`` row per IMPI
with its provisioning, its public identities as text lines and its
registration state (UAR, MAR and SAR read one row, SAR writes one), and
``ims_public_identity`` keyed by URI (an identity belongs to one
subscription; LIR finds it by index).  Identities are stored byte for
byte: every table has a binary collation on MariaDB and PostgreSQL
compares text exactly.

MAR reserves SQNs on the subscriber's row in the same transaction, after
``SELECT ... FOR UPDATE`` of it: the counter S6a's AIR shares, under the
same row lock (:mod:`pyhss.storage.sqlserver.sqn`).
"""

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import mssql, mysql

from pyhss.auc.sqn import SqnRequest, advance
from pyhss.storage.errors import DuplicateError, InUseError, NotFoundError, ValidationError
from pyhss.storage.ims_records import MAX_IDENTITY, IfcTemplate, ImsSubscription
from pyhss.storage.ims_state import Assignment, Authentication, assigned, authenticated, for_identities
from pyhss.storage.interface import ANY_STATE
from pyhss.storage.keys import ifc_key, impi_key, impu_key
from pyhss.storage.records import changed
from pyhss.storage.sqlite_ims import _both, _encode_impus, _encode_states  # the row codec both stores share
from pyhss.storage.sqlserver.base import METADATA, TABLE_OPTIONS, for_update
from pyhss.storage.sqlserver.subscribers import (
    SELECT_SUBSCRIBER_FOR_UPDATE, subscriber_from_row, subscriber_table,
)


def long_text():
    """Text of up to 16 MB on MariaDB (TEXT holds 64 KiB), unbounded elsewhere."""
    return (sa.Text()
            .with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
            .with_variant(mssql.NVARCHAR(None), "mssql"))


ifc_template_table = sa.Table(
    "ifc_template", METADATA,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("xml", long_text(), nullable=False),
    **TABLE_OPTIONS,
)

ims_subscription_table = sa.Table(
    "ims_subscription", METADATA,
    sa.Column("impi", sa.String(MAX_IDENTITY), primary_key=True),
    sa.Column("imsi", sa.String(15), nullable=False, index=True),
    sa.Column("digest_ha1", sa.String(32)),
    sa.Column("digest_realm", sa.String(MAX_IDENTITY)),
    sa.Column("ifc", sa.String(64), index=True),
    sa.Column("impus", long_text(), nullable=False),
    sa.Column("server_name", sa.String(MAX_IDENTITY)),
    sa.Column("scscf_host", sa.String(MAX_IDENTITY)),
    sa.Column("scscf_realm", sa.String(MAX_IDENTITY)),
    sa.Column("peer", sa.String(MAX_IDENTITY)),
    sa.Column("pending", sa.Integer, nullable=False, default=0),
    sa.Column("states", long_text(), nullable=False),
    sa.Column("updated_at", sa.Float(53), nullable=False, default=0.0),
    **TABLE_OPTIONS,
)

ims_public_identity_table = sa.Table(
    "ims_public_identity", METADATA,
    sa.Column("uri", sa.String(MAX_IDENTITY), primary_key=True),
    sa.Column("impi", sa.String(MAX_IDENTITY), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("barred", sa.Integer, nullable=False),
    sa.Column("implicit_set", sa.Integer, nullable=False),
    sa.Index("ims_public_identity_by_impi", "impi", "position"),
    **TABLE_OPTIONS,
)

IMS_TABLES = (ifc_template_table, ims_subscription_table, ims_public_identity_table)

_s = ims_subscription_table.c
_p = ims_public_identity_table.c
_t = ifc_template_table.c
_COLUMNS = (_s.impi, _s.imsi, _s.digest_ha1, _s.digest_realm, _s.ifc, _s.impus, _s.server_name, _s.scscf_host,
            _s.scscf_realm, _s.peer, _s.pending, _s.states, _s.updated_at)
_WIDTH = len(_COLUMNS)
SELECT_BY_IMPI = sa.select(*_COLUMNS).where(_s.impi == sa.bindparam("impi"))
SELECT_BY_IMPI_FOR_UPDATE = for_update(SELECT_BY_IMPI, ims_subscription_table)
SELECT_BY_IMPU = (sa.select(*_COLUMNS).select_from(ims_public_identity_table.join(
    ims_subscription_table, _s.impi == _p.impi)).where(_p.uri == sa.bindparam("uri")))
SELECT_BY_IMPU_FOR_UPDATE = for_update(SELECT_BY_IMPU, ims_subscription_table)
SELECT_TEMPLATE = sa.select(_t.name, _t.xml)


def _template(row):
    return None if row is None else IfcTemplate(row[0], row[1])


def _decoded(row):
    if row is None:
        return None, None
    row = tuple(row)
    pending = row[10]
    return _both(row[:10] + (int(pending) if pending is not None else pending,) + row[11:])


def _registration_values(registration):
    return {"server_name": registration.server_name, "scscf_host": registration.scscf_host,
            "scscf_realm": registration.scscf_realm, "peer": registration.peer,
            "pending": int(registration.pending), "states": _encode_states(registration.states),
            "updated_at": registration.updated_at}


def _write_registration(conn, registration):
    conn.execute(ims_subscription_table.update().where(_s.impi == registration.impi),
                 _registration_values(registration))


def _by_impi(conn, impi, lock=False):
    return _decoded(conn.execute(SELECT_BY_IMPI_FOR_UPDATE if lock else SELECT_BY_IMPI, {"impi": impi}).first())


def _by_impu(conn, uri, lock=False):
    return _decoded(conn.execute(SELECT_BY_IMPU_FOR_UPDATE if lock else SELECT_BY_IMPU, {"uri": uri}).first())


def _check_links(conn, subscription):
    if conn.execute(for_update(sa.select(subscriber_table.c.imsi).where(
            subscriber_table.c.imsi == subscription.imsi), subscriber_table)).first() is None:
        raise ValidationError(f"no subscriber {subscription.imsi} for {subscription.impi}")
    if subscription.ifc is not None and conn.execute(
            sa.select(_t.name).where(_t.name == subscription.ifc)).first() is None:
        raise ValidationError(f"unknown iFC template {subscription.ifc!r}")
    uris = [impu.uri for impu in subscription.impus]
    for row in conn.execute(sa.select(_p.uri, _p.impi).where(_p.uri.in_(uris))):
        if row[1] != subscription.impi:
            raise DuplicateError(f"public identity {row[0]} belongs to {row[1]}")


def _insert_impus(conn, subscription):
    conn.execute(ims_public_identity_table.insert(), [
        {"uri": impu.uri, "impi": subscription.impi, "position": position, "barred": int(impu.barred),
         "implicit_set": impu.implicit_set} for position, impu in enumerate(subscription.impus)])


def _duplicate_identity(subscription):
    """After a failed insert: what another transaction added meanwhile."""
    return DuplicateError(f"IMS subscription {subscription.impi} or one of its public identities already exists")


# --- jobs (in a transaction, on a pool thread) ------------------------------------------

def add_template(conn, template):
    try:
        with conn.begin_nested():
            conn.execute(ifc_template_table.insert(), {"name": template.name, "xml": template.xml})
    except sa_exc.IntegrityError:
        raise DuplicateError(f"iFC template {template.name!r} already exists") from None


def get_template(conn, name):
    return _template(conn.execute(SELECT_TEMPLATE.where(_t.name == name)).first())


def list_templates(conn):
    return [_template(row) for row in conn.execute(SELECT_TEMPLATE.order_by(_t.name))]


def update_template(conn, template):
    if conn.execute(ifc_template_table.update().where(_t.name == template.name),
                    {"xml": template.xml}).rowcount == 0:
        raise NotFoundError(f"no iFC template {template.name!r}")
    return [row[0] for row in conn.execute(sa.select(_s.impi).where(_s.ifc == template.name).order_by(_s.impi))]


def delete_template(conn, name):
    if conn.execute(for_update(sa.select(_t.name).where(_t.name == name), ifc_template_table)).first() is None:
        raise NotFoundError(f"no iFC template {name!r}")
    row = conn.execute(sa.select(_s.impi).where(_s.ifc == name).order_by(_s.impi).limit(1)).first()
    if row is not None:
        raise InUseError(f"iFC template {name!r} is used by {row[0]}")
    conn.execute(ifc_template_table.delete().where(_t.name == name))


def add_subscription(conn, subscription):
    if conn.execute(sa.select(_s.impi).where(_s.impi == subscription.impi)).first():
        raise DuplicateError(f"IMS subscription {subscription.impi} already exists")
    _check_links(conn, subscription)
    try:
        with conn.begin_nested():
            conn.execute(ims_subscription_table.insert(), {
                "impi": subscription.impi, "imsi": subscription.imsi, "digest_ha1": subscription.digest_ha1,
                "digest_realm": subscription.digest_realm, "ifc": subscription.ifc,
                "impus": _encode_impus(subscription.impus), "pending": 0, "states": "", "updated_at": 0.0})
            _insert_impus(conn, subscription)
    except sa_exc.IntegrityError:
        raise _duplicate_identity(subscription) from None


def get_subscription(conn, impi):
    return _by_impi(conn, impi)[0]


def find_subscription(conn, impu):
    return _by_impu(conn, impu)[0]


def list_subscriptions(conn, offset, limit):
    query = sa.select(*_COLUMNS).order_by(_s.impi).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return [_decoded(row)[0] for row in conn.execute(query)]


def count_subscriptions(conn):
    return conn.execute(sa.select(sa.func.count()).select_from(ims_subscription_table)).scalar_one()


def update_subscription(conn, impi, changes):
    current, registration = _by_impi(conn, impi, lock=True)
    if current is None:
        raise NotFoundError(f"no IMS subscription {impi}")
    updated = changed(current, changes)
    _check_links(conn, updated)
    conn.execute(ims_subscription_table.update().where(_s.impi == impi), {
        "imsi": updated.imsi, "digest_ha1": updated.digest_ha1, "digest_realm": updated.digest_realm,
        "ifc": updated.ifc, "impus": _encode_impus(updated.impus)})
    conn.execute(ims_public_identity_table.delete().where(_p.impi == impi))
    try:
        with conn.begin_nested():
            _insert_impus(conn, updated)
    except sa_exc.IntegrityError:
        raise _duplicate_identity(updated) from None
    kept = for_identities(registration, updated)
    if kept is not registration:
        _write_registration(conn, kept)
    return updated


def delete_subscription(conn, impi):
    if conn.execute(ims_subscription_table.delete().where(_s.impi == impi)).rowcount == 0:
        raise NotFoundError(f"no IMS subscription {impi}")
    conn.execute(ims_public_identity_table.delete().where(_p.impi == impi))


def ims_user_of(conn, imsi):
    """The IMPI of an IMS subscription naming ``imsi``, or None (deleting
    that subscriber is refused)."""
    row = conn.execute(sa.select(_s.impi).where(_s.imsi == imsi).order_by(_s.impi).limit(1)).first()
    return None if row is None else row[0]


def lookup(conn, impi, impu):
    return _by_impi(conn, impi) if impi is not None else _by_impu(conn, impu)


def authenticate(conn, request):
    """MAR: the subscription's row and its subscriber's row locked (in that
    order, as SAR and AIR take theirs), SQNs reserved, the S-CSCF stored."""
    subscription, before = _by_impi(conn, request.impi, lock=True)
    if subscription is None:
        return None, None, None, None
    if subscription.identity(request.impu) is None:
        return subscription, None, None, None
    subscriber = subscriber_from_row(conn.execute(SELECT_SUBSCRIBER_FOR_UPDATE,
                                                  {"imsi": subscription.imsi}).first())
    sqns = None
    if request.sqn_request is not None and (request.required or ANY_STATE).met_by(subscriber):
        new_sqn, sqns = advance(subscriber.sqn, request.sqn_request)
        if new_sqn != subscriber.sqn:
            conn.execute(subscriber_table.update().where(subscriber_table.c.imsi == subscriber.imsi),
                         {"sqn": new_sqn})
    after = authenticated(before, request)
    if after is not before:
        _write_registration(conn, after)
    return subscription, before, subscriber, sqns


def assign(conn, request, uri):
    """SAR: the subscription (by IMPI, else by ``uri``, the normalised
    IMPU) locked, the registration changed."""
    if request.impi is not None:
        subscription, before = _by_impi(conn, request.impi, lock=True)
    else:
        subscription, before = _by_impu(conn, uri, lock=True)
    if subscription is None or (request.impu is not None and subscription.identity(request.impu) is None):
        return subscription, None, None, None, None
    outcome, after = assigned(subscription, before, request)
    if after is not before:
        _write_registration(conn, after)
    template = None
    if subscription.ifc is not None:
        template = get_template(conn, subscription.ifc)
    return subscription, before, after, outcome, template


class ImsRole:
    """IImsSubscriptions for :class:`~pyhss.storage.sqlserver.store.SqlStore`.
    Keys are checked before a query (pyhss.storage.keys): an identity no
    subscription can have finds nothing without a round trip."""

    def _expect(self, value, cls):
        if not isinstance(value, cls):
            return self._refuse(f"expected a {cls.__name__}, got {type(value).__name__}")
        return None

    def add_ifc_template(self, template):
        return self._expect(template, IfcTemplate) or self._job(add_template, template)

    def get_ifc_template(self, name):
        if ifc_key(name) is None:
            return self._nothing(None)
        return self._job(get_template, name)

    def list_ifc_templates(self):
        return self._job(list_templates)

    def update_ifc_template(self, template):
        return self._expect(template, IfcTemplate) or self._job(update_template, template)

    def delete_ifc_template(self, name):
        if ifc_key(name) is None:
            return self._fail(NotFoundError(f"no iFC template {name!r}"))
        return self._job(delete_template, name)

    def add_ims_subscription(self, subscription):
        return (self._expect(subscription, ImsSubscription)
                or self._job(add_subscription, subscription, key=subscription.impi))

    def get_ims_subscription(self, impi):
        if impi_key(impi) is None:
            return self._nothing(None)
        return self._job(get_subscription, impi)

    def find_ims_subscription(self, impu):
        uri = impu_key(impu)
        if uri is None:
            return self._nothing(None)
        return self._job(find_subscription, uri)

    def list_ims_subscriptions(self, offset=0, limit=None):
        return self._job(list_subscriptions, offset, limit)

    def count_ims_subscriptions(self):
        return self._job(count_subscriptions)

    def update_ims_subscription(self, impi, /, **changes):
        if impi_key(impi) is None:
            return self._fail(NotFoundError(f"no IMS subscription {impi}"))
        return self._job(update_subscription, impi, changes, key=impi)

    def delete_ims_subscription(self, impi):
        if impi_key(impi) is None:
            return self._fail(NotFoundError(f"no IMS subscription {impi}"))
        return self._job(delete_subscription, impi, key=impi)

    def ims_lookup(self, impi=None, impu=None):
        if impi is not None:
            if impi_key(impi) is None:
                return self._nothing((None, None))
            return self._job(lookup, impi, None)
        uri = impu_key(impu)
        if uri is None:
            return self._nothing((None, None))
        return self._job(lookup, None, uri)

    def ims_authenticate(self, request):
        refused = self._expect(request, Authentication)
        if refused is not None:
            return refused
        if request.sqn_request is not None and type(request.sqn_request) is not SqnRequest:
            return self._refuse(f"expected a SqnRequest, got {type(request.sqn_request).__name__}")
        if impi_key(request.impi) is None:
            return self._nothing((None, None, None, None))
        return self._job(authenticate, request, key=request.impi)

    def ims_assign(self, request):
        refused = self._expect(request, Assignment)
        if refused is not None:
            return refused
        if request.impi is not None:
            if impi_key(request.impi) is None:
                return self._nothing((None, None, None, None, None))
            return self._job(assign, request, None, key=request.impi)
        uri = impu_key(request.impu)
        if uri is None:
            return self._nothing((None, None, None, None, None))
        return self._job(assign, request, uri)
