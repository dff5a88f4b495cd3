"""The rules of every provisioned field, declared once, as data.

A record (:mod:`pyhss.storage.records`) checks each of its fields with its
rule when it is built; ``pyhss-admin`` reads its options and CSV cells
with :meth:`Rule.from_text`, the REST API reads JSON with
:meth:`Rule.from_json` and writes it with :meth:`Rule.to_json`, and the
OpenAPI document describes each field with :meth:`Rule.json_schema`.  So
a field's range, length or choices are written here only.

Every problem raises :class:`~pyhss.storage.errors.ValidationError` whose
``field`` is the field's name and ``problem`` what is wrong with it; its
text reads ``"<label> <problem>"`` (``"UE-AMBR uplink must be an integer
0..4294967295, got -1"``).  A secret field (K, OP, OPc) never puts its
value in a problem, nor in anything :meth:`Rule.to_json` returns.
"""

import re

from pyhss.storage.errors import ValidationError

_HEX = re.compile(r"^[0-9A-Fa-f]*$")
_APN_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
APN_MAX_LENGTH = 100


class Rule:
    """One field of a record: its name, the label its messages use, and
    what values it takes.

    @ivar optional: None is a valid value (and JSON ``null``).
    @ivar secret: never returned nor echoed in a message (K, OP, OPc).
    @ivar doc: one line for the OpenAPI document and help texts.
    """

    json_type = "string"

    def __init__(self, name, label=None, optional=False, secret=False, doc=""):
        self.name = name
        self.label = label or name
        self.optional = optional
        self.secret = secret
        self.doc = doc

    def invalid(self, problem):
        return ValidationError(f"{self.label} {problem}", field=self.name, problem=problem)

    def check(self, value):
        """The record's value, normalised; ValidationError when invalid."""
        if value is None and self.optional:
            return None
        return self.check_value(value)

    def check_value(self, value):
        raise NotImplementedError

    def from_json(self, value):
        """The record's value for a JSON value."""
        return self.check(value)

    def to_json(self, value):
        return value

    def from_text(self, text):
        """The record's value for command-line or CSV text."""
        return self.check(text)

    def json_schema(self):
        schema = self.value_schema()
        if self.optional:
            schema = dict(schema, type=[schema["type"], "null"])
        if self.doc:
            schema["description"] = self.doc
        if self.secret:
            schema["writeOnly"] = True
        return schema

    def value_schema(self):
        return {"type": self.json_type}


def describe(value):
    """A value in a message: short, and its type plain."""
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "nothing"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else repr(value[:40] + "...")
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


class Digits(Rule):
    """A string of ASCII digits, ``low`` to ``high`` of them (IMSI, MSISDN)."""

    def __init__(self, name, label, low, high, **options):
        Rule.__init__(self, name, label, **options)
        self.low = low
        self.high = high

    def check_value(self, value):
        if not isinstance(value, str) or not value.isascii() or not value.isdigit() \
                or not self.low <= len(value) <= self.high:
            raise self.invalid(f"must be {self.low}-{self.high} digits, got {describe(value)}")
        return value

    def value_schema(self):
        return {"type": "string", "pattern": f"^[0-9]{{{self.low},{self.high}}}$"}


class Octets(Rule):
    """Bytes of a fixed length, written as hexadecimal (K, OPc, OP, AMF)."""

    def __init__(self, name, label, length, **options):
        Rule.__init__(self, name, label, **options)
        self.length = length

    def check_value(self, value):
        if not isinstance(value, bytes) or len(value) != self.length:
            # Never the value: it may be most of a key, and errors get logged.
            got = f"{len(value)} bytes" if isinstance(value, bytes) else type(value).__name__
            raise self.invalid(f"must be {self.length} bytes, got {got}")
        return value

    def from_json(self, value):
        if value is None and self.optional:
            return None
        if not isinstance(value, str):
            raise self.invalid(f"must be {self.length} bytes as {2 * self.length} hex digits, "
                               f"got {'a ' + type(value).__name__ if self.secret else describe(value)}")
        return self.from_text(value)

    def from_text(self, text):
        value = text.strip()
        if value[:2].lower() == "0x":
            value = value[2:]
        if not _HEX.match(value) or len(value) % 2:
            # Not the value: a mistyped K or OPc is still nearly all of it.
            raise self.invalid(f"must be hexadecimal, an even number of 0-9 and A-F, got {len(value)} characters")
        if len(value) != 2 * self.length:
            raise self.invalid(f"must be {self.length} bytes ({2 * self.length} hex digits), "
                               f"got {len(value) // 2}")
        return bytes.fromhex(value)

    def to_json(self, value):
        if self.secret:
            raise ValueError(f"{self.label} is write-only")
        return None if value is None else value.hex().upper()

    def value_schema(self):
        return {"type": "string", "pattern": f"^(0[xX])?[0-9A-Fa-f]{{{2 * self.length}}}$"}


class Integer(Rule):
    json_type = "integer"

    def __init__(self, name, label, low, high, **options):
        Rule.__init__(self, name, label, **options)
        self.low = low
        self.high = high

    def check_value(self, value):
        if isinstance(value, bool) or not isinstance(value, int) or not self.low <= value <= self.high:
            raise self.invalid(f"must be an integer {self.low}..{self.high}, got {describe(value)}")
        return value

    def from_text(self, text):
        try:
            value = int(text.strip(), 10)
        except ValueError:
            raise self.invalid(f"must be an integer {self.low}..{self.high}, got {describe(text)}") from None
        return self.check(value)

    def value_schema(self):
        return {"type": "integer", "minimum": self.low, "maximum": self.high}


class Number(Rule):
    """A number of seconds (a time stamp)."""

    json_type = "number"

    def check_value(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.invalid(f"must be a number, got {describe(value)}")
        return value


class Flag(Rule):
    json_type = "boolean"
    _WORDS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}

    def check_value(self, value):
        if not isinstance(value, bool):
            raise self.invalid(f"must be true or false, got {describe(value)}")
        return value

    def from_text(self, text):
        try:
            return self._WORDS[text.strip().lower()]
        except KeyError:
            raise self.invalid(f"must be true or false, got {describe(text)}") from None


class Choice(Rule):
    """One of a few values; ``choices`` maps each external name (JSON, text)
    to the record's value (``{"enabled": 0, "disabled": 1}``)."""

    def __init__(self, name, label, choices, **options):
        Rule.__init__(self, name, label, **options)
        self.choices = dict(choices)
        self.names = {value: name for name, value in self.choices.items()}
        self.json_type = "integer" if all(isinstance(n, int) for n in self.choices) else "string"

    def _expected(self):
        return ", ".join(str(name) for name in self.choices)

    def check_value(self, value):
        if isinstance(value, bool) or value not in self.names:
            raise self.invalid(f"must be one of {self._expected()}, got {describe(value)}")
        return value

    def from_json(self, value):
        if value is None and self.optional:
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int)) or value not in self.choices:
            raise self.invalid(f"must be one of {self._expected()}, got {describe(value)}")
        return self.choices[value]

    def from_text(self, text):
        name = text.strip()
        if self.json_type == "integer" and name.isdigit():
            name = int(name)
        return self.from_json(name)

    def to_json(self, value):
        return self.names.get(value, value)

    def value_schema(self):
        return {"type": self.json_type, "enum": list(self.choices)}


def normalise_apn(name):
    """APN network identifier (TS 23.003 9.1.1) in lower case; '*' is the wildcard."""
    return APN_NAME.check(name)


class ApnName(Rule):
    def check_value(self, value):
        if not isinstance(value, str):
            raise self.invalid(f"must be a string, got {describe(value)}")
        lowered = value.lower()
        if lowered == "*":
            return lowered
        if not 1 <= len(lowered) <= APN_MAX_LENGTH or not all(_APN_LABEL.match(label)
                                                              for label in lowered.split(".")):
            raise self.invalid(f"must be labels of letters, digits and '-' separated by dots, got {describe(value)}")
        return lowered

    def value_schema(self):
        return {"type": "string", "minLength": 1, "maxLength": APN_MAX_LENGTH,
                "pattern": r"^(\*|[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*)$"}


APN_NAME = ApnName("name", "APN name")


class ApnList(Rule):
    """APN names, none twice; the first is the default APN."""

    json_type = "array"

    def check_value(self, value):
        if isinstance(value, str) or not isinstance(value, (tuple, list)):
            raise self.invalid(f"must be a list of APN names, got {describe(value)}")
        names = []
        for name in value:
            try:
                names.append(APN_NAME.check(name))
            except ValidationError as e:
                raise ValidationError(str(e), field=self.name, problem=e.problem) from None
        if len(set(names)) != len(names):
            raise self.invalid(f"lists an APN twice: {', '.join(names)}")
        return tuple(names)

    def from_text(self, text):
        # CSV cells: names separated by spaces or semicolons.
        return self.check(text.replace(";", " ").split())

    def to_json(self, value):
        return list(value)

    def value_schema(self):
        return {"type": "array", "items": APN_NAME.value_schema(), "uniqueItems": True}


class Text(Rule):
    """A non-empty string of at most ``max_length`` characters (None: any);
    ``printable``: no control characters (it reaches terminals and logs)."""

    def __init__(self, name, label=None, max_length=None, printable=False, **options):
        Rule.__init__(self, name, label, **options)
        self.max_length = max_length
        self.printable = printable

    def check_value(self, value):
        if not isinstance(value, str) or not value:
            raise self.invalid(f"must be a non-empty string, got {describe(value)}")
        if self.max_length is not None and len(value) > self.max_length:
            raise self.invalid(f"must be at most {self.max_length} characters, got {len(value)}")
        if self.printable and not value.isprintable():
            raise self.invalid("must be printable text (no control characters)")
        return value

    def value_schema(self):
        schema = {"type": "string", "minLength": 1}
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        return schema


class Pattern(Rule):
    """A string matching ``regex`` (a compiled pattern, anchored), at most
    ``max_length`` characters; ``expected`` says what it must be."""

    def __init__(self, name, label, regex, max_length, expected, **options):
        Rule.__init__(self, name, label, **options)
        self.regex = regex
        self.max_length = max_length
        self.expected = expected

    def check_value(self, value):
        if not isinstance(value, str) or len(value) > self.max_length or not self.regex.match(value):
            raise self.invalid(f"must be {self.expected}, got {describe(value)}")
        return value

    def value_schema(self):
        return {"type": "string", "maxLength": self.max_length, "pattern": self.regex.pattern}


def rules_by_name(rules):
    return {rule.name: rule for rule in rules}


class Checked(Rule):
    """A field checked by a record module's own function (``check(value)``
    returns the value normalised or raises ValidationError), so that the
    record, ``pyhss-admin`` and the API share it; ``schema`` is its JSON
    Schema.  The function's message is the problem, named by this field."""

    def __init__(self, name, label, check, schema, **options):
        Rule.__init__(self, name, label, **options)
        self.check_function = check
        self.schema = dict(schema)
        self.json_type = self.schema.get("type", "string")

    def check_value(self, value):
        try:
            return self.check_function(value)
        except ValidationError as e:
            raise ValidationError(str(e), field=self.name, problem=str(e)) from None

    def value_schema(self):
        return dict(self.schema)
