"""Helpers of the detection tests: message rows made by hand, and small
labelled captures from the simulator."""

import os

from ss7tools.attack_families import ATTACK_TYPES
from ss7tools.detect.engine import Engine
from ss7tools.detect.network import Network
from ss7tools.detect.rules import parse_rules
from ss7tools.map_catalogue import MAP_BY_NAME
from ss7tools.rows import COLUMNS

# the default network (the simulator's default world): home 49172..., GTs
HOME_HLR, HOME_VLR, HOME_VLR2 = "491720000100", "491720001001", "491720001004"
FR_VLR, FR_HLR, FR_SMSC = "336090001001", "336090000100", "336090000200"
US_VLR = "120290001001"
HOSTILE = "263710012345"
HOME_IMSI, HOME_MSISDN = "262420000012345", "491721234567"
FR_IMSI = "208910000012345"
ALL_ATTACKS = ",".join("%s=0.03" % name for name in ATTACK_TYPES)


def row(frame, time, calling, called, op=None, tcap="begin", component="invoke", otid="0a",
        dtid=None, imsi=None, msisdn=None, smsc=None, vlr=None, chunk=0, **columns):
    values = dict.fromkeys(COLUMNS)
    values.update(frame=frame, chunk=chunk, time_stamp=float(time), calling_gt=calling,
                  called_gt=called, tcap_type=tcap, component=component, otid=otid,
                  dtid=dtid, op_name=op, op_code=MAP_BY_NAME[op].code if op else None,
                  imsi=imsi, msisdn=msisdn, smsc=smsc, vlr=vlr, calling_ssn=7, called_ssn=6)
    values.update(columns)
    return tuple(values[name] for name in COLUMNS)


def engine(rules_text, model=None):
    return Engine(parse_rules(rules_text, "test.yaml"), Network.load(), model)


def one_rule(when, action="alert", family=None):
    text = "rules:\n  - name: r\n    action: %s\n" % action
    if family:
        text += "    family: %s\n" % family
    return text + "    when: %s\n" % when


def simulate_labelled(directory, name="sim", seed=3, duration=600.0, subscribers=1500,
                      mix=ALL_ATTACKS, world=None, stealth=None):
    from ss7tools.simulate.command import parse_attack_mix, simulate
    pcap = os.path.join(directory, name + ".pcap")
    labels = os.path.join(directory, name + ".labels.csv")
    sim = simulate(pcap, labels, world=world, seed=seed, duration=duration,
                   subscribers=subscribers, attack_mix=parse_attack_mix(mix), stealth=stealth)
    return sim, pcap, labels


