"""Project-level promises: production settings, roles, demo data, health check."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command

from refunds.models import (
    Case,
    CaseEvent,
    CaseState,
    Refund,
    Shop,
    StockOut,
    refund_closed_unpaid_q,
)
from refunds.roles import ROLE_PERMISSIONS

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("hour", [9, 16, 21])
def test_the_checks_pass_at_any_time_of_day(hour):
    """The policy's default times once made `check` warn (fields.W161, a fixed time default)
    in the ten seconds around 09:00, 16:00 and 21:00 UTC — CI ran into it at 16:00."""
    from datetime import UTC, datetime

    import time_machine
    from django.core.checks import run_checks

    with time_machine.travel(datetime(2026, 12, 2, hour, 0, 3, tzinfo=UTC), tick=False):
        issues = run_checks(include_deployment_checks=False)
    assert [issue.id for issue in issues if issue.id == "fields.W161"] == []


def test_production_settings_pass_check_deploy_without_warnings():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.production",
           "SECRET_KEY": "x" * 20 + "-production-secret-key-for-the-check-" + "y" * 20,
           "ALLOWED_HOSTS": "desk.example.com", "SITE_URL": "https://desk.example.com"}
    env.pop("DEBUG", None)
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level",
                             "WARNING"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_refuse_to_start_without_secret_key():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.production"}
    env.pop("SECRET_KEY", None)
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_setup_roles_is_idempotent(db):
    call_command("setup_roles", stdout=io.StringIO())
    first = {g.name: set(g.permissions.values_list("codename", flat=True))
             for g in Group.objects.all()}
    call_command("setup_roles", stdout=io.StringIO())
    second = {g.name: set(g.permissions.values_list("codename", flat=True))
              for g in Group.objects.all()}
    assert first == second
    assert set(first) == set(ROLE_PERMISSIONS)
    assert "approve_over_limit" in first["supervisor"]
    assert "approve_over_limit" not in first["agent"]
    assert "receive_return" in first["warehouse"] and "agree_case" not in first["warehouse"]
    assert "mark_refunded" in first["finance"] and "agree_case" not in first["finance"]


def test_seed_demo_covers_every_state_and_is_idempotent(db):
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert "demo12345" in out.getvalue()
    counts = (Shop.objects.count(), User.objects.count(), Case.objects.count(),
              CaseEvent.objects.count(), Refund.objects.count())
    states = set(Case.objects.values_list("state", flat=True))
    assert states == set(CaseState.values)
    assert {s.shop_type for s in Shop.objects.all()} == {"B", "C"}
    # every shop has a stock-out whose refund closed unpaid, to send back to the buyer
    unpaid = StockOut.objects.filter(refund_closed_unpaid_q())
    assert set(unpaid.values_list("shop_id", flat=True)) == set(
        Shop.objects.values_list("pk", flat=True))
    call_command("seed_demo", stdout=io.StringIO())
    assert (Shop.objects.count(), User.objects.count(), Case.objects.count(),
            CaseEvent.objects.count(), Refund.objects.count()) == counts
    for username in ["agent", "agent_b", "supervisor", "warehouse", "finance", "manager"]:
        assert User.objects.get(username=username).check_password("demo12345")
    agent_b = User.objects.get(username="agent_b")
    assert list(agent_b.staff_profile.shops.values_list("code", flat=True)) == ["taobao-cshop"]


def test_healthz_makes_a_database_round_trip(client, db, django_assert_num_queries):
    with django_assert_num_queries(1):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


@pytest.mark.parametrize("path", ["static/vendor/bootstrap/bootstrap.min.css",
                                  "static/vendor/bootstrap/bootstrap.bundle.min.js"])
def test_bootstrap_is_vendored_not_from_a_cdn(path):
    assert (ROOT / path).stat().st_size > 50_000
    base = (ROOT / "templates/base.html").read_text()
    assert "cdn" not in base.lower() and "https://" not in base


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgresql_connections_run_without_jit():
    """The desk's short queries must not pay for JIT compiling (docs/PERFORMANCE.md)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone() == ("off",)
