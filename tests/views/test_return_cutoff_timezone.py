"""The returns batch cutoff (16:00) is the warehouse's clock in China, whatever the server's
TIME_ZONE — as the harassment guard and the imports already read China time."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django.test import override_settings

from refunds.services.warehouse import batch_date_for

SHANGHAI = ZoneInfo("Asia/Shanghai")


@override_settings(TIME_ZONE="UTC")  # a server left at UTC (README: TIME_ZONE is a setting)
def test_a_parcel_at_five_pm_in_china_is_the_next_days_batch_on_a_utc_server(shop):
    """DOMAIN.md, Warehouse returns: "Parcels arriving after the 16:00 cutoff belong to the
    next day's batch; the batch sheet reaches after-sales around 15:00."

    A parcel opened at 17:00 China time (09:00 UTC) is after the cutoff: tomorrow's batch.
    `batch_date_for` reads the time with `timezone.localtime` (the server's TIME_ZONE), so
    on a UTC server it lands in today's batch: every parcel opened between 16:00 and
    midnight China time (08:00–16:00 UTC) goes to the wrong day's sheet.
    """
    received = datetime(2026, 3, 10, 17, 0, tzinfo=SHANGHAI)
    assert batch_date_for(received, shop.policy).isoformat() == "2026-03-11"


@override_settings(TIME_ZONE="UTC")
def test_the_batch_page_opens_on_chinas_day_on_a_utc_server(login, warehouse, shop):
    import time_machine

    # 01:00 on 11 March in China is still 10 March in UTC
    with time_machine.travel(datetime(2026, 3, 11, 1, 0, tzinfo=SHANGHAI), tick=False):
        page = login(warehouse).get("/warehouse/batch/").content.decode()
    assert "Returns batch (退货明细表) 2026-03-11" in page
