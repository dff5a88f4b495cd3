"""The default rule set: the GSMA FS.11 category checks for the home network
of a network file, and what follows an attack.  It is rule file text (so
``ss7tools rules`` prints it for a person to read, copy and edit), loaded
through the same loader as any rule file; the category of an operation
comes from the catalogue (:data:`ss7tools.map_catalogue.FS11_CATEGORIES`)
when the rules run, and the comments list each category's operations.
"""

from ..attack_families import ATTACK_FAMILIES
from ..map_catalogue import FS11_CATEGORIES
from .features import REGISTRATIONS
from .rules import parse_rules

#: seconds an attack's consequences and an attacker GT are followed
CONSEQUENCE_WINDOW_S = 30
ATTACKER_GT_WINDOW_S = 3600
#: beyond this speed a subscriber cannot have travelled between countries
IMPLAUSIBLE_SPEED_KMH = 1000
#: requests per minute of one operation from one outside GT that are a flood
FLOOD_PER_MINUTE = 200


def _wrapped(names, indent="  #   "):
    lines, line = [], ""
    for name in names:
        piece = name + ", "
        if len(line) + len(piece) > 76:
            lines.append(indent + line.rstrip())
            line = ""
        line += piece
    lines.append(indent + line.rstrip(", "))
    return "\n".join(lines)


def default_rules_text():
    """The default rule file's text."""
    cat3_other = [op for op in FS11_CATEGORIES[3]
                  if op not in REGISTRATIONS and op != "sendAuthenticationInfo"]
    return """\
# ss7tools default firewall rules: the GSMA FS.11 category checks for the
# home network of the network file (--network), and what follows an attack.
# First match wins; a message no rule matches goes to the model (--model),
# else it is allowed.  `calling: [partner]` is a GT of a roaming partner of
# the network file, `other` any GT outside home and partners.
#
# FS.11 category 1, never expected from the interconnect:
{cat1}
# Category 2, from the subscriber's home network only (to our VLRs, for
# inbound roamers):
{cat2}
# Category 3, from the network the subscriber is in only (to our HLR, for
# outbound roamers; location plausibility):
{cat3}
version: 1
rules:
  - name: attacker-gt-contacted
    action: alert
    family: inherit
    description: our node sends to an outside GT that attacked within the hour (an
      attack's aftermath, such as calls or SMS routed to a rogue VLR)
    when:
      calling: [home]
      called: [partner, other]
      gt_flagged_within: {attacker_window}

  - name: consequence-of-attack
    action: alert
    family: inherit
    description: our node's request about a subscriber attacked in the last {window} s
      (what the attack set off, such as the HLR's cancelLocation or provideRoamingNumber)
    when:
      request: true
      calling: [home]
      operation: [{consequences}]
      subscriber_flagged_within: {window}

  - name: no-agreement
    action: alert
    description: a request from a network that is neither home nor a roaming partner
    when:
      calling: [other]
      request: true

  - name: fs11-cat1-from-interconnect
    action: alert
    description: an FS.11 category 1 operation from the interconnect
    when:
      calling: [partner]
      request: true
      category: [1]

  - name: fs11-cat2-about-home-subscriber
    action: alert
    description: an FS.11 category 2 operation from the interconnect about one of our
      own subscribers (only our HLR sends those)
    when:
      calling: [partner]
      request: true
      category: [2]
      imsi: [home]

  - name: fs11-cat2-not-from-home-network
    action: alert
    description: an FS.11 category 2 operation about an inbound roamer, not from its
      home network
    when:
      calling: [partner]
      request: true
      category: [2]
      calling_is_subscriber_home: false

  - name: fs11-cat3-about-foreign-subscriber
    action: alert
    description: an FS.11 category 3 operation from the interconnect about a subscriber
      that is not ours (our HLR serves only our own)
    when:
      calling: [partner]
      request: true
      category: [3]
      imsi: [partner, other]

  - name: fs11-cat3-implausible-travel
    action: alert
    description: an FS.11 category 3 operation from a country the subscriber cannot
      have reached since it was last seen
    when:
      calling: [partner]
      request: true
      category: [3]
      calling_vs_vlr_country: differs
      travel_speed_kmh: {{gt: {speed}}}

  - name: fs11-cat3-not-serving-network
    action: alert
    description: an FS.11 category 3 operation (not a registration or authentication)
      from another country than the subscriber's VLR's
    when:
      calling: [partner]
      request: true
      operation: [{cat3_other}]
      calling_vs_vlr_country: differs

  - name: sms-smsc-mismatch
    action: alert
    family: sms_spoofing
    description: an SMS routing query or delivery whose SMSC address is not the
      network it comes from
    when:
      calling: [partner]
      request: true
      operation: [sendRoutingInfoForSM, mt-forwardSM]
      smsc_matches_calling: false

  - name: flood
    action: alert
    description: more than {flood} requests of one operation in a minute from one
      outside GT
    when:
      calling: [partner, other]
      request: true
      rate: {{window: 60, above: {flood}}}
""".format(cat1=_wrapped(FS11_CATEGORIES[1]), cat2=_wrapped(FS11_CATEGORIES[2]),
           cat3=_wrapped(FS11_CATEGORIES[3]), cat3_other=", ".join(cat3_other),
           window=CONSEQUENCE_WINDOW_S, consequences=", ".join(sorted(
               {op for family in ATTACK_FAMILIES for op in family.consequences})), attacker_window=ATTACKER_GT_WINDOW_S,
           speed=IMPLAUSIBLE_SPEED_KMH, flood=FLOOD_PER_MINUTE)


def default_rules():
    """The default :class:`~ss7tools.detect.rules.RuleSet`."""
    return parse_rules(default_rules_text(), "<default rules>")
