"""
Requests from peers to the handlers of the applications a node serves, by
(application id, command code), and their answers back.

A request is validated against the dictionary before its handler runs; a
handler returns an answer Message or a Deferred of one, and anything else,
or an exception, becomes DIAMETER_UNABLE_TO_COMPLY (5012) with one logged
traceback per command and cause.  At most C{max_pending} requests of one
connection are in handlers at once; beyond, DIAMETER_TOO_BUSY.
"""

from twisted.internet import defer
from twisted.logger import Logger
from twisted.python import failure

from pyhss.protocols import codec, results
from pyhss.protocols.dictionary import APP_BASE
from pyhss import logsetup


class Dispatcher(object):
    """
    @param messages: the node's L{pyhss.node.messages.BaseMessages}.
    @param applications: application id -> vendor id, filled by
        L{register}.
    @param log_summary: C{(log) -> LogSummariser}, the node's.
    """

    log = Logger(namespace="pyhss.node")

    def __init__(self, messages, applications, max_pending, log_summary, settings, stats=None):
        self.messages = messages
        self.stats = stats
        self.applications = applications
        self.handlers = {}              # (application id, command) -> fn
        self.max_pending = max_pending
        self.settings = settings
        self._log_summary = log_summary
        self._pending = {}              # connection -> requests in handlers

    def register(self, application_id, vendor_id, handlers):
        self.applications[application_id] = vendor_id
        for command, handler in (handlers or {}).items():
            self.handlers[(application_id, command)] = handler

    def pending(self, connection):
        """Requests of C{connection} being processed by handlers."""
        return self._pending.get(connection, 0)

    def connection_lost(self, connection):
        self._pending.pop(connection, None)

    def dispatch(self, connection, request):
        """Run the handler for C{request} and send its answer."""
        stats = self.stats
        started = stats.now() if stats is not None else None
        key = (request.application_id, request.command_code)
        if self.settings.debug:
            self.log.debug("{peer} -> {name} hbh={hbh:#x}",
                           peer=connection.name, name=request.name,
                           hbh=request.hop_by_hop)
        handler = self.handlers.get(key)
        messages = self.messages
        if handler is None:
            # The base protocol (application 0) is served on every
            # connection: an unknown base command is unsupported, not its
            # application.
            if request.application_id in self.applications or request.application_id == APP_BASE:
                code = results.DIAMETER_COMMAND_UNSUPPORTED
            else:
                code = results.DIAMETER_APPLICATION_UNSUPPORTED
            self._send(connection, request, messages.error_answer(request, code), started)
            return
        problems = codec.validate(request)
        if problems:
            self._send(connection, request, messages.validation_answer(request, problems), started)
            return
        pending = self._pending.get(connection, 0)
        if pending >= self.max_pending:
            self._send(connection, request, messages.error_answer(
                request, results.DIAMETER_TOO_BUSY), started)
            return
        self._pending[connection] = pending + 1
        if pending + 1 >= self.max_pending:
            # Read no more of its requests until half of these are answered.
            connection.pause_reading()
        try:
            result = handler(request, connection.peer)
        except Exception:
            self._handler_failed(failure.Failure(), connection, request, started)
            return
        if isinstance(result, defer.Deferred):
            result.addCallbacks(self._handler_answered, self._handler_failed,
                                (connection, request, started), None,
                                (connection, request, started), None)
        else:
            self._handler_answered(result, connection, request, started)

    def _send(self, connection, request, answer, started):
        if started is not None:
            self.stats.request_answered(request.application_id, request.command_code,
                                        answer.result_code, started)
        connection.send_answer(answer)

    def _done(self, connection):
        pending = self._pending.get(connection)
        if pending:     # gone with its connection otherwise
            self._pending[connection] = pending - 1
            if pending - 1 == self.max_pending // 2:
                connection.resume_reading()

    def _handler_answered(self, answer, connection, request, started=None):
        self._done(connection)
        if not isinstance(answer, codec.Message) or answer.is_request:
            self._handler_failed(failure.Failure(TypeError(
                "handler returned %r, not an answer Message" % (answer,))),
                connection, request, started, counted=False)
            return
        answer.hop_by_hop = request.hop_by_hop
        answer.end_to_end = request.end_to_end
        if self.settings.debug:
            self.log.debug("{peer} <- {name} hbh={hbh:#x} result={code}",
                           peer=connection.name, name=answer.name,
                           hbh=answer.hop_by_hop,
                           code=answer.get("Result-Code"))
        try:
            self._send(connection, request, answer, started)
        except Exception:
            self._handler_failed(failure.Failure(), connection, request,
                                 None, counted=False)

    def _handler_failed(self, reason, connection, request, started=None, counted=True):
        if counted:
            self._done(connection)
        # One traceback per command and cause (a full disk fails every request).
        self._log_summary(self.log).failure(
            "handler for {name} from {peer} failed", reason,
            key=(request.name,) + logsetup.failure_key(reason),
            name=request.name, peer=connection.name)
        self._send(connection, request, self.messages.error_answer(
            request, results.DIAMETER_UNABLE_TO_COMPLY), started)
