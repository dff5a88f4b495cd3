"""Authentication centre: MILENAGE, the EPS/UMTS/GSM vectors, SQN handling.

Pure computation, no I/O, and nothing of the rest of pyhss imported: the
S6a handlers reserve SQNs through the store with a plain
:class:`~pyhss.auc.sqn.SqnRequest` (the store applies
:func:`~pyhss.auc.sqn.advance`, the SQN policy) and call in here.
"""

from pyhss.auc.errors import (
    AucError,
    InvalidKeyMaterial,
    InvalidVectorRequest,
    MalformedResyncInfo,
    ResyncError,
    ResyncMacMismatch,
    UnknownSubscriber,
)
from pyhss.auc.kdf import derive_kasme, encode_plmn_id, kdf
from pyhss.auc.milenage import Milenage, compute_opc
from pyhss.auc.sqn import DEFAULT_IND_BITS, SqnRequest, advance, allocate
from pyhss.auc.vectors import (
    EutranVector,
    GeranVector,
    UtranVector,
    eutran_vector,
    geran_vector,
    utran_vector,
)

__all__ = [
    "AucError",
    "DEFAULT_IND_BITS",
    "EutranVector",
    "GeranVector",
    "InvalidKeyMaterial",
    "InvalidVectorRequest",
    "MalformedResyncInfo",
    "Milenage",
    "ResyncError",
    "ResyncMacMismatch",
    "SqnRequest",
    "UnknownSubscriber",
    "UtranVector",
    "advance",
    "allocate",
    "compute_opc",
    "derive_kasme",
    "encode_plmn_id",
    "eutran_vector",
    "geran_vector",
    "kdf",
    "utran_vector",
]
