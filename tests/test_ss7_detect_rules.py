"""ss7tools.detect rules: every condition and action, first match wins,
the default FS.11 rule set and category lists, and the loader's refusals
(with a fuzz test)."""

import os
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.trial import unittest

from ss7tools.attack_families import ATTACK_FAMILIES
from ss7tools.detect.defaults import default_rules, default_rules_text
from ss7tools.detect.rules import CONDITIONS, load_rules, parse_rules
from ss7tools.errors import RuleError
from ss7tools.map_catalogue import FS11_CATEGORIES, MAP_BY_NAME, MAP_OPERATIONS

from .detect_helpers import (FR_HLR, FR_IMSI, FR_SMSC, FR_VLR, HOME_HLR, HOME_IMSI,
                             HOME_MSISDN, HOME_VLR, HOME_VLR2, HOSTILE, engine, one_rule, row)

IT_HLR = "393490000100"


class CategoryListTests(unittest.TestCase):
    def test_lists_are_catalogue_operations_in_one_category(self):
        seen = set()
        for category, names in FS11_CATEGORIES.items():
            for name in names:
                self.assertIn(name, MAP_BY_NAME)
                self.assertNotIn(name, seen)
                seen.add(name)
                self.assertEqual(MAP_BY_NAME[name].fs11, category)
        uncategorised = {op.name for op in MAP_OPERATIONS if op.fs11 is None}
        self.assertEqual(uncategorised | seen, set(MAP_BY_NAME))

    def test_known_placements(self):
        for name, category in (("anyTimeInterrogation", 1), ("sendRoutingInfo", 1),
                               ("sendIMSI", 1), ("insertSubscriberData", 2),
                               ("cancelLocation", 2), ("provideSubscriberInfo", 2),
                               ("updateLocation", 3), ("sendAuthenticationInfo", 3),
                               ("purgeMS", 3), ("registerSS", 3), ("mt-forwardSM", None),
                               ("sendRoutingInfoForSM", None)):
            self.assertEqual(MAP_BY_NAME[name].fs11, category, name)

    def test_families_derive_their_categories(self):
        for family in ATTACK_FAMILIES:
            expected = {MAP_BY_NAME[op].fs11 for op in family.operations} - {None}
            self.assertEqual(set(family.fs11), expected, family)
            self.assertLessEqual(set(family.consequences), set(family.operations))

    def test_default_rules_document_the_lists(self):
        text = default_rules_text()
        for names in FS11_CATEGORIES.values():
            for name in names:
                self.assertIn(name, text)
        self.assertGreater(len(default_rules()), 8)


class ConditionTests(unittest.TestCase):
    """Each condition matches what it says and nothing else."""

    def verdicts(self, when, rows, action="alert"):
        e = engine(one_rule(when, action))
        return [e.evaluate([r]).action for r in rows]

    def test_operation(self):
        self.assertEqual(self.verdicts("{operation: [anyTimeInterrogation]}", [
            row(1, 0, FR_HLR, HOME_HLR, "anyTimeInterrogation", msisdn=HOME_MSISDN),
            row(2, 0, FR_HLR, HOME_HLR, "sendRoutingInfo", msisdn=HOME_MSISDN)]),
            ["alert", "allow"])

    def test_category(self):
        self.assertEqual(self.verdicts("{category: [1, 2]}", [
            row(1, 0, FR_HLR, HOME_HLR, "anyTimeInterrogation"),
            row(2, 0, FR_HLR, HOME_VLR, "insertSubscriberData"),
            row(3, 0, FR_VLR, HOME_HLR, "updateLocation"),
            row(4, 0, FR_SMSC, HOME_HLR, "sendRoutingInfoForSM")]),
            ["alert", "alert", "allow", "allow"])
        self.assertEqual(self.verdicts("{category: 0}", [
            row(1, 0, FR_SMSC, HOME_HLR, "sendRoutingInfoForSM")]), ["alert"])

    def test_calling_and_called(self):
        rows = [row(1, 0, HOSTILE, HOME_HLR, "sendRoutingInfo"),
                row(2, 0, FR_HLR, HOME_HLR, "sendRoutingInfo"),
                row(3, 0, HOME_HLR, FR_VLR, "provideRoamingNumber")]
        self.assertEqual(self.verdicts("{calling: [other]}", rows), ["alert", "allow", "allow"])
        self.assertEqual(self.verdicts("{calling: partner}", rows), ["allow", "alert", "allow"])
        self.assertEqual(self.verdicts("{called: [partner]}", rows), ["allow", "allow", "alert"])

    def test_imsi_origin(self):
        rows = [row(1, 0, FR_HLR, HOME_VLR, "insertSubscriberData", imsi=FR_IMSI),
                row(2, 0, FR_HLR, HOME_VLR, "insertSubscriberData", imsi=HOME_IMSI),
                row(3, 0, FR_HLR, HOME_VLR, "insertSubscriberData")]
        self.assertEqual(self.verdicts("{imsi: [partner]}", rows), ["alert", "allow", "allow"])
        self.assertEqual(self.verdicts("{imsi: [none]}", rows), ["allow", "allow", "alert"])

    def test_request_interconnect_and_tcap(self):
        rows = [row(1, 0, FR_HLR, HOME_HLR, "sendRoutingInfo", otid="01"),
                # an answer in no dialogue seen (an answer shares its request's verdict)
                row(2, 0, HOME_HLR, FR_HLR, "sendRoutingInfo", tcap="end",
                    component="returnResultLast", otid=None, dtid="ff"),
                row(3, 0, HOME_VLR, HOME_HLR, "sendAuthenticationInfo", otid="02")]
        self.assertEqual(self.verdicts("{request: true}", rows), ["alert", "allow", "alert"])
        self.assertEqual(self.verdicts("{interconnect: true}", rows),
                         ["alert", "allow", "allow"])
        self.assertEqual(self.verdicts("{tcap: [end]}", rows), ["allow", "alert", "allow"])

    def test_calling_is_subscriber_home(self):
        self.assertEqual(self.verdicts("{calling_is_subscriber_home: false}", [
            row(1, 0, FR_HLR, HOME_VLR, "insertSubscriberData", imsi=FR_IMSI),
            row(2, 0, IT_HLR, HOME_VLR, "insertSubscriberData", imsi=FR_IMSI),
            row(3, 0, IT_HLR, HOME_VLR, "insertSubscriberData")]),
            ["allow", "alert", "allow"])

    def located(self, *more, when):
        """A subscriber seen at the Berlin VLR at t=0, then ``more``."""
        rows = [row(1, 0, HOME_VLR, HOME_HLR, "sendAuthenticationInfo", imsi=HOME_IMSI)]
        return self.verdicts(when, rows + list(more))[1:]

    def test_calling_is_vlr(self):
        self.assertEqual(self.located(
            row(2, 10, HOME_VLR2, HOME_HLR, "purgeMS", imsi=HOME_IMSI),
            row(3, 20, HOME_VLR, HOME_HLR, "purgeMS", imsi=HOME_IMSI),
            when="{calling_is_vlr: false, operation: [purgeMS]}"), ["alert", "allow"])

    def test_calling_vs_vlr_country(self):
        self.assertEqual(self.located(
            row(2, 60, FR_VLR, HOME_HLR, "registerSS", imsi=HOME_IMSI),
            row(3, 70, HOME_VLR2, HOME_HLR, "registerSS", imsi=HOME_IMSI),
            when="{calling_vs_vlr_country: differs}"), ["alert", "allow"])
        self.assertEqual(self.verdicts("{calling_vs_vlr_country: unknown, request: true}", [
            row(1, 0, FR_VLR, HOME_HLR, "registerSS", imsi=HOME_IMSI)]), ["alert"])

    def test_travel_speed(self):
        when = "{travel_speed_kmh: {gt: 1000}}"
        self.assertEqual(self.located(
            row(2, 60, FR_VLR, HOME_HLR, "sendAuthenticationInfo", imsi=HOME_IMSI),
            when=when), ["alert"])
        self.assertEqual(self.located(
            row(2, 4 * 3600, FR_VLR, HOME_HLR, "sendAuthenticationInfo", imsi=HOME_IMSI),
            when=when), ["allow"])

    def test_since_location_update_and_seen(self):
        ul = row(1, 0, HOME_VLR, HOME_HLR, "updateLocation", imsi=HOME_IMSI)
        rows = [ul, row(2, 10, HOME_VLR, HOME_HLR, "sendAuthenticationInfo", imsi=HOME_IMSI),
                row(3, 100, HOME_VLR, HOME_HLR, "sendAuthenticationInfo", imsi=HOME_IMSI),
                row(4, 100, HOME_VLR, HOME_HLR, "sendAuthenticationInfo", imsi=FR_IMSI)]
        self.assertEqual(self.verdicts("{since_location_update: {lt: 60}}", rows)[1:],
                         ["alert", "allow", "allow"])
        self.assertEqual(self.verdicts("{since_location_update: {lt: 60, unknown: true}}",
                                       rows)[1:], ["alert", "allow", "alert"])
        # seen at 10 s by its SAI: 90 s before the third message
        self.assertEqual(self.verdicts("{since_seen: {ge: 80, le: 95}}", rows)[1:],
                         ["allow", "alert", "allow"])

    def test_rate_sliding_window(self):
        when = "{rate: {window: 60, above: 2}}"
        quick = [row(i, t, FR_HLR, HOME_HLR, "sendRoutingInfo", otid="%02x" % i)
                 for i, t in enumerate((0, 10, 20, 90), 1)]
        self.assertEqual(self.verdicts(when, quick), ["allow", "allow", "alert", "allow"])
        spaced = [row(i, t, FR_HLR, HOME_HLR, "sendRoutingInfo", otid="%02x" % i)
                  for i, t in enumerate((0, 40, 80, 120), 1)]
        self.assertEqual(self.verdicts(when, spaced), ["allow"] * 4)
        other_op = [row(1, 0, FR_HLR, HOME_HLR, "sendRoutingInfo"),
                    row(2, 1, FR_HLR, HOME_HLR, "sendRoutingInfo", otid="02"),
                    row(3, 2, FR_HLR, HOME_HLR, "sendIMSI", otid="03")]
        self.assertEqual(self.verdicts(when, other_op), ["allow"] * 3)

    def flag_then(self, when, follow):
        text = """rules:
  - name: first
    action: alert
    family: fraud
    when: {operation: [anyTimeModification]}
  - name: second
    action: alert
    family: inherit
    when: %s
""" % when
        e = engine(text)
        first = e.evaluate([row(1, 0, HOSTILE, HOME_HLR, "anyTimeModification",
                                msisdn=HOME_MSISDN, otid="01")])
        self.assertEqual((first.rule, first.family), ("first", "fraud"))
        return [(v.action, v.rule, v.family) for v in (e.evaluate([r]) for r in follow)]

    def test_subscriber_flagged_within(self):
        when = "{calling: [home], subscriber_flagged_within: 30}"
        self.assertEqual(self.flag_then(when, [
            row(2, 5, HOME_HLR, HOME_VLR, "provideRoamingNumber", msisdn=HOME_MSISDN,
                otid="02"),
            row(3, 100, HOME_HLR, HOME_VLR, "provideRoamingNumber", msisdn=HOME_MSISDN,
                otid="03")]),
            [("alert", "second", "fraud"), ("allow", "default", None)])

    def test_gt_flagged_within(self):
        when = "{calling: [home], gt_flagged_within: 3600}"
        self.assertEqual(self.flag_then(when, [
            row(2, 600, HOME_HLR, HOSTILE, "provideRoamingNumber", otid="02"),
            row(3, 600, HOME_HLR, FR_VLR, "provideRoamingNumber", otid="03"),
            row(4, 5000, HOME_HLR, HOSTILE, "provideRoamingNumber", otid="04")]),
            [("alert", "second", "fraud"), ("allow", "default", None),
             ("allow", "default", None)])

    def test_columns(self):
        rows = [row(1, 0, FR_HLR, HOME_HLR, "sendRoutingInfo", called_ssn=6),
                row(2, 0, HOSTILE, HOME_VLR, "sendRoutingInfo", called_ssn=7)]
        self.assertEqual(self.verdicts("{columns: {called_ssn: 6}}", rows), ["alert", "allow"])
        self.assertEqual(self.verdicts("{columns: {calling_gt: {prefix: ['336']}}}", rows),
                         ["alert", "allow"])
        self.assertEqual(self.verdicts("{columns: {called_gt: [%s, '1']}}" % HOME_VLR, rows),
                         ["allow", "alert"])

    def test_features(self):
        rows = [row(1, 0, FR_HLR, HOME_HLR, "anyTimeInterrogation"),
                row(2, 0, FR_HLR, HOME_HLR, "sendIMSI", otid="02")]
        self.assertEqual(self.verdicts("{features: {op_code: {eq: 71}}}", rows),
                         ["alert", "allow"])
        self.assertEqual(self.verdicts("{features: {gt_messages: {ge: 1}}}", rows),
                         ["allow", "alert"])

    def test_smsc_matches_calling(self):
        rows = [row(1, 0, FR_SMSC, HOME_VLR, "mt-forwardSM", imsi=HOME_IMSI,
                    smsc="491720000200"),
                row(2, 0, FR_SMSC, HOME_VLR, "mt-forwardSM", imsi=HOME_IMSI, smsc=FR_SMSC,
                    otid="02")]
        self.assertEqual(self.verdicts("{smsc_matches_calling: false}", rows),
                         ["alert", "allow"])

    def test_every_condition_is_tested(self):
        tested = {"operation", "category", "calling", "called", "imsi", "request",
                  "interconnect", "tcap", "calling_is_subscriber_home", "calling_is_vlr",
                  "calling_vs_vlr_country", "smsc_matches_calling", "since_location_update",
                  "since_seen", "travel_speed_kmh", "rate", "subscriber_flagged_within",
                  "gt_flagged_within", "columns", "features"}
        self.assertEqual(set(CONDITIONS), tested)


class ActionTests(unittest.TestCase):
    RULES = """rules:
  - name: let-fr-hlr
    action: allow
    when: {columns: {calling_gt: '%s'}}
  - name: block-cat1
    action: drop
    when: {category: [1], calling: [partner, other]}
  - name: watch-sri-sm
    action: alert
    family: location_tracking
    description: a routing query for SMS
    when: {operation: [sendRoutingInfoForSM]}
""" % FR_HLR

    def test_first_match_wins_and_names_the_rule(self):
        e = engine(self.RULES)
        cases = [(row(1, 0, FR_HLR, HOME_HLR, "anyTimeInterrogation"), "allow", "let-fr-hlr"),
                 (row(2, 0, HOSTILE, HOME_HLR, "anyTimeInterrogation"), "drop", "block-cat1"),
                 (row(3, 0, FR_SMSC, HOME_HLR, "sendRoutingInfoForSM"), "alert",
                  "watch-sri-sm"),
                 (row(4, 0, FR_SMSC, HOME_HLR, "mt-forwardSM"), "allow", "default")]
        for r, action, rule in cases:
            v = e.evaluate([r])
            self.assertEqual((v.action, v.rule), (action, rule), r)
        v = e.evaluate([row(5, 0, FR_SMSC, HOME_HLR, "sendRoutingInfoForSM", otid="05")])
        self.assertEqual((v.family, v.reason, v.score), ("location_tracking",
                                                          "a routing query for SMS", 1.0))
        self.assertEqual(e.counts, {"alert": 2, "drop": 1, "allow": 2})

    def test_answers_share_their_dialogue_verdict(self):
        e = engine(self.RULES)
        begin = e.evaluate([row(1, 0, HOSTILE, HOME_HLR, "sendIMSI", otid="aa",
                                msisdn=HOME_MSISDN)])
        end = e.evaluate([row(2, 0.1, HOME_HLR, HOSTILE, "sendIMSI", tcap="end",
                              component="returnResultLast", otid=None, dtid="aa",
                              imsi=HOME_IMSI)])
        self.assertEqual((begin.action, end.action, end.rule), ("drop", "drop", "block-cat1"))
        self.assertIn("dialogue of 1.0", end.reason)
        self.assertEqual(end.subscriber, HOME_IMSI)
        other = e.evaluate([row(3, 0.2, HOME_HLR, HOSTILE, "sendIMSI", tcap="end",
                                component="returnResultLast", otid=None, dtid="bb")])
        self.assertEqual(other.action, "allow")


class DefaultRuleTests(unittest.TestCase):
    def evaluate(self, rows):
        e = engine(default_rules_text())
        return [(v.action, v.rule) for v in (e.evaluate([r]) for r in rows)]

    def test_category_checks(self):
        out = self.evaluate([
            row(1, 0, FR_HLR, HOME_HLR, "anyTimeInterrogation", msisdn=HOME_MSISDN),
            row(2, 0, FR_HLR, HOME_VLR, "insertSubscriberData", imsi=HOME_IMSI, otid="02"),
            row(3, 0, FR_HLR, HOME_VLR, "insertSubscriberData", imsi=FR_IMSI, otid="03"),
            row(4, 0, IT_HLR, HOME_VLR, "cancelLocation", imsi=FR_IMSI, otid="04"),
            row(5, 0, FR_VLR, HOME_HLR, "updateLocation", imsi=FR_IMSI, otid="05"),
            row(6, 0, HOSTILE, HOME_HLR, "sendRoutingInfoForSM", otid="06"),
        ])
        self.assertEqual([rule for _, rule in out], [
            "fs11-cat1-from-interconnect", "fs11-cat2-about-home-subscriber", "default",
            "fs11-cat2-not-from-home-network", "fs11-cat3-about-foreign-subscriber",
            "no-agreement"])

    def test_location_plausibility(self):
        out = self.evaluate([
            row(1, 0, HOME_VLR, HOME_HLR, "sendAuthenticationInfo", imsi=HOME_IMSI),
            # Paris five minutes after Berlin: not believed (nor taken as its location)
            row(2, 300, FR_VLR, HOME_HLR, "updateLocation", imsi=HOME_IMSI, otid="02"),
            row(3, 400, FR_VLR, HOME_HLR, "purgeMS", imsi=HOME_IMSI, otid="03"),
            # six hours later it may be there, but still not registered there
            row(4, 6 * 3600, FR_VLR, HOME_HLR, "purgeMS", imsi=HOME_IMSI, otid="04"),
            row(5, 6 * 3600 + 10, FR_VLR, HOME_HLR, "updateLocation", imsi=HOME_IMSI,
                otid="05"),
            row(6, 6 * 3600 + 60, FR_VLR, HOME_HLR, "purgeMS", imsi=HOME_IMSI, otid="06"),
        ])
        self.assertEqual([rule for _, rule in out], [
            "default", "fs11-cat3-implausible-travel", "fs11-cat3-implausible-travel",
            "fs11-cat3-not-serving-network", "default", "default"])


class LoaderTests(unittest.TestCase):
    def refused(self, text):
        with self.assertRaises(RuleError) as caught:
            parse_rules(text, "bad.yaml")
        return str(caught.exception)

    def test_errors_name_file_line_and_problem(self):
        for text, line, fragment in (
                ("rules:\n  - name: a\n    action: block\n", 3, "action must be one of"),
                ("rules:\n  - name: a\n    action: alert\n    when:\n      colour: red\n", 5,
                 "unknown condition 'colour'"),
                ("rules:\n  - name: a\n    action: alert\n  - name: a\n    action: drop\n", 4,
                 "used twice"),
                ("rules:\n  - name: a\n    action: alert\n    when: {operation: [nope]}\n", 4,
                 "unknown value 'nope'"),
                ("rules:\n  - name: a\n    action: alert\n    when: {category: [4]}\n", 4,
                 "category"),
                ("rules:\n  - name: a\n  action: alert\n", 3, "not valid YAML"),
                ("rules:\n  - &x {name: a, action: alert}\n  - *x\n", 2, "aliases"),
                ("rules:\n  - name: a\n    action: alert\n    action: drop\n", 4,
                 "duplicate key"),
                ("rules:\n  - name: a\n    action: alert\n    family: inherit\n", 4,
                 "inherit needs"),
                ("version: 2\nrules: []\n", 1, "version 2"),
                ("rule: []\n", 1, "unknown key 'rule'"),
                ("", 1, "empty file"),
                ("rules:\n  - name: a\n    action: alert\n    when: {rate: {window: 60}}\n", 4,
                 "needs window"),
                ("rules:\n  - name: a\n    action: alert\n    when:\n      since_seen: 5\n", 5,
                 "expected a mapping"),
                ("rules:\n  - name: a b\n    action: alert\n", 2, "name"),
        ):
            message = self.refused(text)
            self.assertTrue(message.startswith("bad.yaml:%d: " % line), (message, text))
            self.assertIn(fragment, message)

    def test_file_errors(self):
        directory = tempfile.mkdtemp()
        self.addCleanup(os.rmdir, directory)
        path = os.path.join(directory, "r.yaml")
        with open(path, "wb") as f:
            f.write(b"rules: [\xff]\n")
        self.addCleanup(os.remove, path)
        with self.assertRaises(RuleError) as caught:
            load_rules(path)
        self.assertIn("r.yaml:1: not UTF-8", str(caught.exception))
        with self.assertRaises(RuleError):
            load_rules(os.path.join(directory, "missing.yaml"))

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.text(max_size=300))
    def test_fuzz_text(self, text):
        self.assert_loads_or_refuses(text)

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) |
        st.sampled_from(["alert", "drop", "allow", "inherit", "home", "partner",
                         "sendIMSI", "fraud", "r1", "lt", "window"]) | st.text(max_size=8),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(
            st.sampled_from(["rules", "version", "name", "action", "family", "when",
                             "description", "operation", "category", "calling", "rate",
                             "window", "above", "features", "columns", "gt", "lt", "unknown",
                             "op_code", "prefix", "called_gt"] + list(CONDITIONS)),
            children, max_size=5), max_leaves=25))
    def test_fuzz_structures(self, document):
        import yaml
        self.assert_loads_or_refuses(yaml.safe_dump({"rules": [document]}))
        self.assert_loads_or_refuses(yaml.safe_dump(document))

    def assert_loads_or_refuses(self, text):
        try:
            rules = parse_rules(text, "fuzz.yaml")
        except RuleError as exc:
            self.assertTrue(str(exc).startswith("fuzz.yaml:"), str(exc))
            self.assertNotIn("\n", str(exc))
            return
        e = engine(text)
        for r in (row(1, 0, FR_HLR, HOME_HLR, "sendIMSI"), row(2, 0, HOME_HLR, FR_HLR,
                                                               "sendIMSI", tcap="end")):
            self.assertIn(e.evaluate([r]).action, ("alert", "drop", "allow"))
        self.assertGreaterEqual(len(rules), 0)


class SummaryFamilyTests(unittest.TestCase):
    """The per-subscriber family is the attacker's episode's, by what the
    attacker GT sent itself before what it set off."""

    def verdict(self, op, calling, called, attacker, family, imsi=HOME_IMSI, request=True):
        from ss7tools.detect.engine import Verdict
        v = Verdict()
        v.frame, v.chunk, v.time, v.action, v.rule, v.score, v.reason = 1, 0, 1.0, "alert", \
            "r", 1.0, ""
        v.op, v.subscriber, v.imsi, v.msisdn = op, imsi, imsi, None
        v.calling_gt, v.called_gt, v.attacker_gt, v.family = calling, called, attacker, family
        v.request = request
        return v

    def families(self, *verdicts):
        from ss7tools.detect.summary import Summary
        summary = Summary()
        for v in verdicts:
            summary.add(v)
        (entry,) = summary.merged().values()
        return summary.families(entry)

    def test_cancel_location_from_outside_is_dos(self):
        # the model may call it interception: the episode says otherwise
        self.assertEqual(self.families(
            self.verdict("cancelLocation", HOSTILE, HOME_VLR, HOSTILE, "interception"),
            self.verdict("cancelLocation", HOME_VLR, HOSTILE, HOSTILE, "interception",
                         request=False)),
            {"dos"})

    def test_an_attackers_answer_is_not_its_request(self):
        # our HLR cancels a rogue VLR: the rogue's answer does not make it dos
        self.assertEqual(self.families(
            self.verdict("updateLocation", HOME_HLR, HOSTILE, HOSTILE, "interception",
                         request=False),
            self.verdict("cancelLocation", HOME_HLR, HOSTILE, HOSTILE, "interception"),
            self.verdict("cancelLocation", HOSTILE, HOME_HLR, HOSTILE, "interception",
                         request=False)),
            {"interception"})

    def test_cancel_location_after_a_rogue_registration_is_interception(self):
        self.assertEqual(self.families(
            self.verdict("updateLocation", HOSTILE, HOME_HLR, HOSTILE, "interception"),
            self.verdict("insertSubscriberData", HOME_HLR, HOSTILE, HOSTILE, "interception",
                         request=False),
            self.verdict("cancelLocation", HOME_HLR, HOME_VLR, HOSTILE, "dos")),
            {"interception"})

    def test_sms_routing_alone_is_tracking_with_delivery_spoofing(self):
        self.assertEqual(self.families(
            self.verdict("sendRoutingInfoForSM", HOSTILE, HOME_HLR, HOSTILE,
                         "location_tracking")), {"location_tracking"})
        self.assertEqual(self.families(
            self.verdict("sendRoutingInfoForSM", HOSTILE, HOME_HLR, HOSTILE,
                         "location_tracking"),
            self.verdict("mt-forwardSM", HOSTILE, HOME_VLR, HOSTILE, "location_tracking")),
            {"sms_spoofing"})


class VerdictTextTests(unittest.TestCase):
    """The verdicts file's fast formatting writes what csv.writer writes."""

    @settings(max_examples=150, deadline=None)
    @given(st.lists(st.tuples(
        st.one_of(st.none(), st.integers(0, 10 ** 9)), st.integers(0, 9),
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from(("alert", "drop", "allow")),
        st.one_of(st.sampled_from((0.0, 1.0)), st.floats(0, 1)),
        st.text(max_size=12), st.one_of(st.none(), st.text(max_size=8)),
        st.text(max_size=40), *[st.one_of(st.none(), st.text(max_size=16))] * 5),
        max_size=8))
    def test_same_as_csv_writer(self, fields):
        import csv
        import io

        from ss7tools.detect.command import verdict_row, verdict_text
        from ss7tools.detect.engine import Verdict
        verdicts = []
        for values in fields:
            v = Verdict()
            (v.frame, v.chunk, v.time, v.action, v.score, v.rule, v.family, v.reason, v.op,
             v.subscriber, v.calling_gt, v.called_gt, v.attacker_gt) = values
            verdicts.append(v)
        expected = io.StringIO()
        csv.writer(expected, lineterminator="\n").writerows(map(verdict_row, verdicts))
        self.assertEqual(verdict_text(verdicts), expected.getvalue())


class RequestRateFeatureTests(unittest.TestCase):
    """op_rate_60s: this request and the newest earlier ones from the same
    GT and operation back to the first older than 60 s, at most 64, in
    order or not."""

    def check(self, times):
        from ss7tools.detect.features import FEATURE_INDEX, FeaturePass
        from ss7tools.detect.network import Network
        features = FeaturePass(Network.load())
        seen = []
        for i, t in enumerate(times, 1):
            ctx = features.observe([row(i, t, HOSTILE, HOME_HLR, "sendRoutingInfoForSM",
                                        otid="%04x" % i, msisdn=HOME_MSISDN)])
            expected = 1
            for earlier in reversed(seen[-256:]):
                if earlier < t - 60.0 or expected >= 64:
                    break
                expected += 1
            self.assertEqual(ctx.vector[FEATURE_INDEX["op_rate_60s"]], expected, (i, t))
            seen.append(t)

    def test_in_order(self):
        self.check([i * 0.5 for i in range(200)] + [500.0 + i * 7 for i in range(40)])

    def test_out_of_order(self):
        import random
        rng = random.Random(5)
        self.check([rng.uniform(0, 300) for _ in range(300)])
