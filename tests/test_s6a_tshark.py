"""tshark decodes our AIA, ULA, PUA, NOA, CLR and IDR (and the requests
that led to them) without malformed-packet or expert warnings.

The messages come from the real handlers; they are written as one TCP
connection (MME = client, HSS = server on 3868) into a synthetic pcap and
dissected with ``tshark -r``.
"""

from twisted.trial import unittest

from pyhss.apps.s6a import ULR_INITIAL_ATTACH, ULR_S6A_S6D_INDICATOR
from pyhss.auc.resync import compute_auts
from pyhss.auc.milenage import Milenage
from pyhss.protocols import codec, results
from pyhss.protocols.dictionary import CMD_AIR, CMD_NOR, CMD_PUR
from tests import interop_helpers as helpers
from tests.test_interop_tshark import SKIP_NO_TSHARK, diameter_frames, problems
from tests.test_s6a_location import IMSI, K, OPC, S6aFixture, request, ulr


class S6aTsharkTests(S6aFixture, unittest.TestCase):
    skip = SKIP_NO_TSHARK

    def exchange(self, transcript, handler, message):
        answer = self.successResultOf(handler(message, None))
        transcript.append(("client", message.encode()))
        transcript.append(("server", answer.encode()))
        return answer

    def test_every_s6a_message_decodes_cleanly(self):
        transcript = []
        mme = self.connect_mme("mme1.test")
        air = request(CMD_AIR, **{
            "Visited-PLMN-Id": b"\x00\xf1\x10",
            "Requested-EUTRAN-Authentication-Info": [("Number-Of-Requested-Vectors", 2),
                                                     ("Immediate-Response-Preferred", 1)],
            "Requested-UTRAN-GERAN-Authentication-Info": [("Number-Of-Requested-Vectors", 1)],
        })
        self.assertEqual(self.exchange(transcript, self.app.authentication_information, air)
                         .get("Result-Code"), results.DIAMETER_SUCCESS)
        rand = bytes(range(16))
        resync = request(CMD_AIR, **{
            "Visited-PLMN-Id": b"\x00\xf1\x10",
            "Requested-EUTRAN-Authentication-Info": [
                ("Number-Of-Requested-Vectors", 1),
                ("Re-Synchronization-Info", rand + compute_auts(Milenage(K, OPC), rand, 4096))],
        })
        self.exchange(transcript, self.app.authentication_information, resync)
        unknown = request(CMD_AIR, imsi="001019999999999", **{"Visited-PLMN-Id": b"\x00\xf1\x10"})
        self.exchange(transcript, self.app.authentication_information, unknown)
        self.exchange(transcript, self.app.update_location, ulr(mme="mme1.test"))
        self.exchange(transcript, self.app.update_location,
                      ulr(mme="mme2.test", flags=ULR_S6A_S6D_INDICATOR | ULR_INITIAL_ATTACH))
        self.exchange(transcript, self.app.purge_ue, request(CMD_PUR, "mme2.test"))
        self.exchange(transcript, self.app.notify, request(CMD_NOR, "mme2.test"))
        # HSS-initiated: the CLR sent to mme1 above, and an IDR.
        self.successResultOf(self.store.update_subscriber(IMSI, msisdn="15551234567"))
        self.call(self.app.update_location, ulr(mme="mme1.test"))
        self.app.insert_subscriber_data(IMSI)
        for sent in mme.sent:
            transcript.append(("server", sent.encode()))
            transcript.append(("client", sent.answer(results.DIAMETER_SUCCESS).encode()))

        path = self.mktemp() + ".pcap"
        helpers.write_transcript_pcap(path, transcript)
        frames = helpers.tshark_fields(path)
        found = problems(frames)
        if found:
            self.fail("\n".join(found) + "\n" + helpers.tshark_verbose(path))
        commands = [(f["diameter.cmd.code"][0], f["diameter.flags.request"][0]) for f in diameter_frames(frames)]
        for code in ("318", "316", "321", "323", "317", "319"):
            self.assertIn((code, "1"), commands)
            self.assertIn((code, "0"), commands)
        self.assertEqual(len(commands), len(transcript))
        # Sanity: the decoded AIA carries the vectors we built.
        self.assertEqual(codec.decode_message(transcript[1][1]).get("Result-Code"), results.DIAMETER_SUCCESS)
