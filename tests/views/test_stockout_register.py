"""The stock-out register (/stock-outs/): every stock-out of the user's shops, open ones
first, filtered, the items most often out of stock, and its download."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from refunds.models import ContactChannel, ContactOutcome, StockOut
from refunds.services import stockouts as services
from refunds.timezones import CHINA
from tests.factories import OrderFactory, make_staff

from .helpers import alert_texts, text

URL = "/stock-outs/"


def _today():
    return timezone.now().astimezone(CHINA).date()


def _report(shop, actor, *, title="纯棉短袖T恤", sku="TS-01", **kwargs):
    order = OrderFactory(shop=shop, unshipped=True, paid_at=timezone.now() - timedelta(hours=2))
    order.lines.update(title=title, sku=sku)
    return services.stockout_report(order=order, actor=actor, line=order.lines.get(), **kwargs)


def _agree(stockout, agent, day):
    services.stockout_contact(stockout=stockout, actor=agent, channel=ContactChannel.PHONE,
                              outcome=ContactOutcome.REACHED, note="告知缺货")
    services.stockout_buyer_agreed(stockout=stockout, actor=agent, remedy="wait",
                                   agreed_ship_by=day)


def _rows(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr data-stockout="(\d+)">', text(response))]


@pytest.fixture
def register(shop, warehouse, agent):
    """Shipped, then agreed (in 5 days), agreed (in 2 days), reported: listed
    reported, agreed by the soonest day, the settled ones last."""
    shipped = _report(shop, warehouse, title="保温杯", sku="CUP-1")
    services.stockout_ship(stockout=shipped, actor=warehouse)
    later = _report(shop, warehouse)
    _agree(later, agent, _today() + timedelta(days=5))
    sooner = _report(shop, warehouse)
    _agree(sooner, agent, _today() + timedelta(days=2))
    untold = _report(shop, warehouse, title="帆布包", sku="BAG-9")
    return {"shipped": shipped, "later": later, "sooner": sooner, "untold": untold}


def test_the_register_needs_a_login_and_shows_only_the_users_shops(client, login, register,
                                                                   other_shop):
    response = client.get(URL)
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert client.get(f"{URL}register.csv").status_code == 302
    stranger = login(make_staff("agent_c", "agent", other_shop))
    assert _rows(stranger.get(URL)) == []
    assert "保温杯" not in stranger.get(f"{URL}register.csv").content.decode("utf-8-sig")


def test_open_ones_first_the_soonest_agreed_day_first(login, agent, register):
    page = login(agent).get(URL)
    assert _rows(page) == [register["untold"].pk, register["sooner"].pk, register["later"].pk,
                           register["shipped"].pk]
    assert "Stock-outs" in text(page)  # the navbar's link, for every role that reads them


def test_the_filters(login, agent, register, shop, warehouse):
    client = login(agent)
    assert _rows(client.get(URL, {"state": "agreed"})) == [register["sooner"].pk,
                                                            register["later"].pk]
    assert _rows(client.get(URL, {"q": "帆布"})) == [register["untold"].pk]
    order_id = register["shipped"].order.platform_order_id
    assert _rows(client.get(URL, {"q": order_id})) == [register["shipped"].pk]
    assert _rows(client.get(URL, {"remedy": "wait"})) == [register["sooner"].pk,
                                                          register["later"].pk]
    # report dates are China days: one reported yesterday (China) is not today's
    old = register["later"]
    StockOut.objects.filter(pk=old.pk).update(reported_at=timezone.now() - timedelta(days=2))
    today = _today().isoformat()
    assert old.pk not in _rows(client.get(URL, {"reported_from": today}))
    assert _rows(client.get(URL, {"reported_until": (_today() - timedelta(days=1)).isoformat()
                                  })) == [old.pk]


def test_bad_filters_say_so_and_the_download_refuses_them(login, agent, register):
    client = login(agent)
    page = client.get(URL, {"reported_from": "yesterday", "state": "lost"})
    assert page.status_code == 200 and "Enter a valid date" in text(page)
    download = client.get(f"{URL}register.xlsx", {"reported_from": "yesterday"})
    assert download.status_code == 302
    assert "correct the filters" in alert_texts(client.get(download["Location"]))
    assert client.get(f"{URL}register.pdf").status_code == 404


def test_the_items_most_often_out_of_stock(login, agent, register):
    page = text(login(agent).get(URL))
    card = page.split('id="stockouts-by-item"')[1]
    rows = card.split("<tbody>")[1].split("</tbody>")[0]
    assert rows.index("纯棉短袖T恤") < rows.index("帆布包")  # 2 times, then 1
    assert "<td>TS-01</td><td class=\"text-end\">2</td>" in rows


def test_the_download_has_every_filtered_row(login, agent, register):
    response = login(agent).get(f"{URL}register.csv", {"state": "agreed"})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="stock-outs-')
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    assert header[:3] == ["Stock-out no.", "Reported", "Shop"]
    assert sorted(int(row[0]) for row in body) == sorted([register["sooner"].pk,
                                                          register["later"].pk])
    choice = header.index("The buyer's choice")
    assert {row[choice] for row in body} == {"Waits for the restock (等待补货)"}
    xlsx = login(agent).get(f"{URL}register.xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"


def test_a_refund_case_shows_in_its_row(login, agent, register, shop):
    shop.policy.instant_refund_limit = Decimal("0")
    shop.policy.save()
    stockout = register["untold"]
    services.stockout_contact(stockout=stockout, actor=agent, channel=ContactChannel.PHONE,
                              outcome=ContactOutcome.REACHED, note="要退款")
    case = services.stockout_refund(stockout=stockout, actor=agent).case
    row = text(login(agent).get(URL)).split(f'<tr data-stockout="{stockout.pk}">')[1]
    assert f'href="/cases/{case.pk}/">#{case.pk}</a> ¥{case.requested_amount}' in row


def test_the_query_count_does_not_grow_with_rows(login, agent, shop, warehouse):
    client = login(agent)
    for _ in range(2):
        _agree(_report(shop, warehouse), agent, _today() + timedelta(days=1))
    with CaptureQueriesContext(connection) as few:
        client.get(URL)
    for number in range(6):
        _report(shop, warehouse, title=f"商品{number}", sku=f"S{number}")
    with CaptureQueriesContext(connection) as many:
        response = client.get(URL)
    assert len(_rows(response)) == 8
    assert len(many) == len(few)
