"""A transport for the fault cases: it "sends" by appending the recipient and delivery ids to a log file.

The log is the provider's record of what reached each person: one os.write on an O_APPEND descriptor per message,
so it survives a worker killed with SIGKILL; the cases read it to count physical repeats per recipient.
A share of sends fails transiently (RECORDING_FAIL_RATE), asking to be retried after RECORDING_RETRY_AFTER
seconds, as a rate-limited provider would.

With RECORDING_LOOKUP=1 the provider can be asked what it already accepted (as a gateway that takes a client
reference can): before a batch, the transport looks its delivery ids up in the log and reports those found as sent
without sending them again, writing each to lookups-<pid>.log. That closes the one gap dispatch cannot (a worker
killed between the provider's acceptance and our commit, alerts/services/dispatch.py); the telegram transport does
the same with its Redis record of sent parts. Off by default, so that every other case counts every repeat.
"""

import os
import random
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from accounts.models import ChannelKind
from alerts.transports.base import Outcome, Outgoing, Transport


class RecordingTransport(Transport):
    name = "recording"
    channel_kind = ChannelKind.WEB
    batch_size = 100

    def __init__(self) -> None:
        self.log_dir = os.environ["RECORDING_LOG_DIR"]
        self.fail_rate = float(os.environ.get("RECORDING_FAIL_RATE", "0"))
        self.retry_after = float(os.environ.get("RECORDING_RETRY_AFTER", "0.2"))
        self.delay = float(os.environ.get("RECORDING_DELAY", "0.001"))
        self.lookup = os.environ.get("RECORDING_LOOKUP") == "1"
        self.random = random.Random()

    def _accepted(self) -> set[int]:
        """The delivery ids the provider has accepted (every worker process's log)."""
        accepted: set[int] = set()
        for log in Path(self.log_dir).glob("sends-*.log"):
            accepted.update(int(line.split()[1]) for line in log.read_text().splitlines())
        return accepted

    def send(self, messages: Sequence[Outgoing]) -> Iterator[list[Outcome]]:
        path = os.path.join(self.log_dir, f"sends-{os.getpid()}.log")
        accepted = self._accepted() if self.lookup else set()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            for message in messages:
                if message.delivery_id in accepted:
                    with Path(self.log_dir, f"lookups-{os.getpid()}.log").open("a") as lookups:
                        lookups.write(f"{message.recipient_id} {message.delivery_id}\n")
                    yield [Outcome(message.delivery_id, "sent")]
                    continue
                time.sleep(self.delay)
                if self.random.random() < self.fail_rate:
                    yield [Outcome(message.delivery_id, "retry", reason="503 busy", retry_after=self.retry_after)]
                    continue
                os.write(fd, f"{message.recipient_id} {message.delivery_id}\n".encode())
                yield [Outcome(message.delivery_id, "sent")]
        finally:
            os.close(fd)
