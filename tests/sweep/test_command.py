"""`manage.py sweep_deadlines`: --now, the summary line, progress and exit codes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management.base import CommandError

from refunds.management.options import parse_now
from refunds.models import CaseState

from .conftest import MINUTE, SHANGHAI, T0, refused, requested_refund

# requested_refund(...) opened at T0 (2026-11-02 10:00 China time) is due 2026-11-07 10:00
# China time, which is 02:00 UTC.
DEADLINE = datetime(2026, 11, 7, 10, 0, tzinfo=SHANGHAI)


@pytest.mark.parametrize("text, expected", [
    ("2026-11-22T02:00:00+08:00", datetime(2026, 11, 22, 2, 0, tzinfo=SHANGHAI)),
    ("2026-11-21T18:00:00Z", datetime(2026, 11, 22, 2, 0, tzinfo=SHANGHAI)),
    ("2026-11-22T02:00:00", datetime(2026, 11, 22, 2, 0, tzinfo=SHANGHAI)),  # TIME_ZONE
    ("2026-11-22 02:00", datetime(2026, 11, 22, 2, 0, tzinfo=SHANGHAI)),
    (" 2026-11-22 ", datetime(2026, 11, 22, 0, 0, tzinfo=SHANGHAI)),
])
def test_now_accepts_iso_times_and_reads_naive_ones_in_china_time(settings, text, expected):
    assert settings.TIME_ZONE == "Asia/Shanghai"
    parsed = parse_now(text)
    assert parsed == expected and parsed.tzinfo is not None


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01T00:00", "22/11/2026 02:00", ""])
def test_now_that_is_not_an_iso_time_is_a_usage_error(text):
    with pytest.raises(CommandError) as error:
        parse_now(text)
    assert error.value.returncode == 2
    assert "is not an ISO time" in str(error.value)


@pytest.mark.parametrize("command", ["sweep_deadlines", "sweep_reviews"])
@pytest.mark.parametrize("text", ["0001-01-01T00:00", "9999-12-31T23:00", "1999-12-31T23:59"])
@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]], ids=["", "dry run"])
def test_now_outside_the_desks_years_is_a_usage_error_before_any_work(shop, command, text,
                                                                      dry_run):
    """Year 1 or 9999 passed the ISO check, then the sweep died working out a deadline
    (OverflowError: date value out of range) with exit 1, which cron reads as a failed case."""
    from django.core.management import call_command

    case = requested_refund(shop)
    with pytest.raises(CommandError) as error:
        call_command(command, "--now", text, *dry_run, stdout=StringIO(), stderr=StringIO())
    assert error.value.returncode == 2
    assert f"“{text}” is outside the years 2000 to 2100" in str(error.value)
    case.refresh_from_db()
    assert case.state == CaseState.REQUESTED


def test_the_sweep_runs_as_of_the_given_time(shop, clock, sweep):
    case = requested_refund(shop)
    assert case.deadline_at == DEADLINE
    clock.move_to(DEADLINE + timedelta(days=3))  # the real clock is well past the deadline

    # 09:59 China time is before the deadline; read as UTC (17:59 China) it would be after.
    before = sweep("--now", "2026-11-07T09:59")
    assert "as of 2026-11-07T09:59:00+08:00" in before.out
    assert before.summary.startswith("applied 0 ")
    case.refresh_from_db()
    assert case.state == CaseState.REQUESTED

    after = sweep("--now", "2026-11-07T02:01:00+00:00")
    assert "as of 2026-11-07T10:01:00+08:00" in after.out
    assert after.summary.startswith("applied 1 (auto-agreed 1, ")
    case.refresh_from_db()
    assert case.state == CaseState.REFUND_PENDING
    assert case.events.latest("id").created_at == DEADLINE + MINUTE


def test_only_a_dry_run_may_sweep_ahead_of_the_clock(shop, clock, sweep):
    case = requested_refund(shop)
    ahead = (DEADLINE + MINUTE).isoformat()

    refused_run = sweep("--now", ahead)
    assert refused_run.code == 2
    assert "is in the future: only --dry-run may sweep ahead of time" in refused_run.err
    case.refresh_from_db()
    assert case.state == CaseState.REQUESTED

    preview = sweep("--now", ahead, "--dry-run")
    assert preview.code == 0
    assert preview.summary.startswith("dry run, nothing written: applied 1 (auto-agreed 1, ")


def test_a_bad_now_exits_2(db, sweep):
    run = sweep("--now", "tomorrow")
    assert run.code == 2 and "is not an ISO time" in run.err


def test_summary_line_and_exit_code_0(shop, clock, sweep):
    requested_refund(shop)
    refused(shop)
    clock.move_to(T0 + timedelta(days=30))
    run = sweep()
    assert run.code == 0
    assert run.err == ""
    # The auto-agreed refund now waits for finance, due in 24 hours: flagged at once.
    assert run.summary == ("applied 2 (auto-agreed 1, closed 1, auto-refunded 0), payouts "
                           "overdue 0, escalated 0, warned 1 cases (0 notifications), "
                           "skipped 0, failed 0")


def test_nothing_to_do(db, sweep):
    run = sweep()
    assert run.code == 0
    assert run.summary.startswith("applied 0 (auto-agreed 0, closed 0, auto-refunded 0)")


def test_failures_exit_1_after_the_others_are_done(shop, clock, sweep, monkeypatch):
    from refunds.services import sweep as sweep_service

    cases = [refused(shop) for _ in range(3)]
    real_apply = sweep_service.cases_apply_platform_rules

    def apply(*, steps, now):
        # the group of three fails, then each case is done on its own: only one fails again
        if any(step.case.pk == cases[1].pk for step in steps):
            raise RuntimeError("disk on fire")
        return real_apply(steps=steps, now=now)

    monkeypatch.setattr(sweep_service, "cases_apply_platform_rules", apply)
    clock.move_to(T0 + timedelta(days=30))
    run = sweep()
    assert run.code == 1
    assert run.summary.startswith("applied 2 (auto-agreed 0, closed 2, ")
    assert run.summary.endswith("failed 1")
    assert f"case #{cases[1].pk}: close (timed out): FAILED (RuntimeError: disk on fire)" in (
        run.err)
    assert "CommandError: 1 case failed (listed above)." in run.err


def test_call_command_raises_command_error_with_returncode_1(shop, clock, sweep, monkeypatch):
    """For cron and CI: `manage.py` turns CommandError(returncode=1) into exit status 1."""
    from django.core.management import call_command

    from refunds.services import sweep as sweep_service

    def broken_apply(**kwargs):
        raise RuntimeError("boom")

    refused(shop)
    monkeypatch.setattr(sweep_service, "cases_apply_platform_rules", broken_apply)
    clock.move_to(T0 + timedelta(days=30))
    with pytest.raises(CommandError) as error:
        call_command("sweep_deadlines", stdout=StringIO(), stderr=StringIO())
    assert error.value.returncode == 1


def test_progress_lines_every_n_cases_when_not_a_terminal(shop, clock, sweep):
    for _ in range(5):
        refused(shop)
    clock.move_to(T0 + timedelta(days=30))
    run = sweep("--progress-every", "2", "--chunk-size", "2")
    lines = run.out.splitlines()
    assert [line for line in lines if line.startswith("deadlines passed:")] == [
        "deadlines passed: 2/5", "deadlines passed: 4/5"]
    assert run.summary.startswith("applied 5 ")


def test_verbose_run_lists_every_case(shop, clock, sweep):
    case = refused(shop)
    clock.move_to(T0 + timedelta(days=30))
    run = sweep("-v", "2")
    assert f"case #{case.pk}: close (timed out): done (now Closed)" in run.out


def test_quiet_run_prints_only_the_summary(shop, clock, sweep):
    refused(shop)
    clock.move_to(T0 + timedelta(days=30))
    run = sweep("-v", "0", "--progress-every", "1")
    assert run.out.strip().splitlines() == [run.summary]


def test_now_in_utc_is_shown_in_china_time(db, sweep):
    moment = datetime.now(UTC) - timedelta(hours=1)
    run = sweep("--now", moment.isoformat())
    assert moment.astimezone(SHANGHAI).isoformat() in run.out


def test_help_renders():
    from refunds.management.commands.sweep_deadlines import Command

    text = Command().create_parser("manage.py", "sweep_deadlines").format_help()
    assert "--dry-run" in text and "--now ISO-TIME" in text


class _Terminal(StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_one_progress_line_rewritten_in_place(shop, clock):
    from django.core.management import call_command

    for _ in range(3):
        refused(shop)
    clock.move_to(T0 + timedelta(days=30))
    out = _Terminal()
    call_command("sweep_deadlines", stdout=out, stderr=StringIO())
    text = out.getvalue()
    assert "\rdeadlines passed: 3/3\n" in text
    assert text.strip().splitlines()[-1].startswith("applied 3 ")


def test_progress_is_reported_after_each_committed_group(shop, clock, sweep):
    """Groups of two in a chunk of five: each group's outcomes, then its progress."""
    cases = [refused(shop) for _ in range(5)]
    clock.move_to(T0 + timedelta(days=30))
    run = sweep("-v", "2", "--progress-every", "1", "--chunk-size", "5", "--commit-every", "2")
    lines = [line for line in run.out.splitlines()
             if line.startswith(("deadlines passed:", "case #"))]
    expected = []
    for start in range(0, 5, 2):
        group = cases[start:start + 2]
        expected += [f"case #{case.pk}: close (timed out): done (now Closed)" for case in group]
        expected += [f"deadlines passed: {n}/5" for n in range(start + 1, start + len(group) + 1)]
    assert lines == expected
