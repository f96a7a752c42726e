"""An import stopped part-way by an unexpected error (the database went away, a bug): the
chunks committed before it stay written, and that is said — the summary of what was
written, why it stopped, and an import-history row with both — never a bare traceback and
rows no record accounts for."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError

from refunds.models import ImportRun, Order
from refunds.services import imports
from tests.imports.conftest import ORDER_HEADER, csv_text, order_row


@pytest.fixture
def second_chunk_fails(monkeypatch):
    """Chunks of 2 rows; the second chunk's writes fail."""
    monkeypatch.setattr(imports, "CHUNK_SIZE", 2)
    real, calls = imports._save_orders, []

    def save(shop, rows):
        calls.append(rows)
        if len(calls) == 2:
            raise DatabaseError("disk full")
        return real(shop, rows)

    monkeypatch.setattr(imports, "_save_orders", save)


def five_orders() -> bytes:
    return csv_text(ORDER_HEADER, [order_row(订单编号=f"39000000000990{n:05d}")
                                   for n in range(5)]).encode("gbk")


def test_the_command_says_what_was_written_and_why_it_stopped(shop_a, tmp_path, run_command,
                                                             second_chunk_fails):
    path = tmp_path / "orders.csv"
    path.write_bytes(five_orders())
    code, out, err = run_command("import_orders", path)
    assert code == 3
    assert out.splitlines()[-1] == "imported 2, updated 0, unchanged 0, rejected 0"
    assert "stopped part-way" in err and "DatabaseError: disk full" in err
    assert Order.objects.count() == 2  # the first chunk committed
    run = ImportRun.objects.get()
    assert (run.imported, run.refused) == (2, "")
    assert "DatabaseError: disk full" in run.failure and "rest of the file was not" in run.failure


def test_the_upload_page_says_so_and_the_history_keeps_it(client, manager, shop_a,
                                                          second_chunk_fails):
    client.force_login(manager)
    upload = SimpleUploadedFile("orders.csv", five_orders(), content_type="text/csv")
    response = client.post("/imports/", {"shop": shop_a.pk, "kind": "orders", "file": upload})
    assert response.status_code == 400
    page = response.content.decode()
    assert "The import stopped part-way" in page
    assert "Stopped part-way, only the rows counted were written" in page
    assert ImportRun.objects.get().imported == 2


def test_an_import_that_finishes_records_no_failure(shop_a, tmp_path, run_command):
    path = tmp_path / "orders.csv"
    path.write_bytes(five_orders())
    code, _out, _err = run_command("import_orders", path)
    assert code == 0 and ImportRun.objects.get().failure == ""
