"""Builders for platform export files: any encoding, CRLF, the seller centre's columns."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "samples"

ORDER_HEADER = ["订单编号", "买家会员名", "买家支付宝账号", "买家应付货款", "买家应付邮费",
                "买家实际支付金额", "订单状态", "买家留言", "收货人姓名", "收货地址", "联系手机",
                "订单创建时间", "订单付款时间", "宝贝标题", "宝贝总数量", "物流单号", "物流公司",
                "订单备注", "店铺Id", "店铺名称"]
ORDER_DEFAULTS = {
    "订单编号": "3900000000099000001", "买家会员名": "tb买家甲", "买家支付宝账号": "",
    "买家应付货款": "180.00", "买家应付邮费": "8.00", "买家实际支付金额": "188.00",
    "订单状态": "卖家已发货，等待买家确认", "买家留言": "", "收货人姓名": "张三",
    "收货地址": "浙江省 杭州市 余杭区 文一西路 1 号", "联系手机": "13800001234",
    "订单创建时间": "2026-11-01 10:00:00", "订单付款时间": "2026-11-01 10:05:00",
    "宝贝标题": "纯棉短袖T恤", "宝贝总数量": "1", "物流单号": "SF1000000001",
    "物流公司": "顺丰速运", "订单备注": "", "店铺Id": "SHOP-A", "店铺名称": "示例旗舰店",
}

REFUND_HEADER = ["退款编号", "订单编号", "子订单编号", "买家会员名", "宝贝标题", "交易金额",
                 "退款金额", "退款状态", "货物状态", "是否需要退货", "退款原因", "退款说明",
                 "售中或售后", "申请时间", "修改时间", "超时时间", "退货物流公司", "退货物流单号"]
REFUND_DEFAULTS = {
    "退款编号": "180000009000001", "订单编号": "", "子订单编号": "", "买家会员名": "tb买家甲",
    "宝贝标题": "纯棉短袖T恤", "交易金额": "188.00", "退款金额": "188.00",
    "退款状态": "买家已经申请退款，等待卖家同意", "货物状态": "买家已收到货", "是否需要退货": "是",
    "退款原因": "质量问题", "退款说明": "收到就是坏的", "售中或售后": "售后",
    "申请时间": "2026-11-05 09:00:00", "修改时间": "2026-11-05 09:00:00",
    "超时时间": "2026-11-10 09:00:00", "退货物流公司": "", "退货物流单号": "",
}
# The platform's status texts, by API name (FORMATS.md).
STATUS = {
    "WAIT_SELLER_AGREE": "买家已经申请退款，等待卖家同意",
    "WAIT_BUYER_RETURN_GOODS": "卖家已经同意退款，等待买家退货",
    "WAIT_SELLER_CONFIRM_GOODS": "买家已经退货，等待卖家确认收货",
    "SELLER_REFUSE_BUYER": "卖家拒绝退款",
    "CLOSED": "退款关闭",
    "SUCCESS": "退款成功",
}

REVIEW_HEADER = ["订单编号", "买家会员名", "宝贝标题", "评价结果", "评价内容", "评价时间",
                 "追评内容"]
REVIEW_DEFAULTS = {"订单编号": "", "买家会员名": "tb买家甲", "宝贝标题": "纯棉短袖T恤",
                   "评价结果": "差评", "评价内容": "尺码偏小", "评价时间": "2026-11-08 20:00:00",
                   "追评内容": ""}


def row(header: list[str], defaults: dict[str, str], values: dict[str, str]) -> list[str]:
    unknown = set(values) - set(header)
    assert not unknown, unknown
    return [values.get(column, defaults[column]) for column in header]


def order_row(**values: str) -> list[str]:
    return row(ORDER_HEADER, ORDER_DEFAULTS, values)


def refund_row(**values: str) -> list[str]:
    return row(REFUND_HEADER, REFUND_DEFAULTS, values)


def review_row(**values: str) -> list[str]:
    return row(REVIEW_HEADER, REVIEW_DEFAULTS, values)


def csv_text(header: list[str], rows: list[list[str]], line_end: str = "\r\n") -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=line_end)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


@pytest.fixture
def export(tmp_path):
    """export(header, rows, encoding="gbk", name=...) → a file as the seller centre writes it."""
    counter = iter(range(1, 10_000))

    def _export(header: list[str], rows: list[list[str]], encoding: str = "gbk",
                name: str | None = None, line_end: str = "\r\n") -> Path:
        path = tmp_path / (name or f"export-{next(counter)}.csv")
        path.write_bytes(csv_text(header, rows, line_end).encode(encoding))
        return path

    return _export


@pytest.fixture
def shop_a(shop):
    """The conftest shop (code shop-a, 示例旗舰店) with the samples' 店铺Id."""
    shop.platform_shop_id = "SHOP-A"
    shop.save(update_fields=["platform_shop_id"])
    return shop


@pytest.fixture
def run_command():
    """run_command(name, path, *args) → (exit code, stdout, stderr), as from a shell."""

    def _run(name: str, path, *args: str, shop: str = "shop-a") -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        try:
            call_command(name, str(path), "--shop", shop, *args, stdout=out, stderr=err)
        except CommandError as error:
            return error.returncode, out.getvalue(), str(error)
        except SystemExit as error:
            return int(error.code), out.getvalue(), err.getvalue()
        return 0, out.getvalue(), err.getvalue()

    return _run


def summary(stdout: str) -> str:
    return stdout.strip().splitlines()[-1]
