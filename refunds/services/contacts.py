"""Contacting buyers, and the harassment guard every contact goes through.

DOMAIN.md: harassment rules bind the shop — no calls at night, no bursts of calls or
messages, and never after the buyer asked not to be contacted; a buyer who complains of
harassment (恶意骚扰) opens a dispute against the shop. So every contact, from the case, the
follow-up or the buyer page, is logged by `contact_log_record`, which asks the guard first:

- only inside the shop's contact hours, in the buyer's time (China time, whatever the
  server's TIME_ZONE);
- at most `max_calls_per_day` calls and `max_messages_per_day` messages (IM, SMS, email) to
  one buyer in the name of one shop per local calendar day; every logged attempt counts,
  answered or not;
- never to a buyer flagged do-not-contact. That one cannot be overridden: the buyer's
  request is lifted first (a supervisor, with a reason, on the buyer's timeline).

A supervisor may override the hours or the daily limits with a written reason; the entry
records which rule was overridden and why. The day's count is taken with the buyer row
locked, so two colleagues logging at the same moment cannot both make the extra call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.formats import time_format
from django.utils.translation import gettext as _

from .. import events
from ..exceptions import ActionNotAllowed, PermissionDeniedError
from ..locks import lock_buyer
from ..models import (
    Buyer,
    BuyerEventKind,
    Case,
    ContactChannel,
    ContactLog,
    ContactOutcome,
    Order,
    ReviewFollowUp,
    Shop,
)
from ..permissions import staff_number_of, user_serves_shop
from ..timezones import CHINA
from .text import require_text

# The platforms' buyers are in China: "night" is night there.
BUYER_TIMEZONE = CHINA

CALL_CHANNELS = frozenset({ContactChannel.PHONE})
MESSAGE_CHANNELS = frozenset({ContactChannel.IM, ContactChannel.SMS, ContactChannel.EMAIL})
# Outcomes that did not reach the buyer (they count towards "unreachable").
FAILED_OUTCOMES = frozenset({ContactOutcome.NO_ANSWER, ContactOutcome.LEFT_MESSAGE})


class GuardRule:
    HOURS = "hours"
    CALLS = "calls"
    MESSAGES = "messages"
    DO_NOT_CONTACT = "do_not_contact"


OVERRIDABLE_RULES = frozenset({GuardRule.HOURS, GuardRule.CALLS, GuardRule.MESSAGES})


class ContactBlocked(ActionNotAllowed):
    """The guard refused a contact; `rule` says which rule."""

    def __init__(self, message, rule: str):
        self.rule = rule
        super().__init__(message)


@dataclass(frozen=True)
class Block:
    rule: str
    message: str


def _hhmm(value) -> str:
    return time_format(value, "H:i")


def buyer_local_day(now: datetime) -> tuple[datetime, datetime]:
    """The buyer's calendar day (China time) that `now` falls in, as [start, end)."""
    local = now.astimezone(BUYER_TIMEZONE)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


def contact_guard_check(*, shop: Shop, buyer: Buyer, channel: str,
                        now: datetime) -> list[Block]:
    """Every reason why contacting `buyer` by `channel` in `shop`'s name at `now` is
    harassment (empty: none). All of them, not the first: an override must say each rule it
    sets aside (a night call that is also the day's third call breaks two)."""
    if buyer.do_not_contact:
        return [Block(GuardRule.DO_NOT_CONTACT, _(
            "%(buyer)s asked not to be contacted (%(reason)s). No call or message may be "
            "logged until a supervisor lifts the request on the buyer page.")
            % {"buyer": buyer.nick, "reason": buyer.do_not_contact_reason or "—"})]
    blocks = []
    policy = shop.policy
    local = now.astimezone(BUYER_TIMEZONE)
    start, end = policy.contact_hours_start, policy.contact_hours_end
    if not (start <= local.time() < end):
        blocks.append(Block(GuardRule.HOURS, _(
            "It is %(now)s for the buyer (China time): buyers of %(shop)s may be contacted "
            "only from %(start)s to %(end)s.")
            % {"now": _hhmm(local), "shop": shop.name, "start": _hhmm(start),
               "end": _hhmm(end)}))
    day_start, day_end = buyer_local_day(now)
    today = ContactLog.objects.filter(buyer=buyer, shop=shop, created_at__gte=day_start,
                                      created_at__lt=day_end)
    if channel in CALL_CHANNELS:
        calls = today.filter(channel__in=CALL_CHANNELS).count()
        if calls >= policy.max_calls_per_day:
            blocks.append(Block(GuardRule.CALLS, _(
                "%(buyer)s was already called %(count)s times today: %(shop)s allows "
                "%(limit)s calls per buyer per day.")
                % {"buyer": buyer.nick, "count": calls, "shop": shop.name,
                   "limit": policy.max_calls_per_day}))
    elif channel in MESSAGE_CHANNELS:
        sent = today.filter(channel__in=MESSAGE_CHANNELS).count()
        if sent >= policy.max_messages_per_day:
            blocks.append(Block(GuardRule.MESSAGES, _(
                "%(buyer)s already got %(count)s messages today: %(shop)s allows %(limit)s "
                "messages (IM, SMS, email) per buyer per day.")
                % {"buyer": buyer.nick, "count": sent, "shop": shop.name,
                   "limit": policy.max_messages_per_day}))
    return blocks


def can_override(user: User) -> bool:
    return user.has_perm("refunds.override_contact_guard")


def contact_log_record(*, shop: Shop, buyer: Buyer, actor: User, channel: str, outcome: str,
                       note: str = "", case: Case | None = None,
                       follow_up: ReviewFollowUp | None = None, stockout=None, inquiry=None,
                       override: bool = False, override_reason: str = "",
                       now: datetime | None = None) -> ContactLog:
    """Log one contact attempt after the guard allowed it (or a supervisor overrode it).

    The only code that writes ContactLog rows; callers add their own timeline row in the
    same transaction (case, follow-up, stock-out).
    """
    now = now or timezone.now()
    if not (actor.has_perm("refunds.log_contact") and user_serves_shop(actor, shop.pk)):
        raise PermissionDeniedError()
    if channel not in ContactChannel.values or outcome not in ContactOutcome.values:
        raise ActionNotAllowed(_("Choose a channel and an outcome."))
    override_reason = (override_reason or "").strip()
    if override:
        if not can_override(actor):
            raise PermissionDeniedError(
                _("Only a supervisor can override the harassment guard."))
        if not override_reason:
            raise ActionNotAllowed(_("An override needs a written reason."))
    with transaction.atomic():
        buyer = lock_buyer(buyer.pk)
        blocks = contact_guard_check(shop=shop, buyer=buyer, channel=channel, now=now)
        overridden_rule = ""
        if blocks:
            overridable = all(block.rule in OVERRIDABLE_RULES for block in blocks)
            if not override or not overridable:
                message = " ".join(block.message for block in blocks)
                if overridable and can_override(actor):
                    message = _("%(reason)s You may override this with a written reason.") % {
                        "reason": message}
                raise ContactBlocked(message, blocks[0].rule)
            # every rule set aside, recorded (e.g. "hours,calls")
            overridden_rule = ",".join(block.rule for block in blocks)
        return ContactLog.objects.create(
            shop=shop, buyer=buyer, case=case, follow_up=follow_up, stockout=stockout,
            inquiry=inquiry,
            channel=channel,
            outcome=outcome, note=(note or "").strip(), actor=actor,
            staff_number=staff_number_of(actor), created_at=now,
            overridden_rule=overridden_rule,
            override_reason=override_reason if overridden_rule else "",
        )


# --- the buyer page -------------------------------------------------------------------------


def _check_buyer_of_shop(buyer: Buyer, shop: Shop, actor: User, perm: str) -> None:
    if not (actor.has_perm(perm) and user_serves_shop(actor, shop.pk)):
        raise PermissionDeniedError()
    if not Order.objects.filter(buyer=buyer, shop=shop).exists():
        raise ActionNotAllowed(_("%(buyer)s has no order in %(shop)s.")
                               % {"buyer": buyer.nick, "shop": shop.name})


def buyer_contact_log_create(*, buyer: Buyer, shop: Shop, actor: User, channel: str,
                             outcome: str, note: str = "", override: bool = False,
                             override_reason: str = "",
                             now: datetime | None = None) -> ContactLog:
    """A contact about no particular case or follow-up, logged from the buyer page."""
    _check_buyer_of_shop(buyer, shop, actor, "refunds.log_contact")
    return contact_log_record(shop=shop, buyer=buyer, actor=actor, channel=channel,
                              outcome=outcome, note=note, override=override,
                              override_reason=override_reason, now=now)


def buyer_set_do_not_contact(*, buyer: Buyer, shop: Shop, actor: User, reason: str,
                             now: datetime | None = None) -> Buyer:
    """The buyer asked not to be contacted: from now on the guard refuses every contact."""
    reason = require_text(reason, _("Write down what the buyer asked."))
    _check_buyer_of_shop(buyer, shop, actor, "refunds.log_contact")
    now = now or timezone.now()
    with transaction.atomic():
        locked = lock_buyer(buyer.pk)
        if locked.do_not_contact:
            raise ActionNotAllowed(_("%(buyer)s is already marked do-not-contact.")
                                   % {"buyer": locked.nick})
        locked.do_not_contact = True
        locked.do_not_contact_reason = reason
        locked.do_not_contact_at = now
        locked.save(update_fields=["do_not_contact", "do_not_contact_reason",
                                   "do_not_contact_at"])
        events.buyer_event(buyer=locked, shop=shop, kind=BuyerEventKind.DO_NOT_CONTACT,
                           actor=actor, note=reason, at=now)
    return locked


def buyer_lift_do_not_contact(*, buyer: Buyer, shop: Shop, actor: User, reason: str,
                              now: datetime | None = None) -> Buyer:
    """A supervisor lifts the request (the buyer came back to the shop), with a reason."""
    reason = require_text(reason, _("Say why the buyer may be contacted again."))
    _check_buyer_of_shop(buyer, shop, actor, "refunds.lift_do_not_contact")
    now = now or timezone.now()
    with transaction.atomic():
        locked = lock_buyer(buyer.pk)
        if not locked.do_not_contact:
            raise ActionNotAllowed(_("%(buyer)s is not marked do-not-contact.")
                                   % {"buyer": locked.nick})
        locked.do_not_contact = False
        locked.do_not_contact_reason = ""
        locked.do_not_contact_at = None
        locked.save(update_fields=["do_not_contact", "do_not_contact_reason",
                                   "do_not_contact_at"])
        events.buyer_event(buyer=locked, shop=shop, kind=BuyerEventKind.CONTACT_ALLOWED,
                           actor=actor, note=reason, at=now)
    return locked
