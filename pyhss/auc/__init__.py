"""Authentication centre: MILENAGE, the EPS/UMTS/GSM vectors, SQN handling.

Pure computation, no I/O: the S6a handlers fetch the subscriber, reserve
SQNs through the store (``IStore.reserve_sqns``) and call in here.
"""

from pyhss.auc.errors import (
    AucError,
    InvalidKeyMaterial,
    InvalidVectorRequest,
    MalformedResyncInfo,
    ResyncError,
    ResyncMacMismatch,
)
from pyhss.auc.kdf import derive_kasme, encode_plmn_id, kdf
from pyhss.auc.milenage import Milenage, compute_opc
from pyhss.auc.sqn import DEFAULT_IND_BITS, allocate, allocator
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
    "UtranVector",
    "allocate",
    "allocator",
    "compute_opc",
    "derive_kasme",
    "encode_plmn_id",
    "eutran_vector",
    "geran_vector",
    "kdf",
    "utran_vector",
]
