"""Sequence number management in the HE/AuC (TS 33.102 Annex C).

SQN is 48 bits: SQN = SEQ || IND, IND being the low ``ind_bits`` bits
(C.1.1; default 5, i.e. an array of 32 entries in the USIM).  The AuC
keeps one counter per subscriber, stored as the last SQN it handed out
(SQN_HE).  Each new vector gets SEQ = SEQ_HE + 1 and IND = IND_HE + 1
modulo 2**ind_bits (C.1.2, C.3.2: IND steps cyclically so that vectors
used out of order by different serving nodes are still accepted).

Uniqueness comes from the store: a :class:`SqnRequest` says what to
reserve, as plain values, and the store applies :func:`advance` (this
module's policy, pure) to the stored SQN_HE inside one transaction, so no
two callers ever start from the same stored value.
"""

from pyhss.auc.errors import InvalidKeyMaterial

SQN_BITS = 48
SQN_MASK = (1 << SQN_BITS) - 1
DEFAULT_IND_BITS = 5
MAX_IND_BITS = 16

# C.2.1: the USIM rejects SEQ more than DELTA above SEQ_MS; 2**28 is the
# value TS 33.102 recommends.  Used to decide, on resynchronisation,
# whether SQN_HE is still acceptable to the USIM.
DEFAULT_DELTA = 1 << 28


def _check_ind_bits(ind_bits):
    if not 0 <= ind_bits <= MAX_IND_BITS:
        raise InvalidKeyMaterial(f"IND length must be 0..{MAX_IND_BITS} bits, got {ind_bits}")


def split(sqn, ind_bits=DEFAULT_IND_BITS):
    """(SEQ, IND) of a 48-bit SQN."""
    _check_ind_bits(ind_bits)
    if not 0 <= sqn <= SQN_MASK:
        raise InvalidKeyMaterial(f"SQN must be 0..2**48-1, got {sqn}")
    return sqn >> ind_bits, sqn & ((1 << ind_bits) - 1)


def join(seq, ind, ind_bits=DEFAULT_IND_BITS):
    """SQN from SEQ and IND (both reduced to their field widths)."""
    _check_ind_bits(ind_bits)
    seq_mask = (1 << (SQN_BITS - ind_bits)) - 1
    return ((seq & seq_mask) << ind_bits) | (ind & ((1 << ind_bits) - 1))


class SqnRequest:
    """What an AIR needs of one subscriber's SQN: ``count`` fresh SQNs with
    ``ind_bits`` of IND or, after a verified resynchronisation, SQNs going on
    from ``resync_sqn`` (SQN_MS) unless SQN_HE is still within ``delta`` of it.

    Plain values, checked here, so that a store can carry the request into
    its transaction (SQLite's worker, between a server database's
    ``SELECT ... FOR UPDATE`` and ``UPDATE``, a MongoDB compare-and-set) and
    apply :func:`advance` there.  The AuC shares one per count: never change
    one.  Raises InvalidKeyMaterial for a negative count, an IND length
    outside 0..16 or a resync point outside 48 bits.
    """

    # _seq_mask, _ind_mask, _steps: derived once (advance runs once per AIR).
    __slots__ = ("count", "ind_bits", "resync_sqn", "delta", "_seq_mask", "_ind_mask", "_steps")

    def __init__(self, count, ind_bits=DEFAULT_IND_BITS, resync_sqn=None, delta=DEFAULT_DELTA):
        _check_ind_bits(ind_bits)
        if type(count) is not int or count < 0:
            raise InvalidKeyMaterial(f"vector count must be an integer of at least 0, got {count!r}")
        if resync_sqn is not None:
            split(resync_sqn, ind_bits)
        self.count = count
        self.ind_bits = ind_bits
        self.resync_sqn = resync_sqn
        self.delta = delta
        self._seq_mask = (1 << (SQN_BITS - ind_bits)) - 1
        self._ind_mask = (1 << ind_bits) - 1
        self._steps = range(1, count + 1)

    def __repr__(self):
        resync = "" if self.resync_sqn is None else f", resync_sqn={self.resync_sqn}"
        return f"SqnRequest({self.count}, ind_bits={self.ind_bits}{resync})"


def advance(current_sqn, request):
    """The SQN policy: ``(new_stored_sqn, [sqn, ...])`` for :class:`SqnRequest`
    ``request`` from the stored SQN_HE ``current_sqn``.

    Each SQN gets SEQ + 1 and IND + 1 modulo 2**ind_bits (C.1.2, C.3.2); the
    new stored value is the last one handed out (``current_sqn`` when none
    is).  SEQ wraps modulo 2**(48 - ind_bits): SQN stays within 48 bits
    (a USIM will then ask for resynchronisation).
    """
    if not 0 <= current_sqn <= SQN_MASK:
        raise InvalidKeyMaterial(f"SQN must be 0..2**48-1, got {current_sqn}")
    if request.resync_sqn is not None:
        return allocate_after_resync(current_sqn, request.resync_sqn, request.count, request.ind_bits,
                                     request.delta)
    ind_bits, seq_mask, modulus = request.ind_bits, request._seq_mask, request._ind_mask + 1
    seq, ind = current_sqn >> ind_bits, current_sqn & request._ind_mask
    sqns = [(((seq + step) & seq_mask) << ind_bits) | ((ind + step) % modulus) for step in request._steps]
    return (sqns[-1] if sqns else current_sqn), sqns


def allocate(current_sqn, count, ind_bits=DEFAULT_IND_BITS):
    """Hand out ``count`` fresh SQNs following ``current_sqn`` (SQN_HE):
    :func:`advance` with a one-off request."""
    return advance(current_sqn, SqnRequest(count, ind_bits))


def allocate_after_resync(current_sqn, sqn_ms, count, ind_bits=DEFAULT_IND_BITS, delta=DEFAULT_DELTA):
    """SQNs after a verified resynchronisation (TS 33.102 6.3.5, C.3).

    If the next SEQ from the AuC's counter would still be accepted by the
    USIM (C.2.1/C.2.2: SEQ > SEQ_MS and SEQ - SEQ_MS <= ``delta``) the AuC
    just continues from it, so no SQN is handed out twice; otherwise
    SQN_HE is reset to SQN_MS and the fresh vectors continue from there
    (next SEQ after SEQ_MS, IND stepping on from IND_MS).
    """
    seq_he, _ = split(current_sqn, ind_bits)
    seq_ms, _ = split(sqn_ms, ind_bits)
    if 0 <= seq_he - seq_ms < delta:
        return allocate(current_sqn, count, ind_bits)
    return allocate(sqn_ms, count, ind_bits)
