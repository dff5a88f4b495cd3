from twisted.application.service import ServiceMaker

pyhss = ServiceMaker(
    "pyhss",
    "pyhss.tap",
    "Home Subscriber Server: Diameter S6a, Cx and S13 over TCP and SCTP",
    "pyhss",
)
