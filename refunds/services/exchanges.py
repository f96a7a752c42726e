"""Exchanges (换货) after the returned goods were received, and the return postage.

received → (replacement chosen, the difference settled both ways: 多退少补)
         → replacement_shipped (carrier + tracking number) → completed.

The two state changes are case transitions through `refunds.services.cases._run` (locks,
expected state, transition permission, deadline, timeline). Choosing the replacement and
recording what the buyer paid are work on the case under the same locks, with their own
timeline rows.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import events
from ..exceptions import ActionNotAllowed, AmountError, PermissionDeniedError
from ..locks import lock_case
from ..models import (
    Case,
    CaseKind,
    CaseState,
    Compensation,
    CompensationKind,
    Exchange,
    Order,
    Payout,
    PayoutKind,
    PayoutState,
)
from ..models.compensation import COUNTED_STATES
from ..permissions import staff_number_of, user_serves_shop
from .cases import _run, normalize_tracking_no
from .money import clean_amount, given_back, refundable_amount
from .payouts import reimbursement_create
from .text import column_text, fits

CHOOSE_STATES = (CaseState.AWAITING_RETURN, CaseState.RETURN_IN_TRANSIT, CaseState.RECEIVED)
ZERO = Decimal("0.00")


def _check(actor: User | None, case: Case, perm: str) -> None:
    if actor is not None and not (actor.has_perm(perm) and user_serves_shop(actor, case.shop_id)):
        raise PermissionDeniedError()


def _check_limit(actor: User | None, amount: Decimal, limit: Decimal, message: str) -> None:
    """Money the shop pays out above `limit` needs a supervisor (approve_over_limit)."""
    if actor is not None and amount > limit and not actor.has_perm("refunds.approve_over_limit"):
        raise PermissionDeniedError(message % {"amount": amount, "limit": limit})


def _returned_value(case: Case, order: Order) -> Decimal:
    """What the returned goods are worth to the buyer: their lines' price less what other
    cases on those lines gave back already (or what the exchange asked, when it names no
    lines), and never more than the buyer still has in the order. Money refunded on the
    goods before (a refund for a defect, then an exchange) was given back already: counted
    again in the difference, the shop would pay it twice (order row locked by the caller)."""
    lines = list(case.lines.all())
    if not lines:
        return min(case.requested_amount, refundable_amount(order))
    price = sum((line.paid_amount for line in lines), ZERO)
    # all of another case's money counts, even when it covered other lines as well: never
    # too much back, and a person may type the value when the split is known
    others = (Case.objects.filter(order=order, lines__in=lines).exclude(pk=case.pk)
              .values("pk").distinct())
    return min(max(price - given_back(others), ZERO), refundable_amount(order))


def _price(value, message: str) -> Decimal:
    if value in (None, ""):
        raise ActionNotAllowed(message)
    if isinstance(value, Decimal) and value == 0:
        return ZERO
    if str(value).strip() in ("0", "0.0", "0.00"):
        return ZERO  # a free replacement (e.g. a missing part sent again)
    return clean_amount(value)


def exchange_choose_replacement(*, case: Case, actor: User | None, title: str, price,
                                sku: str = "", returned_value=None, note: str = "",
                                now: datetime | None = None) -> Exchange:
    """The replacement (item, SKU, price) and the settlement of the difference (多退少补).

    Shop owes (cheaper replacement) → a payout, checked against what is still refundable.
    Buyer owes (dearer one) → recorded as owed; the replacement waits until it is paid.
    Chosen once: a different replacement is a new exchange (reopen or a new case).
    """
    now = now or timezone.now()
    _check(actor, case, "refunds.choose_replacement")
    title = column_text(title, Exchange, "replacement_title",
                        required=_("Say which item replaces the returned one."))
    sku = column_text(sku, Exchange, "replacement_sku")
    replacement_price = _price(price, _("Enter the replacement's price."))
    with transaction.atomic():
        locked, order = lock_case(case.pk)
        if locked.kind != CaseKind.EXCHANGE:
            raise ActionNotAllowed(_("Only an exchange (换货) has a replacement."))
        if locked.state not in CHOOSE_STATES:
            raise ActionNotAllowed(_("The replacement is chosen before it ships (the case is "
                                     "now “%(state)s”).") % {"state": locked.get_state_display()})
        earlier = Exchange.objects.select_for_update().filter(case=locked).first()
        if earlier is not None and not ended_before(earlier):
            raise ActionNotAllowed(_("The replacement has already been chosen."))
        if returned_value in (None, ""):
            value = _returned_value(locked, order)
        else:
            value = _price(returned_value, _("Enter the value of the returned goods."))
            available = refundable_amount(order)
            if value > available:
                raise AmountError(
                    _("The returned goods cannot be worth more than the ¥%(available)s the "
                      "buyer still has in order %(order)s (paid ¥%(paid)s, the rest already "
                      "refunded or committed).")
                    % {"available": available, "order": order.platform_order_id,
                       "paid": order.paid_amount})
        # A case that ended once (its difference cancelled) and came back chooses again: the
        # same row, chosen anew; the first choice and its cancelling stay on the timeline.
        exchange = earlier or Exchange(case=locked)
        exchange.replacement_title = title
        exchange.replacement_sku = sku
        exchange.replacement_price, exchange.returned_value = replacement_price, value
        exchange.chosen_by, exchange.chosen_staff_number = actor, staff_number_of(actor)
        exchange.chosen_at, exchange.payout, exchange.buyer_owes = now, None, ZERO
        difference = exchange.difference
        if difference < 0:  # 多退: the shop pays the buyer back
            _check_limit(actor, -difference, locked.shop.policy.agent_approval_limit, _(
                "The shop would pay back ¥%(amount)s, above your approval limit of "
                "¥%(limit)s: a supervisor must choose this replacement."))
            exchange.payout = reimbursement_create(
                case=locked, order=order, kind=PayoutKind.EXCHANGE_DIFFERENCE,
                amount=-difference, actor=actor, now=now,
                reason=_("Exchange difference: %(item)s") % {"item": title})
        elif difference > 0:  # 少补: the buyer pays the shop
            exchange.buyer_owes = difference
        exchange.save()
        events.note_event(case=locked, actor=actor, note=note or _(
            "Replacement chosen: %(item)s %(sku)s ¥%(price)s (returned goods ¥%(value)s).")
            % {"item": title, "sku": exchange.replacement_sku, "price": replacement_price,
               "value": value})
        if exchange.payout is not None:
            events.payout_event(case=locked, actor=actor, payout=exchange.payout,
                                action="create", at=now)
    return exchange


def ended_before(exchange: Exchange) -> bool:
    """The exchange ended once (closed, refused, refunded) and its difference was cancelled:
    if its case comes back (复核, the buyer's new request), the replacement is chosen again."""
    return exchange.payout_id is not None and exchange.payout.state == PayoutState.CANCELLED


def exchange_buyer_paid(*, case: Case, actor: User, reference: str,
                        now: datetime | None = None) -> Exchange:
    """The buyer paid the difference (补差价): nothing is owed any more."""
    now = now or timezone.now()
    _check(actor, case, "refunds.choose_replacement")
    reference = column_text(reference, Exchange, "buyer_settled_reference",
                            required=_("Enter the reference of the buyer's payment."))
    with transaction.atomic():
        locked, _order = lock_case(case.pk)
        exchange = Exchange.objects.select_for_update().filter(case=locked).first()
        if exchange is None or exchange.buyer_owes <= 0:
            raise ActionNotAllowed(_("The buyer owes nothing on this exchange."))
        if exchange.buyer_settled_at is not None:
            raise ActionNotAllowed(_("The buyer's payment is already recorded."))
        exchange.buyer_settled_at = now
        exchange.buyer_settled_reference = reference
        exchange.buyer_settled_staff_number = staff_number_of(actor)
        exchange.save(update_fields=["buyer_settled_at", "buyer_settled_reference",
                                     "buyer_settled_staff_number"])
        events.note_event(case=locked, actor=actor, note=_(
            "The buyer paid the difference of ¥%(amount)s (%(reference)s).")
            % {"amount": exchange.buyer_owes, "reference": reference})
    return exchange


def case_ship_replacement(*, case: Case, actor: User | None, carrier: str, tracking_no: str,
                          note: str = "", expected_state: str | None = None,
                          now: datetime | None = None) -> Case:
    carrier = (carrier or "").strip()
    tracking_no = normalize_tracking_no(tracking_no)
    if not carrier or not tracking_no:
        raise ActionNotAllowed(_("Enter the replacement's carrier and tracking number."))
    carrier = fits(carrier, Exchange, "carrier")
    tracking_no = fits(tracking_no, Exchange, "tracking_no")
    when = now or timezone.now()

    def prepare(locked: Case, order: Order):
        exchange = Exchange.objects.select_for_update().filter(case=locked).first()
        if exchange is None:
            raise ActionNotAllowed(_("Choose the replacement first."))
        if ended_before(exchange):
            raise ActionNotAllowed(_("This exchange ended once and its price difference was "
                                     "cancelled: choose the replacement again."))
        if exchange.buyer_outstanding > 0:
            raise ActionNotAllowed(_("The buyer still owes ¥%(amount)s: record the payment "
                                     "first.") % {"amount": exchange.buyer_outstanding})
        exchange.carrier, exchange.tracking_no = carrier, tracking_no
        exchange.shipped_at = when
        exchange.save(update_fields=["carrier", "tracking_no", "shipped_at"])
        return [], {"carrier": carrier, "tracking_no": tracking_no}

    return _run(case=case, actor=actor, name="ship_replacement", expected_state=expected_state,
                note=note, prepare=prepare, now=when)


def case_complete_exchange(*, case: Case, actor: User | None, note: str = "",
                           expected_state: str | None = None,
                           now: datetime | None = None) -> Case:
    """The buyer has the replacement; the shop's difference payout (if any) is finance's."""

    def prepare(locked: Case, order: Order):
        exchange = Exchange.objects.filter(case=locked).first()
        if exchange is not None and exchange.buyer_outstanding > 0:
            raise ActionNotAllowed(_("The buyer still owes ¥%(amount)s.")
                                   % {"amount": exchange.buyer_outstanding})
        return [], {}

    return _run(case=case, actor=actor, name="complete_exchange", expected_state=expected_state,
                note=note, prepare=prepare, now=now)


# --- return postage ---------------------------------------------------------------------------

POSTAGE_STATES = (CaseState.RECEIVED, CaseState.REFUND_PENDING, CaseState.REFUND_FAILED,
                  CaseState.REFUNDED, CaseState.REPLACEMENT_SHIPPED, CaseState.COMPLETED)


class PostagePayer:
    SHOP, BUYER, INSURER = "shop", "buyer", "insurer"


def return_postage_payer(case: Case, *, freight_insurance: bool) -> str:
    """Who pays the return postage: freight insurance (运费险) where the buyer had it; the
    shop for the policy's reasons (quality problems, wrong item…); else the buyer."""
    if freight_insurance:
        return PostagePayer.INSURER
    if case.reason in case.shop.policy.postage_reasons():
        return PostagePayer.SHOP
    return PostagePayer.BUYER


def return_postage_settle(*, case: Case, actor: User | None, amount=None,
                          freight_insurance: bool = False, note: str = "",
                          now: datetime | None = None) -> Payout | None:
    """Decide the return postage once the goods are back: when the shop owes it, the buyer's
    postage becomes a reimbursement payout (checked against the money rule); otherwise the
    decision (buyer or insurer pays) is recorded on the timeline. Once per case."""
    now = now or timezone.now()
    _check(actor, case, "refunds.approve_refund")
    with transaction.atomic():
        locked, order = lock_case(case.pk)
        if locked.kind not in (CaseKind.RETURN, CaseKind.EXCHANGE):
            raise ActionNotAllowed(_("Only returned goods have return postage."))
        if locked.state not in POSTAGE_STATES:
            raise ActionNotAllowed(_("Return postage is settled once the goods are back."))
        if postage_settled(locked):
            raise ActionNotAllowed(_("The return postage of this case is already settled."))
        payer = return_postage_payer(locked, freight_insurance=freight_insurance)
        payout = None
        if payer == PostagePayer.SHOP:
            if amount in (None, ""):
                raise ActionNotAllowed(_("Enter the return postage the buyer paid."))
            # what a parcel costs is bounded: above the policy's limit a supervisor approves
            _check_limit(actor, clean_amount(amount), locked.shop.policy.return_postage_limit,
                         _("Return postage of ¥%(amount)s is above your limit of ¥%(limit)s: "
                           "a supervisor must approve it."))
            payout = reimbursement_create(
                case=locked, order=order, kind=PayoutKind.POSTAGE, amount=amount, actor=actor,
                now=now, reason=_("Return postage: %(reason)s")
                % {"reason": locked.get_reason_display()})
            events.payout_event(case=locked, actor=actor, payout=payout, action="postage",
                                note=note, at=now,
                                data={"payer": payer, events.POSTAGE_DECIDED: payer})
        else:
            events.postage_event(case=locked, actor=actor, payer=payer, at=now, note=(
                _("Return postage: paid by the freight insurance (运费险).")
                if payer == PostagePayer.INSURER
                else _("Return postage: paid by the buyer (%(reason)s).")
                % {"reason": locked.get_reason_display()}) + (f" {note}" if note else ""))
    return payout


def postage_settled(case: Case) -> bool:
    """The return postage was decided: a reimbursement, the buyer's or insurer's, or paid as
    a postage compensation (运费补偿) not declined — it is paid once."""
    return (Payout.objects.filter(case=case, kind=PayoutKind.POSTAGE).exists()
            or case.events.filter(data__has_key=events.POSTAGE_DECIDED).exists()
            or Compensation.objects.filter(case=case, kind=CompensationKind.POSTAGE,
                                           state__in=COUNTED_STATES).exists())
