"""Evidence recorded after its deadline does not undo the platform's ruling against the shop."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from refunds.exceptions import ActionNotAllowed
from refunds.models import Case, CaseState, Refund
from refunds.services import cases as svc
from tests.factories import OrderFactory, make_case

from .conftest import T0

EVIDENCE_DUE = T0 + timedelta(days=7)  # T0 is a Monday: 5 working days, the next Monday


@pytest.fixture
def dispute(shop, people, clock):
    case = make_case(order=OrderFactory(shop=shop, paid_amount=Decimal("188.00")),
                     amount="188.00")
    case = svc.case_refuse(case=case, actor=None, reason="凭证不足")
    case = svc.case_open_dispute(case=case, actor=people["assignee"], note="平台介入")
    assert case.deadline_at == EVIDENCE_DUE
    return case


def test_evidence_after_the_deadline_does_not_cancel_the_platforms_ruling(
        dispute, people, clock, sweep):
    """DOMAIN.md: no evidence within 5 working days → ruled against the shop. Evidence
    recorded after the deadline (before the night's sweep) is refused: accepted, it would
    end the deadline and the desk would wait for a ruling already made."""
    clock.move_to(EVIDENCE_DUE + timedelta(hours=2))
    with pytest.raises(ActionNotAllowed, match="evidence deadline passed"):
        svc.case_submit_dispute_evidence(case=dispute, actor=people["assignee"],
                                         note="聊天记录（逾期提交）")
    run = sweep()
    assert run.code == 0, run.err
    case = Case.objects.get(pk=dispute.pk)
    assert case.state == CaseState.REFUNDED, (case.state, case.deadline_at, run.summary)
    assert Refund.objects.filter(case=case).exists()
