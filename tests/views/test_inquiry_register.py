"""The parcel inquiries' download (/inquiries/register.xlsx|csv): every row the filters
show, of the user's shops only, the carrier's answer in full, formulas neutralised, in the
user's language; behind a login and the permission to read inquiries."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from refunds.models import InquiryKind, InquiryOutcome, StaffProfile
from refunds.services import inquiries as services
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db

URL = "/inquiries/register"


def _open(order, actor, kind=InquiryKind.WHERE, **kwargs):
    kwargs.setdefault("question", "物流三天没更新了")
    return services.inquiry_open(order=order, actor=actor, kind=kind, **kwargs)


def _rows(response) -> tuple[list[str], list[list[str]]]:
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="parcel-inquiries-')
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    return rows[0], rows[1:]


def test_the_csv_has_every_filtered_row_with_the_carriers_answer_in_full(login, agent, order,
                                                                         shop):
    answer = "中转站滞留，" + "今天派送" * 80  # longer than a claim keeps: not cut here
    answered = services.inquiry_record_answer(
        inquiry=_open(order, agent), actor=agent, outcome=InquiryOutcome.ON_THE_WAY,
        answer=answer, carrier_staff="851")
    moved = _open(OrderFactory(shop=shop, unshipped=True), agent, kind=InquiryKind.ADDRESS,
                  new_address="张三 13800000000 杭州市文三路 1 号")
    header, rows = _rows(login(agent).get(f"{URL}.csv"))
    by_id = {row[header.index("Inquiry no.")]: row for row in rows}
    assert set(by_id) == {str(answered.pk), str(moved.pk)}
    row = by_id[str(answered.pk)]
    assert row[header.index("Carrier's answer")] == answer
    assert row[header.index("Carrier's staff number")] == "851"
    assert row[header.index("Tracking number")] == order.tracking_no
    assert row[header.index("Answer recorded by")] == "A1001"
    assert by_id[str(moved.pk)][header.index("New address")].startswith("张三")

    # the list's filters apply: only the address change
    header, rows = _rows(login(agent).get(f"{URL}.csv", {"kind": InquiryKind.ADDRESS}))
    assert [row[header.index("Inquiry no.")] for row in rows] == [str(moved.pk)]


def test_another_shops_inquiries_are_never_downloaded(login, agent, agent_b, order,
                                                      other_shop):
    mine = _open(order, agent, question="我的包裹")
    _open(OrderFactory(shop=other_shop), agent_b, question="别家的包裹")
    client = login(agent)
    header, rows = _rows(client.get(f"{URL}.csv"))
    assert [row[header.index("Inquiry no.")] for row in rows] == [str(mine.pk)]
    assert "别家的包裹" not in client.get(f"{URL}.csv").content.decode("utf-8-sig")
    # another shop is not a choice of the filter: back to the list, nothing downloaded
    response = client.get(f"{URL}.csv", {"shop": other_shop.pk})
    assert response.status_code == 302 and response["Location"] == "/inquiries/"


def test_a_login_and_the_permission_are_needed_and_bad_input_says_so(client, login, agent,
                                                                     order, shop):
    _open(order, agent)
    response = client.get(f"{URL}.csv")
    assert response.status_code == 302 and "/login/" in response["Location"]
    no_role = User.objects.create_user("no_role", password="pw-12345-test")
    StaffProfile.objects.create(user=no_role, staff_number="N0001").shops.set([shop])
    assert login(no_role).get(f"{URL}.csv").status_code == 403
    assert login(agent).get(f"{URL}.pdf").status_code == 404
    response = login(agent).get(f"{URL}.csv", {"state": "nonsense"})
    assert response.status_code == 302 and response["Location"] == "/inquiries/"


def test_the_download_neutralises_formulas_and_keeps_the_order_number_text(login, agent,
                                                                          shop):
    order = OrderFactory(shop=shop)
    _open(order, agent, question="=HYPERLINK(\"http://x\",\"点\")")
    client = login(agent)
    header, [row] = _rows(client.get(f"{URL}.csv"))
    assert row[header.index("What the buyer said")] == '\'=HYPERLINK("http://x","点")'
    assert row[header.index("Order no.")] == f'="{order.platform_order_id}"'
    from openpyxl import load_workbook

    response = client.get(f"{URL}.xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert [cell.value for cell in sheet[1]] == header


def test_the_download_is_in_chinese_for_a_chinese_reader(login, agent, order):
    _open(order, agent)
    client = login(agent)
    english, [row] = _rows(client.get(f"{URL}.csv"))
    chinese, [zh_row] = _rows(client.get(f"{URL}.csv", HTTP_ACCEPT_LANGUAGE="zh-hans"))
    assert len(chinese) == len(english)
    assert [en for en, zh in zip(english, chinese, strict=True) if en == zh] == []
    assert zh_row[english.index("State")] != row[english.index("State")]  # the state too


def test_the_download_query_count_does_not_grow_with_rows(login, agent, shop):
    def count() -> int:
        client = login(agent)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"{URL}.csv").status_code == 200
        return len(queries)

    _open(OrderFactory(shop=shop), agent)
    few = count()
    for _ in range(5):
        _open(OrderFactory(shop=shop), agent)
    assert count() == few
