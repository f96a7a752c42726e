"""The nightly deadline sweep (DOMAIN.md, "Platform deadlines").

When a deadline passes, the platform acts on its own. We apply the same rule first, through
the same services staff use, as the platform (actor=None: staff number SYSTEM on the
timeline), with a note naming the policy deadline that passed:

| state past its deadline      | what the platform does                         |
|------------------------------|------------------------------------------------|
| requested                    | auto-agrees (refund-only: a Refund row is made) |
| refused, awaiting_return     | closes the request (timed out)                 |
| return_in_transit, received  | auto-refunds the buyer                         |
| refund_pending/refund_failed | nothing (our own payout deadline): we notify   |

Before a deadline passes (the shop policy's warning window), the case's assignee and the
supervisors of its shop are warned once per deadline.

Convention 11: each case is its own transaction. Its order row and then the case row are
locked with `skip_locked` (a case somebody holds is left for the next run), the state and
the deadline are re-checked on the locked row, and only then is the service called with
`expected_state`. A failing case rolls back alone, is reported and notified, and the sweep
goes on. A second run, or two runs at once, change nothing more.

Cases are committed in groups (`commit_every`, 100 by default; 1 gives one transaction per
case): a group's order rows and then its cases are locked in two queries
(`refunds.locks.try_lock_cases`, `skip_locked`), each case is then handled in a savepoint of
its own, so a failing case still rolls back alone, and the group commits once. A commit
costs more than the whole work of a case (on SQLite about 10 ms: 100 cases a second at
most), and the issue's budget is 1,000 transitions a second (docs/PERFORMANCE.md). The
price: a group's rows stay locked until it commits (a few tens of milliseconds); staff
acting on one of them wait that long. A group that cannot commit is done again case by
case; what a run reports is only ever what was committed.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace

from django.contrib.auth.models import User
from django.core.exceptions import FieldDoesNotExist
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .. import selectors
from ..deadlines import deadline_for
from ..exceptions import AmountError, CaseChanged, DomainError
from ..locks import try_lock_case, try_lock_cases
from ..models import (
    Case,
    CaseKind,
    CaseState,
    CloseReason,
    Notification,
    NotificationKind,
    Policy,
    RefundStatus,
)
from .cases import case_agree, case_close, case_platform_refund
from .money import clean_amount, refundable_amount
from .notifications import case_recipients, notify

logger = logging.getLogger(__name__)

CHUNK_SIZE = 500
COMMIT_EVERY = 100

# What the sweep does to a case, by the state whose deadline passed.
AUTO_AGREE = "auto_agree"
CLOSE = "close"
AUTO_REFUND = "auto_refund"
PAYOUT_OVERDUE = "payout_overdue"
WARN = "warn"

ACTION_FOR_STATE = {
    CaseState.REQUESTED: AUTO_AGREE,
    CaseState.REFUSED: CLOSE,
    CaseState.AWAITING_RETURN: CLOSE,
    CaseState.RETURN_IN_TRANSIT: AUTO_REFUND,
    CaseState.RECEIVED: AUTO_REFUND,
    CaseState.REFUND_PENDING: PAYOUT_OVERDUE,
    CaseState.REFUND_FAILED: PAYOUT_OVERDUE,
}

ACTION_LABELS = {
    AUTO_AGREE: gettext_lazy("auto-agree"),
    CLOSE: gettext_lazy("close (timed out)"),
    AUTO_REFUND: gettext_lazy("auto-refund"),
    PAYOUT_OVERDUE: gettext_lazy("payout overdue"),
    WARN: gettext_lazy("deadline warning"),
}

CONSEQUENCES = {
    CaseState.REQUESTED: gettext_lazy(
        "The shop did not decide in time: the platform agreed to the request (auto-agree)."),
    CaseState.REFUSED: gettext_lazy(
        "The buyer did not modify the refused request in time: the request is closed."),
    CaseState.AWAITING_RETURN: gettext_lazy(
        "The buyer did not ship the return in time: the request is closed."),
    CaseState.RETURN_IN_TRANSIT: gettext_lazy(
        "The shop did not confirm receipt of the return in time: the platform refunded the "
        "buyer (auto-refund)."),
    CaseState.RECEIVED: gettext_lazy(
        "The shop did not confirm receipt of the return in time: the platform refunded the "
        "buyer (auto-refund)."),
}

# Outcome statuses
APPLIED, WOULD_APPLY, WARNED, WOULD_WARN, OVERDUE, SKIPPED, FAILED = (
    "applied", "would_apply", "warned", "would_warn", "overdue", "skipped", "failed",
)
STATUS_LABELS = {
    APPLIED: gettext_lazy("done"),
    WOULD_APPLY: gettext_lazy("would do"),
    WARNED: gettext_lazy("warned"),
    WOULD_WARN: gettext_lazy("would warn"),
    OVERDUE: gettext_lazy("overdue, notified"),
    SKIPPED: gettext_lazy("skipped"),
    FAILED: gettext_lazy("FAILED"),
}

PHASE_DEADLINES = gettext_lazy("deadlines passed")
PHASE_WARNINGS = gettext_lazy("warnings")


@dataclass(frozen=True)
class Outcome:
    """What happened to one case in this run."""

    case_id: int
    action: str
    status: str
    detail: str = ""

    def describe(self) -> str:
        line = _("case #%(case)s: %(action)s: %(status)s") % {
            "case": self.case_id, "action": ACTION_LABELS[self.action],
            "status": STATUS_LABELS[self.status],
        }
        return f"{line} ({self.detail})" if self.detail else line


@dataclass
class SweepReport:
    now: datetime
    dry_run: bool = False
    applied: Counter = field(default_factory=Counter)
    payouts_overdue: int = 0
    warned_cases: int = 0
    warning_notifications: int = 0
    skipped: int = 0
    failures: list[Outcome] = field(default_factory=list)

    @property
    def applied_total(self) -> int:
        return sum(self.applied.values())

    def summary(self) -> str:
        line = _(
            "applied %(applied)s (auto-agreed %(agreed)s, closed %(closed)s, auto-refunded "
            "%(refunded)s), payouts overdue %(overdue)s, warned %(warned)s cases "
            "(%(notifications)s notifications), skipped %(skipped)s, failed %(failed)s"
        ) % {
            "applied": self.applied_total, "agreed": self.applied[AUTO_AGREE],
            "closed": self.applied[CLOSE], "refunded": self.applied[AUTO_REFUND],
            "overdue": self.payouts_overdue, "warned": self.warned_cases,
            "notifications": self.warning_notifications, "skipped": self.skipped,
            "failed": len(self.failures),
        }
        if self.dry_run:
            return _("dry run, nothing written: %(summary)s") % {"summary": line}
        return line


def sweep_deadlines(*, now: datetime | None = None, dry_run: bool = False,
                    chunk_size: int = CHUNK_SIZE, commit_every: int = COMMIT_EVERY,
                    on_outcome: Callable[[Outcome], None] | None = None,
                    on_progress: Callable[[str, int, int], None] | None = None) -> SweepReport:
    """Apply every passed deadline, then warn about the coming ones. Never raises for a case.

    `dry_run` reads only and writes nothing: it reports what a run would do, including the
    cases the money rule would refuse and the warning for the payout deadline an auto-agree
    would set, so its summary is the run's (unless someone acts in between).

    `commit_every`: cases per transaction (each in a savepoint of its own; see the module's
    docstring); 1 commits every case on its own.
    """
    sweep = _Sweep(now=now or timezone.now(), dry_run=dry_run, on_outcome=on_outcome)
    phases = (
        (PHASE_DEADLINES, selectors.overdue_cases, sweep.overdue_case),
        (PHASE_WARNINGS, selectors.cases_to_warn, sweep.warn_case),
    )
    for label, select, handle in phases:
        queryset = select(sweep.now)  # after the previous phase: it moves deadlines
        total = queryset.count()
        done = 0
        for chunk in selectors.in_deadline_chunks(queryset, chunk_size):
            if dry_run:
                preloaded = sweep.preload([pk for pk, _state in chunk])
                groups = [[(case_id, state, preloaded.get(case_id))]
                          for case_id, state in chunk]
            else:
                step = max(1, commit_every)
                groups = [[(case_id, state, None) for case_id, state in chunk[start:start + step]]
                          for start in range(0, len(chunk), step)]
            for group in groups:
                if dry_run:
                    handle(*group[0])
                else:
                    sweep.run_group(group, handle)
                for _item in group:
                    done += 1
                    if on_progress is not None:
                        on_progress(str(label), done, total)
    return sweep.report


# --- texts ------------------------------------------------------------------------------------


def _local(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def deadline_passed_text(case: Case, deadline: datetime) -> str:
    """Which policy deadline passed: "… “days to decide …” (agree_shipped_days = 5) passed …"."""
    rule = case.deadline_rule
    try:
        label = Policy._meta.get_field(rule).verbose_name if rule else None
    except FieldDoesNotExist:
        label = None
    if label is None or not rule.endswith(("_days", "_hours")):
        return _("The deadline (%(rule)s) passed at %(deadline)s.") % {
            "rule": rule or _("no rule recorded"), "deadline": _local(deadline)}
    return _("The policy deadline “%(label)s” (%(rule)s = %(value)s) passed at %(deadline)s.") % {
        "label": label, "rule": rule, "value": getattr(case.shop.policy, rule),
        "deadline": _local(deadline),
    }


def _warning_message(case: Case) -> str:
    return _(
        "%(owner)s must act by %(deadline)s (%(rule)s). Now: %(state)s, order %(order)s, "
        "¥%(amount)s."
    ) % {
        "owner": case.get_deadline_owner_display() or _("Someone"),
        "deadline": _local(case.deadline_at), "rule": case.deadline_rule or "-",
        "state": case.get_state_display(), "order": case.order.platform_order_id,
        "amount": case.requested_amount,
    }


# --- one run ----------------------------------------------------------------------------------


class _Sweep:
    def __init__(self, *, now: datetime, dry_run: bool,
                 on_outcome: Callable[[Outcome], None] | None) -> None:
        self.now = now
        self.report = SweepReport(now=now, dry_run=dry_run)
        self.on_outcome = on_outcome
        self.supervisors: dict[int, list[User]] = {}  # shop id → its supervisors, read once
        self.planned_money: Counter = Counter()  # dry run: order id → money it would commit
        # the group being handled: the rows its transaction holds, and what to report once
        # it has committed (None outside a group: report at once)
        self.held: dict[int, tuple] | None = None
        self.pending: list[Callable[[], None]] | None = None

    def run_group(self, group: list[tuple[int, str, None]],
                  handle: Callable[[int, str, Case | None], None]) -> None:
        """Handle a group of cases in one transaction, each in a savepoint of its own."""
        try:
            with transaction.atomic():
                self.held = try_lock_cases([case_id for case_id, _state, _none in group])
                self.pending = []
                for item in group:
                    handle(*item)
        except Exception:  # noqa: BLE001 - e.g. the commit failed: nothing of it was written
            logger.exception("sweep: a group of %s cases failed; doing them one by one",
                             len(group))
            self.held = self.pending = None
            for item in group:
                handle(*item)
            return
        finally:
            self.held = None
        pending, self.pending = self.pending, None
        for report in pending:
            report()

    def _lock(self, case_id: int):
        if self.held is not None:
            return self.held.get(case_id)
        return try_lock_case(case_id)

    def _later(self, report: Callable[[], None]) -> None:
        """Count and emit an outcome once its group has committed."""
        if self.pending is None:
            report()
        else:
            self.pending.append(report)

    def preload(self, ids: list[int]) -> dict[int, Case]:
        """Dry run: the chunk's cases in one query (nothing is locked: nothing is written)."""
        return Case.objects.select_related("shop__policy", "order", "assignee").in_bulk(ids)

    def _emit(self, outcome: Outcome) -> None:
        if outcome.status == SKIPPED:
            self.report.skipped += 1
        elif outcome.status == FAILED:
            self.report.failures.append(outcome)
        if self.on_outcome is not None:
            self.on_outcome(outcome)

    def _recipients(self, case: Case) -> list[User]:
        return case_recipients(case, self.supervisors)

    # --- deadlines that passed ------------------------------------------------------------

    def overdue_case(self, case_id: int, state: str, preloaded: Case | None) -> None:
        action = ACTION_FOR_STATE.get(state)
        if action is None:  # only open states are selected; a new state must be mapped here
            return
        if self.report.dry_run:
            if preloaded is not None:
                self._plan_overdue(preloaded, action)
            return
        try:
            with transaction.atomic():
                locked = self._lock(case_id)
                if locked is None:
                    outcome = Outcome(case_id, action, SKIPPED, _("locked by someone else"))
                else:
                    outcome = self._apply(locked[0], state, action)
        except CaseChanged:
            outcome = Outcome(case_id, action, SKIPPED, _("changed since it was selected"))
        except DomainError as error:
            outcome = Outcome(case_id, action, FAILED, str(error.message))
        except Exception as error:  # noqa: BLE001 - one broken case must not stop the night
            logger.exception("sweep: case %s failed", case_id)
            outcome = Outcome(case_id, action, FAILED, f"{type(error).__name__}: {error}")
        if outcome.status == FAILED:
            self._notify_failure(outcome)

        def report() -> None:
            if outcome.status == APPLIED:
                self.report.applied[action] += 1
            elif outcome.status == OVERDUE:
                self.report.payouts_overdue += 1
            self._emit(outcome)

        self._later(report)

    def _apply(self, case: Case, state: str, action: str) -> Outcome:
        """On the locked case: re-check, act through the service, notify. In its transaction."""
        if case.state != state or case.deadline_at is None or case.deadline_at >= self.now:
            return Outcome(case.pk, action, SKIPPED, _("changed since it was selected"))
        deadline = case.deadline_at
        passed = deadline_passed_text(case, deadline)
        recipients = self._recipients(case)
        if action == PAYOUT_OVERDUE:
            message = _("%(passed)s The refund is not paid yet (%(state)s); the platform does "
                        "nothing here: finance must pay.") % {
                "passed": passed, "state": case.get_state_display()}
            notify(users=recipients, case=case, kind=NotificationKind.DEADLINE_ACTION,
                   deadline_at=deadline, message=message,
                   subject=_("Case #%(case)s: payout overdue since %(deadline)s")
                   % {"case": case.pk, "deadline": _local(deadline)})
            return Outcome(case.pk, action, OVERDUE, passed)
        note = f"{passed} {CONSEQUENCES[state]}"
        # the case and its order were locked by this transaction: the service uses them as
        # they are instead of reading and locking them again
        common = {"case": case, "note": note, "expected_state": state, "now": self.now,
                  "locked": True}
        if action == AUTO_AGREE:
            case = case_agree(actor=None, **common)
        elif action == CLOSE:
            case = case_close(actor=None, reason=CloseReason.TIMEOUT, **common)
        else:
            case = case_platform_refund(amount=case.requested_amount, **common)
        notify(users=recipients, case=case, kind=NotificationKind.DEADLINE_ACTION,
               deadline_at=deadline, message=note,
               subject=_("Case #%(case)s: deadline passed, now %(state)s")
               % {"case": case.pk, "state": case.get_state_display()})
        return Outcome(case.pk, action, APPLIED, _("now %(state)s") % {
            "state": case.get_state_display()})

    def _plan_overdue(self, case: Case, action: str) -> None:
        """Dry run: what `_apply` would do, money rule included, reading only."""
        if action == PAYOUT_OVERDUE:
            self.report.payouts_overdue += 1
            self._emit(Outcome(case.pk, action, OVERDUE, deadline_passed_text(case,
                                                                              case.deadline_at)))
            return
        try:
            self._check_money(case, action)
        except DomainError as error:
            self._emit(Outcome(case.pk, action, FAILED, str(error.message)))
            return
        self.report.applied[action] += 1
        self._emit(Outcome(case.pk, action, WOULD_APPLY,
                           deadline_passed_text(case, case.deadline_at)))
        if action == AUTO_AGREE:
            self._plan_warning_after_agree(case)

    def _plan_warning_after_agree(self, case: Case) -> None:
        """Dry run: the deadline an auto-agree sets (finance's payout) may be due within the
        window, and the run's warning phase would then warn it at once."""
        # Case.agree's targets; only a state with a deadline matters here.
        state = (CaseState.REFUND_PENDING if case.kind == CaseKind.REFUND_ONLY
                 else CaseState.AWAITING_RETURN)
        after = SimpleNamespace(state=state, order=case.order,
                                return_shipped_at=case.return_shipped_at)
        policy = case.shop.policy
        deadline = deadline_for(after, policy, self.now).at
        if deadline is None or deadline > self.now + timedelta(hours=policy.warning_hours):
            return
        count = len(self._recipients(case))
        self.report.warned_cases += 1
        self.report.warning_notifications += count
        self._emit(Outcome(case.pk, WARN, WOULD_WARN, _("due %(deadline)s, %(count)s to notify")
                           % {"deadline": _local(deadline), "count": count}))

    def _check_money(self, case: Case, action: str) -> None:
        """Raise AmountError where the service would (see services.cases._approve_amount).

        Money the run would already have committed on the same order counts: two requests
        of 150 on an order of 188 cannot both be agreed, in a dry run either.
        """
        needs_money = (action == AUTO_AGREE and case.kind == CaseKind.REFUND_ONLY) or (
            action == AUTO_REFUND and not case.refunds.filter(
                status__in=[RefundStatus.PENDING, RefundStatus.FAILED]).exists()
        )
        if not needs_money:
            return
        amount = clean_amount(case.requested_amount)
        order = case.order
        available = refundable_amount(order) - self.planned_money[order.pk]
        if amount > available:
            raise AmountError(
                _("¥%(amount)s is more than the ¥%(available)s still refundable on order "
                  "%(order)s (paid ¥%(paid)s).")
                % {"amount": amount, "available": available, "order": order.platform_order_id,
                   "paid": order.paid_amount}
            )
        self.planned_money[order.pk] += amount

    def _notify_failure(self, outcome: Outcome) -> None:
        """Tell the people of the case, once per deadline, in a transaction of its own."""
        try:
            with transaction.atomic():
                case = Case.objects.select_related("shop", "order", "assignee").get(
                    pk=outcome.case_id)
                notify(
                    users=self._recipients(case), case=case,
                    kind=NotificationKind.SWEEP_FAILURE, deadline_at=case.deadline_at,
                    message=_("The nightly sweep could not apply the platform rule "
                              "(%(action)s): %(reason)s") % {
                        "action": ACTION_LABELS[outcome.action], "reason": outcome.detail},
                    subject=_("Case #%(case)s: the nightly sweep failed") % {"case": case.pk},
                )
        except Exception:  # noqa: BLE001 - the failure itself is already reported
            logger.exception("sweep: could not notify the failure of case %s", outcome.case_id)

    # --- warnings before a deadline -------------------------------------------------------

    def warn_case(self, case_id: int, state: str, preloaded: Case | None) -> None:
        if self.report.dry_run:
            if preloaded is not None:
                self._plan_warning(preloaded)
            return
        try:
            with transaction.atomic():
                locked = self._lock(case_id)
                if locked is None:
                    outcome, created = Outcome(case_id, WARN, SKIPPED,
                                               _("locked by someone else")), 0
                else:
                    outcome, created = self._warn(locked[0])
        except Exception as error:  # noqa: BLE001 - one broken case must not stop the night
            logger.exception("sweep: warning for case %s failed", case_id)
            outcome, created = Outcome(case_id, WARN, FAILED, f"{type(error).__name__}: "
                                                              f"{error}"), 0
        if outcome.status == FAILED:
            self._notify_failure(outcome)

        def report() -> None:
            if outcome.status == WARNED:
                self.report.warned_cases += 1
                self.report.warning_notifications += created
            self._emit(outcome)

        self._later(report)

    def _due_soon(self, case: Case) -> bool:
        if not case.is_open or case.deadline_at is None:
            return False
        window = timedelta(hours=case.shop.policy.warning_hours)
        return (self.now <= case.deadline_at <= self.now + window
                and case.warned_deadline_at != case.deadline_at)

    def _warn(self, case: Case) -> tuple[Outcome, int]:
        if not self._due_soon(case):
            return Outcome(case.pk, WARN, SKIPPED, _("changed since it was selected")), 0
        created = notify(
            users=self._recipients(case), case=case, kind=NotificationKind.DEADLINE_WARNING,
            deadline_at=case.deadline_at, message=_warning_message(case),
            subject=_("Case #%(case)s: deadline %(deadline)s")
            % {"case": case.pk, "deadline": _local(case.deadline_at)},
        )
        case.warned_deadline_at = case.deadline_at
        case.save(update_fields=["warned_deadline_at"])
        return Outcome(case.pk, WARN, WARNED, _("due %(deadline)s, %(count)s notified") % {
            "deadline": _local(case.deadline_at), "count": len(created)}), len(created)

    def _plan_warning(self, case: Case) -> None:
        if not self._due_soon(case):
            return
        users = self._recipients(case)
        already = set(Notification.objects.filter(
            case=case, kind=NotificationKind.DEADLINE_WARNING, deadline_at=case.deadline_at,
        ).values_list("user_id", flat=True))
        new = sum(1 for user in users if user.pk not in already)
        self.report.warned_cases += 1
        self.report.warning_notifications += new
        self._emit(Outcome(case.pk, WARN, WOULD_WARN, _("due %(deadline)s, %(count)s to notify")
                           % {"deadline": _local(case.deadline_at), "count": new}))
