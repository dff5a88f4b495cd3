"""
The server under test for bench/diameter_load.py --spawn-server:
C{twistd -n pyhss} on a free 127.0.0.1 port with a temporary copy of the
configuration, started and stopped by the load client's reactor.
"""

import os
import shutil
import socket
import sys
import tempfile
import time

from twisted.internet import defer, error, protocol, task

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class _ServerProcess(protocol.ProcessProtocol):

    def __init__(self, log_path):
        self.log = open(log_path, "wb")
        self.ended = defer.Deferred()
        self.pid = None

    def connectionMade(self):
        self.pid = self.transport.pid

    def childDataReceived(self, fd, data):
        self.log.write(data)

    def processEnded(self, reason):
        self.log.close()
        self.ended.callback(reason.value.exitCode)


def _process_cpu_seconds(pid):
    """User+system CPU seconds used so far by C{pid} (Linux /proc)."""
    try:
        with open("/proc/%d/stat" % (pid,)) as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / float(ticks)


class SpawnedServer(object):
    """
    C{twistd -n pyhss} on a free 127.0.0.1 port with a copy of the given
    configuration (port changed, SQLite file in a temporary directory).
    """

    def __init__(self, reactor, config_path, log):
        self.reactor = reactor
        self.config_path = config_path
        self.log = log
        self.directory = tempfile.mkdtemp(prefix="pyhss-bench-")
        self.port = None
        self.process = None
        self.backend = None
        self.database_path = None
        self.extra_args = []
        self.database = None        # a database section replacing the config's
        self.metrics = None     # metrics.enabled: None keeps the configuration's
        self.transports = ["tcp"]

    def _write_config(self):
        import yaml
        with open(self.config_path) as handle:
            config = yaml.safe_load(handle)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        hss = config.setdefault("hss", {})
        hss["bind_addresses"] = ["127.0.0.1"]
        hss["port"] = self.port
        hss["transports"] = list(self.transports)
        if self.database is not None:
            config["database"] = dict(self.database)
        database = config.setdefault("database", {})
        database["backend"] = database.get("backend", "sqlite")
        self.backend = database["backend"]
        self.database_path = os.path.join(self.directory, "pyhss.sqlite3")
        database.setdefault("sqlite", {})["path"] = self.database_path
        # The API is another benchmark's business (bench/api_rate.py).
        config.setdefault("api", {})["listen"] = ""
        if self.metrics is not None:
            config.setdefault("metrics", {})["enabled"] = self.metrics
        logging = config.setdefault("logging", {})
        logging["level"] = "warn"
        logging["file"] = "-"
        path = os.path.join(self.directory, "config.yaml")
        with open(path, "w") as handle:
            yaml.safe_dump(config, handle, default_flow_style=False)
        return path

    @defer.inlineCallbacks
    def start(self, timeout=30.0, prepare=None):
        """
        Write the configuration, run C{prepare(self)} (a Deferred, e.g.
        provisioning the SQLite file at C{self.database_path}) when given,
        then spawn the server and wait until it listens.
        """
        config = self._write_config()
        if prepare is not None:
            yield prepare(self)
        twistd = os.path.join(os.path.dirname(sys.executable), "twistd")
        if not os.path.exists(twistd):
            twistd = shutil.which("twistd")
        if twistd is None:
            raise SystemExit("--spawn-server: twistd not found")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [_ROOT] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep)
                       if p])
        self.log_path = os.path.join(self.directory, "twistd.log")
        self.process = _ServerProcess(self.log_path)
        # extra_args go before the plugin name: twistd's own options
        # (--profile FILE --profiler cprofile, for instance).
        args = ([sys.executable, twistd, "-n", "--pidfile="] + self.extra_args
                + ["pyhss", "--config", config])
        self.log("spawning: %s" % (" ".join(args),))
        self.reactor.spawnProcess(self.process, sys.executable, args, env=env,
                                  path=self.directory)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.ended.called:
                raise SystemExit("server exited during start-up; log: %s\n%s"
                                 % (self.log_path, self._log_tail()))
            try:
                yield protocol.ClientCreator(
                    self.reactor, protocol.Protocol).connectTCP(
                        "127.0.0.1", self.port, timeout=1).addCallback(
                            lambda proto: proto.transport.loseConnection())
                break
            except error.ConnectError:
                if time.monotonic() > deadline:
                    raise SystemExit("server did not listen on port %d in %ss;"
                                     " log: %s" % (self.port, timeout,
                                                   self.log_path))
                yield task.deferLater(self.reactor, 0.1, lambda: None)
        self.log("server pid %d listening on 127.0.0.1:%d" % (
            self.process.pid, self.port))

    def _log_tail(self, size=4000):
        try:
            with open(self.log_path, "rb") as handle:
                return handle.read()[-size:].decode("utf-8", "replace")
        except OSError:
            return ""

    def cpu_seconds(self):
        if self.process is None or self.process.pid is None:
            return None
        return _process_cpu_seconds(self.process.pid)

    @defer.inlineCallbacks
    def stop(self, timeout=10.0):
        if self.process is not None and not self.process.ended.called:
            self.process.transport.signalProcess("TERM")
            killer = self.reactor.callLater(
                timeout, self._kill)
            yield self.process.ended
            if killer.active():
                killer.cancel()
        shutil.rmtree(self.directory, ignore_errors=True)

    def _kill(self):
        if not self.process.ended.called:
            self.log("server ignored SIGTERM, killing it")
            self.process.transport.signalProcess("KILL")
