"""A policy's JSON settings are checked when a manager saves them in the admin; a value stored
before that (or from a shell) does not break the shop's case pages."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from refunds.models import CaseKind, Policy
from refunds.services import cases as svc
from tests.factories import OrderFactory, make_case
from tests.formparse import form_fields


def _received_return(shop, warehouse, reason="quality"):
    case = make_case(order=OrderFactory(shop=shop), kind=CaseKind.RETURN, amount="80.00",
                     reason=reason)
    case = svc.case_agree(case=case, actor=None)
    case = svc.case_record_return_shipment(case=case, actor=None, carrier="顺丰",
                                           tracking_no="SF77")
    return svc.case_receive(case=case, actor=warehouse, resellable=True)


BAD = [
    ("shop_pays_return_postage", "5", "JSON list of case reasons"),
    ("shop_pays_return_postage", "true", "JSON list of case reasons"),
    ("shop_pays_return_postage", '["quality", "bad_weather"]', "“bad_weather” is not a case"),
    ("refund_deductions", "5", "JSON list such as"),
    ("refund_deductions", '[{"reason": "手续费"}]', "percent"),
    ("refund_deductions", '[{"reason": "手续费", "percent": "150"}]', "at most 100"),
    ("refund_deductions", '[{"reason": "手续费", "percent": true}]', "percent"),
    ("refund_deductions", '[{"reason": "", "percent": "5"}]', "needs a reason"),
    ("refund_deductions", '[{"reason": "a", "percent": 1}, {"reason": "b", "percent": 1}, '
                          '{"reason": "c", "percent": 1}, {"reason": "d", "percent": 1}]',
     "at most 3"),
    ("quality_partial_refund_percent", "101", "less than or equal to 100"),
]


@pytest.mark.parametrize(("field", "value", "message"), BAD,
                         ids=[f"{field}={value[:20]}" for field, value, _m in BAD])
def test_the_admin_refuses_a_setting_the_pages_cannot_use(client, manager, shop, field, value,
                                                          message):
    client.force_login(manager)
    url = f"/admin/refunds/policy/{shop.policy.pk}/change/"
    data = form_fields(client.get(url).content.decode(), "policy_form")
    before = getattr(Policy.objects.get(pk=shop.policy.pk), field)
    data[field] = value

    response = client.post(url, data)

    assert response.status_code == 200  # the form again, with the error
    assert message in response.content.decode()
    assert getattr(Policy.objects.get(pk=shop.policy.pk), field) == before


def test_the_admin_saves_good_settings(client, manager, shop):
    client.force_login(manager)
    url = f"/admin/refunds/policy/{shop.policy.pk}/change/"
    data = form_fields(client.get(url).content.decode(), "policy_form")
    data["shop_pays_return_postage"] = '["quality", "wrong_item"]'
    data["refund_deductions"] = '[{"reason": "天猫技术服务费", "percent": "5"}, ' \
                                '{"reason": "包装缺失", "percent": 2.5}, ' \
                                '{"reason": "配件缺失", "percent": "1.5%"}]'

    response = client.post(url, data)

    assert response.status_code == 302
    policy = Policy.objects.get(pk=shop.policy.pk)
    assert policy.shop_pays_return_postage == ["quality", "wrong_item"]
    assert policy.deduction_lines() == [("天猫技术服务费", Decimal("5")),
                                        ("包装缺失", Decimal("2.5")),
                                        ("配件缺失", Decimal("1.5"))]


@pytest.mark.parametrize("value", [
    5, True, "quality", [{"reason": 1}], [{"reason": "手续费", "percent": "abc"}],
    [{"reason": "手续费", "percent": "1e30"}], [{"reason": "手续费", "percent": "-5"}],
], ids=["5", "true", "text", "reason-number", "percent-text", "percent-huge", "percent-neg"])
def test_a_bad_value_stored_before_does_not_break_the_case_page(login, agent, warehouse, shop,
                                                                value):
    case = _received_return(shop, warehouse)
    Policy.objects.filter(pk=shop.policy.pk).update(shop_pays_return_postage=value,
                                                    refund_deductions=value)
    with pytest.raises(ValidationError):
        Policy.objects.get(pk=shop.policy.pk).full_clean()

    response = login(agent).get(f"/cases/{case.pk}/")

    assert response.status_code == 200
    assert 'name="approve_refund-amount"' in response.content.decode()
