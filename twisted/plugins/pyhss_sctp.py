"""Twisted endpoint strings for SCTP: sctp:PORT:interface=ADDR (server)
and sctp:host=ADDR:port=PORT (client); see pyhss.sctp.endpoints."""

from pyhss.sctp.endpoints import SCTPClientParser, SCTPServerParser

sctp_server = SCTPServerParser()
sctp_client = SCTPClientParser()
