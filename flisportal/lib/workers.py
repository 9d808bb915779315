"""The RQ worker class the portal runs (Procfile, deployments) and the tests start."""

from __future__ import annotations

from rq import Worker


class PromptExitWorker(Worker):
    """RQ's worker, except that it leaves at once when it is done.

    RQ 3.0 listens for commands in a pubsub thread that waits up to 60 s per read, and on the
    way out unsubscribes first and stops the thread second. When Redis's reply to the
    unsubscribe wakes the thread before it is told to stop, it goes back to a 60 s read, and
    redis-py 8's `stop()` waits for that read to end: about every other burst worker took a
    minute to exit after its last job. Telling the thread to stop first lets the reply end it.
    The Procfile's worker runs it too: a deploy or a Ctrl-C then stops it in seconds.
    """

    def unsubscribe(self) -> None:
        if self.pubsub_thread:
            try:
                self.pubsub_thread.stop(timeout=0)  # redis-py 8: clear the flag, do not wait
            except TypeError:  # redis-py before 8: stop() only clears the flag
                self.pubsub_thread.stop()
        super().unsubscribe()
