"""The REST API's resources: what is provisioned on this HSS, declared.

Each :class:`~pyhss.api.rest.Collection` names its path, its record's
shape (:mod:`pyhss.provisioning`, over the field rules) and the handlers
of what it supports; the router, the validation, the errors and the
OpenAPI document come from these declarations.

IMS subscriptions and iFC templates (Cx) take their shapes and operations
from :mod:`pyhss.provisioning_ims` (as ``pyhss-admin ims/ifc`` does: a
change to what a registered user's S-CSCF is given sends PPR, the
``deregister`` action RTR), EIR rules and the check history (S13) from
:mod:`pyhss.provisioning_eir` (as ``pyhss-admin eir``).
"""

import time

from pyhss.api.rest import Action, Collection, Filter, View
from pyhss.provisioning import APN, SERVING_NODE, SUBSCRIBER, InvalidInput
from pyhss.provisioning_eir import (
    EQUIPMENT_CHECK, EQUIPMENT_RULE, HISTORY_IMEI, HISTORY_IMSI, HISTORY_SINCE, EirProvisioning,
)
from pyhss.provisioning_ims import IFC_TEMPLATE, IMS_REGISTRATION, IMS_SUBSCRIPTION, ImsProvisioning
from pyhss.storage import rules
from pyhss.storage.ims_records import normalise_impu
from pyhss.storage.interface import SubscriberQuery

# What telling the server about a change came to (an IDR, a CLR).
OUTCOME_SCHEMA = {
    "type": "object",
    "description": "what the HSS did towards the serving MME",
    "properties": {
        "sent": {"type": "boolean", "description": "a request went out"},
        "mme": {"type": ["string", "null"], "description": "the serving MME"},
        "result_code": {"type": ["integer", "null"], "description": "the answer's (Experimental-)Result-Code"},
        "reason": {"type": ["string", "null"],
                   "description": "why nothing was sent or no answer came: no-serving-mme, purged, "
                                  "not-connected, no-answer, not-needed, server-unreachable, timeout, "
                                  "server-error"},
        "message": {"type": "string"},
    },
    "required": ["sent", "message"],
}


# --- subscribers ------------------------------------------------------------------------

def list_subscribers(call, offset, limit, after=None, msisdn=None, imsi_prefix=None, apn=None, enabled=None):
    query = SubscriberQuery(msisdn=msisdn, imsi_prefix=imsi_prefix, apn=apn, enabled=enabled, after=after)
    return call.provisioning.list_subscribers(query, offset, limit)


def get_subscriber(call):
    return call.provisioning.get_subscriber(call.key)


def create_subscriber(call, values):
    return call.provisioning.add_subscriber(values).addCallback(lambda found: found[0])


def change_subscriber(call, values):
    return call.provisioning.update_subscriber(call.key, values).addCallback(
        lambda found: (found[0], {"idr": found[1]}))


def delete_subscriber(call):
    return call.provisioning.delete_subscriber(call.key)


def cancel_subscriber(call):
    return call.provisioning.cancel(call.key)


def serving_node(call):
    return call.provisioning.serving_node(call.key)


SUBSCRIBERS = Collection(
    "subscribers", "/subscribers", SUBSCRIBER,
    summary="subscribers: identity, keys (write-only), profile and APNs",
    list=list_subscribers, get=get_subscriber, create=create_subscriber, replace=change_subscriber,
    update=change_subscriber, delete=delete_subscriber,
    filters=(
        Filter("msisdn", SUBSCRIBER.rules["msisdn"], "subscribers with this MSISDN"),
        Filter("imsi_prefix", rules.Digits("imsi_prefix", "imsi_prefix", 1, 15), "IMSIs starting with these digits"),
        Filter("apn", rules.APN_NAME, "subscribers listing this APN"),
        Filter("enabled", SUBSCRIBER.rules["enabled"], "enabled (true) or disabled (false) subscribers"),
        Filter("after", SUBSCRIBER.rules["imsi"], "IMSIs after this one (the last of the previous page)"),
    ),
    actions=(
        Action("cancel", cancel_subscriber, "have the HSS send CLR (subscription withdrawal) to the serving MME",
               OUTCOME_SCHEMA,
               "Done when the MME accepted the CLR or no MME holds the UE; 502 with the outcome when the "
               "MME is not connected, refused it or did not answer."),
    ),
    views=(View("serving", SERVING_NODE, serving_node, "the serving MME (read-only: set by ULR, PUR)"),),
    notes_schema={"idr": OUTCOME_SCHEMA},
    key_pattern=r"[0-9]+",
)


# --- APN profiles -----------------------------------------------------------------------

def list_apns(call, offset, limit):
    def page(profiles):
        return profiles[offset:offset + limit], len(profiles)
    return call.provisioning.list_apns().addCallback(page)


def get_apn(call):
    return call.provisioning.get_apn(call.key)


def create_apn(call, values):
    return call.provisioning.add_apn(values).addCallback(lambda found: found[0])


def change_apn(call, values):
    return call.provisioning.update_apn(call.key, values).addCallback(lambda profile: (profile, {}))


def delete_apn(call):
    return call.provisioning.delete_apn(call.key)


APNS = Collection(
    "apns", "/apns", APN,
    summary="APN profiles: QoS, AMBR and PDN type of each APN subscribers may list",
    list=list_apns, get=get_apn, create=create_apn, replace=change_apn, update=change_apn, delete=delete_apn,
)


# --- IMS subscriptions and iFC templates (Cx) ------------------------------------------

def _ims(call):
    return ImsProvisioning(call.provisioning.store, call.provisioning.server)


# What telling the S-CSCF came to (a PPR, an RTR).
CX_OUTCOME_SCHEMA = {
    "type": "object",
    "description": "what the HSS did towards the assigned S-CSCF",
    "properties": {
        "sent": {"type": "boolean", "description": "a request went out"},
        "scscf": {"type": ["string", "null"], "description": "the S-CSCF's Diameter host"},
        "result_code": {"type": ["integer", "null"], "description": "the answer's (Experimental-)Result-Code"},
        "reason": {"type": ["string", "null"],
                   "description": "why nothing was sent or no answer came: not-registered, not-connected, "
                                  "no-answer, not-needed, server-unreachable, timeout, server-error"},
        "identities": {"type": "array", "items": {"type": "string"},
                       "description": "the public identities concerned"},
        "message": {"type": "string"},
    },
    "required": ["sent", "message"],
}


def list_ims(call, offset, limit):
    return _ims(call).list_subscriptions(offset, limit)


def get_ims(call):
    return _ims(call).get_subscription(call.key)


def create_ims(call, values):
    return _ims(call).add_subscription(values).addCallback(lambda found: found[0])


def change_ims(call, values):
    return _ims(call).update_subscription(call.key, values).addCallback(
        lambda found: (found[0], {"ppr": found[1]}))


def delete_ims(call):
    return _ims(call).delete_subscription(call.key)


def ims_registration(call):
    return _ims(call).registration(call.key)


def deregister_ims(call, impu=None, reason=None):
    """RTR for every identity of the IMPI, or for ``impu``'s implicit set."""
    provisioning = _ims(call)
    if impu is None:
        return provisioning.deregister(call.key, reason)

    def check(subscription):
        if subscription.identity(impu) is None:
            raise InvalidInput([("impu", f"is not a public identity of {subscription.impi}")])
        return provisioning.deregister(impu, reason)
    return provisioning.get_subscription(call.key).addCallback(check)


IMS_SUBSCRIPTIONS = Collection(
    "ims_subscriptions", "/ims/subscriptions", IMS_SUBSCRIPTION,
    summary="IMS subscriptions (Cx): private identity, public identities, iFC, SIP Digest password "
            "(write-only)",
    list=list_ims, get=get_ims, create=create_ims, replace=change_ims, update=change_ims, delete=delete_ims,
    actions=(
        Action("deregister", deregister_ims,
               "have the HSS send RTR (PERMANENT_TERMINATION) to the assigned S-CSCF", CX_OUTCOME_SCHEMA,
               "Every public identity of the subscription, or with impu that identity's implicit registration "
               "set. Done when the S-CSCF answered 2001 or nothing was registered; 502 with the outcome when "
               "the S-CSCF is not connected, refused it or did not answer.",
               parameters=(
                   Filter("impu", rules.Checked("impu", "public identity", normalise_impu,
                                                {"type": "string", "maxLength": 255}),
                          "deregister only this public identity's implicit registration set"),
                   Filter("reason", rules.Text("reason", "reason", max_length=255, printable=True),
                          "Reason-Info of the Deregistration-Reason (shown to the user)"),
               )),
    ),
    views=(View("registration", IMS_REGISTRATION, ims_registration,
                "the Cx registration: assigned S-CSCF, each registered identity (read-only: set by SAR, MAR, RTR)"),),
    notes_schema={"ppr": CX_OUTCOME_SCHEMA},
)


def list_ifc(call, offset, limit):
    return _ims(call).list_templates().addCallback(lambda found: (found[offset:offset + limit], len(found)))


def get_ifc(call):
    return _ims(call).get_template(call.key)


def create_ifc(call, values):
    return _ims(call).add_template(values["name"], values["xml"])


def change_ifc(call, values):
    if "xml" not in values:
        raise InvalidInput([("xml", "is required")])

    def replaced(found):
        template, users, pushed = found
        return template, {"users": list(users), "ppr": pushed}
    return _ims(call).replace_template(call.key, values["xml"]).addCallback(replaced)


def delete_ifc(call):
    return _ims(call).delete_template(call.key)


IFC_TEMPLATES = Collection(
    "ifc_templates", "/ims/ifc-templates", IFC_TEMPLATE,
    summary="initial filter criteria templates (XML) IMS subscriptions name",
    list=list_ifc, get=get_ifc, create=create_ifc, replace=change_ifc, update=change_ifc, delete=delete_ifc,
    notes_schema={"users": {"type": "array", "items": {"type": "string"},
                            "description": "the IMS subscriptions using the template"},
                  "ppr": {"type": "array", "items": CX_OUTCOME_SCHEMA,
                          "description": "the PPR to each registered user's S-CSCF (with its impi)"}},
)


# --- EIR rules and check history (S13) -------------------------------------------------

def _eir(call):
    return EirProvisioning(call.provisioning.store, time.time)


def list_eir(call, offset, limit):
    return _eir(call).list_rules(offset, limit)


def get_eir(call):
    return _eir(call).get_rule(call.key)


def create_eir(call, values):
    return _eir(call).add_rule(values)


def replace_eir(call, values):
    return _eir(call).replace_rule(call.key, values).addCallback(lambda rule: (rule, {}))


def delete_eir(call):
    return _eir(call).delete_rule(call.key)


EIR_RULES = Collection(
    "eir_rules", "/eir/rules", EQUIPMENT_RULE,
    summary="EIR rules (S13): the Equipment-Status of an IMEI or of every IMEI of a TAC; read at every ECR",
    list=list_eir, get=get_eir, create=create_eir, replace=replace_eir, delete=delete_eir,
)


def list_checks(call, offset, limit, imei=None, imsi=None, since=None):
    return _eir(call).history_page(offset, limit, imei, imsi, since)


EIR_CHECKS = Collection(
    "eir_checks", "/eir/checks", EQUIPMENT_CHECK,
    summary="the EIR's check history, read-only: the newest checks (before the newest offset ones), oldest "
            "first; the server writes it in batches (s13.history.flush_interval)",
    list=list_checks,
    filters=(
        Filter("imei", HISTORY_IMEI, HISTORY_IMEI.doc),
        Filter("imsi", HISTORY_IMSI, HISTORY_IMSI.doc),
        Filter("since", HISTORY_SINCE, HISTORY_SINCE.doc),
    ),
)

COLLECTIONS = (SUBSCRIBERS, APNS, IMS_SUBSCRIPTIONS, IFC_TEMPLATES, EIR_RULES, EIR_CHECKS)
