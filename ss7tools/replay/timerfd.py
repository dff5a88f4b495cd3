"""A precise wake-up for the replay's pacer: a Linux timerfd armed at an
absolute instant, watched by the reactor like a socket.

Twisted's ``callLater`` waits in ``epoll_wait``, whose timeout is whole
milliseconds rounded up: every wake-up comes up to 1 ms late, which is most
of a 2 ms error budget.  A timerfd (``timerfd_create(2)``) on
``CLOCK_REALTIME``, the clock of ``reactor.seconds()``, becomes readable at
its instant to the microsecond, and epoll returns at once.  Python 3.11 has
no binding for it (``os.timerfd_create`` comes in 3.13): it is called
through ctypes.  Where there is none (not Linux, or a reactor without file
descriptors, such as ``task.Clock``), :func:`precise_waker` gives None and
the pacer keeps ``callLater``.
"""

import ctypes
import ctypes.util
import os

from twisted.internet.interfaces import IReactorFDSet, IReadDescriptor
from zope.interface import implementer

CLOCK_REALTIME = 0
TFD_TIMER_ABSTIME = 1
TFD_NONBLOCK = getattr(os, "O_NONBLOCK", 0o4000)
TFD_CLOEXEC = getattr(os, "O_CLOEXEC", 0o2000000)


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


def _load_libc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        create, settime = libc.timerfd_create, libc.timerfd_settime
    except (OSError, AttributeError):
        return None
    create.argtypes = (ctypes.c_int, ctypes.c_int)
    create.restype = ctypes.c_int
    settime.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.POINTER(_Itimerspec),
                        ctypes.POINTER(_Itimerspec))
    settime.restype = ctypes.c_int
    return create, settime


_LIBC = _load_libc()


@implementer(IReadDescriptor)
class TimerFdWaker:
    """Calls ``callback()`` from the reactor at the instant given to
    :meth:`arm` (seconds on ``reactor.seconds()``'s clock)."""

    def __init__(self, reactor, callback):
        create, self._settime = _LIBC
        fd = create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "timerfd_create failed")
        self._fd = fd
        self._reactor = reactor
        self._callback = callback
        self._spec = _Itimerspec()
        reactor.addReader(self)

    def fileno(self):
        return self._fd

    def logPrefix(self):
        return "TimerFdWaker"

    def arm(self, when):
        """Wake at ``when``, or never (None)."""
        spec = self._spec
        if when is None:
            spec.it_value.tv_sec = spec.it_value.tv_nsec = 0
        else:
            # an instant already past fires at once; 0 would disarm
            nanoseconds = max(1, int(when * 1e9))
            spec.it_value.tv_sec, spec.it_value.tv_nsec = divmod(nanoseconds, 1000000000)
        if self._settime(self._fd, TFD_TIMER_ABSTIME, ctypes.byref(spec), None) != 0:
            raise OSError(ctypes.get_errno(), "timerfd_settime failed")

    def doRead(self):
        try:
            os.read(self._fd, 8)
        except BlockingIOError:
            return
        self._callback()

    def connectionLost(self, reason):
        self.close()

    def close(self):
        if self._fd >= 0:
            self._reactor.removeReader(self)
            os.close(self._fd)
            self._fd = -1


def precise_waker(reactor, callback):
    """A :class:`TimerFdWaker` on ``reactor``, or None where there can be none."""
    if _LIBC is None or not IReactorFDSet.providedBy(reactor):
        return None
    try:
        return TimerFdWaker(reactor, callback)
    except OSError:
        return None
