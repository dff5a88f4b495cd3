"""
Build tests/fd_mme/*.c, our freeDiameter extension that acts as an MME
towards an HSS (S6a) or an EIR (S13), into a test's temporary directory,
and write the freeDiameterd configuration that loads it.  Nothing is cached in the repository: every
test run compiles it again (well under a second).

L{SKIP_REASON} is None when everything the build and the run need is
installed: freeDiameterd, Debian's dictionary extensions, the
libfreediameter-dev headers and libraries, and gcc.
"""

import os
import shutil
import subprocess

from tests import interop_helpers

SOURCE_DIRECTORY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fd_mme")
SOURCES = sorted(os.path.join(SOURCE_DIRECTORY, name) for name in os.listdir(SOURCE_DIRECTORY)
                 if name.endswith(".c"))

# dict_dcca_3gpp carries most TS 29.272 AVPs; it needs dict_dcca, which
# needs dict_nasreq, loaded before it.
DICTIONARIES = ("dict_nasreq.fdx", "dict_dcca.fdx", "dict_dcca_3gpp.fdx")

_EXTENSION_DIRECTORIES = ("/usr/lib/freeDiameter", "/usr/lib/x86_64-linux-gnu/freeDiameter",
                          "/usr/lib/aarch64-linux-gnu/freeDiameter", "/usr/local/lib/freeDiameter")
_INCLUDE_DIRECTORIES = ("/usr/include", "/usr/local/include")
_LIBRARY_DIRECTORIES = ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib",
                        "/usr/local/lib")

GCC = shutil.which("gcc")


def _first(directories, *names):
    for directory in directories:
        if all(os.path.exists(os.path.join(directory, name)) for name in names):
            return directory
    return None


EXTENSION_DIRECTORY = _first(_EXTENSION_DIRECTORIES, *DICTIONARIES)
INCLUDE_DIRECTORY = _first(_INCLUDE_DIRECTORIES, os.path.join("freeDiameter", "extension.h"))
LIBRARY_DIRECTORY = _first(_LIBRARY_DIRECTORIES, "libfdcore.so", "libfdproto.so")


def _skip_reason():
    missing = []
    if not interop_helpers.FREEDIAMETERD:
        missing.append("freeDiameterd (Debian package freediameter)")
    if not EXTENSION_DIRECTORY:
        missing.append("the dictionary extensions %s (Debian package freediameter-extensions)"
                       % ", ".join(DICTIONARIES))
    if not INCLUDE_DIRECTORY or not LIBRARY_DIRECTORY:
        missing.append("freeDiameter's headers and libraries (Debian package libfreediameter-dev)")
    if not GCC:
        missing.append("gcc (Debian packages gcc and libc6-dev)")
    if missing:
        return "not installed: %s; the test command installs them" % "; ".join(missing)
    return None


SKIP_REASON = _skip_reason()


class BuildFailed(AssertionError):
    """gcc refused tests/fd_mme/*.c (its output is the message)."""


def build_extension(directory):
    """Compile the extension into C{directory}; return the .fdx path."""
    target = os.path.join(directory, "fd_mme.fdx")
    command = [GCC, "-std=gnu11", "-Wall", "-Wno-unused-parameter", "-O1", "-shared", "-fPIC",
               "-I" + INCLUDE_DIRECTORY, "-o", target] + SOURCES + [
               "-L" + LIBRARY_DIRECTORY, "-lfdcore", "-lfdproto", "-lpthread"]
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    if result.returncode != 0:
        raise BuildFailed("%s\n%s" % (" ".join(command), result.stdout.decode("utf-8", "replace")))
    return target


def write_configs(directory, extension, identity, realm, hss_host, hss_realm, hss_port, imsi, unknown_imsi,
                  visited_plmn):
    """
    Write the extension's configuration and freeDiameterd's (a TCP client of
    the HSS on 127.0.0.1:C{hss_port}, Relay off so its CER announces S6a
    alone, as an MME's does).

    @return: (freeDiameterd configuration path, the extension's output path)
    """
    output = os.path.join(directory, "fd_mme.jsonl")
    extension_config = os.path.join(directory, "fd_mme.conf")
    with open(extension_config, "w") as handle:
        handle.write("output = %s\nhss_host = %s\nhss_realm = %s\nimsi = %s\nunknown_imsi = %s\n"
                     "visited_plmn = %s\n" % (output, hss_host, hss_realm, imsi, unknown_imsi,
                                              visited_plmn.hex()))
    return _write_daemon_config(directory, extension, extension_config, identity, realm, hss_host, hss_port), output


def write_s13_configs(directory, extension, identity, realm, eir_host, eir_realm, eir_port, ecrs):
    """
    The same for the S13 role: an MME whose CER announces S13 alone and
    that sends one ECR per item of C{ecrs}, (label, IMEI, Software-Version,
    IMSI), None leaving that AVP out (no commas or spaces in the values).

    @return: (freeDiameterd configuration path, the extension's output path)
    """
    output = os.path.join(directory, "fd_mme.jsonl")
    extension_config = os.path.join(directory, "fd_mme.conf")
    with open(extension_config, "w") as handle:
        handle.write("role = s13\noutput = %s\nhss_host = %s\nhss_realm = %s\n" % (output, eir_host, eir_realm))
        for step in ecrs:
            handle.write("ecr = %s\n" % ",".join("-" if value is None else value for value in step))
    return _write_daemon_config(directory, extension, extension_config, identity, realm, eir_host,
                                eir_port), output


def _write_daemon_config(directory, extension, extension_config, identity, realm, peer_host, peer_port):
    """freeDiameterd's configuration: a TCP client of C{peer_host} on
    127.0.0.1:C{peer_port}, Relay off, the dictionaries and the extension."""
    text = interop_helpers.freediameter_config(
        identity=identity, realm=realm, relay=False, peers=[(peer_host, "127.0.0.1", peer_port)])
    for name in DICTIONARIES:
        text += 'LoadExtension = "%s";\n' % (os.path.join(EXTENSION_DIRECTORY, name),)
    text += 'LoadExtension = "%s" : "%s";\n' % (extension, extension_config)
    config = os.path.join(directory, "freeDiameter.conf")
    with open(config, "w") as handle:
        handle.write(text)
    return config
