"""The subscribers role (ISubscribers) on a SQL server: its tables and what
each method does inside one transaction.

Tables: ``subscriber`` (one row per IMSI, columns in Subscriber field
order, APN names as space-separated text as SQLite keeps them, so that an
AIR reads one row), ``apn`` (APN profiles), ``subscriber_apn`` (which
subscribers name which APN, kept with the subscriber in the same
transaction: an APN in use is found by exact match on its index, and its
foreign keys keep a subscriber from naming an APN that is being deleted).
Functions take ``(conn, ...)``, a SQLAlchemy connection inside the job's
transaction (:mod:`pyhss.storage.sqlserver.jobs`).
"""

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from pyhss.storage.errors import DuplicateError, InUseError, NotFoundError, ValidationError
from pyhss.storage.records import (
    APN_FIELDS, SUBSCRIBER_FIELDS, ApnProfile, Subscriber, changed, normalise_apn, stored_subscriber, with_context_id,
)
from pyhss.storage.interface import EVERY_SUBSCRIBER
from pyhss.storage.keys import QueryKeys, apn_key, chunks, is_imsi
from pyhss.storage.sqlserver.jobs import UNBOUNDED
from pyhss.storage.sqlserver.base import METADATA, TABLE_OPTIONS, binary, for_update

subscriber_table = sa.Table(
    "subscriber", METADATA,
    sa.Column("imsi", sa.String(15), primary_key=True),
    sa.Column("k", binary(16), nullable=False),
    sa.Column("opc", binary(16)),
    sa.Column("op", binary(16)),
    sa.Column("amf", binary(2), nullable=False),
    sa.Column("sqn", sa.BigInteger, nullable=False),
    sa.Column("msisdn", sa.String(15), index=True),
    sa.Column("apns", sa.String(2048), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("roaming_allowed", sa.Boolean, nullable=False),
    sa.Column("ue_ambr_ul", sa.BigInteger),
    sa.Column("ue_ambr_dl", sa.BigInteger),
    sa.Column("network_access_mode", sa.Integer, nullable=False),
    sa.Column("periodic_rau_tau_timer", sa.BigInteger),
    sa.Column("access_restriction_data", sa.BigInteger, nullable=False),
    **TABLE_OPTIONS,
)

apn_table = sa.Table(
    "apn", METADATA,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("qci", sa.Integer, nullable=False),
    sa.Column("arp_priority", sa.Integer, nullable=False),
    sa.Column("arp_preemption_capability", sa.Integer, nullable=False),
    sa.Column("arp_preemption_vulnerability", sa.Integer, nullable=False),
    sa.Column("ambr_ul", sa.BigInteger),
    sa.Column("ambr_dl", sa.BigInteger),
    sa.Column("pdn_type", sa.String(8), nullable=False),
    sa.Column("context_id", sa.BigInteger, nullable=False, unique=True),
    **TABLE_OPTIONS,
)

# Schema version 3.
subscriber_apn_table = sa.Table(
    "subscriber_apn", METADATA,
    sa.Column("apn", sa.String(100), sa.ForeignKey("apn.name"), primary_key=True),
    sa.Column("imsi", sa.String(15), sa.ForeignKey("subscriber.imsi", ondelete="CASCADE"), primary_key=True),
    **TABLE_OPTIONS,
)

SUBSCRIBER_COLUMNS = [subscriber_table.c[name] for name in SUBSCRIBER_FIELDS]
APN_COLUMNS = [apn_table.c[name] for name in APN_FIELDS]
_imsi = sa.bindparam("imsi")
SELECT_SUBSCRIBER = sa.select(*SUBSCRIBER_COLUMNS).where(subscriber_table.c.imsi == _imsi)
SELECT_SUBSCRIBER_FOR_UPDATE = for_update(SELECT_SUBSCRIBER, subscriber_table)
SELECT_APN = sa.select(*APN_COLUMNS)
EXISTING_IMSIS = sa.select(subscriber_table.c.imsi).where(
    subscriber_table.c.imsi.in_(sa.bindparam("imsis", expanding=True)))
# MSSQL takes at most 2100 parameters in one statement.
IN_CHUNK = 1000

_BINARY = tuple(SUBSCRIBER_FIELDS.index(name) for name in ("k", "opc", "op", "amf"))
_FLAGS = tuple(SUBSCRIBER_FIELDS.index(name) for name in ("enabled", "roaming_allowed"))
_APNS = SUBSCRIBER_FIELDS.index("apns")


def subscriber_values(subscriber):
    """The row of a Subscriber, as a dict of column values."""
    values = {name: getattr(subscriber, name) for name in SUBSCRIBER_FIELDS}
    values["apns"] = " ".join(subscriber.apns)
    return values


def subscriber_from_row(row):
    """A Subscriber from a row in field order (None for None).

    Rows the store wrote take the fast path of
    :func:`~pyhss.storage.records.stored_subscriber`; one edited by
    another tool is built by the validating constructor, which names what
    is wrong with it."""
    if row is None:
        return None
    values = list(row)
    for index in _BINARY:
        value = values[index]
        if value is not None and type(value) is not bytes:
            values[index] = bytes(value)   # memoryview, bytearray
    for index in _FLAGS:
        values[index] = int(values[index])
    found = stored_subscriber(values)
    if found is not None:
        return found
    values[_APNS] = tuple((values[_APNS] or "").split())
    for index in _FLAGS:
        values[index] = bool(values[index])
    return Subscriber(*values)


def apn_values(profile):
    return {name: getattr(profile, name) for name in APN_FIELDS}


def apn_from_row(row):
    return None if row is None else ApnProfile(*row)


# --- jobs (in a transaction, on a pool thread) ------------------------------------------

def known_apns(conn):
    return {row[0] for row in conn.execute(sa.select(apn_table.c.name))}


def check_apns(conn, subscribers):
    known = None
    for subscriber in subscribers:
        if subscriber.apns and known is None:
            known = known_apns(conn)
        for name in subscriber.apns:
            if name not in known:
                raise ValidationError(f"unknown APN {name!r} for IMSI {subscriber.imsi}", field="apns",
                                      problem=f"names an APN that is not provisioned: {name!r}")


def _apn_links(subscribers):
    return [{"apn": name, "imsi": s.imsi} for s in subscribers for name in s.apns]


def existing_imsis(conn, imsis):
    found = set()
    for start in range(0, len(imsis), IN_CHUNK):
        chunk = imsis[start:start + IN_CHUNK]
        found.update(row[0] for row in conn.execute(EXISTING_IMSIS, {"imsis": chunk}))
    return found


def add_subscriber(conn, subscriber):
    check_apns(conn, [subscriber])
    try:
        with conn.begin_nested():
            conn.execute(subscriber_table.insert(), subscriber_values(subscriber))
    except sa_exc.IntegrityError:
        raise DuplicateError(f"subscriber {subscriber.imsi} already exists") from None
    if subscriber.apns:
        conn.execute(subscriber_apn_table.insert(), _apn_links([subscriber]))


def add_subscribers(conn, subscribers, skip_existing, chunk_size):
    """All or nothing (the job's transaction), ``subscribers`` read one
    chunk at a time; fires the number added."""
    added = 0
    for batch in chunks(subscribers, chunk_size):
        added += _add_chunk(conn, batch, skip_existing)
    return added


def _add_chunk(conn, batch, skip_existing):
    if not skip_existing:
        seen = set()
        for subscriber in batch:
            if subscriber.imsi in seen:
                raise DuplicateError(f"subscriber {subscriber.imsi} already exists")
            seen.add(subscriber.imsi)
    check_apns(conn, batch)
    if skip_existing:
        stored = existing_imsis(conn, [s.imsi for s in batch])
        unique = {}
        for subscriber in batch:
            if subscriber.imsi not in stored:
                unique.setdefault(subscriber.imsi, subscriber)
        batch = list(unique.values())
    if not batch:
        return 0
    try:
        with conn.begin_nested():
            conn.execute(subscriber_table.insert(), [subscriber_values(s) for s in batch])
    except sa_exc.IntegrityError:
        stored = existing_imsis(conn, [s.imsi for s in batch])
        first = next((s.imsi for s in batch if s.imsi in stored), "(unknown)")
        raise DuplicateError(f"subscriber {first} already exists") from None
    links = _apn_links(batch)
    if links:
        conn.execute(subscriber_apn_table.insert(), links)
    return len(batch)


def get_subscriber(conn, imsi):
    return subscriber_from_row(conn.execute(SELECT_SUBSCRIBER, {"imsi": imsi}).first())


def _where(statement, keys):
    """``statement`` restricted to what QueryKeys ``keys`` want: exact
    matches and ranges, every value a bound parameter."""
    c = subscriber_table.c
    if keys.msisdn is not None:
        statement = statement.where(c.msisdn == keys.msisdn)
    if keys.imsi_low is not None:
        statement = statement.where(c.imsi >= keys.imsi_low)
        if keys.imsi_high is not None:
            statement = statement.where(c.imsi < keys.imsi_high)
    if keys.apn is not None:
        statement = statement.where(c.imsi.in_(sa.select(subscriber_apn_table.c.imsi)
                                               .where(subscriber_apn_table.c.apn == keys.apn)))
    if keys.enabled is not None:
        statement = statement.where(c.enabled == keys.enabled)
    if keys.after is not None:
        statement = statement.where(c.imsi > keys.after)
    return statement


def list_subscribers(conn, offset, limit, keys):
    query = _where(sa.select(*SUBSCRIBER_COLUMNS), keys).order_by(subscriber_table.c.imsi).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return [subscriber_from_row(row) for row in conn.execute(query)]


def count_subscribers(conn, keys):
    return conn.execute(_where(sa.select(sa.func.count()).select_from(subscriber_table), keys)).scalar_one()


def update_subscriber(conn, imsi, changes):
    current = subscriber_from_row(conn.execute(SELECT_SUBSCRIBER_FOR_UPDATE, {"imsi": imsi}).first())
    if current is None:
        raise NotFoundError(f"no subscriber {imsi}")
    updated = changed(current, changes)
    check_apns(conn, [updated])
    values = subscriber_values(updated)
    del values["imsi"]
    conn.execute(subscriber_table.update().where(subscriber_table.c.imsi == imsi), values)
    if updated.apns != current.apns:
        conn.execute(subscriber_apn_table.delete().where(subscriber_apn_table.c.imsi == imsi))
        if updated.apns:
            conn.execute(subscriber_apn_table.insert(), _apn_links([updated]))
    return updated


def delete_subscriber(conn, imsi, dependants, users):
    """Delete the subscriber and its rows in ``dependants`` (the other
    roles' tables keyed by IMSI; their foreign keys cascade too, but
    MariaDB's cascades bypass row locks we want taken in order), unless
    one of ``users`` (``(user_of(conn, imsi), what)`` pairs: records of
    other roles that name the subscriber) finds one: InUseError."""
    if conn.execute(SELECT_SUBSCRIBER_FOR_UPDATE, {"imsi": imsi}).first() is None:
        raise NotFoundError(f"no subscriber {imsi}")
    for user_of, what in users:
        user = user_of(conn, imsi)
        if user is not None:
            raise InUseError(f"subscriber {imsi} is used by {what} {user}")
    for table in dependants:
        conn.execute(table.delete().where(table.c.imsi == imsi))
    conn.execute(subscriber_table.delete().where(subscriber_table.c.imsi == imsi))


def add_apn(conn, profile):
    if conn.execute(sa.select(apn_table.c.name).where(apn_table.c.name == profile.name)).first():
        raise DuplicateError(f"APN {profile.name!r} already exists")
    used = [row[0] for row in conn.execute(sa.select(apn_table.c.context_id).order_by(apn_table.c.context_id))]
    profile = with_context_id(profile, used)
    try:
        with conn.begin_nested():
            conn.execute(apn_table.insert(), apn_values(profile))
    except sa_exc.IntegrityError:   # added by another process meanwhile
        raise DuplicateError(f"APN {profile.name!r} or context id {profile.context_id} already exists") from None
    return profile


def get_apn(conn, key):
    return apn_from_row(conn.execute(SELECT_APN.where(apn_table.c.name == key)).first())


def list_apns(conn):
    return [apn_from_row(row) for row in conn.execute(SELECT_APN.order_by(apn_table.c.name))]


def update_apn(conn, key, changes):
    current = apn_from_row(conn.execute(for_update(SELECT_APN.where(apn_table.c.name == key), apn_table)).first())
    if current is None:
        raise NotFoundError(f"no APN {key!r}")
    updated = changed(current, changes)
    if updated.name != key:
        raise ValidationError(f"an APN profile's name cannot change ({key!r}): add a new one")
    if updated.context_id is None:
        updated = changed(updated, {"context_id": current.context_id})
    if conn.execute(sa.select(apn_table.c.name).where(apn_table.c.context_id == updated.context_id,
                                                      apn_table.c.name != key)).first():
        raise DuplicateError(f"context id {updated.context_id} is used by another APN")
    values = apn_values(updated)
    del values["name"]
    try:
        with conn.begin_nested():
            conn.execute(apn_table.update().where(apn_table.c.name == key), values)
    except sa_exc.IntegrityError:   # that context id taken by another process meanwhile
        raise DuplicateError(f"context id {updated.context_id} is used by another APN") from None
    return updated


def delete_apn(conn, key):
    if conn.execute(for_update(sa.select(apn_table.c.name).where(apn_table.c.name == key), apn_table)).first() is None:
        raise NotFoundError(f"no APN {key!r}")
    user = conn.execute(sa.select(subscriber_apn_table.c.imsi).where(subscriber_apn_table.c.apn == key)
                        .order_by(subscriber_apn_table.c.imsi).limit(1)).first()
    if user is not None:
        raise InUseError(f"APN {key!r} is used by subscriber {user[0]}")
    conn.execute(apn_table.delete().where(apn_table.c.name == key))


class SubscriberRole:
    """ISubscribers for :class:`~pyhss.storage.sqlserver.store.SqlStore`."""

    def add_subscriber(self, subscriber):
        if not isinstance(subscriber, Subscriber):
            return self._refuse(f"expected a Subscriber, got {type(subscriber).__name__}")
        return self._job(add_subscriber, subscriber, key=subscriber.imsi)

    # Rows per INSERT of a bulk load; the iterable is read one chunk at a time.
    bulk_chunk = 10000

    def add_subscribers(self, subscribers, skip_existing=False):
        """Streams ``subscribers`` (read on a pool thread) into one transaction."""
        return self._job(add_subscribers, iter(subscribers), skip_existing, self.bulk_chunk, timeout=UNBOUNDED)

    def get_subscriber(self, imsi):
        if not is_imsi(imsi):
            return self._nothing(None)
        return self._job(get_subscriber, imsi, key=imsi)

    def list_subscribers(self, offset=0, limit=None, query=EVERY_SUBSCRIBER):
        keys = QueryKeys(query)
        if keys.matches_nothing:
            return self._nothing([])
        return self._job(list_subscribers, offset, limit, keys)

    def count_subscribers(self, query=EVERY_SUBSCRIBER):
        keys = QueryKeys(query)
        if keys.matches_nothing:
            return self._nothing(0)
        return self._job(count_subscribers, keys)

    def update_subscriber(self, imsi, /, **changes):
        if not is_imsi(imsi):
            return self._fail(NotFoundError(f"no subscriber {imsi}"))
        return self._job(update_subscriber, imsi, changes, key=imsi)

    def delete_subscriber(self, imsi):
        if not is_imsi(imsi):
            return self._fail(NotFoundError(f"no subscriber {imsi}"))
        return self._job(delete_subscriber, imsi, self.dependant_tables, self.subscriber_users, key=imsi)

    def add_apn(self, profile):
        if not isinstance(profile, ApnProfile):
            return self._refuse(f"expected an ApnProfile, got {type(profile).__name__}")
        return self._job(add_apn, profile)

    def get_apn(self, name):
        key = apn_key(name)
        if key is None:
            return self._nothing(None)
        return self._job(get_apn, key)

    def list_apns(self):
        return self._job(list_apns)

    def update_apn(self, name, /, **changes):
        try:
            key = normalise_apn(name)
        except ValidationError as e:
            return self._fail(e)
        return self._job(update_apn, key, changes)

    def delete_apn(self, name):
        try:
            key = normalise_apn(name)
        except ValidationError as e:
            return self._fail(e)
        return self._job(delete_apn, key)
