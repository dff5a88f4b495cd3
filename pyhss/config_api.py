"""config.yaml's HTTP side: the ``api`` and ``metrics`` sections (where
the REST API, console and /metrics listen, tokens, TLS) and the TLS
context built from them.  Apart from :mod:`pyhss.config` to keep that
module to the schema of the HSS itself; re-exported there."""

import ipaddress
from dataclasses import dataclass

from pyhss.config_checks import _describe, _Invalid, _key, boolean, choice, integer, path


@dataclass(frozen=True)
class HttpListen:
    """Where the API listens: ``tcp:PORT[:interface=ADDRESS][:backlog=N]``
    (twisted's endpoint syntax; ``tcp6:`` for an IPv6 interface)."""
    port: int
    interface: str = "0.0.0.0"
    backlog: int = 128
    text: str = ""

    @property
    def loopback(self):
        return ipaddress.ip_address(self.interface).is_loopback

    def __str__(self):
        return self.text


def http_listen(value, base):
    """An endpoint string; empty or missing: None (the API is off)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _Invalid(f"must be an endpoint such as tcp:8080:interface=127.0.0.1 (empty: off), "
                       f"got {_describe(value)}")
    kind, _, rest = value.partition(":")
    if kind not in ("tcp", "tcp6") or not rest:
        raise _Invalid(f"must be tcp:PORT[:interface=ADDRESS] or tcp6:PORT[:interface=ADDRESS] "
                       f"(TLS: api.tls_certificate and api.tls_key), got {value!r}")
    port_text, *options = rest.split(":") if kind == "tcp" else _split_tcp6(rest)
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise _Invalid(f"port must be 0-65535, got {port_text!r} in {value!r}")
    interface = "0.0.0.0" if kind == "tcp" else "::"
    backlog = 128
    for option in options:
        name, equals, setting = option.partition("=")
        if not equals:
            raise _Invalid(f"{option!r} is not NAME=VALUE in {value!r}")
        if name == "interface":
            try:
                address = ipaddress.ip_address(setting)
            except ValueError:
                raise _Invalid(f"interface must be an IP address, got {setting!r}") from None
            if (address.version == 6) != (kind == "tcp6"):
                raise _Invalid(f"interface {setting} needs {'tcp6' if address.version == 6 else 'tcp'}:")
            interface = str(address)
        elif name == "backlog":
            if not setting.isdigit() or not 1 <= int(setting) <= 65535:
                raise _Invalid(f"backlog must be 1-65535, got {setting!r}")
            backlog = int(setting)
        else:
            raise _Invalid(f"unknown option {name!r} in {value!r}; expected interface or backlog")
    return HttpListen(int(port_text), interface, backlog, value)


def _split_tcp6(rest):
    # An IPv6 interface has colons of its own: escaped as in twisted ("\\:").
    parts = [part.replace("\0", ":") for part in rest.replace("\\:", "\0").split(":")]
    return parts


def optional_path(value, base):
    if value is None or value == "":
        return None
    return path(value, base)


@dataclass(frozen=True)
class ApiConfig:
    listen: HttpListen | None = _key(
        "listen", http_listen, None,
        doc="REST API, web console and /metrics: tcp:PORT:interface=ADDRESS (twisted endpoint syntax); "
            "empty: no HTTP. Without API tokens only a loopback interface is accepted")
    process: str = _key("process", choice(("child", "reactor")), "child",
                        doc="child: HTTP is served by a child process of the service (a burst of "
                            "provisioning never delays Diameter answers; needs the sqlite store); "
                            "reactor: on the Diameter reactor (the memory store)")
    tokens: str = _key("tokens", path, "var/api-tokens.json", check_default=True,
                       doc="API token file (pyhss-admin token add), hashed tokens, mode 0600")
    tls_certificate: str | None = _key("tls_certificate", optional_path, None,
                                       doc="PEM certificate (chain) for HTTPS; with tls_key")
    tls_key: str | None = _key("tls_key", optional_path, None, doc="PEM private key for HTTPS")
    max_body: int = _key("max_body", integer(1024, 64 * 1024 * 1024), 1024 * 1024,
                         doc="bytes; a larger request body is answered 413")


@dataclass(frozen=True)
class MetricsConfig:
    enabled: bool = _key("enabled", boolean, True,
                         doc="count Diameter requests, answers, latency, store operations for "
                             "Prometheus (served at /metrics on the API)")


def tls_options(api):
    """Twisted's TLS context factory for the certificate and key of ``api``;
    _Invalid(problem, key) when a file cannot be read or they do not match."""
    from OpenSSL import crypto
    from twisted.internet import ssl

    def read(name, file_path):
        try:
            with open(file_path, "rb") as handle:
                return handle.read()
        except OSError as e:
            raise _Invalid(f"cannot read {file_path!r}: {e.strerror or e}", name) from None

    certificate_pem = read("api.tls_certificate", api.tls_certificate)
    key_pem = read("api.tls_key", api.tls_key)
    blocks = [b"-----BEGIN CERTIFICATE-----" + block for block in
              certificate_pem.split(b"-----BEGIN CERTIFICATE-----")[1:]]
    if not blocks:
        raise _Invalid(f"no PEM certificate in {api.tls_certificate!r}", "api.tls_certificate")
    try:
        chain = [ssl.Certificate.loadPEM(block) for block in blocks]
    except Exception as e:
        raise _Invalid(f"not a PEM certificate: {e}", "api.tls_certificate") from None
    try:
        key = ssl.KeyPair.load(key_pem, crypto.FILETYPE_PEM)
    except Exception as e:
        raise _Invalid(f"not a PEM private key: {e}", "api.tls_key") from None
    try:
        options = ssl.CertificateOptions(privateKey=key.original, certificate=chain[0].original,
                                         extraCertChain=[c.original for c in chain[1:]],
                                         raiseMinimumTo=ssl.TLSVersion.TLSv1_2)
        options.getContext()     # checks that the key is the certificate's
        return options
    except Exception as e:
        raise _Invalid(f"does not match api.tls_certificate: {e}", "api.tls_key") from None
