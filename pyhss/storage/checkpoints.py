"""WAL checkpoints for the SQLite store, off its worker thread.

The worker's connection never checkpoints by itself
(``wal_autocheckpoint=0``): an automatic checkpoint runs inside a writer's
COMMIT and holds up every queued job while it copies pages and syncs the
file.  A L{Checkpointer} runs PASSIVE checkpoints (which never block a
writer) on a connection and thread of its own, after writes, at most once
per interval, and every L{EAGER_INTERVAL} while writes are heavy.

PASSIVE alone does not bound the WAL.  SQLite starts the log over only
when a writer begins with every frame copied, and under steady writes a
checkpoint on another connection never copies the frames written while it
ran: the WAL grew by 57 MB/s under AIR-like load (2.3 GB in 40 s).  So the
worker checks the ``-wal`` file's size after its writes (L{WalBound}) and,
between two transactions:

- past L{CATCH_UP_AT} of the limit, runs a PASSIVE checkpoint itself once
  this thread's current one is over (L{Checkpointer.lock}): this thread
  has copied all but the last few milliseconds of writes, the worker
  copies those, and its next write starts the log over, SQLite then
  cutting the file back to that size (``journal_size_limit``);
- past L{TRUNCATE_AT} of the limit anyway (a reader kept the log from
  starting over, another process wrote), runs a TRUNCATE checkpoint, which
  empties the file.

L{WalKeeper} is all of it for one store: the checkpoint thread, the bound,
the worker's checkpoints and their log lines.
"""

import contextlib
import os
import sqlite3
import threading
import time

from twisted.logger import Logger

# Catch up at half the limit: each catch-up holds the writer up for a few
# milliseconds, so not more often than needed.
CATCH_UP_AT = 0.5
# Truncate at three quarters: the rest is headroom for writes meanwhile.
TRUNCATE_AT = 0.75
# While writes would add more than a quarter of the catch-up size in one
# interval, this thread copies every 50 ms, so that the worker's catch-up
# has little left to copy (median 17 ms against 44 ms at 1 s, on a loaded
# machine).
EAGER_AT = 0.25
EAGER_INTERVAL = 0.05
FRAME_HEADER = 24
# A TRUNCATE checkpoint blocks writers while it waits for readers: wait
# this long at most (milliseconds), and try again a checkpoint interval later.
TRUNCATE_BUSY_MS = 250
# At most one line per this many seconds about WAL truncations under load.
WAL_LOG_INTERVAL = 60.0

# The store's namespace: operators filter on it.
log = Logger(namespace="pyhss.storage.sqlite")


def catch_up_size(wal_limit):
    """The WAL file size past which the worker catches up, and back to
    which SQLite cuts the file when the log starts over."""
    return int(wal_limit * CATCH_UP_AT)


def checkpoint(conn):
    """One PASSIVE checkpoint on ``conn``: (busy, WAL frames, frames
    checkpointed), or None when SQLite refused (the next one retries)."""
    try:
        return conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    except sqlite3.Error:
        return None


def truncate(conn):
    """One TRUNCATE checkpoint on ``conn`` (waits for writers and readers
    up to the connection's busy timeout, then empties the WAL file):
    (busy, WAL frames, frames checkpointed), or None when SQLite refused."""
    try:
        return conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    except sqlite3.Error:
        return None


def wal_size(path):
    """Bytes in ``path``'s ``-wal`` file (0 when there is none)."""
    try:
        return os.stat(path + "-wal").st_size
    except FileNotFoundError:
        return 0


class WalBound:
    """What the worker does about the WAL's size after writing: L{after_writes}
    returns None, "catch-up" or "truncate" (see the module's documentation)."""

    def __init__(self, path, wal_limit, retry_after):
        self.path = path + "-wal"
        self.size = wal_size(path)            # when last measured
        self._catch_up_at = catch_up_size(wal_limit)
        self._truncate_at = int(wal_limit * TRUNCATE_AT)
        self._retry_after = retry_after       # seconds
        self._caught_up = False               # and the log has not started over since
        self._next_catch_up = 0.0
        self._next_truncate = 0.0

    def after_writes(self):
        try:
            size = self.size = os.stat(self.path).st_size
        except OSError:
            return None
        if size <= self._catch_up_at:
            # Started over: SQLite cut the file back to the catch-up size.
            self._caught_up = False
            return None
        now = time.monotonic()
        if size > self._truncate_at and now >= self._next_truncate:
            return "truncate"
        if not self._caught_up or now >= self._next_catch_up:
            # Caught up but not started over: a reader holds an old
            # snapshot; catching up again at once would not help.
            self._caught_up = True
            self._next_catch_up = now + self._retry_after
            return "catch-up"
        return None

    def done(self, size, truncate_busy=False):
        if size is not None:
            self.size = size
        if truncate_busy:
            # A TRUNCATE holds writers up while it waits for readers.
            self._next_truncate = time.monotonic() + self._retry_after


class Checkpointer:
    """A daemon thread checkpointing ``path`` after L{written}, at most
    every ``interval`` seconds (every L{EAGER_INTERVAL} while writes add
    more than L{EAGER_AT} of the catch-up size of ``wal_limit`` per
    interval), until L{stop}."""

    def __init__(self, path, busy_timeout, interval, wal_limit=None):
        conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
        self._eager_frames = None
        if wal_limit:
            conn.execute(f"PRAGMA journal_size_limit={catch_up_size(wal_limit)}")
            frame = conn.execute("PRAGMA page_size").fetchone()[0] + FRAME_HEADER
            self._eager_frames = catch_up_size(wal_limit) * EAGER_AT // frame
        self._interval = interval
        # Held during each checkpoint: SQLite runs one at a time, another
        # one would find it busy and do nothing.
        self.lock = threading.Lock()
        self._written = threading.Event()
        self._stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(conn,),
                                       name=f"pyhss-sqlite-checkpoint {path}", daemon=True)
        self.thread.start()

    def written(self):
        """A COMMIT is coming: checkpoint once the interval allows."""
        self._written.set()

    def stop(self):
        self._stopping.set()
        self._written.set()
        self.thread.join()

    def _run(self, conn):
        last = None   # (time, frames in the log) at the last checkpoint
        try:
            while True:
                self._written.wait()
                if self._stopping.is_set():
                    return
                self._written.clear()
                with self.lock:
                    result = checkpoint(conn)
                pause = self._interval
                if self._eager_frames is not None and result is not None:
                    now, frames = time.monotonic(), result[1]
                    if last is not None:
                        # Fewer frames than last time: the log started over.
                        added = frames - last[1] if frames >= last[1] else frames
                        if added * self._interval > self._eager_frames * max(now - last[0], 1e-3):
                            pause = min(pause, EAGER_INTERVAL)
                    last = (now, frames)
                if self._stopping.wait(pause):
                    return
        finally:
            conn.close()


class WalKeeper:
    """The WAL of one store's file: a L{Checkpointer} thread, and what the
    store's worker does between transactions (L{after_writes}), with one
    log line per truncation episode.

    Built on the worker once the store's connection ``conn`` is open; if no
    checkpoint thread can start, ``conn`` checkpoints by itself again.
    """

    def __init__(self, conn, path, reactor, busy_timeout, interval, wal_limit):
        self.path = path
        self.truncations = 0            # TRUNCATE checkpoints done (limit, disk full)
        self.catch_ups = 0              # PASSIVE checkpoints on the worker
        self.disk_full = False          # a write failed for space: truncate next
        self.quiet_until = None         # no routine truncation line before this time
        self._reactor = reactor
        self._busy_timeout = busy_timeout
        self._wal_limit = wal_limit
        self._busy_logged = False
        self._unlogged = 0
        self.bound = WalBound(path, wal_limit, interval)
        try:
            self.checkpointer = Checkpointer(path, busy_timeout, interval, wal_limit)
        except (OSError, RuntimeError, sqlite3.Error):
            self.checkpointer = None
            conn.execute("PRAGMA wal_autocheckpoint=1000")   # SQLite's default, then

    def written(self):
        """A COMMIT is coming (on the worker)."""
        if self.checkpointer is not None:
            self.checkpointer.written()

    def stop(self):
        if self.checkpointer is not None:
            self.checkpointer.stop()
            self.checkpointer = None

    def after_writes(self, conn):
        """On the worker, between transactions: keep the WAL under the limit.
        The worker is the writer: it waits for no write lock, and nothing is
        written while it copies the last frames."""
        if self.disk_full:
            # What the failed writes left in the WAL takes the space the
            # next ones need.
            self.disk_full = False
            self._checkpoint(conn, "truncate", "full")
            return
        what = self.bound.after_writes()
        if what is not None:
            self._checkpoint(conn, what, "limit")

    def _checkpoint(self, conn, what, reason):
        result = after = None
        before = self.bound.size
        elapsed = 0.0
        started = time.monotonic()
        try:
            before = wal_size(self.path)
            with self.checkpointer.lock if self.checkpointer is not None else contextlib.nullcontext():
                if what == "catch-up":
                    result = checkpoint(conn)
                else:
                    conn.execute(f"PRAGMA busy_timeout={TRUNCATE_BUSY_MS}")
                    try:
                        result = truncate(conn)
                    finally:
                        conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout * 1000)}")
            elapsed = time.monotonic() - started
            after = wal_size(self.path)
        except (OSError, sqlite3.Error):
            pass
        busy = result is None or result[0] != 0 or result[1] != result[2]
        if what == "catch-up":
            self.bound.done(after)
            self.catch_ups += not busy
            return
        self.bound.done(after, truncate_busy=busy)
        self._reactor.callFromThread(self._truncated, reason, before, after, elapsed, busy)

    def _truncated(self, reason, before, after, elapsed, busy):
        """On the reactor: one log line per truncation episode, not per tick."""
        why = ("a write failed, the disk is full" if reason == "full"
               else f"past {TRUNCATE_AT:.0%} of database.sqlite.wal_limit ({self._wal_limit} bytes)")
        if busy:
            if not self._busy_logged:
                self._busy_logged = True
                log.warn("WAL {path}-wal is {before} bytes, {cause}; the TRUNCATE checkpoint could not finish "
                         "(another connection is reading or writing): trying again",
                         path=self.path, before=before, cause=why)
            return
        self._busy_logged = False
        self.truncations += 1
        now = self._reactor.seconds()
        if reason != "full" and self.quiet_until is not None and now < self.quiet_until:
            self._unlogged += 1
            return
        more = f" ({self._unlogged} more since the last such line)" if self._unlogged else ""
        emit = log.warn if reason == "full" else log.info
        emit("WAL {path}-wal was {before} bytes, {cause}: truncated to {after} bytes in {ms:.0f} ms{more}",
             path=self.path, before=before, cause=why, after=after, ms=elapsed * 1000, more=more)
        self._unlogged = 0
        self.quiet_until = now + WAL_LOG_INTERVAL
