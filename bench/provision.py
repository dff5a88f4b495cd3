"""
Subscribers for the S6a request kinds of bench/diameter_load.py: with
--provision N, N subscribers from --imsi-first (each with its own K and OPc,
an MSISDN, UE-AMBR and the APN "internet" with APN-AMBR) are written into
the spawned server's SQLite file through the store API before the server
starts, so every AIR/ULR the client sends names a known subscriber and
every ULA carries a whole Subscription-Data.

Keys differ per subscriber (derived from the IMSI) so that the server's
per-key Milenage cache sees as many keys as a real HSS would.
"""

import hashlib

from twisted.internet import defer

from pyhss.storage.records import ApnProfile, Subscriber
from pyhss.storage.sqlite import SqliteStore

BENCH_APN = "internet"
BATCH = 10000


def subscriber_keys(imsi):
    """(K, OPc) of a bench subscriber: fixed per IMSI, distinct per IMSI."""
    digest = hashlib.sha256(b"pyhss-bench " + imsi.encode("ascii")).digest()
    return digest[:16], digest[16:]


def bench_subscriber(imsi, index):
    k, opc = subscriber_keys(imsi)
    return Subscriber(
        imsi, k, opc=opc, amf=b"\x80\x00", sqn=0,
        msisdn="1555%07d" % (index % 10 ** 7,), apns=(BENCH_APN,),
        ue_ambr_ul=50000000, ue_ambr_dl=100000000,
        periodic_rau_tau_timer=3240)


def bench_apn():
    return ApnProfile(BENCH_APN, qci=9, arp_priority=8,
                      ambr_ul=50000000, ambr_dl=100000000, pdn_type="ipv4v6")


@defer.inlineCallbacks
def provision(reactor, path, imsi_first, count, log=None, database=None):
    """
    Add the APN and C{count} subscribers from C{imsi_first} to the SQLite
    file at C{path} (created if missing; subscribers already there are
    kept), or to the store of C{database} (a C{database} config section)
    when given.  Fires with the number of subscribers added.
    """
    if database is not None:
        from pyhss.storage import open_store
        store = open_store(database, reactor)
        path = database.backend
    else:
        store = SqliteStore(path, reactor)
    try:
        yield store.opened
        if (yield store.get_apn(BENCH_APN)) is None:
            yield store.add_apn(bench_apn())
        start = int(imsi_first)
        width = len(imsi_first)
        added = 0
        for offset in range(0, count, BATCH):
            batch = [bench_subscriber("%0*d" % (width, start + index), index)
                     for index in range(offset, min(count, offset + BATCH))]
            added += yield store.add_subscribers(batch, skip_existing=True)
        if log is not None:
            log("provisioned %d subscribers (%d new) from %s, APN %s, in %s"
                % (count, added, imsi_first, BENCH_APN, path))
        return added
    finally:
        yield store.close()
