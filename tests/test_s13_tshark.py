"""tshark decodes our ECAs (and the ECRs that led to them) without
malformed-packet or expert warnings: every status, the unknown-equipment
Experimental-Result, and the error answers with Failed-AVP.

The messages come from the real handler; they are written as one TCP
connection (MME = client, EIR = server on 3868) into a synthetic pcap and
dissected with ``tshark -r``.
"""

from twisted.trial import unittest

from pyhss.protocols import results
from tests import interop_helpers as helpers
from tests.test_interop_tshark import SKIP_NO_TSHARK, diameter_frames, problems
from tests.test_s13 import BLACK, GREY, IN_TAC, UNKNOWN, WHITE, S13Fixture, ecr


class S13TsharkTests(S13Fixture, unittest.TestCase):
    skip = SKIP_NO_TSHARK

    def test_every_eca_decodes_cleanly(self):
        requests = [
            ecr(WHITE), ecr(BLACK), ecr(GREY + "0"), ecr(IN_TAC), ecr(UNKNOWN),
            ecr(BLACK + "7"),                                           # 5004: neither check nor spare digit
            ecr(WHITE, software_version="1"),                           # 5004
            ecr(terminal=[("3GPP2-MEID", bytes(7))]),                   # 5005
            ecr(terminal=[("IMEI", WHITE), ("IMEI", BLACK)]),           # 5009
            ecr(GREY, extra=[("Proxy-Info", [("Proxy-Host", "dra.test"), ("Proxy-State", b"\x01")])]),
        ]
        transcript = []
        codes = []
        for request in requests:
            answer = self.successResultOf(self.app.me_identity_check(request, None))
            transcript.append(("client", request.encode()))
            transcript.append(("server", answer.encode()))
            codes.append(answer.result_code)
        self.assertEqual(codes, [2001, 2001, 2001, 2001, results.DIAMETER_ERROR_EQUIPMENT_UNKNOWN, 5004, 5004,
                                 5005, 5009, 2001])
        path = self.mktemp() + ".pcap"
        helpers.write_transcript_pcap(path, transcript)
        frames = helpers.tshark_fields(path)
        found = problems(frames)
        if found:
            self.fail("\n".join(found) + "\n" + helpers.tshark_verbose(path))
        diameter = diameter_frames(frames)
        self.assertEqual(len(diameter), len(transcript))
        self.assertEqual({(f["diameter.cmd.code"][0], f["diameter.flags.request"][0]) for f in diameter},
                         {("324", "1"), ("324", "0")})
        # tshark reads what we meant: the statuses (WHITELISTED, BLACKLISTED,
        # GREYLISTED, GREYLISTED by TAC), 5422, the Failed-AVPs' children.
        self.assertEqual(self.answer_fields(path), [
            ("0", "", "2001", ""), ("1", "", "2001", ""), ("2", "", "2001", ""), ("2", "", "2001", ""),
            ("", "5422", "", ""), ("", "", "5004", "1402"), ("", "", "5004", "1403"), ("", "", "5005", "1402"),
            ("", "", "5009", "1402"), ("2", "", "2001", "")])

    def answer_fields(self, path):
        """(Equipment-Status, Experimental-Result-Code, Result-Code, the
        IMEI (1402) or Software-Version (1403) code when the answer holds
        one: inside Failed-AVP) per answer, as tshark reads them."""
        fields = ("diameter.Equipment-Status", "diameter.Experimental-Result-Code", "diameter.Result-Code",
                  "diameter.avp.code")
        command = [helpers.TSHARK, "-n", "-r", path, "-d", "tcp.port==3868,diameter", "-Y",
                   "diameter.flags.request == 0", "-T", "fields", "-E", "separator=\t", "-E", "aggregator=,"]
        for field in fields:
            command += ["-e", field]
        output = helpers._run_tshark(command, check=True).stdout.decode()
        rows = []
        for line in output.splitlines():
            status, experimental, result, codes = (line.split("\t") + [""] * 4)[:4]
            codes = codes.split(",")
            rows.append((status, experimental, result,
                         "1402" if "1402" in codes else "1403" if "1403" in codes else ""))
        return rows
