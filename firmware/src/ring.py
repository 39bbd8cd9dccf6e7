"""Bounded outgoing queue for QoS 1 data: a ring of ``capacity`` slots.

Slots from the head are in order: sent-and-waiting (inflight) or acked,
then unsent. When full, ``push`` drops the oldest message (even if it is
inflight) and counts it in ``dropped``. Arrays are allocated once.
"""
from array import array

from compat import const

UNSENT = const(0)
INFLIGHT = const(1)
ACKED = const(2)


class Ring:
    def __init__(self, capacity):
        if capacity < 1:
            raise ValueError("ring capacity must be >= 1")
        self.capacity = capacity
        self.payload = [None] * capacity
        self.state = bytearray(capacity)
        self.pid = array("H", [0] * capacity)
        self.sent_at = array("i", [0] * capacity)
        self.dup = bytearray(capacity)
        self.head = 0
        self.count = 0
        self.sent = 0  # slots from head that are INFLIGHT or ACKED
        self.inflight = 0
        self.dropped = 0
        self.on_drop = None  # optional callback(payload) for tests/diagnostics

    def __len__(self):
        return self.count

    def _slot(self, k):
        return (self.head + k) % self.capacity

    def push(self, payload):
        if self.count == self.capacity:
            self._pop_head(count_drop=True)
            self._release()
        i = self._slot(self.count)
        self.payload[i] = payload
        self.state[i] = UNSENT
        self.dup[i] = 0
        self.count += 1

    def _pop_head(self, count_drop):
        i = self.head
        st = self.state[i]
        if count_drop and st != ACKED:
            self.dropped += 1
            if self.on_drop:
                self.on_drop(self.payload[i])
        if st == INFLIGHT:
            self.inflight -= 1
        if self.sent:
            self.sent -= 1
        self.payload[i] = None
        self.state[i] = UNSENT
        self.head = (i + 1) % self.capacity
        self.count -= 1

    def next_unsent(self):
        """Slot index of the oldest unsent message, or -1."""
        while self.sent < self.count and self.state[self._slot(self.sent)] == ACKED:
            self.sent += 1
        return self._slot(self.sent) if self.sent < self.count else -1

    def mark_sent(self, i, pid, now):
        self.state[i] = INFLIGHT
        self.pid[i] = pid
        self.sent_at[i] = now
        self.sent += 1
        self.inflight += 1

    def ack(self, pid):
        """Mark the inflight message with this packet id acknowledged and
        release acked slots from the head. Returns True if pid was known."""
        found = False
        for k in range(self.sent):
            i = self._slot(k)
            if self.state[i] == INFLIGHT and self.pid[i] == pid:
                self.state[i] = ACKED
                self.inflight -= 1
                found = True
                break
        self._release()
        return found

    def _release(self):
        while self.count and self.state[self.head] == ACKED:
            self._pop_head(count_drop=False)

    def inflight_slots(self):
        for k in range(self.sent):
            i = self._slot(k)
            if self.state[i] == INFLIGHT:
                yield i

    def pid_in_use(self, pid):
        for i in self.inflight_slots():
            if self.pid[i] == pid:
                return True
        return False

    def rewind(self):
        """Connection lost: every unacked message becomes unsent again (to be
        resent in order, flagged DUP). Acked slots left in the middle are
        skipped by ``next_unsent``."""
        for k in range(self.sent):
            i = self._slot(k)
            if self.state[i] == INFLIGHT:
                self.state[i] = UNSENT
                self.dup[i] = 1
        self.sent = 0
        self.inflight = 0
