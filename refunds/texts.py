"""Texts the desk writes now for people who read them later — a notification, the note of a
change the nightly sweep made — kept as a code with its parameters, and put into words when
they are read, in the reader's language.

The nightly commands run in LANGUAGE_CODE (English by default); the team reading the queue
in the morning may read Chinese. A text written as finished words would stay in the
writer's language for good. So a writer stores `said(code, **params)` in the row's JSON
`data` (under `TEXT`) besides the words of the moment (the row's message or note: what an
email, the admin or an older version shows), and a page shows `words(row.data, fallback)`.

Parameters are language-neutral: codes (a state, a policy field, a deadline owner), numbers,
ids, and times as ISO strings, shown in the desk's time zone when read.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

TEXT = "text"  # the key of a row's `data` that holds its text as code + parameters

# What the platform did when a deadline passed, by the state the case was in.
CONSEQUENCES = {
    "requested": gettext_lazy(
        "The shop did not decide in time: the platform agreed to the request (auto-agree)."),
    "refused": gettext_lazy(
        "The buyer did not modify the refused request in time: the request is closed."),
    "awaiting_return": gettext_lazy(
        "The buyer did not ship the return in time: the request is closed."),
    "return_in_transit": gettext_lazy(
        "The shop did not confirm receipt of the return in time: the platform refunded the "
        "buyer (auto-refund)."),
    "received": gettext_lazy(
        "The shop did not confirm receipt of the return in time: the platform refunded the "
        "buyer (auto-refund)."),
    "in_dispute": gettext_lazy(
        "The shop did not submit its evidence in time: the platform ruled against the shop "
        "and refunded the buyer."),
}


def said(code: str, **params: Any) -> dict[str, Any]:
    """A text to store: {"code": …, "params": {…}} (`params` JSON-serialisable)."""
    if code not in _RENDERERS:
        raise ValueError(f"unknown text code {code!r}")
    return {"code": code, "params": params}


def words(data: dict[str, Any] | None, fallback: str = "") -> str:
    """The text stored in a row's `data`, in the active language; `fallback` (the words
    stored with the row) when it has none, or one this version cannot put into words."""
    try:
        stored = data.get(TEXT) if isinstance(data, dict) else None
        render = _RENDERERS.get(stored.get("code")) if isinstance(stored, dict) else None
        return render(**stored.get("params", {})) if render else fallback
    except (LookupError, TypeError, ValueError, AttributeError, FieldDoesNotExist):
        return fallback  # a row written by another version: its own words


# --- the texts --------------------------------------------------------------------------------


def _local(iso: str | None) -> str:
    if not iso:
        return "-"
    return timezone.localtime(datetime.fromisoformat(iso)).strftime("%Y-%m-%d %H:%M")


def _label(model_name: str, field: str, value: str) -> str:
    from django.apps import apps

    from .labels import value_label

    return str(value_label(apps.get_model("refunds", model_name), field, value))


def deadline_passed(*, rule: str, value: Any, deadline: str, then: str = "") -> str:
    """Which policy deadline passed ("“days to decide …” (agree_shipped_days = 5) passed at
    …"), and what the platform did then (`then`: the state the case was in)."""
    from .models import Policy

    try:
        label = Policy._meta.get_field(rule).verbose_name if rule else None
    except FieldDoesNotExist:
        label = None
    if label is None or not rule.endswith(("_days", "_hours")):
        text = _("The deadline (%(rule)s) passed at %(deadline)s.") % {
            "rule": rule or _("no rule recorded"), "deadline": _local(deadline)}
    else:
        text = _("The policy deadline “%(label)s” (%(rule)s = %(value)s) passed at "
                 "%(deadline)s.") % {"label": label, "rule": rule, "value": value,
                                     "deadline": _local(deadline)}
    return f"{text} {CONSEQUENCES[then]}" if then else text


def payout_overdue(*, state: str, **passed: Any) -> str:
    if passed.get("rule") == "platform_pay_working_days":
        return _("%(passed)s The refund is not paid yet (%(state)s): Kuaishou escalates an "
                 "unpaid refund to its customer service. Finance must pay now.") % {
            "passed": deadline_passed(**passed), "state": _label("Case", "state", state)}
    return _("%(passed)s The refund is not paid yet (%(state)s); the platform does nothing "
             "here: finance must pay.") % {"passed": deadline_passed(**passed),
                                           "state": _label("Case", "state", state)}


def escalated(**passed: Any) -> str:
    return _("%(passed)s Kuaishou does not agree to a request on its own: it escalates it to "
             "its customer service. The request still needs the shop's decision; decide it "
             "now.") % {"passed": deadline_passed(**passed)}


def photos_requested(*, due: str, note: str = "") -> str:
    text = _("Asked the buyer for photos of the problem, due %(due)s; without them the request "
             "may be refused (凭证不足).") % {"due": _local(due)}
    return f"{text}\n{note}" if note else text


def photos_received(*, note: str = "") -> str:
    text = _("The buyer's photos of the problem were received.")
    return f"{text}\n{note}" if note else text


def photos_missing(*, due: str, order: str) -> str:
    return _("Order %(order)s: the buyer did not send the photos of the problem by %(due)s. The "
             "request may be refused (凭证不足), or the photos asked for again.") % {
        "order": order, "due": _local(due)}


def deadline_warning(*, owner: str, deadline: str, rule: str, state: str, order: str,
                     amount: str) -> str:
    return _(
        "%(owner)s must act by %(deadline)s (%(rule)s). Now: %(state)s, order %(order)s, "
        "¥%(amount)s."
    ) % {"owner": _label("Case", "deadline_owner", owner) if owner else _("Someone"),
         "deadline": _local(deadline), "rule": rule or "-",
         "state": _label("Case", "state", state), "order": order, "amount": amount}


def sweep_failure(*, action: str, reason: str) -> str:
    from .services.sweep import ACTION_LABELS

    return _("The nightly sweep could not apply the platform rule (%(action)s): %(reason)s") % {
        "action": ACTION_LABELS.get(action, action), "reason": reason}


def review_warning(*, id: int, rating: str, order: str, deadline: str, days: int) -> str:
    return _(
        "Review follow-up #%(id)s (%(rating)s, order %(order)s): the buyer can revise the review "
        "only until %(deadline)s (%(days)s days left)."
    ) % {"id": id, "rating": _label("Review", "rating", rating), "order": order,
         "deadline": _local(deadline), "days": days}


def followup_expired() -> str:
    return _("The revision window passed: the review is final.")


def review_revised_on_platform() -> str:
    return _("The platform's export shows the review as positive (好评) now: the buyer "
             "revised it.")


def review_redated(*, posted: str, deadline: str) -> str:
    return _("The platform's review date is %(posted)s: the buyer can revise the review "
             "until %(deadline)s.") % {"posted": _local(posted), "deadline": _local(deadline)}


def paid_by_platform_in_batch(*, payout: int, amount: str, order: str, batch: int) -> str:
    return _("Payout #%(payout)s (¥%(amount)s, order %(order)s) in bank batch #%(batch)s was "
             "refunded by the platform: take it out of the bank file; if the bank has paid it "
             "too, recover the money from the buyer.") % {
        "payout": payout, "amount": amount, "order": order, "batch": batch}


def _complaint(id: int, kind: str, order: str) -> dict[str, Any]:
    return {"id": id, "kind": _label("Complaint", "kind", kind), "order": order}


def complaint_warning(*, id: int, kind: str, order: str, deadline: str, hours: int) -> str:
    return _("Complaint #%(id)s (%(kind)s, order %(order)s): the shop's evidence is due by "
             "%(deadline)s (%(hours)s hours left); without it the platform rules for the "
             "buyer.") % {**_complaint(id, kind, order), "deadline": _local(deadline),
                          "hours": hours}


def complaint_no_evidence(*, deadline: str) -> str:
    return _("The shop did not submit its evidence by %(deadline)s: the platform ruled for "
             "the buyer.") % {"deadline": _local(deadline)}


def complaint_ruled(*, id: int, kind: str, order: str, deadline: str) -> str:
    return _("Complaint #%(id)s (%(kind)s, order %(order)s): no evidence was submitted by "
             "%(deadline)s, so the platform ruled for the buyer.") % {
        **_complaint(id, kind, order), "deadline": _local(deadline)}


def complaint_unrecorded(*, id: int, kind: str, order: str, deadline: str, amount: str,
                         available: str, paid: str) -> str:
    reason = _("¥%(amount)s is more than the ¥%(available)s still refundable on order "
               "%(order)s (paid ¥%(paid)s).") % {"amount": amount, "available": available,
                                                  "order": order, "paid": paid}
    return _("Complaint #%(id)s (%(kind)s, order %(order)s): the evidence deadline "
             "%(deadline)s passed, but the platform's ruling could not be recorded: "
             "%(reason)s Check the order's refunds with the seller centre.") % {
        **_complaint(id, kind, order), "deadline": _local(deadline), "reason": reason}


def stockout_order_shipped() -> str:
    return _("The order import shows the order shipped.")


def stockout_order_closed() -> str:
    return _("The order import shows the order closed on the platform.")


def stockout_refund_reopened(*, case: int, agreed: str = "") -> str:
    if agreed:
        return _("Refund case #%(case)s was reopened for review (复核): the buyer's refund "
                 "stands again, and the shipment agreed for %(day)s is off while it may pay: "
                 "tell the buyer on the case's page.") % {"case": case, "day": agreed}
    return _("Refund case #%(case)s was reopened for review (复核): the buyer's refund stands "
             "again; the goods are not shipped while it may pay.") % {"case": case}


def stockout_due(*, id: int, order: str, deadline: str, told: bool) -> str:
    if told:
        return _("Stock-out #%(id)s (order %(order)s): the platform expects the order shipped "
                 "by %(deadline)s and the buyer's choice is not recorded yet: record it, or "
                 "ask the buyer again.") % {"id": id, "order": order,
                                            "deadline": _local(deadline)}
    return _("Stock-out #%(id)s (order %(order)s): the platform expects the order shipped by "
             "%(deadline)s and nobody has told the buyer yet: tell them now and offer a "
             "choice.") % {"id": id, "order": order, "deadline": _local(deadline)}


def stockout_unpaid(*, id: int, order: str, case: int) -> str:
    return _("Stock-out #%(id)s (order %(order)s): the buyer's refund (case #%(case)s) was "
             "closed without paying them and the goods are still missing: tell the buyer again "
             "and record what they choose now.") % {"id": id, "order": order, "case": case}


def stockout_late(*, id: int, order: str, day: str) -> str:
    return _("Stock-out #%(id)s (order %(order)s): the buyer was promised a shipment by "
             "%(day)s and the order has not shipped: tell the buyer again and agree a new date "
             "or a refund.") % {"id": id, "order": order, "day": day}


def _with_note(text: str, note: str) -> str:
    return f"{text}\n{note}" if note else text


def receipt_extended(*, days: int, confirm_by: str, estimated: bool = False,
                     note: str = "") -> str:
    if estimated:
        text = _("Confirm-receipt window extended by %(days)s days in the seller centre "
                 "(延长收货): the order confirms receipt by itself not before %(confirm_by)s "
                 "(estimated).") % {"days": days, "confirm_by": _local(confirm_by)}
    else:
        text = _("Confirm-receipt window extended by %(days)s days in the seller centre "
                 "(延长收货): the order confirms receipt by itself at %(confirm_by)s.") % {
            "days": days, "confirm_by": _local(confirm_by)}
    return _with_note(text, note)


def receipt_read(*, confirm_by: str, note: str = "") -> str:
    return _with_note(_("Confirm-receipt date read from the seller centre: the order confirms "
                        "receipt by itself at %(confirm_by)s.") % {
        "confirm_by": _local(confirm_by)}, note)


def receipt_due(*, order: str, confirm_by: str, estimated: bool, extensions_left: int,
                passed: bool = False) -> str:
    when = _local(confirm_by)
    if passed and estimated:
        return _("Order %(order)s has an open case and its estimated confirm-receipt date "
                 "(%(when)s, counted from the payment) has passed: the real date is later and "
                 "may be near. Read it in the seller centre now and record it, or extend the "
                 "window.") % {"order": order, "when": when}
    if passed:
        return _("Order %(order)s has an open case and its confirm-receipt date (%(when)s) has "
                 "passed: the platform has probably completed the trade. Check the seller "
                 "centre; if it shows a later date, record that date on the order.") % {
            "order": order, "when": when}
    if extensions_left > 0:
        advice = _("Extend it in the seller centre (延长收货) and record it, or settle the "
                   "case first.")
    else:
        advice = _("The shop may not extend it again: settle the case before then.")
    if estimated:
        return _("Order %(order)s has an open case and may confirm receipt by itself as soon "
                 "as %(when)s (estimated from the payment; read the date in the seller "
                 "centre). %(advice)s") % {"order": order, "when": when, "advice": advice}
    return _("Order %(order)s has an open case and confirms receipt by itself at %(when)s: "
             "the trade then completes. %(advice)s") % {"order": order, "when": when,
                                                        "advice": advice}


def inquiry_due(*, id: int, order: str, deadline: str, state: str) -> str:
    if state == "answered":
        return _("Parcel inquiry #%(id)s (order %(order)s): the carrier answered, and the buyer "
                 "is to be told by %(deadline)s: tell them now.") % {
            "id": id, "order": order, "deadline": _local(deadline)}
    return _("Parcel inquiry #%(id)s (order %(order)s): the buyer is to get an answer by "
             "%(deadline)s and the carrier's answer is not recorded: call the carrier, or "
             "tell the buyer where it stands.") % {
        "id": id, "order": order, "deadline": _local(deadline)}


def inquiry_callback(*, id: int, order: str, deadline: str, carrier_staff: str) -> str:
    return _("Parcel inquiry #%(id)s (order %(order)s): the carrier (%(staff)s) was to call "
             "back by %(deadline)s and no answer is recorded: call them again.") % {
        "id": id, "order": order, "deadline": _local(deadline), "staff": carrier_staff or "—"}


_RENDERERS: dict[str, Callable[..., str]] = {
    "inquiry_due": inquiry_due,
    "inquiry_callback": inquiry_callback,
    "receipt_extended": receipt_extended,
    "receipt_read": receipt_read,
    "receipt_due": receipt_due,
    "stockout_due": stockout_due,
    "stockout_late": stockout_late,
    "stockout_unpaid": stockout_unpaid,
    "stockout_order_shipped": stockout_order_shipped,
    "stockout_order_closed": stockout_order_closed,
    "stockout_refund_reopened": stockout_refund_reopened,
    "complaint_warning": complaint_warning,
    "complaint_ruled": complaint_ruled,
    "complaint_no_evidence": complaint_no_evidence,
    "complaint_unrecorded": complaint_unrecorded,
    "followup_expired": followup_expired,
    "review_revised_on_platform": review_revised_on_platform,
    "review_redated": review_redated,
    "review_warning": review_warning,
    "deadline_passed": deadline_passed,
    "payout_overdue": payout_overdue,
    "escalated": escalated,
    "photos_requested": photos_requested,
    "photos_received": photos_received,
    "photos_missing": photos_missing,
    "deadline_warning": deadline_warning,
    "sweep_failure": sweep_failure,
    "paid_by_platform_in_batch": paid_by_platform_in_batch,
}
