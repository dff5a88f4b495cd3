"""What a Diameter application of pyhss is, and what every one of them needs.

An application provides :class:`IApplication`: its Auth-Application-Id and
Vendor-Id, the handlers of the requests it serves, and the control-socket
commands it serves (:mod:`pyhss.control`).  The service
(:mod:`pyhss.tap`) builds each class listed in
``pyhss.apps.APPLICATIONS`` with ``from_config``, keeps them by
application id, registers them with the node and builds the control
socket's locator from their commands: a new application is a subclass of
:class:`DiameterApplication` and one line in that list.

:class:`DiameterApplication` holds what they share: answers (with
Auth-Session-State, Experimental-Result), Session-Ids for the requests we
send, and sending a request to a connected peer and reading its answer.
It uses only the node's public API (``register_application``,
``answer``, ``origin_avps``, ``send_request``, ``peer``, ``clock``,
``origin_host``, ``origin_realm``).
"""

from twisted.logger import Logger
from zope.interface import Attribute, Interface, implementer

from pyhss.protocols import codec
from pyhss.protocols.dictionary import VENDOR_3GPP

# Auth-Session-State: the 3GPP applications here keep no session state.
NO_STATE_MAINTAINED = 1
AUTH_SESSION_STATE = codec.constant_avp("Auth-Session-State", NO_STATE_MAINTAINED)


class IApplication(Interface):
    """A Diameter application served by the node.

    Its class also has ``from_config(node, store, config)``, which builds
    it from the configuration (``twistd pyhss``).
    """

    name = Attribute("Short name, for logs and configuration sections: 's6a'")
    application_id = Attribute("Auth-Application-Id")
    vendor_id = Attribute("Vendor-Id announced with it in CER/CEA (0: none)")

    def handlers():
        """{command code: handler(request, peer)}, each handler returning an
        answer Message or a Deferred of one (as
        ``DiameterNode.register_application`` takes them)."""

    def control_commands():
        """{amp.Command subclass: responder(**arguments)} this application
        serves on the control socket; a responder returns the response
        dict or a Deferred of it and fails with the command's errors."""

    def register():
        """Register with the node: advertise the application in CER/CEA and
        dispatch its requests to :meth:`handlers`."""

    def stop():
        """The server is stopping: finish what must reach the store before
        it closes (None or a Deferred; called after the peers are gone)."""


@implementer(IApplication)
class DiameterApplication:
    """Base class of the applications: set ``name``, ``application_id`` and
    ``vendor_id`` (also the Vendor-Id of Experimental-Result), implement
    ``from_config``, :meth:`handlers` and, when it has any,
    :meth:`control_commands`.

    @param node: the L{pyhss.node.DiameterNode} answering.
    @param store: the store (L{pyhss.storage.interface.IStore}).
    """

    name = None
    application_id = None
    vendor_id = VENDOR_3GPP
    log = Logger(namespace="pyhss.apps")

    def __init__(self, node, store):
        self.node = node
        self.store = store
        self._session_counter = 0

    @classmethod
    def from_config(cls, node, store, config):
        raise NotImplementedError(f"{cls.__name__}.from_config")

    def handlers(self):
        return {}

    def control_commands(self):
        return {}

    def register(self):
        self.node.register_application(self.application_id, self.vendor_id, self.handlers())

    def stop(self):
        return None

    # --- answers -----------------------------------------------------------------------
    def answer(self, request, result_code=None):
        """The node's answer to ``request`` with Auth-Session-State."""
        answer = self.node.answer(request, result_code)
        answer.avps.append(AUTH_SESSION_STATE)
        return answer

    def experimental_answer(self, request, code, message=None):
        """Answer with Experimental-Result (our Vendor-Id, ``code``) and, when
        given, Error-Message (cut at 200 characters)."""
        answer = self.answer(request)
        answer.add("Experimental-Result", [("Vendor-Id", self.vendor_id), ("Experimental-Result-Code", code)])
        if message:
            answer.add("Error-Message", message[:200])
        return answer

    # --- requests we send --------------------------------------------------------------
    def session_id(self):
        """A new Session-Id: ``origin-host;seconds;counter``."""
        self._session_counter += 1
        return "%s;%d;%d" % (self.node.origin_host, int(self.node.clock.seconds()), self._session_counter)

    def new_request(self, command, avps):
        """A request of this application: Session-Id, Auth-Session-State,
        Origin-Host, Origin-Realm, then ``avps`` ((name, value) pairs)."""
        return codec.Message.request(self.application_id, command, [
            ("Session-Id", self.session_id()),
            ("Auth-Session-State", NO_STATE_MAINTAINED),
            ("Origin-Host", self.node.origin_host),
            ("Origin-Realm", self.node.origin_realm),
        ] + avps)

    def send_request(self, peer_host, message, user):
        """Send ``message`` over the open connection to ``peer_host``.

        Returns None when no such connection is open (nothing is sent), else
        a Deferred firing with the answer's Result-Code or
        Experimental-Result-Code, or None when no answer came (timeout,
        disconnect).  Either way one log line names ``user`` (an IMSI, an
        IMPU); failures are never raised into the caller.
        """
        if self.node.peer(peer_host) is None:
            self.log.info("{command} for {user} not sent: {host} not connected",
                          command=message.command_code, user=user, host=peer_host)
            return None
        name = message.name
        host = message.get("Destination-Host") or peer_host
        d = self.node.send_request(peer_host, message)

        def answered(answer):
            code = answer.get("Result-Code", answer.get("Experimental-Result/Experimental-Result-Code"))
            self.log.info("{name} answer from {host} for {user}: {code}", name=name, host=host, user=user,
                          code=code)
            return code

        def failed(reason):
            self.log.warn("{name} to {host} for {user} failed: {error}", name=name, host=host, user=user,
                          error=reason.getErrorMessage())
            return None

        return d.addCallbacks(answered, failed)
