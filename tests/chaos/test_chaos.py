"""The chaos driver's short mode, as CI runs it: a mixed workload on real runner processes
SIGKILLed at random moments, on SQLite (2 runners) and PostgreSQL (3 runners), with runs
started by the driver and by the runner processes themselves.

The long mode is ``python -m tests.chaos --minutes M`` (see ``tests/chaos/__main__.py``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pgtest import server_url

from .driver import Chaos, Config

pytestmark = pytest.mark.slow

SECONDS = 25.0


def run_short(config: Config) -> Chaos:
    driver = Chaos(config)
    try:
        driver._run()
        report = driver.report
        print(report.summary())
        assert report.violations == [], "\n".join(report.violations[:20])
        assert report.kills >= 4, report.summary()
        assert report.started >= 100 and report.waits_delivered and report.waits_timed_out
        assert report.runs > report.started  # children and listeners too
        # and runs started from a client on the runners' own loops, begun by them before
        # their start commits
        assert report.started_beside >= 10, report.summary()
        # The checks bite: forget the kills, and every execution they explained is flagged.
        if report.repeated:
            driver.killed.clear()
            driver.report.violations = []
            driver.check()
            assert len(driver.report.violations) >= 1
            assert "without a crash between" in driver.report.violations[0]
    finally:
        driver.close()
    return driver


@pytest.mark.timeout(240)
def test_chaos_sqlite_two_runners(tmp_path: Path) -> None:
    run_short(Config(backend="sqlite", runners=2, seconds=SECONDS, seed=11, root=tmp_path))


@pytest.mark.timeout(240)
def test_chaos_postgres_three_runners(tmp_path: Path) -> None:
    url = server_url()
    run_short(
        Config(backend="postgres", runners=3, seconds=SECONDS, seed=12, root=tmp_path, pg_url=url)
    )
