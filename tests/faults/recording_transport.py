"""A transport for the fault cases: it "sends" by appending the recipient and delivery ids to a log file.

The log is the provider's record of what reached each person: one os.write on an O_APPEND descriptor per message,
so it survives a worker killed with SIGKILL; the cases read it to count physical repeats per recipient.
A share of sends fails transiently (RECORDING_FAIL_RATE), asking to be retried after RECORDING_RETRY_AFTER
seconds, as a rate-limited provider would.
"""

import os
import random
import time
from collections.abc import Iterator, Sequence

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
        self.random = random.Random()

    def send(self, messages: Sequence[Outgoing]) -> Iterator[list[Outcome]]:
        path = os.path.join(self.log_dir, f"sends-{os.getpid()}.log")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            for message in messages:
                time.sleep(self.delay)
                if self.random.random() < self.fail_rate:
                    yield [Outcome(message.delivery_id, "retry", reason="503 busy", retry_after=self.retry_after)]
                    continue
                os.write(fd, f"{message.recipient_id} {message.delivery_id}\n".encode())
                yield [Outcome(message.delivery_id, "sent")]
        finally:
            os.close(fd)
