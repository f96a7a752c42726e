"""Disputes (平台介入) through the case page: recorded by the agent, ruled by a supervisor."""

from __future__ import annotations

from decimal import Decimal

from refunds.models import Case, CaseState, Refund, RefundStatus
from refunds.services import cases as services
from tests.factories import OrderFactory, make_case, make_staff

from .helpers import action_buttons, alert_texts, text


def _refused(shop) -> Case:
    case = make_case(order=OrderFactory(shop=shop, paid_amount=Decimal("188.00")),
                     amount="188.00")
    return services.case_refuse(case=case, actor=None, reason="凭证不足")


def _post(client, case, action, **fields):
    data = {f"{action}-{key}": value for key, value in fields.items()}
    data[f"{action}-expected_state"] = Case.objects.values_list("state", flat=True).get(
        pk=case.pk)
    return client.post(f"/cases/{case.pk}/actions/{action}/", data, follow=True)


def test_a_dispute_through_the_pages(login, agent, supervisor, shop):
    case = _refused(shop)
    agent_client, supervisor_client = login(agent), login(supervisor)
    assert "open_dispute" in action_buttons(agent_client.get(f"/cases/{case.pk}/"))

    page = _post(agent_client, case, "open_dispute", note="买家申请平台介入，纠纷单号 JF001")
    assert alert_texts(page, "success").startswith("Done: ")
    case.refresh_from_db()
    assert case.state == CaseState.IN_DISPUTE
    assert "In dispute (平台介入)" in text(page)
    assert "dispute_evidence_working_days" in text(page)
    assert "or the platform rules against the shop" in text(page)
    buttons = action_buttons(page)
    assert "submit_dispute_evidence" in buttons
    assert not {"dispute_for_buyer", "dispute_for_shop"} & buttons  # a supervisor rules

    _post(agent_client, case, "submit_dispute_evidence", note="聊天记录、质检照片")
    case.refresh_from_db()
    assert case.dispute_evidence_at is not None and case.deadline_at is None
    page = agent_client.get(f"/cases/{case.pk}/")
    assert "evidence submitted" in text(page)
    assert "or the platform rules against the shop" not in text(page)

    page = supervisor_client.get(f"/cases/{case.pk}/")
    assert {"dispute_for_buyer", "dispute_for_shop"} <= action_buttons(page)
    page = _post(supervisor_client, case, "dispute_for_buyer", amount="100.00",
                 note="平台判定支持买家")
    assert alert_texts(page, "success").startswith("Done: ")
    refund = Refund.objects.get(case=case)
    assert (refund.amount, refund.status) == (Decimal("100.00"), RefundStatus.PAID)
    assert Case.objects.get(pk=case.pk).state == CaseState.REFUNDED


def test_a_dispute_without_saying_what_is_disputed_changes_nothing(login, agent, shop):
    case = _refused(shop)
    response = _post(login(agent), case, "open_dispute", note="  ")
    assert response.status_code == 400
    assert "This field is required." in text(response)
    assert Case.objects.get(pk=case.pk).state == CaseState.REFUSED


def test_an_agent_cannot_record_a_ruling_even_by_posting_it(login, agent, shop):
    case = services.case_open_dispute(case=_refused(shop), actor=agent, note="平台介入")
    response = _post(login(agent), case, "dispute_for_buyer")
    assert alert_texts(response, "danger")
    assert Case.objects.get(pk=case.pk).state == CaseState.IN_DISPUTE
    assert not Refund.objects.filter(case=case).exists()


def test_another_shops_dispute_is_a_404(login, roles, shop, other_shop):
    case = services.case_open_dispute(case=_refused(shop), actor=None, note="平台介入")
    outsider = make_staff("outsider", "supervisor", other_shop)
    response = login(outsider).post(f"/cases/{case.pk}/actions/dispute_for_shop/",
                                    {"dispute_for_shop-expected_state": "in_dispute"})
    assert response.status_code == 404
    assert Case.objects.get(pk=case.pk).state == CaseState.IN_DISPUTE


def test_a_return_first_ruling_through_the_page(login, agent, supervisor, shop):
    from refunds.models import CaseKind

    refund_only = services.case_open_dispute(case=_refused(shop), actor=agent, note="平台介入")
    supervisor_client = login(supervisor)
    assert "dispute_return_first" not in action_buttons(
        supervisor_client.get(f"/cases/{refund_only.pk}/"))  # nothing to return

    case = make_case(order=OrderFactory(shop=shop), kind=CaseKind.RETURN, amount="88.00")
    case = services.case_refuse(case=case, actor=None, reason="凭证不足")
    case = services.case_open_dispute(case=case, actor=agent, note="平台介入")
    assert "dispute_return_first" not in action_buttons(login(agent).get(f"/cases/{case.pk}/"))
    supervisor_client = login(supervisor)
    assert "dispute_return_first" in action_buttons(supervisor_client.get(f"/cases/{case.pk}/"))
    page = _post(supervisor_client, case, "dispute_return_first", note="平台判定退货退款")
    assert alert_texts(page, "success") == "Done: Ruled: the buyer returns the goods first."
    assert Case.objects.get(pk=case.pk).state == CaseState.AWAITING_RETURN
