"""Session 14 final review: complaints after the trade (维权/投诉) and the shared refactors.

Each test fails on the code as reviewed, for the defect its docstring names."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone, translation

from refunds import texts
from refunds.models import Complaint, Notification
from refunds.services import complaints as svc
from refunds.services.cases import case_agree
from tests.factories import make_case
from tests.services.test_complaints import record, with_evidence


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")


def client_for(user, language: str = "en") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


def register_rows(user, language: str = "en") -> list[list[str]]:
    response = client_for(user, language).get("/complaints/register.csv")
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_a_ruling_the_money_rule_kept_out_reads_wholly_in_the_readers_language(
        order, agent, supervisor):
    """The sweep's "ruling not recorded" notification stores the money rule's refusal as
    finished English words (`reason=error.message`, refunds/services/complaint_sweep.py
    `_rule`) among its text parameters, which are meant to be language-neutral
    (refunds/texts.py): the queue page in Chinese shows "…无法记录平台的判定：¥20.00 is more
    than the ¥8.00 still refundable on order … (paid ¥188.00). 请…"."""
    case_agree(case=make_case(order=order, amount="180.00"), actor=supervisor)
    record(order, agent, amount_claimed="20.00", opened_at=timezone.now() - timedelta(days=3),
           evidence_due_at=timezone.now() - timedelta(hours=1))  # ¥8 left on the order
    with pytest.raises(CommandError):
        call_command("sweep_complaints", stdout=io.StringIO(), stderr=io.StringIO())
    notice = Notification.objects.get(user=agent, kind="complaint_unrecord")
    with translation.override("zh-hans"):
        chinese = texts.words(notice.data, notice.message)
    assert "still refundable" not in chinese
    page = client_for(agent, "zh-hans").get("/cases/").content.decode()
    assert "无法记录" in page and "still refundable" not in page


def test_the_register_does_not_count_penalty_points_lifted_on_appeal(order, agent, supervisor):
    """An upheld appeal lifts the penalty (README, model docstring; the complaint page says
    "lifted on appeal"), but the register download — "for the monthly review of what
    complaints cost the shop" (refunds/exports.py complaint_register_sheet) — still writes
    the lifted points in its Penalty points column, so a sum of the column counts them."""
    complaint = svc.complaint_rule_for_buyer(complaint=record(order, agent), actor=supervisor,
                                             ruling="支持买家", penalty_points=3)
    complaint = with_evidence(complaint, agent)
    svc.complaint_appeal(complaint=complaint, actor=agent, reason="新证据")
    svc.complaint_uphold_appeal(complaint=complaint, actor=supervisor, ruling="申诉成功")
    assert Complaint.objects.get().state == "for_shop"
    headers, row = register_rows(agent)
    assert row[headers.index("Penalty points")] in ("", "0")


def test_the_calendar_warning_a_complaint_raises_names_complaints(order, agent):
    """With only an open complaint counting working days (a Tmall shop, no dispute), the
    nightly sweep_complaints warns that the calendar lacks the year, but the shared warning
    (refunds/management/options.py warn_without_calendar) says only "Kuaishou's deadlines
    and disputes' evidence deadlines" count Monday to Friday — not the complaints' evidence
    deadlines that raised it, which the desk then does not know to check."""
    record(order, agent, evidence_due_at=timezone.now() + timedelta(days=3))
    err = io.StringIO()
    call_command("sweep_complaints", "--dry-run", stdout=io.StringIO(), stderr=err)
    assert "no days entered for" in err.getvalue()
    assert "complaint" in err.getvalue().lower()


def test_the_complaint_kind_is_not_called_the_case_kind_in_chinese(order, agent):
    """The complaint list's Kind filter and column and the register's Kind header reuse the
    msgid "Kind", whose Chinese is the case's kind "售后类型" (仅退款/退货退款/换货): a
    Chinese reader sees "售后类型" over 未收到货, 延迟发货, 恶意骚扰… (投诉类型 is meant)."""
    record(order, agent)
    page = client_for(agent, "zh-hans").get("/complaints/").content.decode()
    assert "未收到货" in page
    assert "售后类型" not in page
    headers = register_rows(agent, "zh-hans")[0]
    assert "售后类型" not in headers


def test_the_registers_appeal_date_is_not_headed_with_the_appealed_state(order, agent,
                                                                         supervisor):
    """The register's column holding when the appeal was made reuses the msgid "Appealed",
    the state's label, whose Chinese is "申诉中" (under appeal): in Chinese a date column is
    headed "申诉中", also on rows whose appeal was decided long ago (判商家胜诉)."""
    complaint = svc.complaint_rule_for_buyer(complaint=record(order, agent), actor=supervisor,
                                             ruling="支持买家")
    svc.complaint_appeal(complaint=with_evidence(complaint, agent), actor=agent, reason="新证据")
    english = register_rows(agent)[0]
    chinese = register_rows(agent, "zh-hans")[0]
    assert "Appealed" not in english  # the state's label no longer heads the date
    column = english.index("Appeal made")
    assert chinese[column] == "申诉时间"
