"""While a run is open the oldest generation is collected `RARER` times less often, the
young and middle ones as before; the threshold comes back when the last of the runs open
at the same time (threads included) has ended, also when a run fails."""

from __future__ import annotations

import gc
import threading

import pytest

from pipeline.collection import RARER, rarer_full_collections
from pipeline.run import open_run
from tests.flows.test_hr_sync import AS_OF, people, write_world


@pytest.fixture
def threshold():
    before = gc.get_threshold()
    yield before
    gc.set_threshold(*before)


def test_an_open_run_collects_the_oldest_generation_rarely_and_puts_it_back(tmp_path, threshold):
    config = write_world(tmp_path, "http://127.0.0.1:9", people(2))  # never reached
    young, middle, old = threshold
    with open_run(config, as_of=AS_OF, record=False):
        assert gc.get_threshold() == (young, middle, old * RARER)
    assert gc.get_threshold() == threshold
    with pytest.raises(RuntimeError), open_run(config, as_of=AS_OF, record=False):
        raise RuntimeError("a stage failed")
    assert gc.get_threshold() == threshold


def test_overlapping_runs_put_it_back_only_when_the_last_one_ends(threshold):
    raised = (threshold[0], threshold[1], threshold[2] * RARER)
    first_open, first_may_end, first_ended = (threading.Event() for _ in range(3))
    seen: list[tuple[int, int, int]] = []

    def first() -> None:
        with rarer_full_collections():
            first_open.set()
            first_may_end.wait(10)
        first_ended.set()

    worker = threading.Thread(target=first)
    worker.start()
    assert first_open.wait(10)
    with rarer_full_collections():
        first_may_end.set()
        assert first_ended.wait(10)
        seen.append(gc.get_threshold())  # the first run has ended, this one has not
    worker.join(10)
    assert seen == [raised]
    assert gc.get_threshold() == threshold
