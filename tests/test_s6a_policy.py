"""S6aPolicy: the refusals AIR and ULR answer with and the RequiredState the
store checks before it writes must agree, for every kind of subscriber."""

import itertools

from twisted.trial import unittest
from zope.interface.verify import verifyObject

from pyhss.apps.base import IApplication
from pyhss.apps.errors import ApplicationConfigError
from pyhss.apps.s6a import S6aApplication
from pyhss.apps.s6a_policy import RAT_RESTRICTION_BITS, S6aPolicy
from pyhss.auc.kdf import encode_plmn_id
from pyhss.node import DiameterNode
from pyhss.protocols.dictionary import APP_S6A, VENDOR_3GPP
from pyhss.storage.memory import MemoryStore
from pyhss.storage.records import Subscriber

K = bytes.fromhex("465b5ce8b199b49faa5f0a2ee238a6bc")
OPC = bytes.fromhex("cd63cb71954a9f4e48a5994e37a02baf")
HOME = encode_plmn_id("001", "01")
VISITED = encode_plmn_id("208", "95")


def subscribers():
    yield None
    for enabled, roaming, restricted in itertools.product((True, False), (True, False), (0, 1 << 4, 0x5F)):
        yield Subscriber("001010000000001", K, opc=OPC, enabled=enabled, roaming_allowed=roaming,
                         access_restriction_data=restricted)


class PolicyTests(unittest.TestCase):
    def setUp(self):
        self.policy = S6aPolicy("001", "01")

    def test_air_state_lets_through_what_air_refusal_does(self):
        for subscriber, plmn in itertools.product(subscribers(), (HOME, VISITED)):
            refused = self.policy.air_refusal(subscriber, plmn) is not None
            self.assertEqual(self.policy.air_state(plmn).met_by(subscriber), not refused, (subscriber, plmn))

    def test_ulr_state_lets_through_what_ulr_refusal_does(self):
        for subscriber, plmn, rat in itertools.product(subscribers(), (HOME, VISITED),
                                                       list(RAT_RESTRICTION_BITS) + [None, 9999]):
            refused = self.policy.ulr_refusal(subscriber, plmn, rat) is not None
            self.assertEqual(self.policy.ulr_state(plmn, rat).met_by(subscriber), not refused,
                             (subscriber, plmn, rat))

    def test_ulr_states_kept_few(self):
        for rat in range(1000):
            self.policy.ulr_state(HOME, rat)
        self.assertLessEqual(len(self.policy._ulr_states), 64)

    def test_vector_counts(self):
        self.assertEqual(self.policy.vector_counts(2, 3), (2, 3, 0))
        self.policy.utran_geran_vectors = "geran"
        self.assertEqual(self.policy.vector_counts(2, 3), (2, 0, 3))
        self.assertRaises(ApplicationConfigError, setattr, self.policy, "utran_geran_vectors", "lte")
        self.assertRaises(ValueError, S6aPolicy, "001", "01", utran_geran_vectors="lte")


class ApplicationTests(unittest.TestCase):
    def test_provides_the_application_interface(self):
        app = S6aApplication(DiameterNode("hss.test", "test", None), MemoryStore(), "001", "01")
        self.assertTrue(verifyObject(IApplication, app))
        self.assertEqual((app.name, app.application_id, app.vendor_id), ("s6a", APP_S6A, VENDOR_3GPP))
        self.assertEqual(sorted(command.commandName for command in app.control_commands()),
                         [b"CancelSubscription", b"ProfileChanged"])
