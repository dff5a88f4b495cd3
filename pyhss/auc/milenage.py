"""MILENAGE, the 3GPP example algorithm set f1, f1*, f2, f3, f4, f5, f5*.

Specification: 3GPP TS 35.206 (algorithm), TS 35.207/35.208 (test data).
The kernel is AES-128 (Rijndael with 128-bit blocks and keys) as TS 35.206
section 4.1 suggests, with the standard constants:

    r1 = 64, r2 = 0, r3 = 32, r4 = 64, r5 = 96 bits (rotations)
    c1 = 0, c2 = 1, c3 = 2, c4 = 4, c5 = 8 (128-bit constants)

    TEMP = E_K(RAND xor OPc)
    OUT1 = E_K(TEMP xor rot(IN1 xor OPc, r1) xor c1) xor OPc,
           IN1 = SQN || AMF || SQN || AMF;   MAC-A = OUT1[0..63],
                                              MAC-S = OUT1[64..127]
    OUTi = E_K(rot(TEMP xor OPc, ri) xor ci) xor OPc, i = 2..5
           RES = OUT2[64..127], AK = OUT2[0..47], CK = OUT3, IK = OUT4,
           AK* = OUT5[0..47]

rot(x, r) rotates the 128-bit x by r bits towards the most significant bit.

Speed: building an AES object costs more than encrypting a block, so one
``Milenage`` instance (holding the cipher for K) is cached per subscriber
key, and the four blocks a vector needs (OUT1..OUT4) go through AES in one
call; XOR work is done on Python ints, which is much faster than per-byte
loops.  AES is OpenSSL's, through ``cryptography``: its per-call overhead is
about a tenth of pycryptodome's ctypes wrapper for 16- and 64-octet blocks
(2,300 against 25,400 instructions per call, measured with callgrind), and
a vector needs two calls.
"""

import threading

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from pyhss.auc.errors import InvalidKeyMaterial

_MASK128 = (1 << 128) - 1
_MASK48 = (1 << 48) - 1

# c2, c3, c4, c5 of TS 35.206 section 4.1 (c1 is zero).
_C2, _C3, _C4, _C5 = 1, 2, 4, 8


def _rot(value, bits):
    """Rotate a 128-bit int by ``bits`` towards the most significant bit."""
    if not bits:
        return value
    return ((value << bits) | (value >> (128 - bits))) & _MASK128


def _check(name, value, length):
    if not isinstance(value, (bytes, bytearray)) or len(value) != length:
        # Never echo the value: it may be key material.
        got = len(value) if isinstance(value, (bytes, bytearray)) else type(value).__name__
        raise InvalidKeyMaterial(f"{name} must be {length} octets, got {got}")
    return bytes(value)


_ECB = modes.ECB()   # modes are immutable: one for every context


def _aes_ecb(k):
    """An AES-128 ECB encryption context for K: ``update(blocks)``."""
    return Cipher(algorithms.AES128(k), _ECB).encryptor()


def compute_opc(k, op):
    """OPc = OP xor E_K(OP) (TS 35.206 section 4.1)."""
    k = _check("K", k, 16)
    op = _check("OP", op, 16)
    encrypted = _aes_ecb(k).update(op)
    return (int.from_bytes(encrypted, "big") ^ int.from_bytes(op, "big")).to_bytes(16, "big")


class Milenage:
    """MILENAGE bound to one subscriber: key K and operator constant OPc.

    The f-functions take and return ``bytes`` exactly as TS 35.206 names
    them; :meth:`authenticate` is the vector-generation fast path.
    """

    __slots__ = ("k", "opc", "_aes", "_lock", "_opc_int", "_opc_x4")

    def __init__(self, k, opc):
        # Stored keys are bytes already: check them without copying.
        self.k = k if type(k) is bytes and len(k) == 16 else _check("K", k, 16)
        self.opc = opc if type(opc) is bytes and len(opc) == 16 else _check("OPc", opc, 16)
        self._aes = _aes_ecb(self.k).update
        # Instances are cached and shared by the reactor (vectors) and the
        # store's thread (resynchronisation); an OpenSSL context must not
        # run two updates at once.
        self._lock = threading.Lock()
        self._opc_int = int.from_bytes(self.opc, "big")
        self._opc_x4 = int.from_bytes(self.opc * 4, "big")

    @classmethod
    def from_op(cls, k, op):
        """Build from OP (when the operator stores OP and not OPc)."""
        return cls(k, compute_opc(k, op))

    @classmethod
    def for_subscriber(cls, k, opc=None, op=None):
        """Cached instance for K with exactly one of ``opc`` / ``op``."""
        return _CACHE.get(k, opc, op)

    def __repr__(self):
        # Never print key material.
        return "<Milenage>"

    # -- internals -----------------------------------------------------

    def _encrypt(self, blocks):
        with self._lock:
            return self._aes(blocks)

    def _temp(self, rand):
        if type(rand) is not bytes or len(rand) != 16:
            rand = _check("RAND", rand, 16)
        block = (int.from_bytes(rand, "big") ^ self._opc_int).to_bytes(16, "big")
        with self._lock:
            encrypted = self._aes(block)
        return int.from_bytes(encrypted, "big")

    def _out1(self, rand, sqn, amf):
        sqn = _check("SQN", sqn, 6)
        amf = _check("AMF", amf, 2)
        temp = self._temp(rand)
        in1_half = int.from_bytes(sqn + amf, "big")
        in1 = (in1_half << 64) | in1_half
        block = temp ^ _rot(in1 ^ self._opc_int, 64)
        out = int.from_bytes(self._encrypt(block.to_bytes(16, "big")), "big") ^ self._opc_int
        return out.to_bytes(16, "big")

    def _out(self, rand, rotation, constant):
        x = self._temp(rand) ^ self._opc_int
        block = _rot(x, rotation) ^ constant
        out = int.from_bytes(self._encrypt(block.to_bytes(16, "big")), "big") ^ self._opc_int
        return out.to_bytes(16, "big")

    # -- the functions of TS 35.206 ------------------------------------

    def f1(self, rand, sqn, amf):
        """Network authentication code MAC-A (8 octets)."""
        return self._out1(rand, sqn, amf)[:8]

    def f1_star(self, rand, sqn, amf):
        """Resynchronisation authentication code MAC-S (8 octets)."""
        return self._out1(rand, sqn, amf)[8:]

    def f2(self, rand):
        """RES / XRES (8 octets)."""
        return self._out(rand, 0, _C2)[8:]

    def f3(self, rand):
        """Cipher key CK (16 octets)."""
        return self._out(rand, 32, _C3)

    def f4(self, rand):
        """Integrity key IK (16 octets)."""
        return self._out(rand, 64, _C4)

    def f5(self, rand):
        """Anonymity key AK (6 octets)."""
        return self._out(rand, 0, _C2)[:6]

    def f5_star(self, rand):
        """Resynchronisation anonymity key AK* (6 octets)."""
        return self._out(rand, 96, _C5)[:6]

    def f2345(self, rand):
        """(RES, CK, IK, AK) with one TEMP computation."""
        _, res, ck, ik, ak = self._outputs(rand, 0)
        return res, ck, ik, ak

    # -- fast path -------------------------------------------------------

    def _outputs(self, rand, in1):
        """(MAC-A, RES, CK, IK, AK) for RAND and IN1 (an int), in two AES calls.

        Written out in one function (rotations inlined): it runs once per
        vector under AIR load.
        """
        if type(rand) is not bytes or len(rand) != 16:
            rand = _check("RAND", rand, 16)
        opc = self._opc_int
        aes = self._aes
        with self._lock:
            temp = int.from_bytes(aes((int.from_bytes(rand, "big") ^ opc).to_bytes(16, "big")), "big")
            in1 ^= opc
            x = temp ^ opc
            blocks = (
                ((temp ^ (((in1 << 64) | (in1 >> 64)) & _MASK128)) << 384)     # OUT1: rot(IN1^OPc, r1=64) xor TEMP
                | ((x ^ _C2) << 256)                                           # OUT2: r2 = 0
                | (((((x << 32) | (x >> 96)) & _MASK128) ^ _C3) << 128)        # OUT3: r3 = 32
                | ((((x << 64) | (x >> 64)) & _MASK128) ^ _C4)                 # OUT4: r4 = 64
            )
            encrypted = aes(blocks.to_bytes(64, "big"))
        out = (int.from_bytes(encrypted, "big") ^ self._opc_x4).to_bytes(64, "big")
        # OUT1 = out[0:16], OUT2 = out[16:32], OUT3 = out[32:48], OUT4 = out[48:64]
        return out[0:8], out[24:32], out[32:48], out[48:64], out[16:22]

    def authenticate(self, rand, sqn, amf):
        """Everything one vector needs, in two AES calls.

        ``sqn`` is an int (0 <= SQN < 2**48), ``amf`` two octets.  Returns
        ``(mac_a, xres, ck, ik, ak)``.
        """
        if not 0 <= sqn <= _MASK48:
            raise InvalidKeyMaterial(f"SQN out of range: {sqn}")
        if type(amf) is not bytes or len(amf) != 2:
            amf = _check("AMF", amf, 2)
        half = (sqn << 16) | int.from_bytes(amf, "big")
        return self._outputs(rand, (half << 64) | half)


class _MilenageCache:
    """Bounded map (K, OPc, OP) -> Milenage; oldest entry evicted first.

    Every reactor-thread AIR for a known subscriber then skips AES key
    expansion and, for OP-provisioned subscribers, the OPc computation.
    """

    def __init__(self, max_entries):
        self.max_entries = max_entries
        self._entries = {}

    def get(self, k, opc, op):
        key = (k, opc, op)
        entry = self._entries.get(key)
        if entry is not None:
            return entry
        if (opc is None) == (op is None):
            raise InvalidKeyMaterial("exactly one of OPc and OP must be given")
        entry = Milenage(k, opc) if opc is not None else Milenage.from_op(k, op)
        entries = self._entries
        if len(entries) >= self.max_entries:
            try:
                del entries[next(iter(entries))]
            except (StopIteration, KeyError, RuntimeError):  # emptied by another thread
                pass
        entries[key] = entry
        return entry

    def clear(self):
        self._entries.clear()

    def __len__(self):
        return len(self._entries)


# About 1.5 KiB per entry (measured RSS, OpenSSL context and lock): the
# default keeps 65,536 subscribers warm in ~95 MiB; a miss costs one AES
# key schedule.
_CACHE = _MilenageCache(65536)


def set_cache_size(max_entries):
    """Resize (and empty) the per-key cache; 0 keeps one entry at most."""
    _CACHE.max_entries = max(1, int(max_entries))
    _CACHE.clear()
