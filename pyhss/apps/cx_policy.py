"""What the Cx HSS decides by configuration: the visited networks allowed
to register users, how many authentication vectors one MAA carries, the
S-CSCF capabilities the I-CSCF selects by, the charging functions, SIP
Digest's QoP and whether a de-registration keeps the S-CSCF name.

Read once from the ``cx`` section of config.yaml (:class:`CxPolicy.from_config`).
"""

from pyhss.apps.errors import ApplicationConfigError

DEFAULT_MAX_AUTH_ITEMS = 8

# TS 29.229 6.3.9 SIP-Authentication-Scheme values we serve.
AKA_SCHEME = "Digest-AKAv1-MD5"
DIGEST_SCHEME = "SIP Digest"
UNKNOWN_SCHEME = "Unknown"
# What SIP Digest has been called by CSCFs before TS 29.229 named it.
DIGEST_ALIASES = ("SIP Digest", "Digest-MD5", "Digest", "HTTP_DIGEST_MD5", "MD5")


def visited_network(value):
    """Visited-Network-Identifier as text: lower case, without the quotes
    Kamailio's I-CSCF puts around it (``"ims.test"``)."""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return text.strip().strip('"').strip().lower()


class CxPolicy:
    """@param visited_networks: domains whose Visited-Network-Identifier
        may register users (UAR); empty: every network.
    @param max_auth_items: cap on SIP-Number-Auth-Items.
    @param mandatory_capabilities, optional_capabilities, scscf_names: the
        Server-Capabilities answered when the I-CSCF must choose an S-CSCF.
    @param charging: {AVP name: DiameterURI} of Charging-Information, or {}.
    @param keep_server_name: keep the S-CSCF name on the *_STORE_SERVER_NAME
        de-registrations (else answer DIAMETER_SUCCESS_SERVER_NAME_NOT_STORED).
    """

    def __init__(self, visited_networks=(), max_auth_items=DEFAULT_MAX_AUTH_ITEMS, mandatory_capabilities=(),
                 optional_capabilities=(), scscf_names=(), charging=None, keep_server_name=True,
                 digest_qop="auth"):
        if not 1 <= max_auth_items <= 32:
            raise ApplicationConfigError(f"max_auth_items must be 1..32, got {max_auth_items}")
        self.visited_networks = frozenset(visited_network(n) for n in visited_networks)
        self.max_auth_items = max_auth_items
        self.mandatory_capabilities = tuple(mandatory_capabilities)
        self.optional_capabilities = tuple(optional_capabilities)
        self.scscf_names = tuple(scscf_names)
        self.charging = dict(charging or {})
        self.keep_server_name = keep_server_name
        self.digest_qop = digest_qop

    @classmethod
    def from_config(cls, section):
        charging = {}
        for key, avp in (("primary_ccf", "Primary-Charging-Collection-Function-Name"),
                         ("secondary_ccf", "Secondary-Charging-Collection-Function-Name"),
                         ("primary_ecf", "Primary-Event-Charging-Function-Name"),
                         ("secondary_ecf", "Secondary-Event-Charging-Function-Name")):
            value = getattr(section, key)
            if value:
                charging[avp] = value
        return cls(section.visited_networks, section.max_auth_items, section.mandatory_capabilities,
                   section.optional_capabilities, section.scscf_names, charging, section.keep_server_name,
                   section.digest_qop)

    def roaming_allowed(self, value):
        """Whether a UAR from Visited-Network-Identifier ``value`` (None:
        absent) may register (TS 29.228 6.1.1.1 step 4)."""
        if not self.visited_networks or value is None:
            return True
        return visited_network(value) in self.visited_networks

    def auth_items(self, requested):
        """SIP-Number-Auth-Items honoured: 1..max_auth_items."""
        return max(1, min(requested or 1, self.max_auth_items))

    def server_capabilities(self):
        """Server-Capabilities' grouped value."""
        return ([("Mandatory-Capability", c) for c in self.mandatory_capabilities]
                + [("Optional-Capability", c) for c in self.optional_capabilities]
                + [("Server-Name", name) for name in self.scscf_names])

    def charging_information(self):
        """Charging-Information's grouped value, or None when none is configured."""
        return list(self.charging.items()) or None
