"""How MAR, SAR and RTR change an IMS registration (TS 29.228 6.1.2.1,
6.1.3, 6.3.1 and 8.1), as pure functions over records.

Like the SQN policy (:func:`pyhss.auc.sqn.advance`), the store applies
these inside the transaction that reads and writes the registration, given
plain request objects (:class:`Authentication`, :class:`Assignment`): no
caller code runs in a transaction, and a server database can do the same.
The Diameter answers are the application's: an assignment returns one of
the outcomes below, never a result code.
"""

from dataclasses import dataclass, replace

from pyhss.storage.ims_records import MAX_IDENTITY, NOT_REGISTERED, REGISTERED, UNREGISTERED, ImsRegistration
from pyhss.storage.records import trusted_constructor

# TS 29.229 6.3.15 Server-Assignment-Type
NO_ASSIGNMENT = 0
REGISTRATION = 1
RE_REGISTRATION = 2
UNREGISTERED_USER = 3
TIMEOUT_DEREGISTRATION = 4
USER_DEREGISTRATION = 5
TIMEOUT_DEREGISTRATION_STORE_SERVER_NAME = 6
USER_DEREGISTRATION_STORE_SERVER_NAME = 7
ADMINISTRATIVE_DEREGISTRATION = 8
AUTHENTICATION_FAILURE = 9
AUTHENTICATION_TIMEOUT = 10
DEREGISTRATION_TOO_MUCH_DATA = 11
AAA_USER_DATA_REQUEST = 12
PGW_UPDATE = 13
RESTORATION = 14
# Not a Server-Assignment-Type: the HSS's own de-registration (RTR).
HSS_DEREGISTRATION = -1

DEREGISTRATIONS = (TIMEOUT_DEREGISTRATION, USER_DEREGISTRATION, ADMINISTRATIVE_DEREGISTRATION,
                   DEREGISTRATION_TOO_MUCH_DATA, HSS_DEREGISTRATION)
STORE_NAME_DEREGISTRATIONS = (TIMEOUT_DEREGISTRATION_STORE_SERVER_NAME, USER_DEREGISTRATION_STORE_SERVER_NAME)
AUTHENTICATION_ENDED = (AUTHENTICATION_FAILURE, AUTHENTICATION_TIMEOUT)

# Outcomes of an assignment.
DONE = "done"
NAME_NOT_STORED = "name-not-stored"     # de-registered, the S-CSCF name not kept
OTHER_SCSCF = "other-scscf"             # another S-CSCF is assigned: nothing changed
WRONG_STATE = "wrong-state"             # the type does not fit the identity's state, or Cx has no such type


@dataclass(frozen=True, slots=True)
class Authentication:
    """A MAR: the private and public identity, the S-CSCF that asks
    (Server-Name, its Diameter host and realm, the peer it came over), the
    time, the SQNs to reserve on the linked IMSI (a
    :class:`pyhss.auc.sqn.SqnRequest`, or None for SIP Digest), and
    ``required``, the :class:`~pyhss.storage.interface.RequiredState` of
    that subscriber for a reservation.  ``resync``: the MAR reports a
    synchronisation failure, which never changes the S-CSCF (8.1)."""

    impi: str
    impu: str
    server_name: str | None
    scscf_host: str | None
    scscf_realm: str | None
    peer: str | None
    now: float
    sqn_request: object = None
    required: object = None
    resync: bool = False


@dataclass(frozen=True, slots=True)
class Assignment:
    """A SAR (``kind`` its Server-Assignment-Type) or the HSS's own
    de-registration (:data:`HSS_DEREGISTRATION`, ``server_name`` None).
    ``impu`` None: every public identity of the subscription, else the
    implicit registration set of ``impu``.  ``keep_server_name``: what the
    HSS does on the *_STORE_SERVER_NAME types."""

    kind: int
    impi: str | None
    impu: str | None
    server_name: str | None
    scscf_host: str | None = None
    scscf_realm: str | None = None
    peer: str | None = None
    now: float = 0.0
    keep_server_name: bool = True


def empty_registration(impi):
    return ImsRegistration(impi)


def for_identities(registration, subscription):
    """``registration`` without the states of identities ``subscription`` no longer lists."""
    kept = {impu.uri for impu in subscription.impus}
    states = tuple((uri, state) for uri, state in registration.states if uri in kept)
    return registration if states == registration.states else replace(registration, states=states)


_trusted_registration = trusted_constructor(ImsRegistration)


def _changed(registration, server_name, scscf_host, scscf_realm, peer, pending, states, updated_at):
    """``replace(registration, ...)`` with every field given, for a valid
    ``registration`` and ``states`` made by _with_states (or its own): the
    same record, with only the values a request brought checked (the
    whole ``__post_init__``, which normalises and sorts every state again,
    was most of a SAR's and a MAR's work on the store's thread).  A value
    that fails goes the checking way, which names it."""
    # ImsRegistration's checks of these, written out (a helper call each
    # cost as much as the checks).
    if ((server_name is None or (type(server_name) is str and 0 < len(server_name) <= MAX_IDENTITY))
            and (scscf_host is None or (type(scscf_host) is str and 0 < len(scscf_host) <= MAX_IDENTITY))
            and (scscf_realm is None or (type(scscf_realm) is str and 0 < len(scscf_realm) <= MAX_IDENTITY))
            and (peer is None or (type(peer) is str and 0 < len(peer) <= MAX_IDENTITY))
            and type(pending) is bool and type(updated_at) in (int, float)):
        return _trusted_registration(registration.impi, server_name, scscf_host, scscf_realm, peer, pending, states,
                                     updated_at)
    return replace(registration, server_name=server_name, scscf_host=scscf_host, scscf_realm=scscf_realm,
                   peer=peer, pending=pending, states=states, updated_at=updated_at)


def authenticated(registration, request):
    """The registration after MAR ``request`` (6.3.1 step 5, 8.1): the
    S-CSCF that asks is stored, "pending" until its SAR, unless it is the
    one already stored or the MAR reports a synchronisation failure."""
    if request.resync or request.server_name is None or registration.server_name == request.server_name:
        return registration
    return _changed(registration, request.server_name, request.scscf_host, request.scscf_realm, request.peer, True,
                    registration.states, request.now)


def _targets(subscription, impu):
    if impu is None:
        return tuple(i.uri for i in subscription.impus)
    return tuple(i.uri for i in subscription.implicit_set(impu))


def _with_states(registration, targets, state):
    """The states with ``targets`` (normalised URIs) in ``state``, sorted
    as ImsRegistration keeps them."""
    states = dict(registration.states)
    for uri in targets:
        if state == NOT_REGISTERED:
            states.pop(uri, None)
        else:
            states[uri] = state
    return tuple(sorted(states.items()))


def _other_scscf(registration, request):
    """True when another S-CSCF holds the user and this one may not take
    it over (the name differs and no MAR set the reassignment flag)."""
    return (registration.server_name is not None and request.server_name is not None
            and registration.server_name != request.server_name and not registration.pending)


def assigned(subscription, registration, request):
    """(outcome, registration after) for assignment ``request`` on
    ``subscription`` (whose public identities include ``request.impu``)."""
    kind = request.kind
    targets = _targets(subscription, request.impu)
    if kind == NO_ASSIGNMENT:
        if registration.server_name is None or registration.server_name != request.server_name:
            return OTHER_SCSCF, registration
        return DONE, registration
    if kind in (REGISTRATION, RE_REGISTRATION, UNREGISTERED_USER):
        if _other_scscf(registration, request):
            return OTHER_SCSCF, registration
        if kind == UNREGISTERED_USER:
            if any(registration.state(uri) == REGISTERED for uri in targets):
                return WRONG_STATE, registration
            state = UNREGISTERED
        else:
            state = REGISTERED
        return DONE, _changed(registration, request.server_name, request.scscf_host, request.scscf_realm,
                              request.peer, False, _with_states(registration, targets, state), request.now)
    if kind in DEREGISTRATIONS or kind in STORE_NAME_DEREGISTRATIONS:
        if kind != HSS_DEREGISTRATION and _other_scscf(registration, request):
            return OTHER_SCSCF, registration
        states = _with_states(registration, targets, NOT_REGISTERED)
        keep = kind in STORE_NAME_DEREGISTRATIONS and request.keep_server_name
        outcome = NAME_NOT_STORED if kind in STORE_NAME_DEREGISTRATIONS and not keep else DONE
        if states or keep:
            after = _changed(registration, registration.server_name, registration.scscf_host,
                             registration.scscf_realm, registration.peer, False, states, request.now)
        else:
            after = ImsRegistration(registration.impi, updated_at=request.now)
        return outcome, after
    if kind in AUTHENTICATION_ENDED:
        if _other_scscf(registration, request):
            return OTHER_SCSCF, registration
        if registration.states:
            # Registered: a failed re-authentication leaves the registration alone.
            return DONE, replace(registration, pending=False, updated_at=request.now)
        return DONE, ImsRegistration(registration.impi, updated_at=request.now)
    return WRONG_STATE, registration
