"""
Run code inside user-mode Linux: a real Linux kernel (Debian's
user-mode-linux package, with SCTP as a module) running as an ordinary
process, for the tests and benchmarks that need a kernel SCTP stack on a
machine whose own kernel has none.

One call boots a guest that sees the host's files (hostfs root), loads
SCTP, runs one shell or Python script (the project's virtualenv Python)
and powers off; it returns the script's exit status and output::

    result = uml.run_python("import socket; print(socket.IPPROTO_SCTP)")
    result.status, result.output

The guest is a separate kernel: its own loopback (127.0.0.0/8), its own
processes.  It writes to the host's files as root, so scripts keep to
their working directory (a fresh one, removed afterwards, unless C{cwd}
is given).  A guest that overruns C{timeout} is killed with everything
it started (its processes are host processes in one process group), and
L{GuestError} says so; nothing is left running or on disk in either case.

Facts behind this (the kernel refuses a noexec memory directory, PID 1
must never exit, the module order): ../shared/notes/sctp-in-uml.md.
"""

import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import namedtuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERNEL = shutil.which("linux.uml") or "/usr/bin/linux.uml"
MODULES = "/usr/lib/uml/modules"
MODPROBE = shutil.which("modprobe") or "/sbin/modprobe"
# SCTP and its dependencies (modprobe follows modules.dep), and the HMAC
# transform for its cookies: without it listen() fails with ENOSYS.
SCTP_MODULES = ("sctp", "hmac")
DEFAULT_MEMORY = "384M"
DEFAULT_TIMEOUT = 120.0
# After SIGTERM to a guest that overran its time, this long before SIGKILL.
KILL_GRACE = 3.0


class GuestError(Exception):
    """The guest did not run the script to its end (it did not boot, or
    it overran its time); C{console} holds the kernel's console output."""

    def __init__(self, message, console=""):
        Exception.__init__(self, message)
        self.console = console

    def __str__(self):
        tail = self.console[-3000:]
        return "%s%s" % (self.args[0], "\nguest console:\n" + tail if tail else "")


GuestResult = namedtuple("GuestResult", "status output seconds")
GuestResult.__doc__ = """What a guest's script did: its exit status, its
output (standard output and error, merged) and the seconds from boot to
power-off."""


def _release():
    return sorted(os.listdir(MODULES))[-1] if os.path.isdir(MODULES) and os.listdir(MODULES) else None


def unavailable_reason():
    """Why no guest can run here (one line), or C{None}."""
    if not os.path.exists(KERNEL):
        return "user-mode Linux is not installed (Debian package user-mode-linux)"
    release = _release()
    if release is None or not os.path.isfile(
            os.path.join(MODULES, release, "kernel", "net", "sctp", "sctp.ko")):
        return "user-mode Linux has no SCTP module under %s" % (MODULES,)
    if not os.path.exists(MODPROBE):
        return "modprobe is not installed (Debian package kmod)"
    return None


def python():
    """The interpreter a guest runs: the project's virtualenv when there
    is one (by its own path, so that its packages come with it)."""
    venv = os.path.join(ROOT, ".venv", "bin", "python")
    return venv if os.path.exists(venv) else sys.executable


def _memory_directory(fallback):
    """Where the kernel keeps its memory file: /dev/shm when it is a
    writable tmpfs that allows exec (much faster than a disk), else
    C{fallback}."""
    try:
        flags = os.statvfs("/dev/shm").f_flag
        if os.access("/dev/shm", os.W_OK | os.X_OK) and not flags & os.ST_NOEXEC:
            return "/dev/shm"
    except OSError:
        pass
    return fallback


_INIT = """\
#!/bin/sh
# PID 1 of a guest booted by tests/uml.py.  It must never exit (the kernel
# would panic): whatever happens, power off at the end.
trap 'sync; poweroff -f' EXIT
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mkdir -p {modules}/lib/modules
ln -sfn {tree} {modules}/lib/modules/$(uname -r)
printf '#!/bin/sh\\nexec {modprobe} -d {modules} "$@"\\n' > {wrapper}
chmod 700 {wrapper}
echo {wrapper} > /proc/sys/kernel/modprobe
for module in {sctp_modules}; do {modprobe} -d {modules} $module || echo "modprobe $module failed" >> {output}; done
# After the modules (IPv6 among them): the loopback gets ::1 too.
ip link set lo up{mtu}{dummy}
cd {cwd} && env -i {environment} {command} >> {output} 2>&1 < /dev/null
echo $? > {status}
"""


def _boot(command, timeout, memory, cwd, environment, mtu=None, addresses=()):
    reason = unavailable_reason()
    if reason is not None:
        raise GuestError("cannot boot a guest: " + reason)
    work = tempfile.mkdtemp(prefix="pyhss-uml-")
    try:
        return _boot_in(work, command, timeout, memory, cwd, environment, mtu, addresses)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _boot_in(work, command, timeout, memory, cwd, environment, mtu, addresses):
    guest_tmp = os.path.join(work, "tmp")
    os.mkdir(guest_tmp)
    if cwd is None:
        cwd = os.path.join(work, "cwd")
        os.mkdir(cwd)
    paths = {name: os.path.join(work, name) for name in (
        "init.sh", "output", "status", "modules", "modprobe.sh", "console", "uml")}
    env = {"HOME": guest_tmp, "TMPDIR": guest_tmp, "LANG": "C.UTF-8",
           "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
           "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": ROOT}
    env.update(environment or {})
    with open(paths["init.sh"], "w") as f:
        f.write(_INIT.format(
            modules=shlex.quote(paths["modules"]),
            tree=shlex.quote(os.path.join(MODULES, _release())),
            modprobe=shlex.quote(MODPROBE), wrapper=shlex.quote(paths["modprobe.sh"]),
            sctp_modules=" ".join(SCTP_MODULES), cwd=shlex.quote(cwd),
            mtu="" if mtu is None else "\nip link set lo mtu %d" % (int(mtu),),
            dummy=_dummy_interface(addresses, shlex.quote(MODPROBE), shlex.quote(paths["modules"])),
            environment=" ".join(shlex.quote("%s=%s" % item) for item in sorted(env.items())),
            command=" ".join(shlex.quote(part) for part in command),
            output=shlex.quote(paths["output"]), status=shlex.quote(paths["status"])))
    os.chmod(paths["init.sh"], 0o700)
    open(paths["output"], "w").close()
    os.mkdir(paths["uml"])
    kernel = [KERNEL, "mem=%s" % (memory,), "quiet", "rootfstype=hostfs", "rootflags=/", "rw",
              "init=" + paths["init.sh"], "umid=pyhss-%s" % (uuid.uuid4().hex[:12],),
              "uml_dir=" + paths["uml"], "con=null", "con0=null,fd:1", "ssl=null"]
    started = time.monotonic()
    with open(paths["console"], "wb") as console:
        # A process group of its own: the guest's processes are host
        # processes too, and all of them go if it overruns.
        process = subprocess.Popen(
            kernel, stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
            env=dict(os.environ, TMPDIR=_memory_directory(work)), start_new_session=True)
        try:
            process.wait(timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            _end_group(process)
    seconds = time.monotonic() - started
    console_text = _read(paths["console"])
    output = _read(paths["output"])
    if timed_out:
        raise GuestError("the guest overran its %ss and was killed; its script's output:\n%s"
                         % (timeout, output[-6000:]), console_text)
    status_text = _read(paths["status"]).strip()
    if not status_text.isdigit():
        raise GuestError("the guest powered off without the script's exit status (exit %s);"
                         " its output:\n%s" % (process.returncode, output[-6000:]), console_text)
    return GuestResult(int(status_text), output, seconds)


def _dummy_interface(addresses, modprobe, modules):
    """Shell lines giving the guest an interface besides the loopback
    with C{addresses} (CIDR), for programs that want one (freeDiameterd
    ignores loopback addresses when it looks for its own)."""
    if not addresses:
        return ""
    lines = ["", "%s -d %s dummy" % (modprobe, modules), "ip link add pyhss0 type dummy"]
    lines += ["ip addr add %s dev pyhss0" % (shlex.quote(address),) for address in addresses]
    lines.append("ip link set pyhss0 up")
    return "\n".join(lines)


def _end_group(process):
    """Stop the kernel and everything of the guest still running."""
    for sig, wait in ((signal.SIGTERM, KILL_GRACE), (signal.SIGKILL, None)):
        if process.poll() is not None and not _group_alive(process.pid):
            return
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(wait)
        except subprocess.TimeoutExpired:
            pass
    process.wait()


def _group_alive(group):
    try:
        os.killpg(group, 0)
        return True
    except ProcessLookupError:
        return False


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def run_shell(script, timeout=DEFAULT_TIMEOUT, memory=DEFAULT_MEMORY, cwd=None, environment=None,
              mtu=None, addresses=()):
    """
    Boot a guest with SCTP loaded, run C{script} (shell text) in it, power
    off.  The script's working directory is C{cwd} (a new empty directory
    by default); C{environment} adds to its variables (HOME and TMPDIR are
    the guest's own temporary directory; PYTHONPATH is the repository);
    C{mtu} sets the loopback's (65536 by default: a 1500 makes SCTP
    fragment what a real network would); C{addresses} (CIDR) go on an
    interface of their own besides the loopback.

    @return: L{GuestResult}.
    @raise GuestError: the guest could not run it to its end.
    """
    return _boot(["/bin/sh", "-c", script], timeout, memory, cwd, environment, mtu, addresses)


def run_python(source, argv=(), timeout=DEFAULT_TIMEOUT, memory=DEFAULT_MEMORY, cwd=None,
               environment=None, mtu=None, addresses=()):
    """L{run_shell} for Python: C{source} (text) run by L{python} with
    C{argv}."""
    return _boot([python(), "-c", source] + list(argv), timeout, memory, cwd, environment, mtu,
                 addresses)


def run_trial(modules, timeout=DEFAULT_TIMEOUT, memory=DEFAULT_MEMORY, environment=None, mtu=None,
              addresses=()):
    """
    Run trial on C{modules} (test module names) inside one guest, in a
    temporary directory of its own (see L{run_shell} for the rest).

    @return: L{GuestResult}; status 0 when every test passed.
    """
    command = [python(), "-m", "twisted.trial", "--temp-directory=_trial_temp"] + list(modules)
    return _boot(command, timeout, memory, None, environment, mtu, addresses)
