"""Follow-ups opened together (`followups_create_for_reviews`: the import's chunks, the
backfill, the nightly sweep) and expired together (`followups_expire`: the sweep) write
exactly what one call each writes, in a constant number of statements; someone who got in
first sends the group one at a time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django_fsm_log.models import StateLog

from refunds.models import FollowUpEvent, Review, ReviewFollowUp
from refunds.services import followups
from refunds.services.followups import _create_for_review, followups_create_for_reviews
from refunds.services.review_sweep import sweep_reviews
from tests.factories import OrderFactory

from .conftest import T0, make_follow_up, make_review


def _written() -> list[tuple]:
    """Every follow-up and its timeline, by review, without the ids the database chose."""
    return [(
        follow_up.review_id, follow_up.shop_id, follow_up.order_id, follow_up.buyer_id,
        follow_up.state, follow_up.flag, follow_up.category, follow_up.deadline_at,
        follow_up.created_by_id, follow_up.created_at,
        [(event.kind, event.actor_id, event.staff_number, event.note, event.from_state,
          event.to_state, event.data, event.created_at)
         for event in FollowUpEvent.objects.filter(follow_up=follow_up).order_by("pk")],
    ) for follow_up in ReviewFollowUp.objects.order_by("review_id")]


def _mixed_reviews(shop, other_shop) -> list[Review]:
    other_shop.policy.review_revision_days = 15
    other_shop.policy.save()
    order = OrderFactory(shop=shop)
    return [
        make_review(order=order, rating="bad", item_title="T恤"),
        make_review(order=order, rating="neutral", item_title="袜子"),  # the same order
        make_review(shop=shop, rating="good"),  # no follow-up
        make_review(shop=other_shop, rating="bad", posted_at=T0 - timedelta(days=9)),
        make_review(shop=other_shop, rating="neutral"),
    ]


@pytest.mark.django_db(transaction=False)
def test_together_writes_what_one_by_one_writes(shop, other_shop):
    reviews = _mixed_reviews(shop, other_shop)
    one = transaction.savepoint()
    for review in reviews:
        if review.needs_follow_up:
            _create_for_review(review, actor=None, source="sweep", now=T0)
    by_one = _written()
    transaction.savepoint_rollback(one)
    assert ReviewFollowUp.objects.count() == 0

    assert followups_create_for_reviews(reviews, source="sweep", now=T0) == 4
    assert _written() == by_one
    assert len(by_one) == 4
    deadlines = {row[0]: row[7] for row in by_one}
    assert deadlines[reviews[3].pk] == reviews[3].posted_at + timedelta(days=15)


def test_twice_opens_nothing_more_and_a_review_with_a_follow_up_is_passed_over(shop):
    first, second = make_review(shop=shop), make_review(shop=shop, rating="neutral")
    _create_for_review(first, actor=None, source="import", now=T0)
    before = _written()
    assert followups_create_for_reviews([first, second], source="sweep", now=T0) == 1
    after = _written()
    assert after[0] == before[0]  # the first review's follow-up untouched
    assert followups_create_for_reviews([first, second], source="sweep", now=T0) == 0
    assert _written() == after


def _statements(reviews) -> int:
    with CaptureQueriesContext(connection) as captured:
        followups_create_for_reviews(reviews, source="sweep", now=T0)
    return len(captured.captured_queries)


def test_the_statements_do_not_grow_with_the_reviews(shop):
    few = _statements([make_review(shop=shop) for _n in range(2)])
    many = _statements([make_review(shop=shop) for _n in range(20)])
    assert many == few
    assert ReviewFollowUp.objects.count() == 22


def test_a_follow_up_opened_meanwhile_sends_the_group_one_by_one(shop, monkeypatch):
    """Another creator (the import, a second sweep) opens one of the follow-ups after this
    group read which exist: the unique review refuses the group's insert, and the group is
    done again one review at a time — the other creator's follow-up stays, the rest open."""
    reviews = [make_review(shop=shop) for _n in range(3)]
    real_deadline = followups.revision_deadline
    meanwhile = []

    def someone_first(review, shop):  # runs after the group read which follow-ups exist
        if not meanwhile:
            meanwhile.append(reviews[1])
            _create_for_review(reviews[1], actor=None, source="import", now=T0)
        return real_deadline(review, shop)

    monkeypatch.setattr(followups, "revision_deadline", someone_first)
    assert followups_create_for_reviews(reviews, source="sweep", now=T0) == 2
    sources = dict(FollowUpEvent.objects.values_list("follow_up__review_id", "data__source"))
    assert sources == {reviews[0].pk: "sweep", reviews[1].pk: "import", reviews[2].pk: "sweep"}
    assert ReviewFollowUp.objects.count() == 3


def test_the_sweep_keeps_a_failure_with_its_review(shop, other_shop, monkeypatch):
    """A group that fails is done again one review at a time: only the review that fails is
    reported; the others of its group open."""
    reviews = [make_review(shop=shop), make_review(shop=other_shop), make_review(shop=shop)]
    real_deadline = followups.revision_deadline

    def broken_for_the_other_shop(review, shop):
        if shop.pk == other_shop.pk:
            raise RuntimeError("policy unreadable")
        return real_deadline(review, shop)

    monkeypatch.setattr(followups, "revision_deadline", broken_for_the_other_shop)
    result = sweep_reviews(now=T0)
    assert (result.created, result.failed) == (2, 1)
    assert result.failures[0].startswith(f"review #{reviews[1].pk}:")
    assert set(ReviewFollowUp.objects.values_list("review_id", flat=True)) == {
        reviews[0].pk, reviews[2].pk}


def test_the_sweep_and_the_backfill_open_every_missing_follow_up_in_batches(shop, monkeypatch):
    monkeypatch.setattr(followups, "FOLLOW_UP_BATCH", 2)
    reviews = [make_review(shop=shop, rating=rating)
               for rating in ("bad", "good", "neutral", "bad", "bad")]
    assert followups.followups_backfill(now=T0) == 4
    assert set(ReviewFollowUp.objects.values_list("review_id", flat=True)) == {
        review.pk for review in reviews if review.needs_follow_up}
    assert followups.followups_backfill(now=T0) == 0
    assert sweep_reviews(now=T0).created == 0


# --- expired together (the review sweep's second step) ----------------------------------------


def _expiry_world(shop) -> dict[str, ReviewFollowUp]:
    """Follow-ups whose window passed in each open state, one not due yet, one finished."""
    past = T0 - timedelta(days=40)  # a 30-day window: closed ten days ago
    return {
        "new": make_follow_up(shop=shop, posted_at=past),
        "contacting": make_follow_up(shop=shop, posted_at=past, state="contacting"),
        "offered": make_follow_up(shop=shop, posted_at=past, state="remedy_offered"),
        "not due": make_follow_up(shop=shop, posted_at=T0 - timedelta(days=2)),
        "revised": make_follow_up(shop=shop, posted_at=past, state="revised"),
    }


def _states_and_timelines() -> list[tuple]:
    """Each follow-up's state, timeline and django-fsm-log rows."""
    return [(follow_up.pk, follow_up.state, [
        (event.kind, event.transition, event.actor_id, event.staff_number, event.note,
         event.from_state, event.to_state, event.data, event.created_at)
        for event in FollowUpEvent.objects.filter(follow_up=follow_up).order_by("pk")], [
        (log.source_state, log.state, log.transition, log.by_id, log.description)
        for log in StateLog.objects.for_(follow_up).order_by("pk")])
        for follow_up in ReviewFollowUp.objects.order_by("pk")]


def test_expired_together_writes_what_one_by_one_writes(shop):
    world = _expiry_world(shop)
    ids = [follow_up.pk for follow_up in world.values()]
    one = transaction.savepoint()
    for follow_up in world.values():
        if follow_up.state in ("new", "contacting", "remedy_offered") and \
                follow_up.deadline_at < T0:
            followups.followup_expire(follow_up=follow_up, expected_state=follow_up.state,
                                      now=T0)
    by_one = _states_and_timelines()
    transaction.savepoint_rollback(one)

    assert followups.followups_expire(ids, now=T0) == 3
    assert _states_and_timelines() == by_one
    assert sum(len(row[3]) for row in by_one) == 3  # one django-fsm-log row per expiry
    states = {name: ReviewFollowUp.objects.get(pk=follow_up.pk).state
              for name, follow_up in world.items()}
    assert states == {"new": "expired", "contacting": "expired", "offered": "expired",
                      "not due": "new", "revised": "revised"}
    assert followups.followups_expire(ids, now=T0) == 0  # twice changes nothing


def _expire_statements(shop, count: int) -> int:
    ids = [make_follow_up(shop=shop, posted_at=T0 - timedelta(days=40)).pk
           for _n in range(count)]
    with CaptureQueriesContext(connection) as captured:
        assert followups.followups_expire(ids, now=T0) == count
    return len(captured.captured_queries)


def test_expiring_does_not_grow_in_statements_with_the_group(shop):
    assert _expire_statements(shop, 2) == _expire_statements(shop, 20)


def test_a_follow_up_changed_under_the_group_sends_it_one_by_one(shop, monkeypatch):
    """Someone moves a follow-up on between the group's lock and its UPDATE (on SQLite
    nothing holds the row): the guarded UPDATE sees it, nothing of the group is written, and
    the sweep does the group again one follow-up at a time — the moved one is left alone."""
    world = _expiry_world(shop)
    moved = world["contacting"]
    ReviewFollowUp.objects.filter(pk=moved.pk).update(state="revised")  # someone's, committed
    real_lock = followups.try_lock_followups

    def read_before_it_moved(pks):  # SQLite holds no row: the group's read was older
        locked = real_lock(pks)
        if moved.pk in locked:
            locked[moved.pk].__dict__["state"] = "contacting"
        return locked

    monkeypatch.setattr(followups, "try_lock_followups", read_before_it_moved)
    with pytest.raises(followups.FollowUpChanged):
        followups.followups_expire([world["new"].pk, moved.pk], now=T0)
    assert ReviewFollowUp.objects.get(pk=world["new"].pk).state == "new"
    assert not FollowUpEvent.objects.filter(transition="expire").exists()

    result = sweep_reviews(now=T0)
    states = {name: ReviewFollowUp.objects.get(pk=follow_up.pk).state
              for name, follow_up in world.items()}
    assert states == {"new": "expired", "contacting": "revised", "offered": "expired",
                      "not due": "new", "revised": "revised"}
    assert (result.expired, result.failed) == (2, 0)
