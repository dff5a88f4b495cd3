"""A CER without Host-IP-Address (Kamailio 5.6's cdp sends about one in
six) is accepted and logged once per peer; other missing AVPs are still
refused with 5005."""

from twisted.logger import globalLogPublisher
from twisted.trial import unittest

from pyhss.protocols import results
from pyhss.protocols.dictionary import APP_CX, VENDOR_3GPP
from tests.peer_helpers import cer, connect, make_node, read_messages


def without(message, name):
    message.avps = [avp for avp in message.avps if avp.name != name]
    return message


class CerWithoutHostIpAddressTests(unittest.TestCase):

    def setUp(self):
        self.node = make_node(applications=((APP_CX, VENDOR_3GPP),))
        self.logged = []

        def observe(event):
            if "Host-IP-Address" in str(event.get("log_format", "")):
                self.logged.append(event)
        globalLogPublisher.addObserver(observe)
        self.addCleanup(globalLogPublisher.removeObserver, observe)

    def cea(self, message, origin_host):
        connection, transport = connect(self.node)
        connection.dataReceived(message.encode())
        (answer,) = read_messages(transport)
        connection.transport.loseConnection()
        connection.connectionLost(None)
        return answer

    def test_accepted_and_logged_once(self):
        for _ in range(3):
            message = without(cer(vendor_specific=((VENDOR_3GPP, APP_CX),)), "Host-IP-Address")
            self.assertIsNone(message.find("Host-IP-Address"))
            answer = self.cea(message, "mme.test.realm")
            self.assertEqual(answer.get("Result-Code"), results.DIAMETER_SUCCESS)
        self.assertEqual(len(self.logged), 1)

    def test_other_missing_avps_still_refused(self):
        message = without(without(cer(vendor_specific=((VENDOR_3GPP, APP_CX),)), "Host-IP-Address"), "Vendor-Id")
        answer = self.cea(message, "mme.test.realm")
        self.assertEqual(answer.get("Result-Code"), results.DIAMETER_MISSING_AVP)
        self.assertIn("Vendor-Id", answer.get("Error-Message"))
