"""Sequence number management in the HE/AuC (TS 33.102 Annex C).

SQN is 48 bits: SQN = SEQ || IND, IND being the low ``ind_bits`` bits
(C.1.1; default 5, i.e. an array of 32 entries in the USIM).  The AuC
keeps one counter per subscriber, stored as the last SQN it handed out
(SQN_HE).  Each new vector gets SEQ = SEQ_HE + 1 and IND = IND_HE + 1
modulo 2**ind_bits (C.1.2, C.3.2: IND steps cyclically so that vectors
used out of order by different serving nodes are still accepted).

Uniqueness comes from the store: :func:`allocator` builds the callable
``IStore.reserve_sqns(imsi, allocate)`` runs inside one transaction, so no
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


def allocate(current_sqn, count, ind_bits=DEFAULT_IND_BITS):
    """Hand out ``count`` fresh SQNs following ``current_sqn`` (SQN_HE).

    Returns ``(new_stored_sqn, [sqn, ...])``; the new stored value is the
    last SQN handed out.  SEQ wraps modulo 2**(48 - ind_bits), i.e. SQN
    stays within 48 bits (a USIM will then ask for resynchronisation).
    """
    return allocator(count, ind_bits)(current_sqn)


def allocator(count, ind_bits=DEFAULT_IND_BITS):
    """The ``allocate`` callable for ``IStore.reserve_sqns``: :func:`allocate`
    with ``count`` and ``ind_bits`` checked once (the AuC keeps one per
    count: it runs once per AIR)."""
    _check_ind_bits(ind_bits)
    if count < 0:
        raise InvalidKeyMaterial(f"vector count must not be negative, got {count}")
    seq_mask = (1 << (SQN_BITS - ind_bits)) - 1
    ind_modulus = 1 << ind_bits
    steps = range(1, count + 1)

    def reserve(current_sqn):
        if not 0 <= current_sqn <= SQN_MASK:
            raise InvalidKeyMaterial(f"SQN must be 0..2**48-1, got {current_sqn}")
        seq, ind = current_sqn >> ind_bits, current_sqn & (ind_modulus - 1)
        sqns = [(((seq + step) & seq_mask) << ind_bits) | ((ind + step) % ind_modulus) for step in steps]
        return (sqns[-1] if sqns else current_sqn), sqns

    return reserve


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


def resync_allocator(sqn_ms, count, ind_bits=DEFAULT_IND_BITS, delta=DEFAULT_DELTA):
    """The ``allocate`` callable for ``IStore.reserve_sqns`` after resync."""
    _check_ind_bits(ind_bits)
    split(sqn_ms, ind_bits)

    def reserve(current_sqn):
        return allocate_after_resync(current_sqn, sqn_ms, count, ind_bits, delta)

    return reserve
