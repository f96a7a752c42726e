"""Long jobs run from cron print how far they got, not only their summary at the end: a
line each time a phase passes another N items (`--progress-every N`), as sweep_deadlines
does; a terminal gets one line rewritten in place instead."""

from __future__ import annotations

import io
from datetime import timedelta
from unittest import mock

import pytest
from django.core.management import call_command
from django.utils import timezone

from refunds.management.progress import Progress
from refunds.models import Review, ReviewFollowUp, ReviewRating
from refunds.services import followups, imports
from tests.factories import OrderFactory
from tests.imports.conftest import ORDER_HEADER, csv_text, order_row


def run(name, *args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(name, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def bad_reviews(shop, count, days_ago=40):
    posted = timezone.now() - timedelta(days=days_ago)
    for n in range(count):
        Review.objects.create(shop=shop, order=OrderFactory(shop=shop), buyer_nick="x",
                              item_title=f"t{n}", rating=ReviewRating.BAD, content="差",
                              posted_at=posted)


def test_lines_each_time_a_multiple_is_passed_even_in_jumps():
    stream = io.StringIO()
    log = mock.Mock(isatty=lambda: False, write=lambda text, **kw: stream.write(text + "\n"))
    progress = Progress(log, every=10)
    for done in (4, 9, 12, 25, 26, 30):
        progress("rows", done, 30)
    progress("other", 10, 10)
    assert stream.getvalue().splitlines() == ["rows: 12/30", "rows: 25/30", "rows: 30/30",
                                              "other: 10/10"]


@pytest.mark.django_db
def test_sweep_reviews_prints_each_phase(shop):
    bad_reviews(shop, 5)  # no follow-up yet, and their revision window has passed
    with mock.patch.object(followups, "FOLLOW_UP_BATCH", 2):
        out, _err = run("sweep_reviews", "--progress-every", "2")
    lines = out.splitlines()
    assert [line for line in lines if line.startswith("follow-ups created:")] == [
        "follow-ups created: 2/5", "follow-ups created: 4/5"]
    assert [line for line in lines if line.startswith("follow-ups expired:")] == [
        "follow-ups expired: 5/5"]  # one group of five passes 2 and 4 at once
    assert lines[-1].startswith("Review sweep as of")
    assert ReviewFollowUp.objects.filter(state="expired").count() == 5


@pytest.mark.django_db
def test_backfill_prints_how_far_it_got(shop):
    bad_reviews(shop, 5, days_ago=1)
    with mock.patch.object(followups, "FOLLOW_UP_BATCH", 2):
        out, _err = run("backfill_review_followups", "--progress-every", "2")
    assert out.splitlines() == ["reviews: 2/5", "reviews: 4/5", "5 review follow-ups created."]


@pytest.mark.django_db
def test_an_import_from_cron_prints_its_rows(shop, tmp_path):
    shop.platform_shop_id = "SHOP-A"
    shop.save(update_fields=["platform_shop_id"])
    path = tmp_path / "orders.csv"
    rows = [order_row(订单编号=f"39000000000990{n:05d}") for n in range(5)]
    path.write_bytes(csv_text(ORDER_HEADER, rows).encode("gbk"))
    with mock.patch.object(imports, "CHUNK_SIZE", 2):
        out, err = run("import_orders", str(path), "--shop", shop.code, "--progress-every", "2")
    assert err.splitlines() == ["rows: 2/5", "rows: 4/5"]
    assert out.splitlines()[-1] == "imported 5, updated 0, unchanged 0, rejected 0"
