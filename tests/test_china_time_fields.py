"""Times typed from the platform's pages (a complaint's opening and evidence deadline, a
review's posting time, the seller centre's confirm-receipt date) are China time whatever the
server's TIME_ZONE: a server left at UTC must not store them eight hours late."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import override_settings

from refunds.forms import (
    ChinaDateTimeField,
    ComplaintCreateForm,
    FollowUpCreateForm,
    ReceiptReadForm,
)
from refunds.timezones import CHINA


@pytest.mark.parametrize("setting", ["UTC", "America/New_York", "Asia/Shanghai"])
def test_a_typed_time_is_china_time_whatever_the_servers_zone(setting):
    with override_settings(TIME_ZONE=setting):
        value = ChinaDateTimeField().clean("2026-12-05T10:00")
    assert value == datetime(2026, 12, 5, 10, 0, tzinfo=CHINA)


def test_a_time_with_its_own_offset_keeps_it():
    with override_settings(TIME_ZONE="UTC"):
        value = ChinaDateTimeField().clean("2026-12-05T10:00:00+00:00")
    assert value == datetime(2026, 12, 5, 10, 0, tzinfo=UTC)


def test_a_stored_time_is_shown_back_in_china_time():
    moment = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)  # 10:00 in China
    with override_settings(TIME_ZONE="UTC"):
        shown = ChinaDateTimeField().widget.format_value(ChinaDateTimeField().prepare_value(
            moment))
    assert shown == "2026-12-05T10:00"


@pytest.mark.parametrize(("form", "fields"), [
    (ComplaintCreateForm, ["opened_at", "evidence_due_at"]),
    (FollowUpCreateForm, ["posted_at"]),
    (ReceiptReadForm, ["confirm_by"]),
])
def test_the_platform_times_of_the_forms_are_china_time(form, fields):
    for name in fields:
        assert isinstance(form.base_fields[name], ChinaDateTimeField), (form, name)
