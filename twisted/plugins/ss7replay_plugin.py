from twisted.application.service import ServiceMaker

ss7replay = ServiceMaker(
    "ss7replay",
    "ss7tools.replay.tap",
    "Timed replay of SS7 captures over SCTP (or TCP): server and client",
    "ss7replay",
)
