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
"""

import os
import sqlite3
import threading
import time

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
