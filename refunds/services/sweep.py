"""The nightly deadline sweep (DOMAIN.md, "Platform deadlines").

When a deadline passes, the platform acts on its own. We apply the same rule first, with the
same transitions, checks and timeline rows as the services staff use (their set-based twin,
`cases_apply_platform_rules`), as the platform (actor=None: staff number SYSTEM on the
timeline), with a note naming the policy deadline that passed:

| state past its deadline      | what the platform does                         |
|------------------------------|------------------------------------------------|
| requested                    | auto-agrees (refund-only: a Refund row is made) |
| refused, awaiting_return     | closes the request (timed out)                 |
| return_in_transit, received  | auto-refunds the buyer                         |
| in_dispute, no evidence      | rules against the shop and refunds the buyer   |
| refund_pending/refund_failed | nothing (our own payout deadline): we notify   |
| requested, on Kuaishou       | escalates it to its customer service: we note  |
|                              | it on the timeline and notify, once            |

Before a deadline passes (the shop policy's warning window), the case's assignee and the
supervisors of its shop are warned once per deadline.

Convention 11, for thousands of cases a night (issue 6: 1,000 transitions a second,
docs/PERFORMANCE.md). Cases are handled in groups (`commit_every`, 200 by default), one
transaction each: the group's order rows and then its cases are locked with `skip_locked`
(`refunds.locks.try_lock_cases`: a case somebody holds is left for the next run, and holding
a group never waits, so it cannot deadlock with a service), the state and the deadline are
re-checked on the locked rows, and the whole group goes through one call of the set-based
service `cases_apply_platform_rules` — the same django-fsm transitions, checks, money rule and
timeline rows as `case_agree`/`case_close`/`case_platform_refund`, written with one statement
per table instead of fifteen per case. A case the service refuses (the money rule, a state
it can no longer leave) is reported and its people notified; the others go on. If anything
else fails in a group, the group is undone and done again one case per transaction, so the
failure stays with its case. What a run
reports is only ever what was committed. A second run, or two runs at once, change nothing
more.

The price of a group: its rows stay locked until it commits (about 200 milliseconds for 200
cases on this machine); staff acting on one of them wait that long. On SQLite, which has one
writer at a time, every staff write waits for it (transactions begin IMMEDIATE, see
config/settings/base.py): `--commit-every 20` is gentler during working hours.

Emails: one digest per person per run (`Digest`), sent when the run ends (also when it
stops half way), listing what was committed; the in-app notifications are one per case.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from .. import events, selectors, texts, workdays
from ..deadlines import deadline_for, is_kuaishou
from ..exceptions import CaseChanged, DomainError
from ..labels import choice_label
from ..locks import try_lock_cases
from ..models import (
    Case,
    CaseEvent,
    CaseKind,
    CaseState,
    Notification,
    NotificationKind,
    Platform,
    RefundStatus,
)
from .cases import PlatformStep, cases_apply_platform_rules, exchange_difference_to_cancel
from .money import clean_amount, ensure_within, refundable_amount
from .notifications import Digest, Notice, ShopPeople, case_recipients, notify_many

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1000
COMMIT_EVERY = 200

# What the sweep does to a case, by the state whose deadline passed.
AUTO_AGREE = "auto_agree"
CLOSE = "close"
AUTO_REFUND = "auto_refund"
PAYOUT_OVERDUE = "payout_overdue"
ESCALATE = "escalate"
WARN = "warn"
PHOTOS_MISSING = "photos_missing"

ACTION_FOR_STATE = {
    CaseState.REQUESTED: AUTO_AGREE,
    CaseState.REFUSED: CLOSE,
    CaseState.AWAITING_RETURN: CLOSE,
    CaseState.RETURN_IN_TRANSIT: AUTO_REFUND,
    CaseState.RECEIVED: AUTO_REFUND,
    CaseState.REFUND_PENDING: PAYOUT_OVERDUE,
    CaseState.REFUND_FAILED: PAYOUT_OVERDUE,
    CaseState.IN_DISPUTE: AUTO_REFUND,  # no evidence in time: ruled against the shop
}



def action_for(case: Case, state: str) -> str | None:
    """What the sweep does when the deadline of `case` (in `state`) passes."""
    if state == CaseState.REQUESTED and is_kuaishou(case.shop.policy):
        return ESCALATE  # Kuaishou escalates; it never agrees to a request on its own
    return ACTION_FOR_STATE.get(state)


def action_of(case_id: int, state: str) -> str | None:
    """`action_for` a case not at hand (locked by someone else, or failed): a request's
    action depends on its shop's platform, read then (one query, on those paths only)."""
    if state == CaseState.REQUESTED:
        platform = Case.objects.filter(pk=case_id).values_list("shop__platform",
                                                                 flat=True).first()
        if platform == Platform.KUAISHOU:
            return ESCALATE
    return ACTION_FOR_STATE.get(state)


# Rules of a Kuaishou review deadline: a request under any other (set while its shop was on
# another platform, or before the desk counted working days) is counted again by the sweep.
KUAISHOU_REVIEW_RULES = ("platform_review_working_days", "platform")


# The platform rule (a Case transition, `cases_apply_platform_rules`) of each action.
TRANSITIONS = {AUTO_AGREE: "agree", CLOSE: "close", AUTO_REFUND: "platform_refund"}

ACTION_LABELS = {
    AUTO_AGREE: gettext_lazy("auto-agree"),
    CLOSE: gettext_lazy("close (timed out)"),
    AUTO_REFUND: gettext_lazy("auto-refund"),
    PAYOUT_OVERDUE: gettext_lazy("payout overdue"),
    ESCALATE: gettext_lazy("escalated by the platform"),
    PHOTOS_MISSING: gettext_lazy("quality photos missing"),
    WARN: gettext_lazy("deadline warning"),
}


# Outcome statuses
APPLIED, WOULD_APPLY, WARNED, WOULD_WARN, OVERDUE, ESCALATED, SKIPPED, FAILED = (
    "applied", "would_apply", "warned", "would_warn", "overdue", "escalated", "skipped",
    "failed",
)
STATUS_LABELS = {
    APPLIED: gettext_lazy("done"),
    WOULD_APPLY: gettext_lazy("would do"),
    WARNED: gettext_lazy("warned"),
    WOULD_WARN: gettext_lazy("would warn"),
    OVERDUE: gettext_lazy("overdue, notified"),
    ESCALATED: gettext_lazy("noted and notified"),
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
    notified: int = 0  # a warning: the notifications it created

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
    escalated: int = 0  # Kuaishou requests the platform escalated (first noticed this run)
    photos_missing: int = 0  # requests whose quality photos did not come in time
    warned_cases: int = 0
    warning_notifications: int = 0
    skipped: int = 0
    failures: list[Outcome] = field(default_factory=list)
    emails: int = 0  # digest emails sent (once committed)
    email_failures: list[str] = field(default_factory=list)  # addresses that could not be sent

    @property
    def applied_total(self) -> int:
        return sum(self.applied.values())

    def summary(self) -> str:
        line = _(
            "applied %(applied)s (auto-agreed %(agreed)s, closed %(closed)s, auto-refunded "
            "%(refunded)s), payouts overdue %(overdue)s, escalated %(escalated)s, warned "
            "%(warned)s cases (%(notifications)s notifications), skipped %(skipped)s, failed "
            "%(failed)s"
        ) % {
            "applied": self.applied_total, "agreed": self.applied[AUTO_AGREE],
            "closed": self.applied[CLOSE], "refunded": self.applied[AUTO_REFUND],
            "overdue": self.payouts_overdue, "escalated": self.escalated,
            "warned": self.warned_cases,
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

    `commit_every`: cases per transaction (see the module's docstring); 1 commits every case
    on its own.
    """
    sweep = _Sweep(now=now or timezone.now(), dry_run=dry_run, on_outcome=on_outcome)
    try:
        with workdays.remembered():  # Kuaishou's deadlines: the calendar read once
            _run_phases(sweep, chunk_size=chunk_size, commit_every=commit_every,
                        on_progress=on_progress)
        sweep.photos_missing(chunk_size)
    finally:
        # What was committed is emailed, even when the run stops half way.
        sweep.send_digest()
    return sweep.report


def _run_phases(sweep: _Sweep, *, chunk_size: int, commit_every: int,
                on_progress: Callable[[str, int, int], None] | None) -> None:
    dry_run = sweep.report.dry_run
    phases = (
        (PHASE_DEADLINES, selectors.overdue_cases, sweep.overdue_group, sweep.plan_overdue),
        (PHASE_WARNINGS, selectors.cases_to_warn, sweep.warn_group, sweep.plan_warning),
    )
    step = max(1, commit_every)
    for label, select, handle, plan in phases:
        queryset = select(sweep.now)  # after the previous phase: it moves deadlines
        total = queryset.count()
        done = 0
        for chunk in selectors.in_deadline_chunks(queryset, chunk_size):
            if dry_run:
                preloaded = sweep.preload([pk for pk, _state in chunk])
                for case_id, state in chunk:
                    if case_id in preloaded:
                        plan(preloaded[case_id], state)
                groups = [chunk]
            else:
                groups = [chunk[start:start + step] for start in range(0, len(chunk), step)]
            for group in groups:
                if not dry_run:
                    sweep.run_group(group, handle)
                for _item in group:  # once per case: the caller prints every N cases
                    done += 1
                    if on_progress is not None:
                        on_progress(str(label), done, total)


# --- texts ------------------------------------------------------------------------------------


def _local(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def _passed(case: Case, deadline: datetime) -> dict:
    """Which policy deadline passed, as parameters of `texts.deadline_passed`."""
    rule = case.deadline_rule or ""
    value = getattr(case.shop.policy, rule, None) if rule else None
    return {"rule": rule, "value": value if isinstance(value, int | str) else None,
            "deadline": deadline.isoformat()}


def deadline_passed_text(case: Case, deadline: datetime) -> str:
    """"The policy deadline “days to decide …” (agree_shipped_days = 5) passed at …"."""
    return texts.deadline_passed(**_passed(case, deadline))


def _warning_text(case: Case) -> dict:
    return texts.said("deadline_warning", owner=case.deadline_owner or "",
                      deadline=case.deadline_at.isoformat(), rule=case.deadline_rule or "",
                      state=case.state, order=case.order.platform_order_id,
                      amount=str(case.requested_amount))


# --- one run ----------------------------------------------------------------------------------


# A group's handler: the group's (case id, state) and the rows its transaction locked
# ({case id: (case, order)}); returns what happened to each case, reported once committed.
GroupHandler = Callable[[list[tuple[int, str]], dict[int, tuple]], list[Outcome]]


class _Sweep:
    def __init__(self, *, now: datetime, dry_run: bool,
                 on_outcome: Callable[[Outcome], None] | None) -> None:
        self.now = now
        self.report = SweepReport(now=now, dry_run=dry_run)
        self.on_outcome = on_outcome
        self.people: dict[int, ShopPeople] = {}  # shop id → who can be told, read once
        self.planned_money: Counter = Counter()  # dry run: order id → money it would commit
        self.planned_decisions: set[int] = set()  # dry run: cases it would move on
        # one email per person for the whole run, sent at its end
        self.digest = Digest(
            subject=lambda count: ngettext(
                "After-sales desk: %(count)s case needs attention (nightly sweep)",
                "After-sales desk: %(count)s cases need attention (nightly sweep)", count)
            % {"count": count},
            more=lambda count: ngettext(
                "… and %(count)s more notification: see the queue page.",
                "… and %(count)s more notifications: see the queue page.", count)
            % {"count": count})

    def run_group(self, group: list[tuple[int, str]], handle: GroupHandler) -> None:
        """Handle a group of cases in one transaction; if anything in it fails, undo the group
        and handle its cases again one transaction each, so the failure stays with its case."""
        if len(group) == 1:
            outcomes = [self._one(group[0], handle)]
        else:
            try:
                with transaction.atomic():
                    outcomes = handle(group, try_lock_cases([pk for pk, _state in group]))
            except Exception:  # noqa: BLE001 - e.g. the commit failed: nothing was written
                logger.exception("sweep: a group of %s cases failed; doing them one by one",
                                 len(group))
                outcomes = [self._one(item, handle) for item in group]
        for outcome in outcomes:
            self._count(outcome)

    def send_digest(self) -> None:
        """Email what the digest collected: at once outside a transaction, or after the
        caller's commit inside one (the groups add to it when they commit, in order)."""
        def send() -> None:
            self.digest.send()
            self.report.emails, self.report.email_failures = self.digest.sent, self.digest.failed

        transaction.on_commit(send, robust=True)

    def _one(self, item: tuple[int, str], handle: GroupHandler) -> Outcome:
        case_id, state = item
        action = WARN if handle == self.warn_group else (action_of(case_id, state) or WARN)
        try:
            with transaction.atomic():
                outcomes = handle([item], try_lock_cases([case_id]))
        except CaseChanged:  # found changed when written, under the lock: leave it
            return Outcome(case_id, action, SKIPPED, _("changed since it was selected"))
        except Exception as error:  # noqa: BLE001 - one broken case must not stop the night
            logger.exception("sweep: case %s failed", case_id)
            return Outcome(case_id, action, FAILED, f"{type(error).__name__}: {error}")
        return outcomes[0] if outcomes else Outcome(case_id, WARN, SKIPPED)

    def _count(self, outcome: Outcome) -> None:
        """A committed outcome: into the report, to the caller, and a failure to its people."""
        if outcome.status == APPLIED:
            self.report.applied[outcome.action] += 1
        elif outcome.status == OVERDUE:
            self.report.payouts_overdue += 1
        elif outcome.status == ESCALATED:
            self.report.escalated += 1
        elif outcome.status == WARNED:
            self.report.warned_cases += 1
            self.report.warning_notifications += outcome.notified
        elif outcome.status == FAILED:
            self._notify_failure(outcome)
        self._emit(outcome)

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
        return case_recipients(case, self.people)

    # --- deadlines that passed ------------------------------------------------------------

    def overdue_group(self, group: list[tuple[int, str]],
                      held: dict[int, tuple]) -> list[Outcome]:
        """The passed deadlines of a locked group: re-checked on the locked rows, the platform
        rules applied through one set-based service call, everybody told in one go."""
        outcomes: dict[int, Outcome] = {}
        steps: list[PlatformStep] = []
        notices: list[Notice] = []
        escalated: list[Case] = []
        for case_id, state in group:
            case = held[case_id][0] if case_id in held else None
            action = action_for(case, state) if case is not None else action_of(case_id, state)
            if action is None:  # only open states are selected; a new state must be mapped
                continue
            if case is None:
                outcomes[case_id] = Outcome(case_id, action, SKIPPED, _("locked by someone else"))
            elif (case.state != state or case.deadline_at is None
                  or case.deadline_at >= self.now):
                outcomes[case_id] = Outcome(case_id, action, SKIPPED,
                                            _("changed since it was selected"))
            elif action == PAYOUT_OVERDUE:
                passed = deadline_passed_text(case, case.deadline_at)
                notices.append(self._payout_overdue_notice(case, passed))
                outcomes[case_id] = Outcome(case_id, action, OVERDUE, passed)
            elif action == ESCALATE:
                if case.escalated_deadline_at is not None:
                    outcomes[case_id] = Outcome(case_id, action, SKIPPED,
                                                _("already escalated"))
                    continue
                recounted = self._recount_review(case)
                if recounted is not None:
                    outcomes[case_id] = recounted
                    continue
                notices.append(self._escalation_notice(case))
                escalated.append(case)
                outcomes[case_id] = Outcome(case_id, action, ESCALATED,
                                            deadline_passed_text(case, case.deadline_at))
            else:
                said = texts.said("deadline_passed", **_passed(case, case.deadline_at),
                                  then=state)
                steps.append(PlatformStep(case=case, transition=TRANSITIONS[action],
                                          expected_state=state, note=texts.words(
                                              {texts.TEXT: said}), note_text=said))
        deadlines = {step.case.pk: step.case.deadline_at for step in steps}
        cases_apply_platform_rules(steps=steps, now=self.now)
        for step in steps:
            case, action = step.case, ACTION_FOR_STATE[step.expected_state]
            if step.error is None:
                notices.append(Notice(
                    users=self._recipients(case), case=case,
                    kind=NotificationKind.DEADLINE_ACTION, deadline_at=deadlines[case.pk],
                    message=step.note, text=step.note_text,
                    subject=_("Case #%(case)s: deadline passed, now %(state)s")
                    % {"case": case.pk, "state": choice_label(case, "state")}))
                outcomes[case.pk] = Outcome(case.pk, action, APPLIED, _("now %(state)s") % {
                    "state": choice_label(case, "state")})
            elif isinstance(step.error, CaseChanged):
                outcomes[case.pk] = Outcome(case.pk, action, SKIPPED,
                                            _("changed since it was selected"))
            else:
                outcomes[case.pk] = Outcome(case.pk, action, FAILED, str(step.error.message))
        self._record_escalations(escalated)
        notify_many(notices, digest=self.digest)
        return [outcomes[case_id] for case_id, _state in group if case_id in outcomes]

    def _review_recounted(self, case: Case) -> datetime | None:
        """A Kuaishou request whose deadline was counted in calendar days (another platform's
        rule): its deadline in working days, when that has not passed yet; else None."""
        if case.deadline_rule in KUAISHOU_REVIEW_RULES:
            return None
        policy = case.shop.policy
        days = getattr(policy, case.deadline_rule, None) if case.deadline_rule else None
        since = case.deadline_at - timedelta(days=days) if isinstance(days, int) else None
        if since is None:
            return None
        recounted = deadline_for(case, policy, since)
        return recounted.at if recounted.at is not None and recounted.at > self.now else None

    def _recount_review(self, case: Case) -> Outcome | None:
        """Move such a request to its working-day deadline (no escalation yet); None when
        its deadline stands."""
        due = self._review_recounted(case)
        if due is None:
            return None
        Case.objects.filter(pk=case.pk).update(
            deadline_at=due, deadline_rule="platform_review_working_days")
        return Outcome(case.pk, ESCALATE, SKIPPED,
                       _("counted again in working days (Kuaishou): due %(deadline)s")
                       % {"deadline": _local(due)})

    def _escalation_text(self, case: Case) -> dict:
        return texts.said("escalated", **_passed(case, case.deadline_at))

    def _escalation_notice(self, case: Case) -> Notice:
        said = self._escalation_text(case)
        return Notice(
            users=self._recipients(case), case=case, kind=NotificationKind.ESCALATED,
            deadline_at=case.deadline_at, message=texts.words({texts.TEXT: said}), text=said,
            subject=_("Case #%(case)s: not reviewed in time, escalated by the platform")
            % {"case": case.pk})

    def _record_escalations(self, cases: list[Case]) -> None:
        """One timeline row (by SYSTEM) per escalated case, and each case marked escalated
        for its deadline: two statements for the group. The state does not change."""
        if not cases:
            return
        rows = []
        for case in cases:
            said = self._escalation_text(case)
            rows.append(events.build_escalation_event(
                case=case, note=texts.words({texts.TEXT: said}), text=said, at=self.now))
        CaseEvent.objects.bulk_create(rows)
        Case.objects.filter(pk__in=[case.pk for case in cases]).update(
            escalated_deadline_at=F("deadline_at"))

    def _payout_overdue_notice(self, case: Case, passed: str) -> Notice:
        said = texts.said("payout_overdue", state=case.state, **_passed(case, case.deadline_at))
        return Notice(
            users=self._recipients(case), case=case, kind=NotificationKind.DEADLINE_ACTION,
            deadline_at=case.deadline_at, message=texts.words({texts.TEXT: said}), text=said,
            subject=_("Case #%(case)s: payout overdue since %(deadline)s")
            % {"case": case.pk, "deadline": _local(case.deadline_at)})

    def plan_overdue(self, case: Case, state: str) -> None:
        """Dry run: what `overdue_group` would do, money rule included, reading only."""
        action = action_for(case, state)
        if action is None:
            return
        if action == ESCALATE:
            due = self._review_recounted(case)
            if due is not None:
                self._emit(Outcome(case.pk, action, SKIPPED, _(
                    "would be counted again in working days (Kuaishou): due %(deadline)s")
                    % {"deadline": _local(due)}))
            elif case.escalated_deadline_at is None:
                self.report.escalated += 1
                self._emit(Outcome(case.pk, action, WOULD_APPLY,
                                   deadline_passed_text(case, case.deadline_at)))
            return
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
        self.planned_decisions.add(case.pk)
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
        freed = Decimal("0.00")
        if case.kind == CaseKind.EXCHANGE and action in (CLOSE, AUTO_REFUND):
            # the service cancels a chosen replacement's difference first (or refuses)
            difference = exchange_difference_to_cancel(case)
            freed = difference.amount if difference is not None else Decimal("0.00")
        needs_money = (action == AUTO_AGREE and case.kind == CaseKind.REFUND_ONLY) or (
            action == AUTO_REFUND and not case.refunds.filter(
                status__in=[RefundStatus.PENDING, RefundStatus.FAILED]).exists()
        )
        if not needs_money:
            return
        amount = clean_amount(case.requested_amount)
        order = case.order
        available = refundable_amount(order) + freed - self.planned_money[order.pk]
        ensure_within(order, amount, available)  # the services' own check and words
        self.planned_money[order.pk] += amount

    def _notify_failure(self, outcome: Outcome) -> None:
        """Tell the people of the case, once per deadline, in a transaction of its own."""
        try:
            with transaction.atomic():
                case = Case.objects.select_related("shop", "order", "assignee").get(
                    pk=outcome.case_id)
                failure = texts.said("sweep_failure", action=outcome.action,
                                     reason=outcome.detail)
                notify_many([Notice(
                    users=self._recipients(case), case=case,
                    kind=NotificationKind.SWEEP_FAILURE, deadline_at=case.deadline_at,
                    message=texts.words({texts.TEXT: failure}), text=failure,
                    subject=_("Case #%(case)s: the nightly sweep failed") % {"case": case.pk},
                )], digest=self.digest)
        except Exception:  # noqa: BLE001 - the failure itself is already reported
            logger.exception("sweep: could not notify the failure of case %s", outcome.case_id)

    # --- quality photos that did not come ------------------------------------------------

    def photos_missing(self, chunk_size: int) -> None:
        """Requests whose quality photos are past due: their people are told once (the
        request may be refused, 凭证不足); one transaction per chunk. A chunk that fails is
        done again one case per transaction, so a failure stays with its case (reported,
        told again next night) and the others are still told."""
        due = Case.objects.filter(selectors.photos_filter(selectors.PHOTOS_LATE, self.now),
                                  photos_reminded_at__isnull=True)
        if self.report.dry_run:  # not the requests this run would have decided first
            self.report.photos_missing = sum(
                1 for pk in due.values_list("pk", flat=True).iterator()
                if pk not in self.planned_decisions)
            return
        after = 0  # by id: each case is tried once a run (skipped if held, failed or told)
        while True:
            ids = list(due.filter(pk__gt=after).order_by("pk")
                       .values_list("pk", flat=True)[:chunk_size])
            if not ids:
                return
            after = ids[-1]
            try:
                self.report.photos_missing += self._tell_photos_missing(due, ids)
            except Exception:  # noqa: BLE001 - one by one, to find the case that fails
                for case_id in ids:
                    try:
                        self.report.photos_missing += self._tell_photos_missing(due, [case_id])
                    except Exception as error:  # noqa: BLE001 - reported with its case
                        logger.exception("sweep: photos notice of case %s failed", case_id)
                        self._emit(Outcome(case_id, PHOTOS_MISSING, FAILED,
                                           f"{type(error).__name__}: {error}"))

    def _tell_photos_missing(self, due, ids: list[int]) -> int:
        """Notify the people of those of `ids` still due (locked, skipping the ones someone
        holds) and mark them told, in one transaction; returns how many were told."""
        with transaction.atomic():
            locked = list(due.filter(pk__in=ids).select_for_update(skip_locked=True, of=("self",))
                          .values_list("pk", flat=True))
            cases = list(Case.objects.filter(pk__in=locked)
                         .select_related("shop__policy", "order", "assignee"))
            notices = []
            for case in cases:
                said = texts.said("photos_missing", due=case.photos_due_at.isoformat(),
                                  order=case.order.platform_order_id)
                notices.append(Notice(
                    users=self._recipients(case), case=case,
                    kind=NotificationKind.PHOTOS_MISSING, deadline_at=case.photos_due_at,
                    message=texts.words({texts.TEXT: said}), text=said,
                    subject=_("Case #%(case)s: the quality photos did not come")
                    % {"case": case.pk}))
            notify_many(notices, digest=self.digest)
            Case.objects.filter(pk__in=locked).update(photos_reminded_at=self.now)
        return len(locked)

    # --- warnings before a deadline -------------------------------------------------------

    def warn_group(self, group: list[tuple[int, str]],
                   held: dict[int, tuple]) -> list[Outcome]:
        """Warn the locked group's cases still due soon: one notification insert for all of
        them, and each case marked warned for its deadline in one UPDATE."""
        outcomes, notices, warned = {}, [], []
        for case_id, _state in group:
            case = held[case_id][0] if case_id in held else None
            if case is None:
                outcomes[case_id] = Outcome(case_id, WARN, SKIPPED, _("locked by someone else"))
            elif not self._due_soon(case):
                outcomes[case_id] = Outcome(case_id, WARN, SKIPPED,
                                            _("changed since it was selected"))
            else:
                said = _warning_text(case)
                notices.append(Notice(
                    users=self._recipients(case), case=case,
                    kind=NotificationKind.DEADLINE_WARNING, deadline_at=case.deadline_at,
                    message=texts.words({texts.TEXT: said}), text=said,
                    subject=_("Case #%(case)s: deadline %(deadline)s")
                    % {"case": case.pk, "deadline": _local(case.deadline_at)}))
                warned.append(case)
        created = Counter(notification.case_id
                          for notification in notify_many(notices, digest=self.digest))
        # the deadline each was warned for: read under this transaction's lock, unchanged
        Case.objects.filter(pk__in=[case.pk for case in warned]).update(
            warned_deadline_at=F("deadline_at"))
        for case in warned:
            count = created[case.pk]
            outcomes[case.pk] = Outcome(
                case.pk, WARN, WARNED, _("due %(deadline)s, %(count)s notified") % {
                    "deadline": _local(case.deadline_at), "count": count}, notified=count)
        return [outcomes[case_id] for case_id, _state in group]

    def _due_soon(self, case: Case) -> bool:
        if not case.is_open or case.deadline_at is None:
            return False
        window = timedelta(hours=case.shop.policy.warning_hours)
        return (self.now <= case.deadline_at <= self.now + window
                and case.warned_deadline_at != case.deadline_at)

    def plan_warning(self, case: Case, state: str) -> None:
        """Dry run: whether `warn_group` would warn this case, and how many people."""
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
