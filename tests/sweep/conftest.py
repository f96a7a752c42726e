"""Shared set-up for the deadline sweep: a frozen clock, people to notify, cases per state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError

from refunds.models import Case, CaseKind
from refunds.services import cases as svc
from tests.factories import OrderFactory, make_case, make_staff

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 2, 10, 0, tzinfo=SHANGHAI)  # every case below starts here
MINUTE = timedelta(minutes=1)


@pytest.fixture
def clock():
    """The time, frozen at T0; move it with clock.move_to(...)."""
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@dataclass
class Run:
    out: str
    err: str
    code: int

    @property
    def summary(self) -> str:
        return self.out.strip().splitlines()[-1]


@pytest.fixture
def sweep(django_capture_on_commit_callbacks):
    """sweep(*args) runs `manage.py sweep_deadlines` and returns its output and exit code.

    The test's own transaction never commits, so the on-commit callbacks (the emails) are
    run when the command returns, as a real commit would.
    """

    def run(*args: str, **options) -> Run:
        out, err = StringIO(), StringIO()
        code = 0
        with django_capture_on_commit_callbacks(execute=True):
            try:
                call_command("sweep_deadlines", *args, stdout=out, stderr=err, **options)
            except CommandError as error:
                code = error.returncode
                err.write(f"CommandError: {error}\n")
        return Run(out.getvalue(), err.getvalue(), code)

    return run


# --- people -----------------------------------------------------------------------------------


@pytest.fixture
def people(roles, shop, other_shop):
    """The assignee and supervisors of shop A, and those who must NOT hear about shop A."""

    def staff(username, role, *shops, email="", **extra):
        return make_staff(username, role, *shops, staff_number=username.upper(),
                          email=email, **extra)

    return {
        "assignee": staff("agent_x", "agent", shop, email="agent_x@example.com"),
        "sup_a": staff("sup_a", "supervisor", shop, email="sup_a@example.com"),
        "sup_both": staff("sup_both", "supervisor", shop, other_shop,
                          email="sup_both@example.com"),
        "sup_no_mail": staff("sup_no_mail", "supervisor", shop),
        "sup_b": staff("sup_b", "supervisor", other_shop, email="sup_b@example.com"),
        "sup_gone": staff("sup_gone", "supervisor", shop, email="gone@example.com",
                          is_active=False),
        "agent_a": staff("agent_a", "agent", shop, email="agent_a@example.com"),
    }


# --- cases in each state, all opened at T0 (under the frozen clock) ---------------------------


def requested_refund(shop, **kwargs) -> Case:
    """Refund-only on a shipped order, above the instant limit: due T0 + 5 days."""
    return make_case(order=OrderFactory(shop=shop), amount="188.00", **kwargs)


def requested_unshipped(shop) -> Case:
    """Refund-only on an unshipped order, above the instant limit: due T0 + 2 days."""
    return make_case(order=OrderFactory(shop=shop, unshipped=True), amount="188.00")


def requested_return(shop) -> Case:
    return make_case(order=OrderFactory(shop=shop), kind=CaseKind.RETURN)


def refused(shop) -> Case:
    return svc.case_refuse(case=requested_refund(shop), actor=None, reason="凭证不足")


def awaiting_return(shop) -> Case:
    return svc.case_agree(case=requested_return(shop), actor=None)


def return_in_transit(shop) -> Case:
    return svc.case_record_return_shipment(case=awaiting_return(shop), actor=None,
                                           carrier="顺丰速运", tracking_no="SF1234567890")


def received(shop) -> Case:
    return svc.case_receive(case=return_in_transit(shop), actor=None, resellable=True)


def refund_pending(shop) -> Case:
    return svc.case_agree(case=requested_refund(shop), actor=None)


# --- the run's emails -------------------------------------------------------------------------


def mailed(outbox) -> list[tuple[str, str, str]]:
    """(address, subject, body) of each entry of the digest emails: the sweep sends one email
    per person per run, listing what it notified them of, one entry per notification."""
    entries = []
    for message in outbox:
        for entry in message.body.split("\n\n\n"):
            subject, _blank, body = entry.partition("\n\n")
            entries.extend((address, subject, body) for address in message.to)
    return entries
