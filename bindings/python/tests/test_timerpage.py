# SPDX-License-Identifier: MIT
import time

import pytest

import virtcore
import virtcore.timerpage as timerpage


def test_a_page_shared_through_its_memfd_reads_the_monotonic_clock():
    with timerpage.Writer(tick_hz=1000) as w:
        with timerpage.Page(w.fd) as page:
            before = time.monotonic_ns()
            now = page.now()
            after = time.monotonic_ns()
            assert before - 2_000_000 <= now <= after + 2_000_000
            t0 = page.ticks
            time.sleep(0.05)
            assert page.ticks > t0
            assert not page.stale(max_ms=1000)
            assert page.fields['tick_period_ns'] == 1_000_000
            assert 'ticks' in repr(page)


def test_what_is_not_a_timer_page_is_refused():
    with pytest.raises(virtcore.Error):
        timerpage.Page(bytearray(timerpage.SIZE))
