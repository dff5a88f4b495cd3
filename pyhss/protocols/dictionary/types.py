"""Building blocks of the Diameter dictionary: AVP types, AVP and command
definitions.  Plain data; the codec derives its tables from them."""

import enum


class AvpType(enum.IntEnum):
    """RFC 6733 section 4.2 (basic) and 4.3 (derived) AVP data formats."""

    OctetString = 1
    Integer32 = 2
    Integer64 = 3
    Unsigned32 = 4
    Unsigned64 = 5
    Float32 = 6
    Float64 = 7
    Grouped = 8
    Address = 9
    Time = 10
    UTF8String = 11
    DiameterIdentity = 12
    DiameterURI = 13
    Enumerated = 14


class AvpDef(object):
    """One AVP of the dictionary.

    ``mandatory`` is whether we set the M bit when sending it (the "must"
    column of the spec's flag table); ``enum`` maps the values of an
    Enumerated AVP (and of Unsigned32 AVPs with named values) to names;
    ``required`` names the fixed and required ``{ }`` children of a Grouped
    AVP per its ABNF.
    """

    __slots__ = ('code', 'vendor_id', 'name', 'type', 'mandatory',
                 'may_encrypt', 'enum', 'enum_by_name', 'flags', 'required')

    def __init__(self, code, vendor_id, name, type, mandatory=True,
                 may_encrypt=False, enum=None, required=()):
        self.code = code
        self.vendor_id = vendor_id
        self.name = name
        self.type = AvpType(type)
        self.mandatory = bool(mandatory)
        self.may_encrypt = bool(may_encrypt)
        self.enum = dict(enum) if enum else None
        self.enum_by_name = (dict((v, k) for k, v in enum.items())
                             if enum else None)
        # The flags we send: V when vendor specific, M when mandatory.
        self.flags = (0x80 if vendor_id else 0) | (0x40 if mandatory else 0)
        self.required = tuple(required)
        if self.required and self.type != AvpType.Grouped:
            raise ValueError('%s: only Grouped AVPs have children' % name)

    def __repr__(self):
        return 'AvpDef(%d, %d, %r, AvpType.%s, mandatory=%r)' % (
            self.code, self.vendor_id, self.name, self.type.name,
            self.mandatory)


class CommandDef(object):
    """One command (request and answer) of an application.

    ``request_required``/``answer_required`` list the fixed ``< >`` and
    required ``{ }`` AVPs of the spec's ABNF, by AVP name.
    """

    __slots__ = ('code', 'application_id', 'name', 'request_abbrev',
                 'answer_abbrev', 'proxiable', 'request_required',
                 'answer_required')

    def __init__(self, code, application_id, name, request_abbrev,
                 answer_abbrev, proxiable, request_required=(),
                 answer_required=()):
        self.code = code
        self.application_id = application_id
        self.name = name
        self.request_abbrev = request_abbrev
        self.answer_abbrev = answer_abbrev
        self.proxiable = bool(proxiable)
        self.request_required = tuple(request_required)
        self.answer_required = tuple(answer_required)

    @property
    def request_name(self):
        return self.name + '-Request'

    @property
    def answer_name(self):
        return self.name + '-Answer'

    def __repr__(self):
        return 'CommandDef(%d, %d, %r)' % (self.code, self.application_id,
                                           self.name)
