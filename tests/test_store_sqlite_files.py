"""The SQLite files hold K and OPc: created 0600, tightened when found open
to others (with a warning), unreadable by a second user; key material is
never in a record's repr or an error's text."""

import io
import os
import pwd
import shutil
import sqlite3
import stat
import tempfile

from twisted.internet import defer, reactor
from twisted.logger import globalLogPublisher
from twisted.trial import unittest

from pyhss import admin
from pyhss.storage.errors import StoreError, ValidationError
from pyhss.storage.records import Subscriber, parse_hex
from pyhss.storage.sqlite import SqliteStore
from tests.store_contract import subscriber

K = bytes.fromhex("465b5ce8b199b49faa5f0a2ee238a6bc")
OPC = bytes.fromhex("cd63cb71954a9f4e48a5994e37a02baf")
OP = bytes.fromhex("cdc202d5123e20f62b6d676ac72cb318")

def second_user_reads(user, paths):
    """For each path, whether a process running as ``user`` may open it for
    reading: "readable", "denied" or the error.  A forked child drops to
    the user's uid and gid and only makes system calls (the store's threads
    are not in it)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:   # the child: never back into trial
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            lines = []
            for path in paths:
                try:
                    os.close(os.open(path, os.O_RDONLY))
                    lines.append("readable")
                except PermissionError:
                    lines.append("denied")
                except OSError as e:
                    lines.append(f"error {e.errno}")
            os.write(write_end, "\n".join(lines).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        output = pipe.read().decode()
    os.waitpid(pid, 0)
    return output.split("\n")


def reachable_by_others(directory):
    """Whether every directory from / to ``directory`` lets other users through."""
    directory = os.path.abspath(directory)
    while True:
        if not os.stat(directory).st_mode & stat.S_IXOTH:
            return False
        parent = os.path.dirname(directory)
        if parent == directory:
            return True
        directory = parent


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def database_files(path):
    return [path, path + "-wal", path + "-shm"]


class FileModeTests(unittest.TestCase):

    def setUp(self):
        # The umask most systems run with: without the fix, new files are 0644.
        old = os.umask(0o022)
        self.addCleanup(os.umask, old)
        # Not under trial's temporary directory (mktemp's parents are 0700),
        # nor under a private TMPDIR: the second user must reach the files
        # to be refused by their modes.
        base = next((candidate for candidate in (tempfile.gettempdir(), "/tmp", "/var/tmp")
                     if os.path.isdir(candidate) and reachable_by_others(candidate)), None)
        self.directory = tempfile.mkdtemp(prefix="pyhss-test-files-", dir=base)
        self.addCleanup(shutil.rmtree, self.directory, True)
        os.chmod(self.directory, 0o755)
        self.path = os.path.join(self.directory, "pyhss.sqlite3")
        self.events = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)

    def open(self, path):
        store = SqliteStore(path, reactor)
        self.addCleanup(store.close)
        return store

    def assertSecondUserCannotRead(self, paths):
        """A process running as ``nobody`` is refused every path, and can read
        a 0644 file beside them (so the refusal is the files' modes)."""
        if os.getuid() != 0:
            raise unittest.SkipTest("needs root to run a process as a second user")
        try:
            nobody = pwd.getpwnam("nobody")
        except KeyError:
            raise unittest.SkipTest("no user 'nobody' to read the files as") from None
        control = os.path.join(self.directory, "control.txt")
        with open(control, "w") as handle:
            handle.write("readable by all\n")
        os.chmod(control, 0o644)
        results = second_user_reads(nobody, [control] + paths)
        if results[0] != "readable":
            raise unittest.SkipTest(f"'nobody' cannot reach {self.directory} at all ({results[0]})")
        self.assertEqual(results[1:], ["denied"] * len(paths))

    def warnings(self):
        return [event for event in self.events
                if event.get("log_namespace") == "pyhss.storage.sqlite" and event["log_level"].name == "warn"]

    @defer.inlineCallbacks
    def test_new_database_files_are_private(self):
        store = self.open(self.path)
        yield store.add_subscriber(subscriber())   # the -wal and -shm exist from here
        for path in database_files(self.path):
            self.assertEqual(mode(path), 0o600, path)
        self.assertEqual(store.warnings, [])
        self.assertEqual(self.warnings(), [])
        self.assertSecondUserCannotRead(database_files(self.path))

    @defer.inlineCallbacks
    def test_new_directory_is_private(self):
        path = os.path.join(self.directory, "var", "pyhss.sqlite3")
        yield self.open(path).opened
        self.assertEqual(mode(os.path.dirname(path)), 0o700)

    @defer.inlineCallbacks
    def test_existing_files_open_to_others_are_tightened_with_a_warning(self):
        # As an earlier version left them: WAL mode, everything 0644, the
        # -wal and -shm kept by a connection that is still open.
        other = sqlite3.connect(self.path, isolation_level=None)
        self.addCleanup(other.close)
        other.execute("PRAGMA journal_mode=WAL")
        other.execute("CREATE TABLE t (x)")
        other.execute("INSERT INTO t VALUES (1)")
        for path in database_files(self.path):
            os.chmod(path, 0o644)
        store = self.open(self.path)
        yield store.opened
        for path in database_files(self.path):
            self.assertEqual(mode(path), 0o600, path)
        expected = [f"{path} was mode 0644, readable by other users: changed to 0600"
                    for path in database_files(self.path)]
        self.assertEqual(store.warnings, expected)
        self.assertEqual([event["problem"] for event in self.warnings()], expected)
        self.assertSecondUserCannotRead(database_files(self.path))

    @defer.inlineCallbacks
    def test_warning_logged_when_the_open_then_fails(self):
        # Locked at start-up: the next attempt finds the file private
        # already, so the first one must say what it changed.
        holder = sqlite3.connect(self.path, isolation_level=None)
        self.addCleanup(holder.close)
        holder.execute("BEGIN EXCLUSIVE")
        # The holder's rollback journal, if it made one, is SQLite's too.
        files = [path for path in (self.path, self.path + "-journal") if os.path.exists(path)]
        for path in files:
            os.chmod(path, 0o644)
        store = SqliteStore(self.path, reactor, busy_timeout=0.05)
        self.addCleanup(store.close)
        yield self.assertFailure(store.opened, StoreError)
        self.assertEqual([mode(path) for path in files], [0o600] * len(files))
        self.assertEqual([event["problem"] for event in self.warnings()],
                         [f"{path} was mode 0644, readable by other users: changed to 0600" for path in files])

    @defer.inlineCallbacks
    def test_private_files_are_left_alone(self):
        yield self.open(self.path).close()
        os.chmod(self.path, 0o400 | 0o200)
        store = self.open(self.path)
        yield store.opened
        self.assertEqual(store.warnings, [])
        self.assertEqual(mode(self.path), 0o600)

    @defer.inlineCallbacks
    def test_pyhss_admin_creates_private_files_and_warns(self):
        config = os.path.join(self.directory, "config.yaml")
        with open(config, "w") as handle:
            handle.write("hss: {OriginHost: hss.example.org, OriginRealm: example.org, MCC: '001', MNC: '01'}\n"
                         "database: {backend: sqlite, sqlite: {path: pyhss.sqlite3}}\n")
        out, err = io.StringIO(), io.StringIO()
        status = yield admin.run(reactor, ["--config", config, "apn", "add", "internet"], out, err)
        self.assertEqual((status, err.getvalue()), (0, ""))
        self.assertEqual(mode(self.path), 0o600)
        os.chmod(self.path, 0o644)
        status = yield admin.run(reactor, ["--config", config, "apn", "list"], out, err)
        self.assertEqual(status, 0)
        self.assertEqual(err.getvalue(), f"pyhss-admin: warning: {self.path} was mode 0644, readable by "
                                         f"other users: changed to 0600\n")
        self.assertEqual(mode(self.path), 0o600)
        self.assertSecondUserCannotRead([self.path])


class KeyMaterialTextTests(unittest.TestCase):
    """What a log line could show of a subscriber or of an error."""

    def assertNoKeyMaterial(self, text, *keys):
        for key in keys:
            self.assertNotIn(key.hex(), text.lower())
            self.assertNotIn(repr(key), text)
            self.assertNotIn(repr(key[:-1])[:-1], text)   # a prefix of the bytes repr

    def test_subscriber_repr_and_str_leave_keys_out(self):
        for record in (Subscriber("001010000000001", K, opc=OPC), Subscriber("001010000000001", K, op=OP)):
            for text in (repr(record), str(record), f"{record}", repr([record])):
                self.assertIn("001010000000001", text)
                self.assertNoKeyMaterial(text, K, OPC, OP)

    def test_errors_about_keys_give_lengths_not_values(self):
        for build in (lambda: Subscriber("001010000000001", K[:-1], opc=OPC),
                      lambda: Subscriber("001010000000001", K, opc=OPC[:-1]),
                      lambda: Subscriber("001010000000001", K, op=OP + b"\x00")):
            error = self.assertRaises(ValidationError, build)
            self.assertNoKeyMaterial(str(error), K, OPC, OP)
            self.assertIn("must be 16 bytes, got 1", str(error))
        for text in (K.hex()[:-1] + "Z", OPC.hex() + "0"):
            error = self.assertRaises(ValidationError, parse_hex, text, 16, "K")
            self.assertNotIn(text[:20], str(error))
