"""import_reviews: upsert on (order, 宝贝标题); 中评/差评 kept for their follow-ups."""

from __future__ import annotations

from refunds.models import Review, ReviewRating
from refunds.services.imports import import_orders, import_reviews
from tests.factories import OrderFactory
from tests.imports.conftest import REVIEW_HEADER, SAMPLES, review_row


def test_the_sample_reviews_import_and_again_changes_nothing(shop_a):
    import_orders(shop=shop_a, path_or_file=SAMPLES / "orders.csv")

    first = import_reviews(shop=shop_a, path_or_file=SAMPLES / "reviews.csv")
    second = import_reviews(shop=shop_a, path_or_file=SAMPLES / "reviews.csv")

    assert (first.imported, first.rejected) == (43, 0)
    assert (second.imported, second.updated, second.unchanged) == (0, 0, 43)
    ratings = {rating: Review.objects.filter(rating=rating).count() for rating in ReviewRating}
    assert ratings == {ReviewRating.GOOD: 29, ReviewRating.NEUTRAL: 9, ReviewRating.BAD: 5}
    assert Review.objects.filter(shop=shop_a).count() == 43


def test_reviews_are_upserted_and_unknown_orders_rejected(shop_a, export):
    order = OrderFactory(shop=shop_a)
    import_reviews(shop=shop_a, path_or_file=export(REVIEW_HEADER, [
        review_row(**{"订单编号": order.platform_order_id})]))

    result = import_reviews(shop=shop_a, path_or_file=export(REVIEW_HEADER, [
        review_row(**{"订单编号": order.platform_order_id, "追评内容": "换了尺码还是小"}),
        review_row(**{"订单编号": order.platform_order_id, "宝贝标题": "另一件",
                      "评价结果": "好评"}),
        review_row(**{"订单编号": "404"}),
        review_row(**{"订单编号": order.platform_order_id, "评价结果": "很好"}),
    ]))

    assert (result.imported, result.updated, result.rejected) == (1, 1, 2)
    assert [line for line, _reason in result.errors] == [4, 5]
    review = Review.objects.get(item_title="纯棉短袖T恤")
    assert review.rating == ReviewRating.BAD and review.needs_follow_up
    assert review.follow_up_content == "换了尺码还是小"
    assert review.posted_at.isoformat() == "2026-11-08T12:00:00+00:00"


def test_another_shops_order_is_unknown_here(shop_a, other_shop, export):
    theirs = OrderFactory(shop=other_shop)
    result = import_reviews(shop=shop_a, path_or_file=export(REVIEW_HEADER, [
        review_row(**{"订单编号": theirs.platform_order_id})]))
    assert result.rejected == 1 and not Review.objects.exists()


def test_neutral_and_negative_reviews_open_their_follow_ups_once(shop_a):
    from refunds.models import ReviewFollowUp

    import_orders(shop=shop_a, path_or_file=SAMPLES / "orders.csv")
    import_reviews(shop=shop_a, path_or_file=SAMPLES / "reviews.csv")
    import_reviews(shop=shop_a, path_or_file=SAMPLES / "reviews.csv")

    follow_ups = ReviewFollowUp.objects.filter(review__shop=shop_a)
    assert follow_ups.count() == 9 + 5  # 中评 + 差评; 好评 are kept for statistics only
    assert not follow_ups.filter(review__rating=ReviewRating.GOOD).exists()


def test_an_imported_review_date_moves_the_open_follow_ups_deadline(shop_a, export, roles):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from refunds.models import FollowUpEvent, ReviewFollowUp
    from refunds.services.followups import followup_create
    from tests.factories import make_staff

    china = ZoneInfo("Asia/Shanghai")
    agent = make_staff("agent", "agent", shop_a, staff_number="A1001")
    order = OrderFactory(shop=shop_a)
    # opened by hand from the seller centre, the date typed approximately
    followup_create(shop=shop_a, order=order, rating="bad", item_title="纯棉短袖T恤",
                    content="差", posted_at=datetime(2026, 11, 18, 10, 0, tzinfo=china),
                    category="", actor=agent, now=datetime(2026, 11, 19, 10, 0, tzinfo=china))
    follow_up = ReviewFollowUp.objects.get()
    ReviewFollowUp.objects.filter(pk=follow_up.pk).update(
        warned_deadline_at=follow_up.deadline_at)  # warned about the old window already

    row = review_row(**{"订单编号": order.platform_order_id, "评价时间": "2026-11-10 10:00:00"})
    import_reviews(shop=shop_a, path_or_file=export(REVIEW_HEADER, [row]))

    follow_up.refresh_from_db()
    # the platform closes revisions 30 days after the real date
    assert follow_up.deadline_at == datetime(2026, 12, 10, 10, 0, tzinfo=china)
    assert follow_up.warned_deadline_at is None  # warned again for the new window
    event = FollowUpEvent.objects.filter(follow_up=follow_up).latest("id")
    assert (event.kind, event.staff_number) == ("details", "SYSTEM")
    assert "until 2026-12-10 10:00" in event.note

    # importing the same file again moves nothing
    events = FollowUpEvent.objects.count()
    import_reviews(shop=shop_a, path_or_file=export(REVIEW_HEADER, [row]))
    assert FollowUpEvent.objects.count() == events


def test_a_review_the_export_now_shows_as_good_marks_its_follow_up_revised(shop_a, export):
    from refunds.models import FollowUpEvent, ReviewFollowUp

    order = OrderFactory(shop=shop_a)
    cells = {"订单编号": order.platform_order_id}
    bad = review_row(**cells, **{"评价结果": "差评"})
    import_reviews(shop=shop_a, path_or_file=export(REVIEW_HEADER, [bad]))
    follow_up = ReviewFollowUp.objects.get()
    assert follow_up.state == "new"

    good = review_row(**cells, **{"评价结果": "好评"})
    result = import_reviews(shop=shop_a, path_or_file=export(REVIEW_HEADER, [good]))

    assert result.updated == 1
    follow_up.refresh_from_db()
    assert follow_up.state == "revised"
    event = FollowUpEvent.objects.filter(follow_up=follow_up).latest("id")
    assert (event.transition, event.staff_number) == ("mark_revised", "SYSTEM")
    assert "the buyer revised it" in event.note
    # the same export again changes nothing
    events = FollowUpEvent.objects.count()
    assert import_reviews(shop=shop_a, path_or_file=export(REVIEW_HEADER, [good])).unchanged == 1
    assert FollowUpEvent.objects.count() == events
