"""WAL checkpoints for the SQLite store, off its worker thread.

The worker's connection never checkpoints (``wal_autocheckpoint=0``): an
automatic checkpoint runs inside a writer's COMMIT and holds up every
queued job while it copies pages and syncs the file.  A L{Checkpointer}
runs PASSIVE checkpoints (which never block a writer) on a connection and
thread of its own, after writes, at most once per interval.
"""

import sqlite3
import threading


def checkpoint(conn):
    """One PASSIVE checkpoint on ``conn``: (busy, WAL frames, frames
    checkpointed), or None when SQLite refused (the next one retries)."""
    try:
        return conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    except sqlite3.Error:
        return None


class Checkpointer:
    """A daemon thread checkpointing ``path`` after L{written}, at most
    every ``interval`` seconds, until L{stop}."""

    def __init__(self, path, busy_timeout, interval):
        conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
        self._interval = interval
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
        try:
            while True:
                self._written.wait()
                if self._stopping.is_set():
                    return
                self._written.clear()
                checkpoint(conn)
                if self._stopping.wait(self._interval):
                    return
        finally:
            conn.close()
