"""
Subscribers for the S6a request kinds of bench/diameter_load.py: with
--provision N, N subscribers from --imsi-first (each with its own K and OPc,
an MSISDN, UE-AMBR and the APN "internet" with APN-AMBR) are written into
the spawned server's SQLite file through the store API before the server
starts, so every AIR/ULR the client sends names a known subscriber and
every ULA carries a whole Subscription-Data.

Keys differ per subscriber (derived from the IMSI) so that the server's
per-key Milenage cache sees as many keys as a real HSS would.

Each subscriber also gets an IMS subscription (IMPI IMSI@ims.bench, a SIP
and a tel public identity in one implicit set, the iFC template "bench")
for the Cx kinds (uar, mar, sar).
"""

import hashlib

from twisted.internet import defer

from pyhss.storage.ims_records import IfcTemplate, ImsSubscription, PublicIdentity
from pyhss.storage.records import ApnProfile, Subscriber
from pyhss.storage.records_eir import EquipmentRule
from pyhss.storage.sqlite import SqliteStore
from request_kinds import IMEIS_PER_TAC, TAC_RULE_PREFIX, bench_imei

BENCH_APN = "internet"
BATCH = 10000
IMS_DOMAIN = "ims.bench"
BENCH_IFC = IfcTemplate("bench", (
    "<InitialFilterCriteriaSet><InitialFilterCriteria><Priority>0</Priority><TriggerPoint>"
    "<ConditionTypeCNF>0</ConditionTypeCNF><SPT><Group>0</Group><Method>INVITE</Method></SPT></TriggerPoint>"
    "<ApplicationServer><ServerName>sip:as.ims.bench</ServerName><DefaultHandling>0</DefaultHandling>"
    "</ApplicationServer></InitialFilterCriteria></InitialFilterCriteriaSet>"))


def bench_ims_subscription(imsi, index):
    return ImsSubscription("%s@%s" % (imsi, IMS_DOMAIN), imsi, (
        PublicIdentity("sip:%s@%s" % (imsi, IMS_DOMAIN)),
        PublicIdentity("tel:+1555%07d" % (index % 10 ** 7,))), ifc=BENCH_IFC.name)


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
        if (yield store.get_ifc_template(BENCH_IFC.name)) is None:
            yield store.add_ifc_template(BENCH_IFC)
        # A server store answers each call within its query timeout: a
        # window of calls in flight, not a whole batch queued at once.
        ims = yield _add_ims(store, start, width, count, BATCH if database is None else 50)
        if log is not None:
            log("provisioned %d IMS subscriptions (%d new), domain %s" % (count, ims, IMS_DOMAIN))
        if log is not None:
            log("provisioned %d subscribers (%d new) from %s, APN %s, in %s"
                % (count, added, imsi_first, BENCH_APN, path))
        return added
    finally:
        yield store.close()


@defer.inlineCallbacks
def _add_ims(store, start, width, count, window):
    """The IMS subscriptions missing, added ``window`` at a time (the SQLite
    worker commits each batch's writes together)."""
    from pyhss.storage.errors import DuplicateError
    added = 0
    for offset in range(0, count, window):
        calls = []
        for index in range(offset, min(count, offset + window)):
            subscription = bench_ims_subscription("%0*d" % (width, start + index), index)
            calls.append(store.add_ims_subscription(subscription))
        results = yield defer.DeferredList(calls, consumeErrors=True)
        for ok, value in results:
            if ok:
                added += 1
            else:
                value.trap(DuplicateError)
    return added
def bench_rules(count, imsi_first, subscribers):
    """The bench EIR: C{count} IMEI rules (statuses in turn, every tenth
    bound to a subscriber's IMSI) and the TAC rules covering C{count}
    more IMEIs (request_kinds.bench_imei)."""
    width = len(imsi_first)
    for index in range(count):
        imsi = None
        if index % 10 == 0:
            imsi = "%0*d" % (width, int(imsi_first) + index % subscribers)
        yield EquipmentRule(bench_imei(index, count), index % 3, imsi=imsi)
    for tac in range((count + IMEIS_PER_TAC - 1) // IMEIS_PER_TAC):
        yield EquipmentRule("%s%06d" % (TAC_RULE_PREFIX, tac), tac % 3)


@defer.inlineCallbacks
def provision_eir(reactor, path, count, imsi_first, subscribers, log=None):
    """
    Store the bench EIR's rules (L{bench_rules}) in the SQLite file at
    C{path}, replacing rules with the same keys.  Fires with the number of
    rules stored.
    """
    store = SqliteStore(path, reactor)
    try:
        yield store.opened
        stored = 0
        batch = []
        for rule in bench_rules(count, imsi_first, subscribers):
            batch.append(store.add_equipment_rule(rule, replace=True))
            if len(batch) == BATCH:
                # Queued together: the store's worker commits them as one.
                stored += len((yield defer.gatherResults(batch, consumeErrors=True)))
                batch = []
        stored += len((yield defer.gatherResults(batch, consumeErrors=True)))
        if log is not None:
            log("provisioned %d EIR rules (%d IMEIs, the rest TACs) in %s"
                % (stored, count, path))
        return stored
    finally:
        yield store.close()
