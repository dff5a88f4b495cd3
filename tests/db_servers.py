"""Real database servers for the store tests and benchmarks: a private
``mariadbd`` or ``postgres`` in a temporary data directory, listening on a
UNIX socket only (no TCP port), stopped at the end.

    server = shared_server("mariadb")     # one per process, stopped at exit
    url = server.create_database()        # a fresh database for one test

The data directory is made with ``mariadb-install-db`` / ``initdb`` (the
Debian packages ``mariadb-server`` and ``postgresql``, which
``scripts/bootstrap.sh install test`` installs).  PostgreSQL refuses to run
as root: as root, it runs as the ``postgres`` user (or ``nobody``).  A
server is a child of the process that started it and gets SIGTERM when that
process dies (PR_SET_PDEATHSIG), so even a killed test run leaves none
behind.  Start-up is read from the server's log ("ready for connections"),
never polled with sleeps.
"""

import atexit
import ctypes
import glob
import os
import pwd
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time

PASSWORD = "pyhss-test-secret"
USER = "pyhss"
START_TIMEOUT = 60.0
PR_SET_PDEATHSIG = 1


class ServerUnavailable(Exception):
    """The server's programs are not installed (the skip reason)."""


def _which(names, extra_dirs=()):
    for name in names:
        for directory in tuple(extra_dirs) + tuple(os.environ.get("PATH", "").split(os.pathsep)):
            candidate = os.path.join(directory, name)
            if os.access(candidate, os.X_OK):
                return candidate
    return None


def _postgres_bin():
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[-2]), reverse=True)
    return dirs


def _die_with_parent(uid=None, gid=None):
    """preexec_fn: drop to uid/gid (when given), then ask for SIGTERM when
    the parent dies (set after the credentials change, which clears it)."""
    def prepare():
        if gid is not None:
            os.setgroups([])
            os.setgid(gid)
        if uid is not None:
            os.setuid(uid)
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    return prepare


def _reachable(path, uid):
    """Let ``uid`` traverse every directory above ``path`` (adds o+x to
    ours that lack it: run_tests.py's TMPDIR is mode 0700)."""
    directory = os.path.dirname(os.path.abspath(path))
    chain = []
    while directory != "/":
        chain.append(directory)
        directory = os.path.dirname(directory)
    for directory in reversed(chain):
        info = os.stat(directory)
        if info.st_uid == os.getuid() and info.st_uid != uid and not info.st_mode & 0o001:
            os.chmod(directory, (info.st_mode & 0o7777) | 0o001)


class _Server:
    kind = None
    ready_line = None

    def __init__(self, durable=False):
        # Tests need no durability (a crashed test server is thrown away):
        # without a flush per commit, DDL and commits cost far less.
        # Benchmarks ask for the servers' durable defaults.
        self.durable = durable
        self.directory = None
        self.process = None
        self.socket_dir = None
        self.log_path = None
        self._counter = 0
        self._lock = threading.Lock()

    # --- life cycle ---------------------------------------------------------------------
    def start(self):
        self.directory = tempfile.mkdtemp(prefix=f"pyhss-{self.kind}-")
        try:
            self._initialise()
            self._launch()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, stream):
        """Read the server's log from ``stream`` until its ready line."""
        deadline = time.monotonic() + START_TIMEOUT
        seen = []
        buffer = b""
        with open(self.log_path, "ab") as log:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise RuntimeError(f"{self.kind} did not start within {START_TIMEOUT:g} s: "
                                       + b"".join(seen[-5:]).decode(errors="replace"))
                readable, _, _ = select.select([stream], [], [], remaining)
                if not readable:
                    continue
                chunk = os.read(stream.fileno(), 65536)
                if not chunk:
                    raise RuntimeError(f"{self.kind} exited during start-up: "
                                       + b"".join(seen[-8:]).decode(errors="replace"))
                log.write(chunk)
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                seen.extend(line + b"\n" for line in lines)
                if any(self.ready_line in line for line in lines):
                    break
        # Keep draining the log so the server never blocks on a full pipe.
        threading.Thread(target=self._drain, args=(stream,), daemon=True).start()

    def _drain(self, stream):
        with open(self.log_path, "ab") as log:
            while True:
                try:
                    chunk = os.read(stream.fileno(), 65536)
                except (OSError, ValueError):
                    return
                if not chunk:
                    return
                log.write(chunk)

    def stop_process(self):
        """Stop the server (its files stay: ``restart()`` starts it again)."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def restart(self):
        self._launch()

    def restart_later(self, reactor):
        """Start the stopped server again: spawned from this thread (the
        reactor's: PR_SET_PDEATHSIG follows the thread that forked), its
        start-up awaited on another.  A Deferred that fires when it is ready."""
        from twisted.internet import threads
        self._spawn()
        return threads.deferToThreadPool(reactor, reactor.getThreadPool(), self._ready)

    def _launch(self):
        self._spawn()
        self._ready()

    def _ready(self):
        try:
            self._wait_ready(self.process.stdout)
        except BaseException:
            self.stop_process()
            raise
        self._after_start()

    def _after_start(self):
        pass

    def stop(self):
        self.stop_process()
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def _run(self, command, **kwargs):
        result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kwargs)
        if result.returncode:
            raise RuntimeError(f"{' '.join(command[:1])} failed ({result.returncode}): "
                               + result.stdout.decode(errors="replace")[-2000:])
        return result

    def _next_name(self):
        with self._lock:
            self._counter += 1
            return f"pyhss_test_{os.getpid()}_{self._counter}"


class MariaDbServer(_Server):
    """``mariadbd`` with --skip-networking; user ``pyhss`` with a password."""

    kind = "mariadb"
    ready_line = b"ready for connections"

    def __init__(self, durable=False):
        _Server.__init__(self, durable)
        self.install_db = _which(["mariadb-install-db", "mysql_install_db"], ["/usr/bin", "/usr/sbin"])
        self.mariadbd = _which(["mariadbd", "mysqld"], ["/usr/sbin", "/usr/libexec"])
        if not self.install_db or not self.mariadbd:
            raise ServerUnavailable("MariaDB is not installed (Debian package mariadb-server; "
                                    "scripts/bootstrap.sh install test installs it)")

    @property
    def socket(self):
        return os.path.join(self.directory, "mysql.sock")

    def _common(self):
        data = os.path.join(self.directory, "data")
        user = ["--user=root"] if os.getuid() == 0 else []
        # A temporary directory of its own: servers started at once (one per
        # trial worker) must not share their temporary tables' files.
        scratch = os.path.join(self.directory, "tmp")
        os.makedirs(scratch, exist_ok=True)
        return ["--no-defaults", f"--datadir={data}", f"--tmpdir={scratch}"] + user

    def _initialise(self):
        self.log_path = os.path.join(self.directory, "server.log")
        self._run([self.install_db] + self._common() + [
            "--auth-root-authentication-method=socket", "--skip-test-db", "--skip-name-resolve"])

    def _spawn(self):
        command = [self.mariadbd] + self._common() + [
            f"--socket={self.socket}", "--skip-networking", f"--pid-file={self.directory}/mariadbd.pid",
            "--innodb-buffer-pool-size=64M", "--innodb-log-file-size=48M", "--skip-name-resolve",
            "--max-connections=200", "--skip-log-bin", "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_bin"]
        if not self.durable:
            command += ["--innodb-flush-log-at-trx-commit=0", "--innodb-doublewrite=0", "--sync-binlog=0"]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent())

    def _after_start(self):
        if not getattr(self, "_user_made", False):
            self.sql(f"CREATE USER '{USER}'@'localhost' IDENTIFIED BY '{PASSWORD}';"
                     f"GRANT ALL ON *.* TO '{USER}'@'localhost';")
            self._user_made = True

    def sql(self, statements, database=None):
        import pymysql
        conn = pymysql.connect(unix_socket=self.socket, user="root", database=database,
                               autocommit=True, client_flag=pymysql.constants.CLIENT.MULTI_STATEMENTS)
        try:
            with conn.cursor() as cursor:
                cursor.execute(statements)
                rows = cursor.fetchall()
                while cursor.nextset():
                    rows = cursor.fetchall()
                return rows
        finally:
            conn.close()

    def create_database(self):
        """A new empty database: the URL for the adapter (``url``) and its name."""
        name = self._next_name()
        self.sql(f"CREATE DATABASE {name}")
        return name

    def drop_database(self, name):
        if self.process is not None:
            self.sql(f"DROP DATABASE IF EXISTS {name}")

    def server_config(self, name, **extra):
        values = {"backend": "mariadb", "server": dict(
            socket=self.socket, user=USER, password=PASSWORD, database=name, **extra)}
        return values


class PostgresServer(_Server):
    """``postgres`` listening on a UNIX socket only; user ``pyhss`` with a
    password (scram-sha-256)."""

    kind = "postgresql"
    ready_line = b"ready to accept connections"

    def __init__(self, durable=False):
        _Server.__init__(self, durable)
        bins = _postgres_bin()
        self.initdb = _which(["initdb"], bins)
        self.postgres = _which(["postgres"], bins)
        if not self.initdb or not self.postgres:
            raise ServerUnavailable("PostgreSQL is not installed (Debian package postgresql; "
                                    "scripts/bootstrap.sh install test installs it)")
        self.uid = self.gid = None
        if os.getuid() == 0:
            for name in ("postgres", "nobody"):
                try:
                    entry = pwd.getpwnam(name)
                except KeyError:
                    continue
                self.uid, self.gid = entry.pw_uid, entry.pw_gid
                break

    @property
    def socket(self):
        return self.directory   # postgres makes .s.PGSQL.5432 in it

    def _initialise(self):
        self.log_path = os.path.join(self.directory, "server.log")
        data = os.path.join(self.directory, "data")
        password_file = os.path.join(self.directory, "password")
        with open(password_file, "w") as handle:
            handle.write(PASSWORD + "\n")
        if self.uid is not None:
            _reachable(self.directory, self.uid)
            os.chmod(self.directory, 0o700)
            os.chown(self.directory, self.uid, self.gid)
            os.chown(password_file, self.uid, self.gid)
        self._run([self.initdb, "-D", data, "-U", USER, f"--pwfile={password_file}", "-A", "scram-sha-256",
                   "-E", "UTF8", "--locale=C", "-N"],
                  preexec_fn=_die_with_parent(self.uid, self.gid), cwd=self.directory)
        os.unlink(password_file)

    def _spawn(self):
        data = os.path.join(self.directory, "data")
        command = [self.postgres, "-D", data, "-k", self.directory, "-c", "listen_addresses=",
                   "-c", "max_connections=200", "-c", "shared_buffers=64MB", "-c", "logging_collector=off"]
        if not self.durable:
            command += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, cwd=self.directory,
                                        preexec_fn=_die_with_parent(self.uid, self.gid))

    def sql(self, statements, database="postgres"):
        import psycopg
        with psycopg.connect(host=self.socket, user=USER, password=PASSWORD, dbname=database,
                             autocommit=True) as conn:
            cursor = conn.execute(statements)
            return cursor.fetchall() if cursor.description else []

    def create_database(self):
        name = self._next_name()
        self.sql(f"CREATE DATABASE {name}")
        return name

    def drop_database(self, name):
        if self.process is not None:
            self.sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def server_config(self, name, **extra):
        return {"backend": "postgresql", "server": dict(
            socket=self.socket, user=USER, password=PASSWORD, database=name, **extra)}


KINDS = {"mariadb": MariaDbServer, "postgresql": PostgresServer}
_SHARED = {}
_FAILED = {}


def shared_server(kind):
    """The one server of ``kind`` for this process, started on first use
    and stopped when the process exits.  Raises ServerUnavailable (the
    skip reason) when the server's programs are missing."""
    if kind in _FAILED:
        raise _FAILED[kind]
    server = _SHARED.get(kind)
    if server is None:
        try:
            server = KINDS[kind]().start()
        except ServerUnavailable as e:
            _FAILED[kind] = e
            raise
        _SHARED[kind] = server
        atexit.register(server.stop)
    return server


def private_server(kind, durable=False):
    """A server of ``kind`` of its own (for a test that stops it, or a
    benchmark: ``durable`` keeps the server's flush-per-commit defaults);
    the caller stops it."""
    return KINDS[kind](durable).start()
