"""The import commands: summary line, row errors, exit status 0 / 1 / 2, dry run."""

from __future__ import annotations

from refunds.models import Case, ImportRun, Order
from refunds.services.imports import import_orders
from tests.imports.conftest import (
    ORDER_HEADER,
    REFUND_HEADER,
    SAMPLES,
    order_row,
    refund_row,
    summary,
)


def test_every_sample_imports_from_the_command_line_and_twice_is_a_no_op(shop_a, run_command):
    for name, rows in (("orders", 300), ("refunds", 51), ("reviews", 43)):
        code, out, _err = run_command(f"import_{name}", SAMPLES / f"{name}.csv")
        assert (code, summary(out)) == (0, f"imported {rows}, updated 0, unchanged 0, rejected 0")
        code, out, _err = run_command(f"import_{name}", SAMPLES / f"{name}.csv")
        assert (code, summary(out)) == (0, f"imported 0, updated 0, unchanged {rows}, rejected 0")


def test_rejected_rows_are_listed_and_exit_1(shop_a, export, run_command):
    path = export(ORDER_HEADER, [order_row(**{"订单编号": "1"}),
                                 order_row(**{"订单编号": "2", "订单创建时间": "31/12/2026"})])
    code, out, _err = run_command("import_orders", path)
    assert code == 1
    assert "line 3: " in out and "订单创建时间" in out
    assert summary(out) == "imported 1, updated 0, unchanged 0, rejected 1"


def test_over_refund_row_is_rejected_with_its_line_and_the_rest_imports(shop_a, export,
                                                                         run_command):
    import_orders(shop=shop_a, path_or_file=export(ORDER_HEADER, [order_row(**{"订单编号": "7"})]))
    path = export(REFUND_HEADER, [refund_row(**{"退款编号": "A", "订单编号": "7"}),
                                  refund_row(**{"退款编号": "B", "订单编号": "7",
                                                "退款金额": "999.00"}),
                                  refund_row(**{"退款编号": "C", "订单编号": "8"})])
    code, out, _err = run_command("import_refunds", path)
    assert code == 1
    assert "line 3: Refund B: ¥999.00 is more than the ¥188.00 paid" in out
    assert "line 4: Unknown order 8" in out
    assert summary(out) == "imported 1, updated 0, unchanged 0, rejected 2"
    assert list(Case.objects.values_list("platform_refund_id", flat=True)) == ["A"]


def test_a_missing_required_column_exits_2_naming_it(shop_a, tmp_path, run_command):
    path = tmp_path / "orders.csv"
    path.write_bytes("订单编号,买家会员名,订单状态\r\n1,甲,交易成功\r\n".encode("gbk"))
    code, _out, err = run_command("import_orders", path)
    assert code == 2 and "买家实际支付金额" in err
    assert not Order.objects.exists()


def test_another_shops_file_exits_2_and_writes_nothing(shop_a, other_shop, export, run_command):
    path = export(ORDER_HEADER, [order_row(), order_row(**{"订单编号": "2",
                                                          "店铺Id": other_shop.platform_shop_id})])
    code, out, err = run_command("import_orders", path)
    assert code == 2 and other_shop.platform_shop_id in err
    assert "imported" not in out
    assert not Order.objects.exists()
    # the attempt stays in the history, with why the whole file was refused
    run = ImportRun.objects.get()
    assert (run.shop, run.kind, run.filename) == (shop_a, "orders", path.name)
    assert other_shop.platform_shop_id in run.refused and "another shop" in run.refused
    assert (run.imported, run.updated, run.unchanged, run.rejected) == (0, 0, 0, 0)


def test_a_refused_dry_run_leaves_no_history(shop_a, other_shop, export, run_command):
    path = export(ORDER_HEADER, [order_row(**{"店铺Id": other_shop.platform_shop_id})])
    assert run_command("import_orders", path, "--dry-run")[0] == 2
    assert not ImportRun.objects.exists()


def test_unknown_shop_code_and_unreadable_file_exit_2(shop_a, tmp_path, run_command):
    code, _out, err = run_command("import_orders", SAMPLES / "orders.csv", shop="nope")
    assert code == 2 and "nope" in err
    code, _out, _err = run_command("import_orders", tmp_path / "missing.csv")
    assert code == 2
    binary = tmp_path / "orders.xlsx"
    binary.write_bytes(b"PK\x03\x04\x00\x00\x00")
    assert run_command("import_orders", binary)[0] == 2


def test_dry_run_prints_the_same_summary_and_writes_nothing(shop_a, run_command):
    code, dry_out, dry_err = run_command("import_orders", SAMPLES / "orders.csv", "--dry-run")
    assert code == 0 and "dry run" in dry_err
    assert not Order.objects.exists() and not ImportRun.objects.exists()
    _code, real_out, _err = run_command("import_orders", SAMPLES / "orders.csv")
    assert summary(dry_out) == summary(real_out) == (
        "imported 300, updated 0, unchanged 0, rejected 0")
    assert ImportRun.objects.get().started_by is None
