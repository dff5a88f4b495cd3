"""
The request kinds of bench/diameter_load.py, as a table: REQUEST_KINDS maps
the --request name to a L{RequestKind}.  A kind builds its request with the
codec once per variant; L{RequestTemplate} then patches the identifiers (and
a Session-Id counter) of the encoded bytes per send.
"""

import collections
import os
import random
import struct

from pyhss.protocols import dictionary
from pyhss.protocols.codec import Message

APP_BASE = dictionary.APP_BASE
CMD_DWR = dictionary.CMD_DWR

_IDS = struct.Struct("!II")              # hop-by-hop, end-to-end at 12


class RequestKind(object):
    """
    A kind of request the load client can send.

    C{build(sequence)} returns a codec L{Message} (its hop-by-hop and
    end-to-end identifiers are overwritten per send).  C{variants} distinct
    sequence numbers are built up front and cycled through.  A kind that
    carries a Session-Id must include L{RequestKind.session_id} so the client
    can make each send's Session-Id unique by patching its counter digits.
    """

    name = None
    application_id = APP_BASE
    variants = 1
    # Applications announced in our CER, as (vendor_id, auth_application_id);
    # vendor_id 0 announces a plain Auth-Application-Id.
    cer_applications = ()

    # Width of the counter that is patched into Session-Ids.
    SESSION_COUNTER_DIGITS = 12

    def __init__(self, options, origin_host, origin_realm):
        self.options = options
        self.origin_host = origin_host
        self.origin_realm = origin_realm

    def session_id(self, sequence):
        return "%s;%d;%0*d" % (self.origin_host, os.getpid() & 0xFFFFFFFF,
                               self.SESSION_COUNTER_DIGITS, sequence)

    def build(self, sequence):
        raise NotImplementedError()


class DeviceWatchdogKind(RequestKind):
    """DWR: the cheapest request, answered by the base protocol layer."""

    name = "dwr"
    application_id = APP_BASE
    cer_applications = (
        (dictionary.VENDOR_3GPP, dictionary.APP_S6A),
        (dictionary.VENDOR_3GPP, dictionary.APP_CX),
        (dictionary.VENDOR_3GPP, dictionary.APP_S13),
        # Relay (RFC 6733 5.3) shares every application, so a server that
        # serves none of the above yet still accepts the CER.
        (0, dictionary.APP_RELAY),
    )

    def build(self, sequence):
        return Message.request(APP_BASE, CMD_DWR, proxiable=False).add(
            "Origin-Host", self.origin_host).add(
            "Origin-Realm", self.origin_realm)


# --- S6a (TS 29.272) ---------------------------------------------------------------

DEFAULT_IMSI_FIRST = "001010000000000"
DEFAULT_SUBSCRIBERS = 100000
DEFAULT_VARIANTS = 100000
DEFAULT_MCC, DEFAULT_MNC = "001", "01"

# TS 29.272 7.3.7 ULR-Flags bit 1: S6a/S6d-Indicator (set: the request is
# from an MME, i.e. S6a).
ULR_S6A_S6D_INDICATOR = 1 << 1
RAT_TYPE_EUTRAN = 1004


def imsi_range(first, count):
    """The C{count} IMSIs from C{first} up, as a (start int, width, count)."""
    if not first.isdigit() or len(first) not in (14, 15):
        raise ValueError("--imsi-first must be 14 or 15 digits, got %r"
                         % (first,))
    if count < 1 or int(first) + count > 10 ** len(first):
        raise ValueError("%d IMSIs from %s do not fit %d digits"
                         % (count, first, len(first)))
    return int(first), len(first), count


def nth_imsi(first, index):
    return "%0*d" % (len(first), int(first) + index)


class S6aKind(RequestKind):
    """
    An S6a request for an IMSI drawn at random (seeded by --seed) among
    the --subscribers provisioned from --imsi-first, from the MME named by
    --origin-host in the server's own PLMN (--mcc/--mnc; Visited-PLMN-Id
    equal to the home PLMN, so roaming rules never refuse it).

    One variant per draw (--variants draws, with replacement): each is
    built with the codec before the run, and the load client cycles
    through them.
    """

    application_id = dictionary.APP_S6A
    command_code = None
    cer_applications = ((dictionary.VENDOR_3GPP, dictionary.APP_S6A),)

    def __init__(self, options, origin_host, origin_realm):
        RequestKind.__init__(self, options, origin_host, origin_realm)
        # Imported here: the DWR kind needs nothing from pyhss.auc.
        from pyhss.auc.kdf import encode_plmn_id
        self.imsi_first = getattr(options, "imsi_first", None) \
            or DEFAULT_IMSI_FIRST
        self.subscribers = getattr(options, "subscribers", None) \
            or DEFAULT_SUBSCRIBERS
        imsi_range(self.imsi_first, self.subscribers)
        self.seed = getattr(options, "seed", None)
        self.seed = 1 if self.seed is None else self.seed
        self.variants = getattr(options, "variants", None) or DEFAULT_VARIANTS
        mcc = getattr(options, "mcc", None) or DEFAULT_MCC
        mnc = getattr(options, "mnc", None) or DEFAULT_MNC
        self.visited_plmn_id = encode_plmn_id(mcc, mnc)
        self.destination_realm = (
            getattr(options, "destination_realm", None)
            or "epc.mnc%03d.mcc%s.3gppnetwork.org" % (int(mnc), mcc))
        draw = random.Random(self.seed).randrange
        self.imsis = [nth_imsi(self.imsi_first, draw(self.subscribers))
                      for _ in range(self.variants)]

    def common_avps(self, sequence):
        return [
            ("Session-Id", self.session_id(sequence)),
            ("Auth-Session-State", 1),          # NO_STATE_MAINTAINED
            ("Origin-Host", self.origin_host),
            ("Origin-Realm", self.origin_realm),
            ("Destination-Realm", self.destination_realm),
            ("User-Name", self.imsis[sequence]),
        ]

    def build(self, sequence):
        return Message.request(self.application_id, self.command_code,
                               self.common_avps(sequence) + self.avps())

    def avps(self):
        raise NotImplementedError()


class AuthenticationInformationKind(S6aKind):
    """AIR asking for --vectors E-UTRAN vectors (default 1)."""

    name = "air"
    command_code = dictionary.CMD_AIR

    def avps(self):
        vectors = getattr(self.options, "vectors", None) or 1
        return [
            ("Visited-PLMN-Id", self.visited_plmn_id),
            ("Requested-EUTRAN-Authentication-Info", [
                ("Number-Of-Requested-Vectors", vectors),
                ("Immediate-Response-Preferred", 0)]),
        ]


class UpdateLocationKind(S6aKind):
    """ULR over E-UTRAN from an MME (S6a/S6d-Indicator set), subscriber
    data wanted: the ULA carries the whole Subscription-Data."""

    name = "ulr"
    command_code = dictionary.CMD_ULR

    def avps(self):
        return [
            ("RAT-Type", RAT_TYPE_EUTRAN),
            ("ULR-Flags", ULR_S6A_S6D_INDICATOR),
            ("Visited-PLMN-Id", self.visited_plmn_id),
        ]


# --- Cx (TS 29.229) -----------------------------------------------------------------

IMS_DOMAIN = "ims.bench"
BENCH_SCSCF = "sip:scscf.ims.bench:6060"


def ims_identities(imsi):
    """(IMPI, IMPU) of the bench IMS subscription of ``imsi`` (provision.py)."""
    return "%s@%s" % (imsi, IMS_DOMAIN), "sip:%s@%s" % (imsi, IMS_DOMAIN)


class CxKind(S6aKind):
    """A Cx request from a CSCF (--origin-host) for the IMS subscription
    of an IMSI drawn as the S6a kinds draw them (provision.py gives each
    provisioned IMSI one)."""

    application_id = dictionary.APP_CX
    cer_applications = ((dictionary.VENDOR_3GPP, dictionary.APP_CX),)

    def build(self, sequence):
        impi, impu = ims_identities(self.imsis[sequence])
        return Message.request(self.application_id, self.command_code, [
            ("Session-Id", self.session_id(sequence)),
            ("Vendor-Specific-Application-Id", [
                ("Vendor-Id", dictionary.VENDOR_3GPP),
                ("Auth-Application-Id", dictionary.APP_CX)]),
            ("Auth-Session-State", 1),
            ("Origin-Host", self.origin_host),
            ("Origin-Realm", self.origin_realm),
            ("Destination-Realm", self.destination_realm),
        ] + self.avps(impi, impu))


class UserAuthorizationKind(CxKind):
    """UAR (REGISTRATION) from the home network."""

    name = "uar"
    command_code = dictionary.CMD_UAR

    def avps(self, impi, impu):
        return [("User-Name", impi), ("Public-Identity", impu),
                ("Visited-Network-Identifier", IMS_DOMAIN.encode("ascii"))]


class MultimediaAuthKind(CxKind):
    """MAR for one Digest-AKAv1-MD5 vector (the S6a SQN counter moves)."""

    name = "mar"
    command_code = dictionary.CMD_MAR

    def avps(self, impi, impu):
        return [("User-Name", impi), ("Public-Identity", impu),
                ("SIP-Auth-Data-Item", [("SIP-Authentication-Scheme", "Digest-AKAv1-MD5")]),
                ("SIP-Number-Auth-Items", 1), ("Server-Name", BENCH_SCSCF)]


class ServerAssignmentKind(CxKind):
    """SAR REGISTRATION, user data not available: the SAA carries the
    User-Data document (iFC template included)."""

    name = "sar"
    command_code = dictionary.CMD_SAR

    def avps(self, impi, impu):
        return [("User-Name", impi), ("Public-Identity", impu), ("Server-Name", BENCH_SCSCF),
                ("Server-Assignment-Type", 1), ("User-Data-Already-Available", 0)]
# --- S13 (TS 29.272 section 6) -------------------------------------------------------

DEFAULT_EIR_RULES = 100000
# IMEIs of the bench EIR (bench/provision.py): those with a rule of their
# own start with LISTED_TAC_PREFIX, those known by their TAC's rule only with
# TAC_RULE_PREFIX; IMEIS_PER_TAC of either kind share a TAC.
LISTED_TAC_PREFIX = "35"
TAC_RULE_PREFIX = "86"
IMEIS_PER_TAC = 1000


def bench_imei(index, rules):
    """The C{index}-th IMEI of a bench EIR of C{rules} rules: below
    C{rules}, one with a rule of its own; from C{rules} on (up to twice
    that), one covered by a TAC rule only.  14 digits."""
    prefix = LISTED_TAC_PREFIX
    if index >= rules:
        prefix, index = TAC_RULE_PREFIX, index - rules
    return "%s%06d%06d" % (prefix, index // IMEIS_PER_TAC,
                           index % IMEIS_PER_TAC)


class EquipmentCheckKind(S6aKind):
    """
    ECR (S13) for an IMEI drawn at random among the 2 x --eir-rules IMEIs
    of the bench EIR (half with a rule of their own, some of those bound
    to an IMSI; half known by their TAC), with Software-Version and the
    User-Name of a random subscriber: every answer is 2001 with an
    Equipment-Status when the server was provisioned with --eir-rules.
    """

    name = "ecr"
    application_id = dictionary.APP_S13
    command_code = dictionary.CMD_ECR
    cer_applications = ((dictionary.VENDOR_3GPP, dictionary.APP_S13),)

    def __init__(self, options, origin_host, origin_realm):
        S6aKind.__init__(self, options, origin_host, origin_realm)
        rules = getattr(options, "eir_rules", None) or DEFAULT_EIR_RULES
        draw = random.Random(self.seed + 1).randrange
        self.imeis = [bench_imei(draw(2 * rules), rules)
                      for _ in range(self.variants)]

    def build(self, sequence):
        avps = self.common_avps(sequence)
        avps.insert(len(avps) - 1, ("Terminal-Information", [
            ("IMEI", self.imeis[sequence]),
            ("Software-Version", "%02d" % (sequence % 100,))]))
        return Message.request(self.application_id, self.command_code, avps)


REQUEST_KINDS = collections.OrderedDict(
    (kind.name, kind) for kind in (
        DeviceWatchdogKind, AuthenticationInformationKind,
        UpdateLocationKind, UserAuthorizationKind, MultimediaAuthKind,
        ServerAssignmentKind, EquipmentCheckKind))


class RequestTemplate(object):
    """
    One encoded request with the places that change per send: the
    hop-by-hop/end-to-end identifiers, and optionally the Session-Id counter.
    """

    __slots__ = ("buffer", "session_offset", "session_digits")

    def __init__(self, encoded, session_id=None, digits=0):
        self.buffer = bytearray(encoded)
        self.session_offset = None
        self.session_digits = digits
        if session_id is not None:
            marker = session_id.encode("utf-8")
            start = bytes(self.buffer).find(marker)
            if start < 0:
                raise ValueError("Session-Id not found in encoded request")
            self.session_offset = start + len(marker) - digits

    def render(self, hop_by_hop, end_to_end, session_counter):
        buffer = self.buffer
        _IDS.pack_into(buffer, 12, hop_by_hop, end_to_end)
        if self.session_offset is not None:
            digits = self.session_digits
            buffer[self.session_offset:self.session_offset + digits] = (
                b"%0*d" % (digits, session_counter % (10 ** digits)))
        return bytes(buffer)


def build_templates(kind):
    templates = []
    for sequence in range(kind.variants):
        message = kind.build(sequence)
        session = message.get("Session-Id")
        templates.append(RequestTemplate(
            message.encode(), session,
            kind.SESSION_COUNTER_DIGITS if session is not None else 0))
    return templates


def add_kind_arguments(parser):
    """The options of the S6a kinds (and of --provision)."""
    group = parser.add_argument_group("S6a and Cx kinds (air, ulr; uar, mar, sar)")
    group.add_argument("--imsi-first", default=DEFAULT_IMSI_FIRST,
                       metavar="IMSI",
                       help="first provisioned IMSI (default %s)"
                            % (DEFAULT_IMSI_FIRST,))
    group.add_argument("--subscribers", type=int, metavar="N",
                       help="requests name random IMSIs among the N from"
                            " --imsi-first (default: --provision's N, else"
                            " %d)" % (DEFAULT_SUBSCRIBERS,))
    group.add_argument("--seed", type=int, default=1,
                       help="seed of the random IMSI draws (default 1)")
    group.add_argument("--variants", type=int, default=DEFAULT_VARIANTS,
                       metavar="V",
                       help="distinct requests (random draws) built before"
                            " the run and cycled through (default %d)"
                            % (DEFAULT_VARIANTS,))
    group.add_argument("--vectors", type=int, default=1,
                       help="Number-Of-Requested-Vectors in each AIR"
                            " (default 1)")
    group.add_argument("--mcc", help="the server's MCC, for Visited-PLMN-Id"
                                     " (default: --config's hss.MCC)")
    group.add_argument("--mnc", help="the server's MNC (default: --config's"
                                     " hss.MNC)")
    group.add_argument("--destination-realm",
                       help="Destination-Realm (default: --config's"
                            " hss.OriginRealm)")
    group.add_argument("--provision", type=int, metavar="N",
                       help="with --spawn-server: store N subscribers from"
                            " --imsi-first (and the APN 'internet') in the"
                            " server's SQLite file before starting it")
    group = parser.add_argument_group("S13 kind (ecr)")
    group.add_argument("--eir-rules", type=int, metavar="N",
                       help="the bench EIR's size: ECRs name IMEIs among 2N"
                            " (N with a rule each, N covered by TAC rules);"
                            " with --spawn-server, store those rules in the"
                            " server's SQLite file before starting it"
                            " (default %d, stored only when given)"
                            % (DEFAULT_EIR_RULES,))


def check_kind_arguments(parser, options):
    if options.subscribers is None:
        options.subscribers = options.provision or DEFAULT_SUBSCRIBERS
    for name in ("subscribers", "variants", "vectors"):
        if getattr(options, name) < 1:
            parser.error("--%s must be at least 1" % (name,))
    if options.eir_rules is not None:
        if not 1 <= options.eir_rules <= 10 ** 9:
            parser.error("--eir-rules must be between 1 and 1000000000")
        if not options.spawn_server:
            parser.error("--eir-rules needs --spawn-server")
    if options.provision is not None:
        if options.provision < 1:
            parser.error("--provision must be at least 1")
        if not options.spawn_server:
            parser.error("--provision needs --spawn-server")
        if options.subscribers > options.provision:
            parser.error("--subscribers %d is more than --provision %d"
                         % (options.subscribers, options.provision))
    try:
        imsi_range(options.imsi_first, max(options.subscribers,
                                           options.provision or 0))
    except ValueError as e:
        parser.error(str(e))


def server_identity(options):
    """
    Fill --mcc, --mnc and --destination-realm that were not given from
    --config's hss section (when it can be read), else the defaults.
    """
    hss = {}
    path = getattr(options, "config", None)
    if path and os.path.exists(path):
        import yaml
        with open(path) as handle:
            hss = (yaml.safe_load(handle) or {}).get("hss") or {}
    if options.mcc is None:
        options.mcc = str(hss.get("MCC", DEFAULT_MCC))
    if options.mnc is None:
        options.mnc = str(hss.get("MNC", DEFAULT_MNC))
    if options.destination_realm is None and hss.get("OriginRealm"):
        options.destination_realm = hss["OriginRealm"]
