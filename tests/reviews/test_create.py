"""Follow-ups are created once per 中评/差评: by the import hook, the backfill or by hand."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from refunds.exceptions import ActionNotAllowed, PermissionDeniedError
from refunds.models import FollowUpEvent, Review, ReviewFollowUp
from refunds.services.followups import followup_create, followup_create_for_review
from tests.factories import OrderFactory

from .conftest import T0, make_review


def test_a_negative_review_gets_a_purple_follow_up_due_after_the_revision_window(shop):
    review = make_review(shop=shop, posted_at=T0 - timedelta(days=3))
    follow_up = followup_create_for_review(review)
    assert (follow_up.state, follow_up.flag, follow_up.category) == ("new", "purple", "")
    assert follow_up.deadline_at == review.posted_at + timedelta(days=30)
    assert (follow_up.shop, follow_up.order, follow_up.buyer) == (
        shop, review.order, review.order.buyer)
    event = follow_up.events.get()
    assert (event.kind, event.staff_number, event.data["source"]) == (
        "created", "SYSTEM", "import")


def test_the_window_is_the_shops_policy(shop):
    shop.policy.review_revision_days = 15
    shop.policy.save()
    review = make_review(shop=shop)
    assert followup_create_for_review(review).deadline_at == review.posted_at + timedelta(days=15)


def test_creating_twice_returns_the_same_follow_up_and_writes_nothing(shop):
    review = make_review(shop=shop, rating="neutral")
    first = followup_create_for_review(review)
    second = followup_create_for_review(review)
    assert first.pk == second.pk
    assert ReviewFollowUp.objects.count() == 1 and FollowUpEvent.objects.count() == 1


def test_a_positive_review_gets_none(shop):
    assert followup_create_for_review(make_review(shop=shop, rating="good")) is None
    assert not ReviewFollowUp.objects.exists()


def _backfill(*args) -> str:
    out = StringIO()
    call_command("backfill_review_followups", *args, stdout=out)
    return out.getvalue()


def test_the_backfill_creates_the_missing_follow_ups_once(shop, other_shop):
    followed = make_review(shop=shop)
    followup_create_for_review(followed)
    bad, neutral = make_review(shop=shop), make_review(shop=other_shop, rating="neutral")
    make_review(shop=shop, rating="good")
    assert "2 review follow-ups would be created (dry run)." in _backfill("--dry-run")
    assert ReviewFollowUp.objects.count() == 1
    assert "1 review follow-ups created." in _backfill("--shop", "shop-b")
    assert "1 review follow-ups created." in _backfill()
    assert "0 review follow-ups created." in _backfill()
    assert set(ReviewFollowUp.objects.values_list("review_id", flat=True)) == {
        followed.pk, bad.pk, neutral.pk}
    assert set(FollowUpEvent.objects.filter(data__source="backfill")
               .values_list("follow_up__review_id", flat=True)) == {bad.pk, neutral.pk}


# --- by hand --------------------------------------------------------------------------------


def test_an_agent_opens_a_follow_up_by_hand_and_the_import_later_finds_it(shop, agent):
    order = OrderFactory(shop=shop)
    follow_up = followup_create(
        shop=shop, order=order, rating="bad", item_title="纯棉短袖T恤", content="尺码偏小",
        posted_at=T0 - timedelta(hours=5), category="size", actor=agent)
    assert (follow_up.category, follow_up.created_by, follow_up.review.content) == (
        "size", agent, "尺码偏小")
    assert follow_up.events.get().staff_number == "A1001"
    # the import later upserts the same review (order, item): no second follow-up
    review = Review.objects.get(order=order, item_title="纯棉短袖T恤")
    assert followup_create_for_review(review).pk == follow_up.pk
    with pytest.raises(ActionNotAllowed, match="already followed up"):
        followup_create(shop=shop, order=order, rating="bad", item_title="纯棉短袖T恤",
                        content="", posted_at=T0, category="", actor=agent)


@pytest.mark.parametrize("kwargs, message", [
    ({"rating": "good"}, "Only neutral and negative"),
    ({"item_title": " "}, "Enter the item"),
    ({"posted_at": T0 + timedelta(hours=1)}, "in the future"),
])
def test_by_hand_refuses_what_is_not_a_review_to_follow_up(shop, agent, kwargs, message):
    data = {"shop": shop, "order": OrderFactory(shop=shop), "rating": "bad",
            "item_title": "T恤", "content": "", "posted_at": T0, "category": "",
            "actor": agent, **kwargs}
    with pytest.raises(ActionNotAllowed, match=message):
        followup_create(**data)


def test_by_hand_only_in_the_users_shops(shop, other_shop, agent, warehouse):
    order_b = OrderFactory(shop=other_shop)
    with pytest.raises(PermissionDeniedError):
        followup_create(shop=other_shop, order=order_b, rating="bad", item_title="T恤",
                        content="", posted_at=T0, category="", actor=agent)
    with pytest.raises(PermissionDeniedError):
        followup_create(shop=shop, order=OrderFactory(shop=shop), rating="bad",
                        item_title="T恤", content="", posted_at=T0, category="",
                        actor=warehouse)


def test_the_new_follow_up_page(login, agent, shop, other_shop):
    order = OrderFactory(shop=shop)
    client = login(agent)
    assert client.get("/reviews/new/").status_code == 200
    response = client.post("/reviews/new/", {
        "shop": shop.pk, "order_id": f'="{order.platform_order_id}"', "item_title": "T恤",
        "rating": "neutral", "content": "物流太慢", "posted_at": "2026-11-19T15:00",
        "category": "logistics",
    })
    follow_up = ReviewFollowUp.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/reviews/{follow_up.pk}/"
    assert follow_up.review.rating == "neutral" and follow_up.category == "logistics"
    # another shop's order is not found; another shop is not offered
    order_b = OrderFactory(shop=other_shop)
    response = client.post("/reviews/new/", {
        "shop": shop.pk, "order_id": order_b.platform_order_id, "item_title": "T恤",
        "rating": "bad", "posted_at": "2026-11-19T15:00"})
    assert response.status_code == 400 and "No order" in response.content.decode()
    response = client.post("/reviews/new/", {
        "shop": other_shop.pk, "order_id": order_b.platform_order_id, "item_title": "T恤",
        "rating": "bad", "posted_at": "2026-11-19T15:00"})
    assert response.status_code == 400
    assert ReviewFollowUp.objects.count() == 1


def test_the_new_follow_up_page_is_for_those_who_may_add(login, warehouse):
    assert login(warehouse).get("/reviews/new/").status_code == 403


@pytest.mark.parametrize("posted_at", ["0001-01-01T00:00", "1899-12-31T23:59"])
def test_the_new_follow_up_page_refuses_a_date_no_review_has(login, agent, shop, posted_at):
    """Year 1 once was a 500: its revision window cannot be worked out."""
    response = login(agent).post("/reviews/new/", {
        "shop": shop.pk, "order_id": OrderFactory(shop=shop).platform_order_id,
        "item_title": "T恤", "rating": "bad", "posted_at": posted_at, "category": ""})
    assert response.status_code == 400
    assert "Enter when the review was posted (from 2000 on)." in response.content.decode()
    assert not ReviewFollowUp.objects.exists()
