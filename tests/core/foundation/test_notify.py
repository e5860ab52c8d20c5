"""Warnings the core logs reach the user: the long call running on that thread, else the subscribers."""
import logging
import threading

from flowerstudio.core.foundation.events import Log
from flowerstudio.core.foundation.notify import reporting_to, subscribe

log = logging.getLogger("flowerstudio.core.somewhere")


def test_a_warning_inside_a_job_goes_to_its_callback_and_elsewhere_to_subscribers():
    job_events, seen = [], []
    stop = subscribe(seen.append)
    try:
        with reporting_to(job_events.append):
            log.warning("engine fell back to %s", "PyTorch")
        other = threading.Thread(target=lambda: log.warning("from a helper thread"))
        other.start()
        other.join()
        log.info("not a warning: not relayed")
    finally:
        stop()
    assert job_events == [Log("engine fell back to PyTorch", "warning")]
    assert seen == [Log("from a helper thread", "warning")]
    log.warning("after unsubscribing: nobody listens, stderr gets it")
    assert len(seen) == 1
