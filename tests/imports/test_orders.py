"""import_orders: samples, upsert, encodings, row errors, the shop check, dry run."""

from __future__ import annotations

import codecs
from decimal import Decimal

import pytest

from refunds.imports.reader import ImportFileError
from refunds.models import Buyer, ImportRun, Order, OrderLine, OrderStatus
from refunds.services.cases import case_agree
from refunds.services.imports import import_orders
from tests.factories import make_case
from tests.imports.conftest import ORDER_HEADER, SAMPLES, csv_text, order_row


def test_the_sample_orders_import_and_a_second_import_changes_nothing(shop_a):
    first = import_orders(shop=shop_a, path_or_file=SAMPLES / "orders.csv")
    assert (first.imported, first.updated, first.unchanged, first.rejected) == (300, 0, 0, 0)
    assert first.encoding == "gbk"
    assert Order.objects.filter(shop=shop_a).count() == 300
    assert OrderLine.objects.filter(order__shop=shop_a).count() == 300

    second = import_orders(shop=shop_a, path_or_file=SAMPLES / "orders.csv")

    assert (second.imported, second.updated, second.unchanged, second.rejected) == (0, 0, 300, 0)
    assert OrderLine.objects.filter(order__shop=shop_a).count() == 300
    assert ImportRun.objects.filter(shop=shop_a, kind="orders").count() == 2


def test_an_order_row_becomes_order_buyer_and_one_line(shop_a, export):
    path = export(ORDER_HEADER, [order_row(**{
        "订单编号": '="3900000000000000077"', "物流单号": "No:74683427276077",
        "宝贝总数量": "2", "买家支付宝账号": "buyer@example.com"})])

    import_orders(shop=shop_a, path_or_file=path)

    order = Order.objects.select_related("buyer").get(platform_order_id="3900000000000000077")
    assert order.tracking_no == "74683427276077"
    assert (order.goods_amount, order.postage, order.paid_amount) == (
        Decimal("180.00"), Decimal("8.00"), Decimal("188.00"))
    assert order.status == OrderStatus.SHIPPED
    assert order.paid_at.isoformat() == "2026-11-01T02:05:00+00:00"  # 10:05 China time
    assert order.receiver_name == "张三" and order.carrier == "顺丰速运"
    assert (order.buyer.nick, order.buyer.mobile, order.buyer.mobile_last4) == (
        "tb买家甲", "13800001234", "1234")
    assert order.buyer.alipay_account == "buyer@example.com"
    [line] = order.lines.all()
    assert (line.title, line.quantity, line.paid_amount) == ("纯棉短袖T恤", 2, Decimal("180.00"))


def test_a_newer_export_updates_what_changed(shop_a, export):
    import_orders(shop=shop_a, path_or_file=export(ORDER_HEADER, [
        order_row(**{"订单编号": "1001", "订单状态": "买家已付款，等待卖家发货", "物流单号": "",
                     "物流公司": ""}),
        order_row(**{"订单编号": "1002"}),
    ]))

    result = import_orders(shop=shop_a, path_or_file=export(ORDER_HEADER, [
        order_row(**{"订单编号": "1001", "物流单号": "SF999"}),
        order_row(**{"订单编号": "1002"}),
        order_row(**{"订单编号": "1003"}),
    ]))

    assert (result.imported, result.updated, result.unchanged) == (1, 1, 1)
    order = Order.objects.get(platform_order_id="1001")
    assert (order.status, order.tracking_no, order.carrier) == (OrderStatus.SHIPPED, "SF999",
                                                                "顺丰速运")
    assert order.lines.count() == 1


def test_the_same_order_twice_in_one_file_is_one_order(shop_a, export):
    result = import_orders(shop=shop_a, path_or_file=export(ORDER_HEADER, [
        order_row(**{"订单编号": "1001"}),
        order_row(**{"订单编号": "1001"}),
        order_row(**{"订单编号": "1001", "订单备注": "改了地址"}),
    ]))
    assert (result.imported, result.updated, result.unchanged) == (1, 1, 1)
    assert Order.objects.get(platform_order_id="1001").note == "改了地址"
    assert OrderLine.objects.filter(order__platform_order_id="1001").count() == 1


@pytest.mark.parametrize(("encoding", "bom"), [
    ("gbk", b""), ("gb18030", b""), ("utf-8", codecs.BOM_UTF8), ("utf-8", b""),
])
def test_names_survive_every_encoding(shop_a, tmp_path, encoding, bom):
    nick = "tb吉野家" if encoding == "gbk" else "tb𠮷野家"
    title = "纯棉T恤·宽松" if encoding == "gbk" else "𠮷祥如意 羊毛开衫"
    path = tmp_path / "orders.csv"
    path.write_bytes(bom + csv_text(ORDER_HEADER, [
        order_row(**{"买家会员名": nick, "宝贝标题": title, "收货人姓名": nick[2:]})]
    ).encode(encoding))

    result = import_orders(shop=shop_a, path_or_file=path)

    assert result.rejected == 0
    order = Order.objects.select_related("buyer").get()
    assert order.buyer.nick == nick
    assert order.receiver_name == nick[2:]
    assert order.lines.get().title == title


def test_bad_rows_are_rejected_with_their_line_and_the_others_import(shop_a, export):
    path = export(ORDER_HEADER, [
        order_row(**{"订单编号": "2001"}),
        order_row(**{"订单编号": "2002", "买家实际支付金额": "1百元"}),
        order_row(**{"订单编号": "2003", "订单付款时间": "2026-13-45 25:00:00"}),
        order_row(**{"订单编号": "2004", "订单状态": "不知道"}),
        order_row(**{"订单编号": "2005", "买家实际支付金额": "-1.00"}),
        order_row(**{"订单编号": "2006", "买家实际支付金额": "1.005"}),
        order_row(**{"订单编号": "", "买家会员名": "x"}),
        order_row(**{"订单编号": "2008"}),
    ])

    result = import_orders(shop=shop_a, path_or_file=path)

    assert (result.imported, result.rejected) == (2, 6)
    lines = dict(result.errors)
    assert sorted(lines) == [3, 4, 5, 6, 7, 8]
    assert "买家实际支付金额" in lines[3] and "1百元" in lines[3]
    assert "订单付款时间" in lines[4]
    assert "不知道" in lines[5]
    assert set(Order.objects.values_list("platform_order_id", flat=True)) == {"2001", "2008"}


def test_another_shops_file_is_refused_whole(shop_a, other_shop, export):
    path = export(ORDER_HEADER, [
        order_row(**{"订单编号": "3001"}),
        order_row(**{"订单编号": "3002", "店铺Id": other_shop.platform_shop_id}),
    ])
    with pytest.raises(ImportFileError, match="3"):
        import_orders(shop=shop_a, path_or_file=path)
    assert not Order.objects.exists() and not Buyer.objects.exists()
    # only the attempt is kept, with the reason: nothing of the file
    assert ImportRun.objects.get().refused.startswith("Line 3 belongs to 店铺Id")


def test_a_file_naming_another_shop_name_is_refused(shop_a, export):
    path = export(ORDER_HEADER, [order_row(**{"店铺Id": "", "店铺名称": "别家小店"})])
    with pytest.raises(ImportFileError, match="别家小店"):
        import_orders(shop=shop_a, path_or_file=path)
    assert not Order.objects.exists()


def test_empty_shop_columns_are_fine(shop_a, export):
    path = export(ORDER_HEADER, [order_row(**{"店铺Id": "", "店铺名称": ""})])
    assert import_orders(shop=shop_a, path_or_file=path).imported == 1


def test_a_shop_without_platform_id_cannot_vouch_for_a_file_with_one(shop, export):
    shop.platform_shop_id = ""
    shop.save()
    with pytest.raises(ImportFileError, match="platform shop id"):
        import_orders(shop=shop, path_or_file=export(ORDER_HEADER, [order_row()]))


def test_dry_run_writes_nothing_and_reports_what_a_real_run_would(shop_a, export):
    path = export(ORDER_HEADER, [order_row(**{"订单编号": "4001"}),
                                 order_row(**{"订单编号": "4002", "买家实际支付金额": "x"})])

    dry = import_orders(shop=shop_a, path_or_file=path, dry_run=True)

    assert not Order.objects.exists() and not Buyer.objects.exists()
    assert not ImportRun.objects.exists()
    real = import_orders(shop=shop_a, path_or_file=path)
    assert dry.summary() == real.summary() == "imported 1, updated 0, unchanged 0, rejected 1"
    assert dry.errors == real.errors


def test_paid_amount_cannot_drop_below_what_was_refunded(shop_a, export):
    import_orders(shop=shop_a, path_or_file=export(ORDER_HEADER, [order_row(**{
        "订单编号": "5001"})]))
    order = Order.objects.get()
    case = make_case(order=order, amount="150.00")  # refund-only, shipped: pending approval
    case_agree(case=case, actor=None)

    result = import_orders(shop=shop_a, path_or_file=export(ORDER_HEADER, [order_row(**{
        "订单编号": "5001", "买家实际支付金额": "100.00"})]))

    assert result.rejected == 1 and "150.00" in result.errors[0][1]
    order.refresh_from_db()
    assert order.paid_amount == Decimal("188.00")


@pytest.mark.parametrize("new_paid, rejected", [("179.99", 1), ("180.00", 0)])
def test_paid_amount_cannot_drop_below_refunds_plus_compensation(shop_a, export, roles,
                                                                 new_paid, rejected):
    from refunds.services.compensation import compensation_propose
    from tests.factories import make_staff

    agent = make_staff("agent", "agent", shop_a, staff_number="A1001")
    import_orders(shop=shop_a, path_or_file=export(ORDER_HEADER, [order_row(**{
        "订单编号": "5001"})]))
    order = Order.objects.get()
    case = make_case(order=order, amount="100.00")
    case_agree(case=case, actor=None)  # a refund of 100.00 committed
    compensation_propose(case=case, actor=agent, kind="coupon", amount="80.00",
                         reason="差评补偿")  # and 80.00 of compensation promised

    result = import_orders(shop=shop_a, path_or_file=export(ORDER_HEADER, [order_row(**{
        "订单编号": "5001", "买家实际支付金额": new_paid})]))

    assert result.rejected == rejected
    order.refresh_from_db()
    if rejected:
        assert "¥180.00 already refunded or promised" in result.errors[0][1]
        assert order.paid_amount == Decimal("188.00")
    else:
        assert order.paid_amount == Decimal("180.00")


def test_a_lower_paid_amount_is_refused_below_compensation_alone(shop_a, export, roles):
    from refunds.services.compensation import compensation_propose
    from tests.factories import make_staff

    agent = make_staff("agent", "agent", shop_a, staff_number="A1001")
    import_orders(shop=shop_a, path_or_file=export(ORDER_HEADER, [order_row()]))
    order = Order.objects.get()
    case = make_case(order=order, amount="10.00")  # requested only: nothing committed yet
    compensation_propose(case=case, actor=agent, kind="coupon", amount="150.00",
                         reason="差评补偿")

    result = import_orders(shop=shop_a, path_or_file=export(ORDER_HEADER, [
        order_row(**{"买家实际支付金额": "100.00"})]))

    order.refresh_from_db()
    assert (result.rejected, order.paid_amount) == (1, Decimal("188.00"))


def test_a_buyer_keeps_the_first_known_mobile(shop_a, export):
    import_orders(shop=shop_a, path_or_file=export(ORDER_HEADER, [
        order_row(**{"订单编号": "6001", "联系手机": ""}),
        order_row(**{"订单编号": "6002", "联系手机": "13911112222"}),
        order_row(**{"订单编号": "6003", "联系手机": "13733334444"}),
    ]))
    assert Buyer.objects.get().mobile == "13911112222"


@pytest.mark.parametrize("mangled", ["3.9E+18", "3.90000000000001E+18", "3900000000 0001"])
def test_order_ids_a_spreadsheet_rounded_are_rejected_not_merged(shop_a, export, mangled):
    path = export(ORDER_HEADER, [
        order_row(**{"订单编号": mangled, "买家会员名": "买家甲", "买家实际支付金额": "188.00"}),
        order_row(**{"订单编号": mangled, "买家会员名": "买家乙", "买家实际支付金额": "99.00"}),
    ])
    result = import_orders(shop=shop_a, path_or_file=path)
    assert result.rejected == 2 and not Order.objects.exists()
    assert "looks opened and saved in a spreadsheet" in result.errors[0][1]


def test_a_lower_paid_amount_never_falls_below_what_a_complaint_ruling_paid(shop_a, export,
                                                                           roles):
    """The import's check counts every source of the money rule, a complaint's ruling too."""
    from refunds.services.complaints import complaint_create, complaint_rule_for_buyer
    from tests.factories import make_staff

    agent = make_staff("agent", "agent", shop_a, staff_number="A1001")
    boss = make_staff("boss", "supervisor", shop_a, staff_number="S3001")
    import_orders(shop=shop_a, path_or_file=export(ORDER_HEADER, [order_row(**{
        "订单编号": "5002"})]))
    order = Order.objects.get()
    complaint = complaint_create(shop=shop_a, order=order, actor=agent, kind="breach",
                                 buyer_claim="承诺赠品未发")
    complaint_rule_for_buyer(complaint=complaint, actor=boss, ruling="支持买家",
                             refund_amount="150.00")

    result = import_orders(shop=shop_a, path_or_file=export(ORDER_HEADER, [order_row(**{
        "订单编号": "5002", "买家实际支付金额": "149.99"})]))

    assert result.rejected == 1
    assert "¥150.00 already refunded or promised" in result.errors[0][1]
    assert "complaint rulings" in result.errors[0][1]
    order.refresh_from_db()
    assert order.paid_amount == Decimal("188.00")
