"""The attack families, declared once for the simulator (world keys,
``--attack-mix``, label strings) and detection.

A family's ``name`` is also its label string in the simulator's labels
file; messages of no attack are labelled :data:`NORMAL_LABEL`.
``operations`` are the MAP operations (catalogue names) the family's
messages use; ``consequences`` those of them that the attacked network
sends itself as a result of the attack (the HLR's cancelLocation to the
victim's real VLR after a rogue updateLocation), never the attacker.
``fs11`` is derived from the catalogue (:data:`ss7tools.map_catalogue.FS11_CATEGORIES`):
the GSMA FS.11 categories its operations fall in (1: never expected from
the interconnect, 2: only from the subscriber's home network, 3: only from
the network the subscriber visits); empty where FS.11 does not place them.
"""

from .map_catalogue import MAP_BY_NAME

NORMAL_LABEL = "normal"


class AttackFamily:
    __slots__ = ("name", "description", "operations", "consequences", "fs11")

    def __init__(self, name, description, operations, consequences=()):
        self.name, self.description = name, description
        self.operations, self.consequences = tuple(operations), tuple(consequences)
        self.fs11 = tuple(sorted({MAP_BY_NAME[op].fs11 for op in self.operations}
                                 - {None}))

    def __repr__(self):
        return "AttackFamily(%r)" % self.name

    @property
    def attacker_operations(self):
        """The operations an attacker of this family sends."""
        return tuple(op for op in self.operations if op not in self.consequences)


LOCATION_TRACKING = AttackFamily(
    "location_tracking", "where a subscriber is: cell, serving VLR, roaming number",
    ("sendRoutingInfo", "provideRoamingNumber", "sendRoutingInfoForSM",
     "provideSubscriberInfo", "anyTimeInterrogation", "sendRoutingInfoForGprs"),
    ("provideRoamingNumber",))
INTERCEPTION = AttackFamily(
    "interception", "calls or SMS rerouted through the attacker: a rogue VLR "
    "registration, or forwarding to the attacker written into the serving VLR",
    ("updateLocation", "insertSubscriberData", "cancelLocation"), ("cancelLocation",))
FRAUD = AttackFamily(
    "fraud", "call forwarding to the attacker's number set in the HLR",
    ("registerSS", "activateSS", "anyTimeModification"))
DOS = AttackFamily(
    "dos", "a subscriber made unreachable: purged at the HLR or cancelled at its VLR",
    ("purgeMS", "cancelLocation"))
INFO_THEFT = AttackFamily(
    "info_theft", "a subscriber's IMSI or authentication vectors",
    ("sendIMSI", "sendAuthenticationInfo"))
SMS_SPOOFING = AttackFamily(
    "sms_spoofing", "an SMS delivered under a claimed SMSC address",
    ("sendRoutingInfoForSM", "mt-forwardSM"))

ATTACK_FAMILIES = (LOCATION_TRACKING, INTERCEPTION, FRAUD, DOS, INFO_THEFT, SMS_SPOOFING)
BY_NAME = {family.name: family for family in ATTACK_FAMILIES}
#: the family names, in declaration order (the order the simulator starts them)
ATTACK_TYPES = tuple(BY_NAME)
