"""Typed errors of the authentication centre.

Handlers map these to Diameter answers; none of them is ever a reason to
drop a connection.
"""

# TS 29.272 7.4.4: DIAMETER_AUTHENTICATION_DATA_UNAVAILABLE (an
# Experimental-Result-Code).  Kept here as a plain int so the AUC does not
# depend on the Diameter package.
AUTHENTICATION_DATA_UNAVAILABLE = 4181


class AucError(Exception):
    """Base class of every authentication-centre error."""


class InvalidKeyMaterial(AucError, ValueError):
    """K, OP, OPc, RAND, SQN or AMF has the wrong length or range."""


class InvalidVectorRequest(AucError, ValueError):
    """The request itself is unusable: vector count out of range, or
    E-UTRAN vectors asked for without a 3-octet serving network id."""


class UnknownSubscriber(AucError, LookupError):
    """The store has no such subscriber (``AuthenticationCentre.generate``)."""


class ResyncError(AucError):
    """Re-Synchronization-Info could not be used; SQN stays unchanged.

    ``experimental_result`` is the Experimental-Result-Code the S6a answer
    should carry.
    """

    experimental_result = AUTHENTICATION_DATA_UNAVAILABLE


class MalformedResyncInfo(ResyncError):
    """Re-Synchronization-Info is not RAND (16 octets) || AUTS (14 octets)."""


class ResyncMacMismatch(ResyncError):
    """MAC-S in AUTS does not verify: the AUTS is forged, corrupted, or was
    computed with another K/OPc."""
