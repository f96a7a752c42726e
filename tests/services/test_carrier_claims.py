"""Carrier claims (报损报失): registering, the carrier's answer, the money, the rules."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone

from refunds.exceptions import ActionNotAllowed, AmountError, PermissionDeniedError
from refunds.models import CarrierClaim, ClaimEvent, ClaimPhoto, ClaimState, OrderLine
from refunds.photos import PhotoError
from refunds.services import claims as svc
from refunds.services.claims import ClaimChanged
from tests.factories import OrderFactory, make_case
from tests.services.test_warehouse import image_upload


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    return tmp_path / "private"


def details(**overrides):
    values = {"kind": "lost", "tracking_no": "SF123456789", "carrier": "顺丰速运",
              "ship_date": timezone.localdate() - timedelta(days=3), "region": "浙江 杭州",
              "sender_id_number": "330106199001011234", "parcel_status": "物流停滞七天",
              "item_model": "纯棉短袖T恤 白色 L", "item_price": Decimal("90.00"), "quantity": 1}
    values.update(overrides)
    return values


def register(order, actor, **overrides):
    return svc.claim_create(shop=order.shop, order=order, actor=actor, **details(**overrides))


def test_a_claim_is_registered_as_a_draft_with_its_timeline(order, warehouse):
    claim = register(order, warehouse, claimed_amount=None)

    assert claim.state == ClaimState.DRAFT
    assert claim.claimed_amount == Decimal("90.00")  # the goods' value: price × quantity
    assert claim.checked_staff_number == warehouse.staff_profile.staff_number  # empty: the actor
    assert claim.handler_id == warehouse.pk
    assert claim.reported_on == timezone.localdate()
    event = ClaimEvent.objects.get(claim=claim)
    assert (event.kind, event.to_state, event.staff_number) == (
        "created", "draft", warehouse.staff_profile.staff_number)


def test_the_whole_course_submitted_accepted_compensated_closed(order, warehouse, finance):
    claim = register(order, warehouse)
    claim = svc.claim_submit(claim=claim, actor=warehouse, carrier_reference="PC-778",
                             expected_state="draft")
    assert (claim.state, claim.carrier_reference) == ("submitted", "PC-778")
    assert claim.submitted_at is not None
    claim = svc.claim_accept(claim=claim, actor=warehouse, result="按价值赔付",
                             expected_state="submitted")
    assert (claim.state, claim.result) == ("accepted", "按价值赔付")
    claim = svc.claim_record_compensation(claim=claim, actor=finance, amount="85.50",
                                          expected_state="accepted")
    assert claim.state == "compensated"
    assert claim.compensated_amount == Decimal("85.50")
    claim = svc.claim_close(claim=claim, actor=warehouse, expected_state="compensated")
    assert claim.state == "closed"

    transitions = list(ClaimEvent.objects.filter(claim=claim, kind="transition")
                       .values_list("transition", "from_state", "to_state"))
    assert transitions == [("submit", "draft", "submitted"), ("accept", "submitted", "accepted"),
                           ("record_compensation", "accepted", "compensated"),
                           ("close", "compensated", "closed")]
    claim.refresh_from_db()
    assert claim.state == "closed" and claim.compensated_amount == Decimal("85.50")


def test_a_damaged_parcel_goes_to_the_carrier_only_with_photos_and_what_it_asks_for(
        order, warehouse):
    claim = register(order, warehouse, kind="damaged", ship_date=None, region="",
                     sender_id_number="")
    with pytest.raises(ActionNotAllowed) as refused:
        svc.claim_submit(claim=claim, actor=warehouse)
    message = str(refused.value.message)
    for needed in ("Ship date", "Region", "Sender's ID number", "photos of the damaged goods"):
        assert needed in message
    claim.refresh_from_db()
    assert claim.state == "draft" and claim.submitted_at is None

    claim = svc.claim_update(claim=claim, actor=warehouse, expected_state="draft",
                             ship_date=date.today() - timedelta(days=2), region="上海",
                             sender_id_number="310101198812120011")
    assert svc.claim_missing(claim) == ["photos of the damaged goods"]
    assert svc.claim_add_photos(claim=claim, actor=warehouse, photos=[image_upload()]) == 1
    assert svc.claim_missing(claim) == []
    assert svc.claim_submit(claim=claim, actor=warehouse).state == "submitted"


def test_corrections_are_kept_on_the_timeline_and_only_before_the_claim_is_sent(
        order, warehouse):
    claim = register(order, warehouse)
    svc.claim_update(claim=claim, actor=warehouse, region="江苏 南京", quantity=1)
    change = ClaimEvent.objects.get(claim=claim, kind="details")
    assert change.data == {"region": ["浙江 杭州", "江苏 南京"]}  # the unchanged field: not listed

    svc.claim_submit(claim=claim, actor=warehouse)
    with pytest.raises(ActionNotAllowed, match="corrected while it is a draft"):
        svc.claim_update(claim=claim, actor=warehouse, region="广东")
    claim.refresh_from_db()
    assert claim.region == "江苏 南京"


def test_a_rejected_claim_is_corrected_and_sent_again_with_what_it_adds(order, warehouse):
    claim = svc.claim_submit(claim=register(order, warehouse), actor=warehouse)
    claim = svc.claim_reject(claim=claim, actor=warehouse, result="缺少签收底单")
    assert claim.state == "rejected" and claim.result == "缺少签收底单"
    with pytest.raises(ActionNotAllowed, match="Say what the claim adds"):
        svc.claim_resubmit(claim=claim, actor=warehouse, note="  ")
    svc.claim_update(claim=claim, actor=warehouse, details="补充签收底单照片")
    claim = svc.claim_resubmit(claim=claim, actor=warehouse, note="已补充签收底单")
    assert claim.state == "submitted"


def test_the_carrier_never_pays_more_than_was_claimed(order, warehouse, finance):
    claim = register(order, warehouse, claimed_amount="60.00")
    claim = svc.claim_accept(claim=svc.claim_submit(claim=claim, actor=warehouse),
                             actor=warehouse, result="同意")
    with pytest.raises(ActionNotAllowed, match="at most what was claimed: ¥60.00, not ¥60.01"):
        svc.claim_record_compensation(claim=claim, actor=finance, amount="60.01")
    with pytest.raises(AmountError):
        svc.claim_record_compensation(claim=claim, actor=finance, amount="0")
    with pytest.raises(AmountError):
        svc.claim_record_compensation(claim=claim, actor=finance, amount=60.0)  # a float
    claim.refresh_from_db()
    assert claim.state == "accepted" and claim.compensated_amount is None
    assert svc.claim_record_compensation(claim=claim, actor=finance,
                                         amount="60.00").compensated_amount == Decimal("60.00")


def test_a_parcel_is_claimed_once(order, warehouse):
    first = register(order, warehouse, tracking_no="YT9999")
    with pytest.raises(ActionNotAllowed, match=rf"already has claim #{first.pk} \(Draft\)"):
        register(order, warehouse, tracking_no="YT9999")
    # closed without compensation (withdrawn): the parcel may be claimed again
    svc.claim_close(claim=first, actor=warehouse, note="录入错误")
    second = register(order, warehouse, tracking_no="YT9999")
    # and a draft cannot be corrected onto another claim's parcel (of another order)
    register(OrderFactory(shop=order.shop), warehouse, tracking_no="YT8888")
    with pytest.raises(ActionNotAllowed, match="already has claim"):
        svc.claim_update(claim=second, actor=warehouse, tracking_no="YT8888")
    assert CarrierClaim.objects.filter(tracking_no="YT9999").count() == 2


def test_closing_without_compensation_needs_a_reason(order, warehouse):
    claim = register(order, warehouse)
    with pytest.raises(ActionNotAllowed, match="Say why the claim is closed"):
        svc.claim_close(claim=claim, actor=warehouse, note="")
    claim.refresh_from_db()
    assert claim.state == "draft"
    assert svc.claim_close(claim=claim, actor=warehouse, note="买家已找到包裹").state == "closed"


@pytest.mark.parametrize("overrides, message", [
    ({"kind": "stolen"}, "damaged or lost"),
    ({"tracking_no": "  "}, "tracking number"),
    ({"parcel_status": ""}, "what the parcel looked like"),
    ({"item_model": ""}, "item's model"),
    ({"item_price": "-1"}, "more than zero"),
    ({"item_price": "abc"}, "such as 12.50"),
    ({"claimed_amount": "1.234"}, "two decimal places"),
    ({"quantity": 0}, "at least 1"),
    ({"quantity": 3}, "holds 1 item: a claim cannot be for 3"),
    ({"tracking_no": "S" * 65}, "too long: 65 characters, at most 64"),
    ({"reported_on": timezone.localdate() + timedelta(days=1)}, "in the future"),
    ({"ship_date": timezone.localdate() + timedelta(days=1)}, "shipped after"),
])
def test_bad_input_is_refused_with_a_message_and_nothing_is_written(order, warehouse,
                                                                    overrides, message):
    with pytest.raises((ActionNotAllowed, AmountError)) as refused:
        register(order, warehouse, **overrides)
    assert message.lower() in str(refused.value.message).lower()
    assert not CarrierClaim.objects.exists()
    assert not ClaimEvent.objects.exists()


def test_the_quantity_counts_every_line_of_the_trade(shop, warehouse):
    order = OrderFactory(shop=shop)
    OrderLine.objects.create(order=order, platform_sub_order_id="2", title="袜子", quantity=2,
                             paid_amount=Decimal("20.00"))
    assert register(order, warehouse, quantity=3).quantity == 3


def test_split_parcels_of_one_trade_claim_no_more_items_than_it_held(shop, warehouse):
    order = OrderFactory(shop=shop)  # one line of 1
    OrderLine.objects.create(order=order, platform_sub_order_id="2", title="袜子", quantity=2,
                             paid_amount=Decimal("20.00"))
    first = register(order, warehouse, tracking_no="SF-A1", quantity=2)
    with pytest.raises(ActionNotAllowed, match="holds 3 items: a claim cannot be for 2. Its "
                                               "other claims already count 2 items."):
        register(order, warehouse, tracking_no="SF-A2", quantity=2)
    second = register(order, warehouse, tracking_no="SF-A2", quantity=1)
    with pytest.raises(ActionNotAllowed, match="already count 2 items"):
        svc.claim_update(claim=second, actor=warehouse, quantity=2)
    # withdrawn, its items count no more
    svc.claim_close(claim=first, actor=warehouse, note="包裹找到了")
    assert svc.claim_update(claim=second, actor=warehouse, quantity=2).quantity == 2


def test_a_tracking_number_is_read_as_the_warehouse_reads_it(order, warehouse):
    claim = register(order, warehouse, tracking_no='="sf 1234 5678"')
    assert claim.tracking_no == "SF12345678"
    with pytest.raises(ActionNotAllowed, match="already has claim"):
        register(OrderFactory(shop=order.shop), warehouse, tracking_no="No: SF12345678")


def test_an_accepted_claim_the_carrier_never_pays_is_closed_with_why(order, warehouse):
    claim = svc.claim_accept(claim=svc.claim_submit(claim=register(order, warehouse),
                                                    actor=warehouse),
                             actor=warehouse, result="同意赔付")
    with pytest.raises(ActionNotAllowed, match="Say why"):
        svc.claim_close(claim=claim, actor=warehouse)
    assert svc.claim_close(claim=claim, actor=warehouse,
                           note="快递公司倒闭，赔款无望").state == "closed"


def test_sending_a_rejected_claim_again_clears_the_old_answer(order, warehouse):
    claim = svc.claim_reject(claim=svc.claim_submit(claim=register(order, warehouse),
                                                    actor=warehouse),
                             actor=warehouse, result="证据不足")
    claim = svc.claim_resubmit(claim=claim, actor=warehouse, note="补充开箱视频")
    assert (claim.result, claim.decided_at) == ("", None)
    assert ClaimEvent.objects.filter(claim=claim, transition="reject", note="证据不足").exists()


def test_a_bad_photo_registers_nothing_and_leaves_no_file(order, warehouse, private_media):
    with pytest.raises(PhotoError):
        svc.claim_create(shop=order.shop, order=order, actor=warehouse,
                         photos=[image_upload(), SimpleUploadedFile("x.jpg", b"plain text")],
                         **details(kind="damaged"))
    assert not CarrierClaim.objects.exists() and not ClaimPhoto.objects.exists()
    assert not [path for path in private_media.rglob("*") if path.is_file()]


def test_only_staff_with_the_permission_and_the_shop_may_act(order, shop, other_shop, warehouse,
                                                            finance, agent_b):
    # finance records what the carrier paid, but does not register claims
    with pytest.raises(PermissionDeniedError):
        register(order, finance)
    # another shop's agent: not their shop
    with pytest.raises(PermissionDeniedError):
        register(order, agent_b)
    claim = register(order, warehouse)
    with pytest.raises(PermissionDeniedError):
        svc.claim_submit(claim=claim, actor=agent_b)
    claim = svc.claim_accept(claim=svc.claim_submit(claim=claim, actor=warehouse),
                             actor=warehouse, result="同意")
    # the warehouse registers and records answers; the money received is finance's to record
    with pytest.raises(PermissionDeniedError):
        svc.claim_record_compensation(claim=claim, actor=warehouse, amount="10.00")
    claim.refresh_from_db()
    assert claim.state == "accepted"


def test_a_claim_of_another_shops_order_or_case_is_refused(shop, other_shop, warehouse):
    foreign = OrderFactory(shop=other_shop)
    with pytest.raises(ActionNotAllowed, match="not an order of shop"):
        svc.claim_create(shop=shop, order=foreign, actor=warehouse, **details())
    mine = OrderFactory(shop=shop)
    case = make_case(order=OrderFactory(shop=shop))
    with pytest.raises(ActionNotAllowed, match="not a case of order"):
        svc.claim_create(shop=shop, order=mine, case=case, actor=warehouse, **details())


def test_a_stale_page_is_told_the_claim_changed(order, warehouse):
    claim = register(order, warehouse)
    svc.claim_submit(claim=claim, actor=warehouse)
    with pytest.raises(ClaimChanged):
        svc.claim_submit(claim=claim, actor=warehouse, expected_state="draft")
    with pytest.raises(ActionNotAllowed, match="not possible: the claim is now"):
        svc.claim_submit(claim=claim, actor=warehouse)
    assert ClaimEvent.objects.filter(claim=claim, kind="transition").count() == 1


def test_the_sender_id_is_shown_masked(order, warehouse):
    claim = register(order, warehouse, sender_id_number="330106199001011234")
    assert claim.masked_sender_id == "330***********1234"
    claim.sender_id_number = "A1234567"
    assert claim.masked_sender_id == "****4567"
    claim.sender_id_number = ""
    assert claim.masked_sender_id == ""


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's row locks")
@pytest.mark.django_db(transaction=True)
def test_two_people_registering_one_parcel_at_once_register_it_once(shop, warehouse,
                                                                    supervisor):
    from tests.services.race import describe, race

    order = OrderFactory(shop=shop)
    outcomes = race([lambda: register(order, warehouse, tracking_no="ZT7070"),
                     lambda: register(order, supervisor, tracking_no="ZT7070")])
    assert sum(o.ok for o in outcomes) == 1, describe(outcomes)
    refused = next(o.error for o in outcomes if not o.ok)
    assert isinstance(refused, ActionNotAllowed) and "claimed once" in str(refused.message)
    assert CarrierClaim.objects.filter(tracking_no="ZT7070").count() == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's row locks")
@pytest.mark.django_db(transaction=True)
def test_two_answers_at_once_one_wins_the_other_is_told(shop, warehouse, supervisor):
    from tests.services.race import describe, race

    claim = svc.claim_submit(claim=register(OrderFactory(shop=shop), warehouse),
                             actor=warehouse)
    outcomes = race([
        lambda: svc.claim_accept(claim=claim, actor=warehouse, result="同意",
                                 expected_state="submitted"),
        lambda: svc.claim_reject(claim=claim, actor=supervisor, result="拒绝",
                                 expected_state="submitted"),
    ])
    assert sum(o.ok for o in outcomes) == 1, describe(outcomes)
    assert isinstance(next(o.error for o in outcomes if not o.ok), ClaimChanged)
    assert ClaimEvent.objects.filter(claim=claim, kind="transition").count() == 2  # submit + 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's row locks")
@pytest.mark.django_db(transaction=True)
def test_one_parcel_of_two_orders_registered_from_both_at_once_is_claimed_once(
        shop, warehouse, supervisor):
    """A parcel shipped for two orders (合并发货): each registration locks its own order,
    so only the shop's row makes the second wait and find the first's claim."""
    from tests.services.race import describe, race

    first, second = OrderFactory(shop=shop), OrderFactory(shop=shop)
    outcomes = race([lambda: register(first, warehouse, tracking_no="ZT8080"),
                     lambda: register(second, supervisor, tracking_no="ZT8080")])
    assert sum(o.ok for o in outcomes) == 1, describe(outcomes)
    assert CarrierClaim.objects.filter(tracking_no="ZT8080").count() == 1


def test_the_buyers_return_parcel_is_claimed_apart_from_the_parcel_sent_to_the_buyer(
        order, warehouse):
    register(order, warehouse, tracking_no="SF-OUT", direction="outbound", quantity=1)
    returned = register(order, warehouse, tracking_no="ZT-BACK", direction="return", quantity=1)
    assert returned.quantity == 1
    with pytest.raises(ActionNotAllowed, match="other claims already count 1 item"):
        register(order, warehouse, tracking_no="ZT-BACK2", direction="return", quantity=1)


def test_a_claim_the_carrier_never_answers_is_closed_with_why(order, warehouse):
    claim = svc.claim_submit(claim=register(order, warehouse), actor=warehouse)
    with pytest.raises(ActionNotAllowed, match="Say why"):
        svc.claim_close(claim=claim, actor=warehouse)
    assert svc.claim_close(claim=claim, actor=warehouse, note="三个月未答复").state == "closed"
