"""Fast TCAP/MAP encoding by patching pycrate-encoded templates.

pycrate takes ~0.4 ms per TCAP message, too slow for a million messages in
minutes.  A message is therefore encoded by pycrate once per *shape* (what
it is plus the length of every variable field), with two different sets of
sentinel values; the byte offsets where the two encodings differ are the
offsets of the variable fields.  Later messages of the same shape are a copy
of the template with the fields written in place: the same bytes pycrate
would give, since BER lengths depend only on the field lengths.
"""

import random

from ss7tools.encode.gsmmap import tbcd
from ss7tools.errors import TemplateError


def _encode_slot(kind, value):
    return tbcd(value) if kind == "digits" else bytes(value)


def _sentinel(rng, kind, length):
    if kind == "digits":
        return "".join(rng.choice("0123456789") for _ in range(length))
    return bytes(rng.randrange(256) for _ in range(length))


class Template:
    """One message shape: the template bytes and where each slot goes."""

    __slots__ = ("base", "patches")

    def __init__(self, base, patches):
        self.base = base
        self.patches = patches          # [(offset, end, slot name, kind)]

    @classmethod
    def compile(cls, build, slots, attempts=8):
        """``build(values) -> bytes``; ``slots`` {name: (kind, length)} with
        kind ``digits`` (TBCD digit string) or ``raw`` (bytes)."""
        rng = random.Random(0x55A7)     # fixed: template search is not simulation state
        for _ in range(attempts):
            first = {n: _sentinel(rng, k, ln) for n, (k, ln) in slots.items()}
            second = {n: _sentinel(rng, k, ln) for n, (k, ln) in slots.items()}
            a, b = build(first), build(second)
            if len(a) != len(b):
                raise TemplateError("encoding length depends on slot values")
            patches = []
            for name, (kind, _length) in slots.items():
                ea, eb = _encode_slot(kind, first[name]), _encode_slot(kind, second[name])
                start = a.find(ea)
                while start >= 0:
                    if b[start:start + len(eb)] == eb:
                        patches.append((start, start + len(ea), name, kind))
                    start = a.find(ea, start + 1)
            template = cls(a, sorted(patches))
            # every difference explained by a patch: slots an encoding does
            # not use simply get none
            if template.fill(second) == b and template.fill(first) == a:
                return template
        raise TemplateError("could not locate the slots %s" % sorted(slots))

    def fill(self, values):
        out = bytearray(self.base)
        for start, end, name, kind in self.patches:
            value = values[name]
            out[start:end] = tbcd(value) if kind == "digits" else value
        return bytes(out)


class TemplateCache:
    """Templates by (message key, slot shapes)."""

    def __init__(self):
        self._templates = {}
        self.compiled = 0

    def render(self, key, build, values, kinds):
        """``values`` {slot: value}; ``kinds`` {slot: 'digits'|'raw'}."""
        shape = (key,) + tuple((n, len(values[n])) for n in kinds)
        template = self._templates.get(shape)
        if template is None:
            slots = {n: (k, len(values[n])) for n, k in kinds.items()}
            template = Template.compile(build, slots)
            self._templates[shape] = template
            self.compiled += 1
        return template.fill(values)
