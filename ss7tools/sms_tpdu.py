"""Short message TPDUs (3GPP TS 23.040 9.2), as MAP carries them in the
SM-RP-UI of forwardSM / mt-forwardSM / mo-forwardSM: the protocol
identifier (TP-PID, 9.2.3.9) and data coding scheme (TP-DCS, TS 23.038
4), read with every length checked against the TPDU.

What the rows keep of a short message is those two octets: a TP-PID of
0x40 is a "short message type 0" (a silent SMS: the phone acknowledges it
and shows nothing), the DCS's message class 0 a flash SMS.  A TPDU whose
parts do not fit raises :class:`~ss7tools.errors.TpduError`.
"""

from .errors import TpduError

#: TP-PID of a "short message type 0" (TS 23.040 9.2.3.9): a silent SMS
SHORT_MESSAGE_TYPE_0 = 0x40
#: the TP-Address-Length limit: 12 octets with the length and type octets
MAX_ADDRESS_DIGITS = 20
#: TP-User-Data at most 140 octets (160 septets of the 7-bit alphabet)
MAX_USER_DATA_OCTETS = 140
#: TP-VP length by TP-VPF (bits 4-3 of an SMS-SUBMIT's first octet)
_VALIDITY_PERIOD = (0, 7, 1, 7)


def seven_bit(dcs):
    """Whether TP-UDL counts septets (GSM 7-bit default alphabet,
    uncompressed) for this TP-DCS (TS 23.038 4; reserved groups read as
    the default alphabet, as the specification says to)."""
    group = dcs >> 4
    if group <= 0x7:                   # general data coding (and auto-deletion)
        return not dcs & 0x20 and (dcs >> 2) & 0x3 in (0, 3)
    if group == 0xE:                   # message waiting, UCS2
        return False
    if group == 0xF:                   # data coding / message class
        return not dcs & 0x04
    return True


def message_class(dcs):
    """The message class (0 flash .. 3) a TP-DCS gives, or None."""
    if dcs is None:
        return None
    group = dcs >> 4
    if (group <= 0x7 and dcs & 0x10) or group == 0xF:
        return dcs & 0x3
    return None


def _address_end(tpdu, pos, name):
    """Where the TP address at ``pos`` (length in digits, type, digits) ends."""
    if pos + 2 > len(tpdu):
        raise TpduError("%s truncated at octet %d" % (name, pos))
    digits = tpdu[pos]
    if digits > MAX_ADDRESS_DIGITS:
        raise TpduError("%s of %d digits (at most %d)" % (name, digits, MAX_ADDRESS_DIGITS))
    end = pos + 2 + (digits + 1) // 2
    if end > len(tpdu):
        raise TpduError("%s of %d digits runs past the TPDU's %d octets"
                        % (name, digits, len(tpdu)))
    return end


def _user_data(tpdu, pos, dcs):
    """Check TP-UDL at ``pos`` and the user data after it."""
    if pos >= len(tpdu):
        raise TpduError("TP-UDL missing at octet %d" % pos)
    udl = tpdu[pos]
    if dcs is not None and seven_bit(dcs):
        if udl > MAX_USER_DATA_OCTETS * 8 // 7:
            raise TpduError("TP-UDL of %d septets (at most 160)" % udl)
        octets = (udl * 7 + 7) // 8
    else:
        if udl > MAX_USER_DATA_OCTETS:
            raise TpduError("TP-UDL of %d octets (at most 140)" % udl)
        octets = udl
    if pos + 1 + octets > len(tpdu):
        raise TpduError("TP-UD of %d octets runs past the TPDU's %d" % (octets, len(tpdu)))


def _octet(tpdu, pos, name):
    if pos >= len(tpdu):
        raise TpduError("%s missing at octet %d" % (name, pos))
    return tpdu[pos]


def pid_dcs(tpdu, from_mobile):
    """``(tp_pid, tp_dcs)`` of a TPDU; None for a part the TPDU type lacks
    (an SMS-COMMAND has no DCS, the reports carry them only optionally).
    ``from_mobile``: the TPDU goes MS -> SC (an MO relay), which decides
    what its message type indicator means."""
    if not tpdu:
        raise TpduError("empty TPDU")
    first = tpdu[0]
    mti = first & 0x03
    if mti == 0x03:
        raise TpduError("reserved TP-MTI 3")
    if not from_mobile:
        if mti == 0:                                   # SMS-DELIVER
            pos = _address_end(tpdu, 1, "TP-OA")
            pid = _octet(tpdu, pos, "TP-PID")
            dcs = _octet(tpdu, pos + 1, "TP-DCS")
            if pos + 9 > len(tpdu):
                raise TpduError("TP-SCTS truncated at octet %d" % (pos + 2))
            _user_data(tpdu, pos + 9, dcs)
            return pid, dcs
        if mti == 2:                                   # SMS-STATUS-REPORT
            pos = _address_end(tpdu, 2, "TP-RA") + 15  # TP-SCTS, TP-DT, TP-ST
            if pos > len(tpdu):
                raise TpduError("SMS-STATUS-REPORT truncated at octet %d" % len(tpdu))
            return _optional_parameters(tpdu, pos)
        return None, None                              # SMS-SUBMIT-REPORT: an answer's
    if mti == 1:                                       # SMS-SUBMIT
        pos = _address_end(tpdu, 2, "TP-DA")
        pid = _octet(tpdu, pos, "TP-PID")
        dcs = _octet(tpdu, pos + 1, "TP-DCS")
        pos += 2 + _VALIDITY_PERIOD[(first >> 3) & 0x3]
        if pos > len(tpdu):
            raise TpduError("TP-VP truncated at octet %d" % len(tpdu))
        _user_data(tpdu, pos, dcs)
        return pid, dcs
    if mti == 2:                                       # SMS-COMMAND
        pid = _octet(tpdu, 2, "TP-PID")
        pos = _address_end(tpdu, 5, "TP-DA")           # after TP-CT, TP-MN
        cdl = _octet(tpdu, pos, "TP-CDL")
        if cdl > 156 or pos + 1 + cdl > len(tpdu):
            raise TpduError("TP-CD of %d octets does not fit" % cdl)
        return pid, None
    return None, None                                  # SMS-DELIVER-REPORT: an answer's


def _optional_parameters(tpdu, pos):
    """TP-PI and the TP-PID, TP-DCS (and TP-UDL) it announces."""
    if pos >= len(tpdu):
        return None, None
    indicator = tpdu[pos]
    pos += 1
    pid = dcs = None
    if indicator & 0x01:
        pid = _octet(tpdu, pos, "TP-PID")
        pos += 1
    if indicator & 0x02:
        dcs = _octet(tpdu, pos, "TP-DCS")
        pos += 1
    if indicator & 0x04:
        _user_data(tpdu, pos, dcs if dcs is not None else 0)
    return pid, dcs
