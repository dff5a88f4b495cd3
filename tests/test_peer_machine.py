"""
The peer state machine alone (L{pyhss.protocols.peer_machine}): no
transport, no clock, no node; states, events and actions only.
"""

from twisted.trial import unittest

from pyhss.protocols import peer_machine as m
from pyhss.protocols.errors import DiameterError


def run(machine, *events):
    """Every action of C{events}, in order."""
    actions = []
    for event in events:
        actions.extend(machine.process(event))
    return actions


class ResponderTests(unittest.TestCase):

    def test_capabilities_exchange(self):
        machine = m.PeerMachine()
        self.assertEqual(machine.state, m.WAIT_CER)
        self.assertEqual(run(machine, m.CONNECTED), [m.START_CAPABILITIES_TIMER])
        self.assertEqual(run(machine, m.RECV_CER),
                         [m.STOP_STATE_TIMER, m.EXCHANGE_CAPABILITIES])
        self.assertEqual(machine.state, m.WAIT_CER)
        self.assertEqual(run(machine, m.CAPABILITIES_ACCEPTED), [m.OPEN_PEER])
        self.assertEqual(machine.state, m.OPEN)

    def test_refused_cer_closes(self):
        machine = m.PeerMachine()
        run(machine, m.CONNECTED, m.RECV_CER)
        self.assertEqual(run(machine, m.CAPABILITIES_REFUSED), [m.CLOSE])
        self.assertEqual(run(machine, m.TRANSPORT_LOST), [m.CONNECTION_LOST])
        self.assertEqual(machine.state, m.CLOSED)

    def test_anything_but_a_cer_first_is_refused(self):
        for event in (m.RECV_CEA, m.RECV_DWR, m.RECV_DWA, m.RECV_DPR, m.RECV_DPA,
                      m.RECV_REQUEST, m.RECV_ANSWER):
            machine = m.PeerMachine()
            self.assertEqual(run(machine, event), [m.REFUSE_FIRST_MESSAGE, m.CLOSE], event)
            self.assertEqual(machine.state, m.WAIT_CER)

    def test_no_cer_in_time(self):
        machine = m.PeerMachine()
        self.assertEqual(run(machine, m.CONNECTED, m.CAPABILITIES_TIMEOUT),
                         [m.START_CAPABILITIES_TIMER, m.FAIL_CAPABILITIES, m.CLOSE])

    def test_cer_on_an_open_connection_is_answered(self):
        # RFC 6733 5.6: R-Open, R-Rcv-CER -> R-Snd-CEA, R-Open.
        machine = self.opened()
        self.assertEqual(run(machine, m.RECV_CER), [m.EXCHANGE_CAPABILITIES])
        self.assertEqual(run(machine, m.CAPABILITIES_ACCEPTED), [m.REOPEN_PEER])
        self.assertEqual(machine.state, m.OPEN)
        run(machine, m.RECV_CER)
        self.assertEqual(run(machine, m.CAPABILITIES_REFUSED), [m.CLOSE])

    def opened(self):
        machine = m.PeerMachine()
        run(machine, m.CONNECTED, m.RECV_CER, m.CAPABILITIES_ACCEPTED)
        return machine


class OpenTests(unittest.TestCase):

    def setUp(self):
        self.machine = ResponderTests.opened(None)

    def test_requests_and_answers(self):
        self.assertEqual(run(self.machine, m.RECV_REQUEST), [m.DISPATCH])
        self.assertEqual(run(self.machine, m.RECV_ANSWER), [m.MATCH_ANSWER])
        self.assertEqual(run(self.machine, m.RECV_CEA), [m.IGNORE_UNEXPECTED])
        self.assertEqual(run(self.machine, m.RECV_DPA), [m.IGNORE_UNEXPECTED])
        self.assertEqual(self.machine.state, m.OPEN)

    def test_watchdog(self):
        # RFC 3539: probe after Tw of silence, drop when the probe is not
        # answered, postpone when traffic came meanwhile.
        self.assertEqual(run(self.machine, m.WATCHDOG_SILENCE), [m.SEND_DWR])
        self.assertEqual(run(self.machine, m.RECV_DWA), [m.WATCHDOG_ANSWERED])
        self.assertEqual(run(self.machine, m.WATCHDOG_TRAFFIC), [m.RESTART_WATCHDOG])
        self.assertEqual(run(self.machine, m.WATCHDOG_UNANSWERED), [m.DROP_SILENT_PEER])
        self.assertEqual(run(self.machine, m.RECV_DWR), [m.ANSWER_DWR])

    def test_peer_disconnects(self):
        self.assertEqual(run(self.machine, m.RECV_DPR),
                         [m.ANSWER_DPR, m.ENTER_CLOSING, m.START_DPA_TIMER])
        self.assertEqual(self.machine.state, m.CLOSING)
        # Requests in flight are still answered while closing.
        self.assertEqual(run(self.machine, m.RECV_REQUEST), [m.DISPATCH])
        self.assertEqual(run(self.machine, m.DPA_TIMEOUT), [m.CLOSE])

    def test_we_disconnect(self):
        self.assertEqual(run(self.machine, m.STOP),
                         [m.ENTER_CLOSING, m.SEND_DPR, m.START_DPA_TIMER])
        self.assertEqual(run(self.machine, m.STOP), [])
        self.assertEqual(run(self.machine, m.RECV_DPA), [m.STOP_STATE_TIMER, m.CLOSE])
        self.assertEqual(run(self.machine, m.TRANSPORT_LOST), [m.CONNECTION_LOST])
        self.assertEqual(run(self.machine, m.TRANSPORT_LOST), [])
        self.assertEqual(self.machine.state, m.CLOSED)


class InitiatorTests(unittest.TestCase):

    def test_capabilities_exchange(self):
        machine = m.PeerMachine(initiator=True)
        self.assertEqual(machine.state, m.WAIT_CEA)
        self.assertEqual(run(machine, m.CONNECTED), [m.START_CAPABILITIES_TIMER, m.SEND_CER])
        self.assertEqual(run(machine, m.RECV_CEA), [m.STOP_STATE_TIMER, m.EXCHANGE_CAPABILITIES])
        self.assertEqual(run(machine, m.CAPABILITIES_ACCEPTED), [m.OPEN_PEER])
        self.assertEqual(machine.state, m.OPEN)

    def test_failures(self):
        machine = m.PeerMachine(initiator=True)
        run(machine, m.CONNECTED, m.RECV_CEA)
        self.assertEqual(run(machine, m.CAPABILITIES_REFUSED), [m.FAIL_CAPABILITIES, m.CLOSE])
        machine = m.PeerMachine(initiator=True)
        self.assertEqual(run(machine, m.RECV_REQUEST),
                         [m.REFUSE_FIRST_MESSAGE, m.FAIL_CAPABILITIES, m.CLOSE])


class IllegalEventTests(unittest.TestCase):

    def test_typed_error_and_state_kept(self):
        machine = m.PeerMachine()
        error = self.assertRaises(m.IllegalPeerEvent, machine.process, m.WATCHDOG_SILENCE)
        self.assertIsInstance(error, DiameterError)
        self.assertEqual((error.state, error.event), (m.WAIT_CER, m.WATCHDOG_SILENCE))
        self.assertEqual(machine.state, m.WAIT_CER)

    def test_nothing_but_loss_after_closed(self):
        machine = m.PeerMachine()
        run(machine, m.TRANSPORT_LOST)
        for event in (m.RECV_CER, m.RECV_REQUEST, m.CAPABILITIES_ACCEPTED, m.DPA_TIMEOUT):
            self.assertRaises(m.IllegalPeerEvent, machine.process, event)

    def test_every_entry_names_known_states_and_actions(self):
        states = {m.WAIT_CER, m.WAIT_CEA, m.OPEN, m.CLOSING, m.CLOSED}
        actions = set(value for name, value in vars(m).items()
                      if name.isupper() and isinstance(value, str)) - states
        for (state, event), (steps, next_state) in m.TRANSITIONS.items():
            self.assertIn(state, states)
            self.assertIn(next_state, states)
            self.assertTrue(set(steps) <= actions, (state, event, steps))
