"""Benchmark of the order import (not a test): N generated rows, imported twice.

Everything runs inside one transaction that is rolled back at the end, so the database
is left exactly as it was.
"""

from __future__ import annotations

import csv
import random
import tempfile
import time
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from django.core.management.base import BaseCommand
from django.db import transaction

from refunds.models import Order, Platform, Policy, Shop, ShopType
from refunds.services.imports import import_orders

HEADER = ["订单编号", "买家会员名", "买家支付宝账号", "买家应付货款", "买家应付邮费", "总金额",
          "买家实际支付金额", "订单状态", "买家留言", "收货人姓名", "收货地址", "联系手机",
          "订单创建时间", "订单付款时间", "宝贝标题", "宝贝总数量", "物流单号", "物流公司",
          "订单备注", "店铺Id", "店铺名称", "订单关闭原因", "异常信息"]
STATUSES = ["买家已付款，等待卖家发货", "卖家已发货，等待买家确认", "交易成功", "交易关闭"]
TITLES = ["纯棉短袖T恤 宽松百搭", "冬季加厚羽绒服", "蓝牙降噪耳机", "不锈钢保温杯 500ml",
          "真丝睡衣套装", "儿童防水雪地靴"]
CARRIERS = ["顺丰速运", "圆通速递", "中通快递", "韵达快递", "EMS"]


def write_export(path: Path, rows: int, shop_id: str, shop_name: str, seed: int = 4) -> None:
    """A GBK, CRLF order export shaped like the seller centre's (FORMATS.md)."""
    rng = random.Random(seed)
    start = datetime(2026, 10, 1)
    with path.open("w", encoding="gbk", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(HEADER)
        for n in range(rows):
            goods = Decimal(rng.randrange(1900, 99900)) / 100
            postage = Decimal(rng.choice([0, 800, 1200])) / 100
            created = start + timedelta(seconds=rng.randrange(0, 60 * 86400))
            status = rng.choice(STATUSES)
            shipped = status != STATUSES[0]
            nick = f"tb{rng.randrange(0, rows // 2 + 1):08d}"
            writer.writerow([
                f'="{3900000000000000000 + n}"', nick, f"{nick}@example.com", f"{goods:.2f}",
                f"{postage:.2f}", f"{goods + postage:.2f}", f"{goods + postage:.2f}", status,
                rng.choice(["", "请尽快发货", "不要放快递柜，谢谢"]), "张三",
                f"浙江省 杭州市 余杭区 某某路{n % 999}号", f"138{rng.randrange(10**8):08d}",
                f"{created:%Y-%m-%d %H:%M:%S}",
                f"{created + timedelta(minutes=20):%Y-%m-%d %H:%M:%S}", rng.choice(TITLES),
                rng.randint(1, 3), f"No:{rng.randrange(10**13, 10**14)}" if shipped else "",
                rng.choice(CARRIERS) if shipped else "", "", shop_id, shop_name, "", "",
            ])


class Command(BaseCommand):
    help = ("Benchmark the order import: generate an N-row GBK export, import it, import it "
            "again (all unchanged), print rows/s. The database is rolled back afterwards.")

    def add_arguments(self, parser):
        parser.add_argument("--rows", type=int, default=100_000)

    def handle(self, *args, rows, **options):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "orders.csv"
            began = time.perf_counter()
            write_export(path, rows, "BENCH-SHOP", "压测专用店")
            self.stdout.write(f"generated {rows} rows ({path.stat().st_size / 1e6:.1f} MB, "
                              f"GBK) in {time.perf_counter() - began:.1f}s")
            with transaction.atomic():
                shop = Shop.objects.create(code="bench-import", name="压测专用店",
                                           platform=Platform.TAOBAO, shop_type=ShopType.C,
                                           platform_shop_id="BENCH-SHOP")
                Policy.objects.create(shop=shop)
                for label in ("first import", "re-import"):
                    began, cpu = time.perf_counter(), time.process_time()
                    result = import_orders(shop=shop, path_or_file=path)
                    elapsed = time.perf_counter() - began
                    cpu = time.process_time() - cpu
                    self.stdout.write(f"{label}: {result.summary()} in {elapsed:.1f}s "
                                      f"({rows / elapsed:,.0f} rows/s; {cpu:.1f}s CPU in this "
                                      "process, the rest is the database or other load)")
                assert Order.objects.filter(shop=shop).count() == rows
                transaction.set_rollback(True)
