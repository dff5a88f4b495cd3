"""The attack families, declared once for the simulator (world keys,
``--attack-mix``, label strings) and detection.

A family's ``name`` is also its label string in the simulator's labels
file; messages of no attack are labelled :data:`NORMAL_LABEL`.
``operations`` are the MAP operations (catalogue names) the family's
messages use.  ``fs11``: the GSMA FS.11 categories its operations fall in
(1: never expected from the interconnect, 2: only from the subscriber's
home network, 3: only from the network the subscriber visits); empty where
FS.11 does not place them.
"""

NORMAL_LABEL = "normal"


class AttackFamily:
    __slots__ = ("name", "description", "operations", "fs11")

    def __init__(self, name, description, operations, fs11=()):
        self.name, self.description = name, description
        self.operations, self.fs11 = tuple(operations), tuple(fs11)

    def __repr__(self):
        return "AttackFamily(%r)" % self.name


LOCATION_TRACKING = AttackFamily(
    "location_tracking", "where a subscriber is: cell, serving VLR, roaming number",
    ("sendRoutingInfo", "provideRoamingNumber", "sendRoutingInfoForSM",
     "provideSubscriberInfo", "anyTimeInterrogation", "sendRoutingInfoForGprs"), (1, 2))
INTERCEPTION = AttackFamily(
    "interception", "calls or SMS rerouted through the attacker: a rogue VLR "
    "registration, or forwarding to the attacker written into the serving VLR",
    ("updateLocation", "insertSubscriberData", "cancelLocation"), (2, 3))
FRAUD = AttackFamily(
    "fraud", "call forwarding to the attacker's number set in the HLR",
    ("registerSS", "activateSS", "anyTimeModification"), (1, 3))
DOS = AttackFamily(
    "dos", "a subscriber made unreachable: purged at the HLR or cancelled at its VLR",
    ("purgeMS", "cancelLocation"), (2, 3))
INFO_THEFT = AttackFamily(
    "info_theft", "a subscriber's IMSI or authentication vectors",
    ("sendIMSI", "sendAuthenticationInfo"), (1, 3))
SMS_SPOOFING = AttackFamily(
    "sms_spoofing", "an SMS delivered under a claimed SMSC address",
    ("sendRoutingInfoForSM", "mt-forwardSM"))

ATTACK_FAMILIES = (LOCATION_TRACKING, INTERCEPTION, FRAUD, DOS, INFO_THEFT, SMS_SPOOFING)
BY_NAME = {family.name: family for family in ATTACK_FAMILIES}
#: the family names, in declaration order (the order the simulator starts them)
ATTACK_TYPES = tuple(BY_NAME)
