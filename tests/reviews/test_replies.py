"""Canned replies (快捷短语): placeholders checked when saved, filled when used, one click."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError

from refunds.models import CannedReply
from refunds.models.replies import fill_placeholders, placeholder_errors
from tests.factories import OrderFactory, make_case

from .conftest import make_follow_up

GOOD = ("亲爱的{buyer}，您在{shop}的订单{order}（运单{tracking}）退款¥{amount}，"
        "请在{deadline}前处理。")


@pytest.mark.parametrize("text", [
    GOOD, "没有占位符也可以", "{buyer}{buyer}", "",
])
def test_known_placeholders_are_accepted(db, text):
    assert placeholder_errors(text) == []
    CannedReply.objects.create(title=f"t{len(text)}", category="after_sales", text=text)


@pytest.mark.parametrize("text, error", [
    ("您好{name}", "Unknown placeholder “{name}”"),
    ("您好{Buyer}", "Unknown placeholder “{Buyer}”"),
    ("您好{ buyer }", "Unknown placeholder “{ buyer }”"),
    ("金额{}", "Unknown placeholder “{}”"),
    ("您好{buyer", "A brace that opens or closes no placeholder"),
    ("您好buyer}", "A brace that opens or closes no placeholder"),
    ("您好{{buyer}}", "A brace that opens or closes no placeholder"),
    ("{order} 和 {buyer.__class__}", "Unknown placeholder"),
])
def test_unknown_placeholders_and_stray_braces_are_refused_when_saved(db, text, error):
    assert any(error in message for message in placeholder_errors(text))
    reply = CannedReply(title="坏的", category="review", language="zh-hans", text=text)
    with pytest.raises(ValidationError, match="Allowed placeholders: {buyer}, {order}"):
        reply.full_clean()
    with pytest.raises(ValidationError):
        reply.save()  # the shell or a fixture cannot store it either
    assert not CannedReply.objects.exists()


def test_the_admin_refuses_an_unknown_placeholder(client, manager):
    client.force_login(manager)
    response = client.post("/admin/refunds/cannedreply/add/", {
        "title": "物流查询", "category": "logistics", "language": "zh-hans",
        "text": "您的快递单号是{tracking_no}", "is_active": "on", "position": "0",
    })
    assert response.status_code == 200
    assert "Unknown placeholder “{tracking_no}”" in response.content.decode()
    assert not CannedReply.objects.exists()
    response = client.post("/admin/refunds/cannedreply/add/", {
        "title": "物流查询", "category": "logistics", "language": "zh-hans",
        "text": "您的快递单号是{tracking}", "is_active": "on", "position": "0",
    })
    assert response.status_code == 302
    assert CannedReply.objects.get().text == "您的快递单号是{tracking}"


def test_agents_cannot_manage_canned_replies(client, agent):
    client.force_login(agent)
    assert client.get("/admin/refunds/cannedreply/add/").status_code == 302  # not staff


def test_missing_values_stay_for_staff_to_fill():
    assert fill_placeholders("{buyer}您好，单号{tracking}", {"buyer": "小王", "tracking": ""}) == (
        "小王您好，单号{tracking}")


@pytest.fixture
def replies(db):
    CannedReply.objects.create(title="退款说明", category="after_sales", text=GOOD)
    CannedReply.objects.create(title="邀请修改评价", category="review",
                               text="{buyer}您好，给您添麻烦了，{deadline}前可以修改评价。")
    CannedReply.objects.create(title="停用", category="after_sales", text="x", is_active=False)


def test_the_case_page_offers_replies_filled_for_the_case(login, agent, shop, replies):
    order = OrderFactory(shop=shop, tracking_no="SF1234567890", paid_amount="188.00")
    case = make_case(order=order, amount="188.00")
    page = login(agent).get(f"/cases/{case.pk}/").content.decode()
    filled = (f"亲爱的{order.buyer.nick}，您在示例旗舰店的订单{order.platform_order_id}"
              f"（运单SF1234567890）退款¥188.00")
    assert f'data-text="{filled}' in page
    assert "邀请修改评价" not in page  # review replies are for the follow-up page
    assert "停用" not in page


def test_choosing_a_reply_fills_the_note_without_javascript(login, agent, shop, replies):
    follow_up = make_follow_up(shop=shop)
    reply = CannedReply.objects.get(title="邀请修改评价")
    page = login(agent).get(f"/reviews/{follow_up.pk}/?reply={reply.pk}").content.decode()
    note = f"{follow_up.buyer.nick}您好，给您添麻烦了，2026-12-18 10:00前可以修改评价。"
    textarea = re.search(r'<textarea name="contact-note"[^>]*>(.*?)</textarea>', page, re.S)
    assert textarea.group(1).strip() == note
    assert f'href="?reply={reply.pk}#contact"' in page


def test_the_deadline_placeholder_is_china_time_whatever_the_server_time_zone(settings, shop):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from django.utils import timezone

    from refunds.models import Case
    from refunds.replies import values_for_case

    case = make_case(order=OrderFactory(shop=shop), amount="188.00")
    settings.TIME_ZONE = "UTC"  # TIME_ZONE is read from the environment
    Case.objects.filter(pk=case.pk).update(
        deadline_at=datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    case.refresh_from_db()
    with timezone.override("UTC"):
        assert values_for_case(case)["deadline"] == "2026-11-25 10:00"  # what the buyer reads
