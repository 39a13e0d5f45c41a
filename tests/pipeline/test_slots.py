"""Local threads run ``jobs`` units' work at once; a unit's tail (waiting for its writes) runs beside the next.

A unit holds one of ``jobs`` slots while it reads, plans and warps, and
frees it with :func:`~pixscale.pipeline.workers.leave_slot` once only its
files' writes are left: the next unit then starts while they finish.  The
waits below are hang guards, not timings.
"""

import threading

from pixscale.pipeline.workers import Workers, leave_slot

GUARD_S = 60


def test_a_unit_that_has_not_left_its_slot_keeps_the_next_one_waiting():
    workers = Workers(1, pool="threads")
    release, second_ran = threading.Event(), threading.Event()
    try:
        first = workers.submit(lambda: release.wait(GUARD_S))
        second = workers.submit(second_ran.set)
        assert not second_ran.wait(0.2)  # the one slot is the first unit's: the second has not run
        release.set()
        assert first.result(GUARD_S) and second.result(GUARD_S) is None and second_ran.is_set()
    finally:
        release.set()
        workers.close()


def test_a_unit_in_its_tail_lets_the_next_one_run():
    workers = Workers(1, pool="threads")
    second_ran = threading.Event()

    def first_unit():
        leave_slot()  # its views handed to the writers: what is left is waiting
        leave_slot()  # a second call does nothing
        return second_ran.wait(GUARD_S)  # the next unit runs meanwhile

    try:
        first = workers.submit(first_unit)
        second = workers.submit(second_ran.set)
        assert first.result(GUARD_S) is True and second.result(GUARD_S) is None
        third = workers.submit(lambda: 3)  # every slot was given back
        assert third.result(GUARD_S) == 3
    finally:
        second_ran.set()
        workers.close()


def test_outside_a_local_thread_pool_leave_slot_does_nothing():
    leave_slot()
    leave_slot()


def test_with_one_job_units_still_complete_in_the_order_they_were_given():
    workers = Workers(1, pool="threads")
    release, done = threading.Event(), []

    def first_unit():
        leave_slot()
        release.wait(GUARD_S)  # its tail outlasts the next unit's work
        done.append(1)

    try:
        first = workers.submit(first_unit)
        ran = threading.Event()
        second = workers.submit(lambda: (done.append(2), ran.set()))
        assert ran.wait(GUARD_S)  # the second unit's work ran in the first's tail...
        assert not second.done()  # ...but it completes only after the first
        release.set()
        second.result(GUARD_S)
        assert first.done() and done == [2, 1]
    finally:
        release.set()
        workers.close()
