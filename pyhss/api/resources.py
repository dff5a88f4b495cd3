"""The REST API's resources: what is provisioned on this HSS, declared.

Each :class:`~pyhss.api.rest.Collection` names its path, its record's
shape (:mod:`pyhss.provisioning`, over the field rules) and the handlers
of what it supports; the router, the validation, the errors and the
OpenAPI document come from these declarations.

Adding IMS subscriptions (Cx) or EIR rules (S13): a Shape for the record
in :mod:`pyhss.provisioning`, the store operations in
``Provisioning``, and one more Collection here (IMS deregistration: an
Action calling the RTR control command, as ``cancel`` calls CLR).
"""

from pyhss.api.rest import Action, Collection, Filter, View
from pyhss.provisioning import APN, SERVING_NODE, SUBSCRIBER
from pyhss.storage import rules
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

COLLECTIONS = (SUBSCRIBERS, APNS)
