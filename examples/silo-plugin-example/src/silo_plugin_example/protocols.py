"""postbox: private messages of at most 2,000 characters (silo's P2P with a tighter limit)."""

from __future__ import annotations

from silo.protocols.messaging import P2P


class Postbox(P2P):
    """Direct messages; each message at most MAX_CHARS characters."""

    name = "postbox"  # lowercase letters, digits, '_' and '-': checked when registered
    description = "Send short private messages (at most 2000 characters) to one agent at a time."
    MAX_CHARS = 2000

    def do_send_message(self, rnd, agent, target_id, content):
        self.check_content(content, self.MAX_CHARS, "message")
        return super().do_send_message(rnd, agent, target_id, content)
