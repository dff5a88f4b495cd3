"""tshark decodes our UAA, MAA (AKA and SIP Digest), SAA (with User-Data
and Charging-Information), LIA, and the RTR and PPR we send, without
malformed-packet or expert warnings.

The messages come from the real Cx handlers (tests.test_cx's fixture);
they are written as one TCP connection into a synthetic pcap and
dissected with ``tshark -r``.
"""

from twisted.trial import unittest

from pyhss.protocols import codec, results
from tests import interop_helpers as helpers
from tests import milenage_reference as usim
from tests.test_cx import IMPI, IMPU, K, OPC, SCSCF_HOST, CxFixture, lir, mar, sar, uar
from tests.test_interop_tshark import SKIP_NO_TSHARK, diameter_frames, problems


class CxTsharkTests(CxFixture, unittest.TestCase):
    skip = SKIP_NO_TSHARK

    def exchange(self, transcript, message):
        answer = self.call(message)
        transcript.append(("client", message.encode()))
        transcript.append(("server", answer.encode()))
        return answer

    def test_every_cx_message_decodes_cleanly(self):
        transcript = []
        scscf = self.connect(SCSCF_HOST)
        self.exchange(transcript, uar())
        self.exchange(transcript, uar(impi="zed@ims.test"))
        self.exchange(transcript, uar(kind=2))
        self.exchange(transcript, mar(count=2))
        rand = bytes(range(16))
        self.exchange(transcript, mar(authorization=rand + usim.auts(K, OPC, rand, 900 << 5)))
        self.exchange(transcript, mar("bob@ims.test", "sip:bob@ims.test", scheme="SIP Digest"))
        self.exchange(transcript, mar(scheme="SIP Digest"))
        saa = self.exchange(transcript, sar(1))
        self.assertEqual(saa.get("Result-Code"), results.DIAMETER_SUCCESS)
        self.exchange(transcript, sar(1, server="sip:other.ims.test"))
        self.exchange(transcript, lir())
        self.exchange(transcript, lir("sip:alice.work@ims.test"))
        self.exchange(transcript, lir("sip:bob@ims.test"))
        # HSS-initiated: PPR and RTR to the S-CSCF.
        self.app.push_profile("impi", IMPI)
        self.app.deregister("impu", IMPU, "administrative")
        self.assertEqual([m.name for m in scscf.sent], ["PPR", "RTR"])
        for sent in scscf.sent:
            transcript.append(("server", sent.encode()))
            answer = sent.answer(results.DIAMETER_SUCCESS)
            answer.add("Origin-Host", SCSCF_HOST).add("Origin-Realm", "ims.test")
            transcript.append(("client", answer.encode()))

        path = self.mktemp() + ".pcap"
        helpers.write_transcript_pcap(path, transcript)
        frames = helpers.tshark_fields(path)
        found = problems(frames)
        if found:
            self.fail("\n".join(found) + "\n" + helpers.tshark_verbose(path))
        commands = [(f["diameter.cmd.code"][0], f["diameter.flags.request"][0]) for f in diameter_frames(frames)]
        for code in ("300", "301", "302", "303"):
            self.assertIn((code, "1"), commands)
            self.assertIn((code, "0"), commands)
        for code in ("304", "305"):
            self.assertIn((code, "1"), commands)
        self.assertEqual(len(commands), len(transcript))
        self.assertIsNotNone(codec.decode_message(transcript[-1][1]))
