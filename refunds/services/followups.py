"""Every change to a review follow-up (中差评跟进) goes through one of these functions.

Like the case services: one transaction that locks the order and then the follow-up
(refunds.locks), re-checks on the locked row that the state is the one the user saw, that
the transition is allowed and that the actor holds its permission, changes the state through
django-fsm, saves with update_fields and writes the follow-up's timeline row.

A remedy is real: offering one opens a case through `case_create` (refund, return, exchange)
or proposes a compensation through `compensation_propose`, in the same transaction, and the
follow-up links to it. `actor=None` is the nightly sweep (expiry), never a request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_fsm import ConcurrentTransition, can_proceed, has_transition_perm

from .. import events, texts
from ..bulk import insert_many
from ..exceptions import ActionNotAllowed, CaseChanged, DomainError, PermissionDeniedError
from ..fsmlog import batched_state_logs
from ..imports.rows import EARLIEST_YEAR
from ..locks import lock_followup, lock_order, try_lock_followups
from ..models import (
    OPEN_FOLLOWUP_STATES,
    Case,
    CaseReason,
    CompensationKind,
    ComplaintCategory,
    ContactLog,
    FlagColour,
    FollowUpState,
    Order,
    Review,
    ReviewFollowUp,
    ReviewRating,
    Shop,
)
from ..models.followups import CASE_REMEDIES, RemedyKind
from ..permissions import user_serves_shop
from ..selectors import reviews_without_follow_up
from . import contacts
from .cases import case_create
from .compensation import compensation_propose
from .money import clean_amount
from .text import column_text, require_text

Prepare = Callable[[ReviewFollowUp, Order], tuple[list[str], dict[str, Any]]]

# The case reason a remedy case is opened with, by complaint category.
CASE_REASON_FOR_CATEGORY = {
    ComplaintCategory.QUALITY: CaseReason.QUALITY,
    ComplaintCategory.SIZE: CaseReason.SIZE,
}
COMPENSATION_KIND_FOR_REMEDY = {
    RemedyKind.COMPENSATION_COUPON: CompensationKind.COUPON,
    RemedyKind.COMPENSATION_POINTS: CompensationKind.POINTS,
    RemedyKind.COMPENSATION_POSTAGE: CompensationKind.POSTAGE,
}


class FollowUpChanged(CaseChanged):
    default_message = gettext_lazy("This follow-up changed while you were looking at it. "
                        "Reload and try again.")


def action_label(name: str) -> str:
    for transition in getattr(ReviewFollowUp, name)._django_fsm.transitions.values():
        return str(transition.custom.get("label", name))
    return name


def revision_deadline(review: Review, shop: Shop) -> datetime:
    """The review's date plus the shop's revision window (DOMAIN.md: 30 days)."""
    return review.posted_at + timedelta(days=shop.policy.review_revision_days)


def followups_follow_review_date(review: Review) -> int:
    """An import corrected the review's date (评价时间): its open follow-up's revision window
    moves with it, is warned about again, and the timeline says so (as the platform, SYSTEM).
    Returns how many follow-ups moved."""
    moved = 0
    for pk in ReviewFollowUp.objects.filter(review_id=review.pk,
                                            state__in=OPEN_FOLLOWUP_STATES).values_list(
                                                "pk", flat=True):
        with transaction.atomic():
            locked = lock_followup(pk)
            deadline = revision_deadline(review, locked.shop)
            if locked.state not in OPEN_FOLLOWUP_STATES or locked.deadline_at == deadline:
                continue
            before = locked.deadline_at
            locked.deadline_at, locked.warned_deadline_at = deadline, None
            locked.save(update_fields=["deadline_at", "warned_deadline_at", "updated_at"])
            said = texts.said("review_redated", posted=review.posted_at.isoformat(),
                              deadline=deadline.isoformat())
            events.followup_details_event(
                follow_up=locked, actor=None, note=texts.words({texts.TEXT: said}),
                changes={"deadline_at": [before.isoformat(), deadline.isoformat()],
                         texts.TEXT: said})
            moved += 1
    return moved


def followups_follow_review_revised(review: Review) -> int:
    """The platform's export shows the review as 好评 now: the buyer revised it. Its open
    follow-up becomes "revised" (as the platform, SYSTEM), which is what the team worked for.
    Returns how many follow-ups moved."""
    moved = 0
    for pk in ReviewFollowUp.objects.filter(review_id=review.pk,
                                            state__in=OPEN_FOLLOWUP_STATES).values_list(
                                                "pk", flat=True):
        try:
            _run(follow_up=ReviewFollowUp(pk=pk), actor=None, name="mark_revised",
                 expected_state=None, note=texts.review_revised_on_platform(),
                 prepare=lambda locked, order: (
                     [], {texts.TEXT: texts.said("review_revised_on_platform")}))
        except DomainError:  # finished or changed meanwhile: staff see it; nothing to do
            continue
        moved += 1
    return moved


# --- creating follow-ups ----------------------------------------------------------------------


def _create_for_review(review: Review, *, actor: User | None, source: str,
                       category: str = "", now: datetime) -> tuple[ReviewFollowUp, bool]:
    """The review's follow-up, created if it has none: (follow-up, created)."""
    existing = ReviewFollowUp.objects.filter(review_id=review.pk).first()
    if existing is not None:
        return existing, False
    with transaction.atomic():
        order = lock_order(review.order_id)  # one creator at a time per order
        existing = ReviewFollowUp.objects.filter(review_id=review.pk).first()
        if existing is not None:
            return existing, False
        shop = Shop.objects.select_related("policy").get(pk=review.shop_id)
        try:
            with transaction.atomic():  # SQLite has no row lock: the unique review decides
                follow_up = ReviewFollowUp.objects.create(
                    review=review, shop=shop, order=order, buyer_id=order.buyer_id,
                    category=category, deadline_at=revision_deadline(review, shop),
                    created_by=actor, created_at=now,
                )
        except IntegrityError:
            return ReviewFollowUp.objects.get(review_id=review.pk), False
        events.followup_created_event(follow_up=follow_up, actor=actor, source=source, at=now)
    return follow_up, True


def followups_create_for_reviews(reviews: Sequence[Review], *, source: str,
                                 now: datetime | None = None) -> int:
    """The follow-ups of these 中评/差评 (others are passed over) that have none, opened
    together by the system: what `followup_create_for_review` does for one, in one
    transaction with one statement per table — for the import's chunks, the backfill and the
    nightly sweep (one by one, each follow-up cost ~2 ms: 90 % of a review import's time).
    Their orders are locked in pk order first (one creator at a time per order). Returns how
    many were opened. If another creator got in first (the unique review refuses the insert:
    SQLite has no row lock), the group is done again one review at a time."""
    now = now or timezone.now()
    wanted = [review for review in reviews if review.needs_follow_up]
    if not wanted:
        return 0
    with transaction.atomic():
        orders = {order.pk: order for order in Order.objects.select_for_update()
                  .filter(pk__in={review.order_id for review in wanted}).order_by("pk")}
        have = set(ReviewFollowUp.objects.filter(review_id__in=[review.pk for review in wanted])
                   .values_list("review_id", flat=True))
        wanted = [review for review in wanted if review.pk not in have]
        shops = {shop.pk: shop for shop in Shop.objects.select_related("policy")
                 .filter(pk__in={review.shop_id for review in wanted})}
        follow_ups = [ReviewFollowUp(
            review=review, shop=shops[review.shop_id], order=orders[review.order_id],
            buyer_id=orders[review.order_id].buyer_id, category="",
            deadline_at=revision_deadline(review, shops[review.shop_id]), created_by=None,
            created_at=now) for review in wanted]
        try:
            with transaction.atomic():
                ReviewFollowUp.objects.bulk_create(follow_ups)
        except IntegrityError:
            follow_ups = None
        else:
            insert_many([events.build_followup_created_event(
                follow_up=follow_up, actor=None, source=source, at=now)
                for follow_up in follow_ups])
    if follow_ups is None:
        return sum(_create_for_review(review, actor=None, source=source, now=now)[1]
                   for review in wanted)
    return len(follow_ups)


def followup_create_for_review(review: Review, *, actor: User | None = None,
                               source: str = "import",
                               now: datetime | None = None) -> ReviewFollowUp | None:
    """The follow-up of a 中评/差评, created on the first call; None for a 好评.

    Idempotent: the review import, the backfill and the nightly sweep may all call it for the
    same review; the second call returns the existing follow-up and writes nothing.
    """
    if review.rating not in (ReviewRating.NEUTRAL, ReviewRating.BAD):
        return None
    if actor is not None and not (actor.has_perm("refunds.add_reviewfollowup")
                                  and user_serves_shop(actor, review.shop_id)):
        raise PermissionDeniedError()
    follow_up, _created = _create_for_review(review, actor=actor, source=source,
                                             now=now or timezone.now())
    return follow_up


def followups_backfill(*, shop: Shop | None = None, dry_run: bool = False,
                       now: datetime | None = None,
                       on_progress: Callable[[str, int, int], None] | None = None) -> int:
    """Create the follow-ups of 中评/差评 imported before follow-ups existed. Returns how many
    were created (or, in a dry run, would be). Safe to run again: the second run creates none.
    `on_progress(phase, done, total)` after each batch."""
    now = now or timezone.now()
    reviews = reviews_without_follow_up(shop)
    if dry_run:
        return reviews.count()
    created = done = 0
    batches = ReviewBatches(reviews)
    for batch in batches:
        created += followups_create_for_reviews(batch, source="backfill", now=now)
        done += len(batch)
        if on_progress:
            on_progress(_("reviews"), done, batches.total)
    return created


FOLLOW_UP_BATCH = 500  # reviews whose follow-ups are opened in one transaction


class ReviewBatches:
    """The reviews of a queryset in batches of FOLLOW_UP_BATCH, in its order; `total` is how
    many there are. The ids are read first: the queryset (reviews without a follow-up)
    changes as follow-ups open."""

    def __init__(self, reviews):
        self.ids = list(reviews.values_list("pk", flat=True))
        self.total = len(self.ids)

    def __iter__(self) -> Iterator[list[Review]]:
        for start in range(0, self.total, FOLLOW_UP_BATCH):
            chunk = self.ids[start:start + FOLLOW_UP_BATCH]
            found = Review.objects.in_bulk(chunk)
            yield [found[pk] for pk in chunk if pk in found]


def followup_create(*, shop: Shop, order: Order, rating: str, item_title: str, content: str,
                    posted_at: datetime, category: str, actor: User,
                    now: datetime | None = None) -> ReviewFollowUp:
    """By hand: a 中评/差评 seen in the seller centre before the import brought it in.

    The review row is the one the import will later update (same order and item), so the
    import never makes a second follow-up.
    """
    now = now or timezone.now()
    if not (actor.has_perm("refunds.add_reviewfollowup") and user_serves_shop(actor, shop.pk)):
        raise PermissionDeniedError()
    if order.shop_id != shop.pk:
        raise ActionNotAllowed(_("The order does not belong to this shop."))
    if rating not in (ReviewRating.NEUTRAL, ReviewRating.BAD):
        raise ActionNotAllowed(_("Only neutral and negative reviews are followed up."))
    if category and category not in ComplaintCategory.values:
        raise ActionNotAllowed(_("Choose a complaint category."))
    item_title = column_text(item_title, Review, "item_title",
                             required=_("Enter the item the review is about."))
    if posted_at > now:
        raise ActionNotAllowed(_("The review cannot be posted in the future."))
    if posted_at.year < EARLIEST_YEAR:  # year 1 cannot have its revision window worked out
        raise ActionNotAllowed(_("Enter when the review was posted (from %(earliest)s on).")
                               % {"earliest": EARLIEST_YEAR})
    with transaction.atomic():
        lock_order(order.pk)
        review, _created = Review.objects.get_or_create(
            order=order, item_title=item_title,
            defaults={"shop": shop, "buyer_nick": order.buyer.nick, "rating": rating,
                      "content": content.strip(), "posted_at": posted_at},
        )
        existing = ReviewFollowUp.objects.filter(review=review).first()
        if existing is not None:
            raise ActionNotAllowed(_("This review is already followed up: #%(id)s.")
                                   % {"id": existing.pk})
        if review.rating not in (ReviewRating.NEUTRAL, ReviewRating.BAD):
            raise ActionNotAllowed(_("The imported review of this item is positive."))
        follow_up, _is_new = _create_for_review(review, actor=actor, source="manual",
                                                category=category, now=now)
    return follow_up


# --- the one path every transition takes ----------------------------------------------------


def _apply_transition(*, follow_up: ReviewFollowUp, actor: User | None, name: str, note: str,
                      now: datetime, fields: list[str] | tuple[str, ...] = (),
                      data: dict[str, Any] | None = None) -> ReviewFollowUp:
    """Run transition `name` on a locked follow-up, save it and write its timeline row."""
    source = follow_up.state
    getattr(follow_up, name)()
    try:
        follow_up.save(update_fields=sorted({*fields, "state", "updated_at"}))
    except ConcurrentTransition:
        raise FollowUpChanged() from None
    events.followup_transition_event(follow_up=follow_up, actor=actor, transition=name,
                                     from_state=source, note=note, data=data, at=now)
    return follow_up


def _run(*, follow_up: ReviewFollowUp, actor: User | None, name: str,
         expected_state: str | None, note: str = "", prepare: Prepare | None = None,
         now: datetime | None = None) -> ReviewFollowUp:
    now = now or timezone.now()
    with transaction.atomic():
        locked = lock_followup(follow_up.pk)
        if expected_state and locked.state != expected_state:
            raise FollowUpChanged()
        method = getattr(locked, name)
        if not can_proceed(method):
            raise ActionNotAllowed(
                _("“%(action)s” is not possible: the follow-up is now “%(state)s”.")
                % {"action": action_label(name), "state": locked.get_state_display()})
        if actor is not None and not has_transition_perm(method, actor):
            raise PermissionDeniedError()
        fields, data = prepare(locked, locked.order) if prepare else ([], {})
        return _apply_transition(follow_up=locked, actor=actor, name=name, note=note.strip(),
                                 now=now, fields=fields, data=data)


# --- transitions ------------------------------------------------------------------------------


def followup_start_contact(*, follow_up: ReviewFollowUp, actor: User, note: str = "",
                           expected_state: str | None = None,
                           now: datetime | None = None) -> ReviewFollowUp:
    return _run(follow_up=follow_up, actor=actor, name="start_contact",
                expected_state=expected_state, note=note, now=now)


def _remedy_description(follow_up: ReviewFollowUp) -> str:
    return _("Remedy for review follow-up #%(id)s (%(rating)s): %(review)s") % {
        "id": follow_up.pk, "rating": follow_up.review.get_rating_display(),
        "review": Truncator(follow_up.review.content or "—").chars(300)}


def followup_offer_remedy(*, follow_up: ReviewFollowUp, actor: User, remedy: str, amount,
                          note: str = "", expected_state: str | None = None,
                          now: datetime | None = None) -> ReviewFollowUp:
    """Offer the buyer a remedy: open its case, or propose its compensation, and link it.

    A case remedy goes through `case_create` (the money rule, 极速退款 and the case's own
    flow apply); a compensation goes through `compensation_propose` on the follow-up's
    remedy case or else the order's newest case (a compensation always belongs to a case).
    """
    if remedy not in RemedyKind.values:
        raise ActionNotAllowed(_("Choose a remedy."))
    amount = clean_amount(amount)
    now = now or timezone.now()

    def prepare(locked: ReviewFollowUp, order: Order):
        description = _remedy_description(locked)
        if remedy in CASE_REMEDIES:
            case = case_create(
                shop=locked.shop, order=order, kind=remedy,
                reason=CASE_REASON_FOR_CATEGORY.get(locked.category, CaseReason.OTHER),
                requested_amount=amount, actor=actor, description=description,
                source="review_follow_up", now=now,
            )
            locked.remedy_case, locked.remedy_compensation = case, None
            data = {"remedy": remedy, "case_id": case.pk, "amount": str(case.requested_amount)}
        else:
            host = locked.remedy_case or (Case.objects.filter(order=order)
                                          .order_by("-requested_at", "-id").first())
            if host is None:
                raise ActionNotAllowed(_(
                    "A compensation is given on a case, and order %(order)s has none: offer a "
                    "refund, a return or an exchange instead.")
                    % {"order": order.platform_order_id})
            compensation = compensation_propose(
                case=host, actor=actor, kind=COMPENSATION_KIND_FOR_REMEDY[remedy],
                amount=amount, reason=description, note=note, now=now,
            )
            locked.remedy_case, locked.remedy_compensation = host, compensation
            data = {"remedy": remedy, "case_id": host.pk, "compensation_id": compensation.pk,
                    "amount": str(compensation.amount)}
        locked.remedy_kind = remedy
        return ["remedy_kind", "remedy_case", "remedy_compensation"], data

    return _run(follow_up=follow_up, actor=actor, name="offer_remedy",
                expected_state=expected_state, note=note, prepare=prepare, now=now)


def followup_mark_revised(*, follow_up: ReviewFollowUp, actor: User, note: str = "",
                          expected_state: str | None = None,
                          now: datetime | None = None) -> ReviewFollowUp:
    """The buyer revised the review (or the follow-up review, 追评, now reads well)."""
    return _run(follow_up=follow_up, actor=actor, name="mark_revised",
                expected_state=expected_state, note=note, now=now)


def followup_buyer_refuse(*, follow_up: ReviewFollowUp, actor: User, note: str = "",
                          expected_state: str | None = None,
                          now: datetime | None = None) -> ReviewFollowUp:
    return _run(follow_up=follow_up, actor=actor, name="buyer_refuse",
                expected_state=expected_state, note=note, now=now)


def followup_mark_unreachable(*, follow_up: ReviewFollowUp, actor: User, note: str = "",
                              expected_state: str | None = None,
                              now: datetime | None = None) -> ReviewFollowUp:
    """Only after the policy's number of failed attempts (the transition's condition)."""

    def prepare(locked: ReviewFollowUp, order: Order):
        return [], {"failed_attempts": locked.failed_attempts}

    return _run(follow_up=follow_up, actor=actor, name="mark_unreachable",
                expected_state=expected_state, note=note, prepare=prepare, now=now)


def followup_appeal(*, follow_up: ReviewFollowUp, actor: User, evidence: str, note: str = "",
                    expected_state: str | None = None,
                    now: datetime | None = None) -> ReviewFollowUp:
    """恶意评价: appeal to the platform (competitor, extortion); the evidence is required."""
    evidence = require_text(evidence, _("An appeal needs the evidence that the review is "
                                         "malicious."))

    def prepare(locked: ReviewFollowUp, order: Order):
        locked.appeal_evidence = evidence
        return ["appeal_evidence"], {"evidence": evidence}

    return _run(follow_up=follow_up, actor=actor, name="appeal",
                expected_state=expected_state, note=note, prepare=prepare, now=now)


def followup_appeal_won(*, follow_up: ReviewFollowUp, actor: User, note: str = "",
                        expected_state: str | None = None,
                        now: datetime | None = None) -> ReviewFollowUp:
    return _run(follow_up=follow_up, actor=actor, name="appeal_won",
                expected_state=expected_state, note=note, now=now)


def followup_appeal_lost(*, follow_up: ReviewFollowUp, actor: User, note: str = "",
                         expected_state: str | None = None,
                         now: datetime | None = None) -> ReviewFollowUp:
    return _run(follow_up=follow_up, actor=actor, name="appeal_lost",
                expected_state=expected_state, note=note, now=now)


def followup_close(*, follow_up: ReviewFollowUp, actor: User, note: str = "",
                   expected_state: str | None = None,
                   now: datetime | None = None) -> ReviewFollowUp:
    return _run(follow_up=follow_up, actor=actor, name="close",
                expected_state=expected_state, note=note, now=now)


def followup_expire(*, follow_up: ReviewFollowUp, expected_state: str | None = None,
                    now: datetime | None = None) -> ReviewFollowUp:
    """The revision window passed: the review is final. Only the nightly sweep calls this."""
    now = now or timezone.now()

    def prepare(locked: ReviewFollowUp, order: Order):
        if locked.deadline_at > now:
            raise ActionNotAllowed(_("The revision window has not passed yet."))
        return [], {"deadline_at": locked.deadline_at.isoformat(),
                    texts.TEXT: texts.said("followup_expired")}

    return _run(follow_up=follow_up, actor=None, name="expire", expected_state=expected_state,
                note=texts.followup_expired(), prepare=prepare, now=now)


def followups_expire(follow_up_ids: Sequence[int], *, now: datetime | None = None) -> int:
    """`followup_expire` for a group of the nightly review sweep, in one transaction: the
    follow-ups (and their orders) locked without waiting — one somebody holds is left for
    the next run — each re-checked on the locked row (still open, its window passed) and run
    through its own django-fsm transition; then one UPDATE per state before, guarded by that
    state, and one insert of their timeline rows. Returns how many expired. Raises
    FollowUpChanged (nothing written) if a row changed under the UPDATE: the caller does the
    group again one by one."""
    now = now or timezone.now()
    stamp = timezone.now()  # updated_at, as save() sets it
    note = texts.followup_expired().strip()
    position = {pk: n for n, pk in enumerate(follow_up_ids)}
    with transaction.atomic(), batched_state_logs():  # django-fsm-log's rows: one insert
        locked = try_lock_followups(list(follow_up_ids))
        by_source: dict[str, list[ReviewFollowUp]] = {}
        for follow_up in locked.values():
            if follow_up.state not in OPEN_FOLLOWUP_STATES or follow_up.deadline_at >= now:
                continue  # moved on, or its window moved, since it was selected
            source = follow_up.state
            follow_up.expire()
            by_source.setdefault(source, []).append(follow_up)
        rows = []
        for source, group in by_source.items():
            changed = ReviewFollowUp.objects.filter(
                pk__in=[follow_up.pk for follow_up in group], state=source,
            ).update(state=FollowUpState.EXPIRED, updated_at=stamp)
            if changed != len(group):
                raise FollowUpChanged()
            rows += [events.build_followup_transition_event(
                follow_up=follow_up, actor=None, transition="expire", from_state=source,
                note=note, at=now,
                data={"deadline_at": follow_up.deadline_at.isoformat(),
                      texts.TEXT: texts.said("followup_expired")}) for follow_up in group]
        insert_many(sorted(rows, key=lambda row: position[row.follow_up_id]))  # sweep order
    return len(rows)


# --- work that does not change the state --------------------------------------------------


def _check_can_work(follow_up: ReviewFollowUp, actor: User, perm: str) -> None:
    if not (actor.has_perm(perm) and user_serves_shop(actor, follow_up.shop_id)):
        raise PermissionDeniedError()


def followup_contact_log_create(*, follow_up: ReviewFollowUp, actor: User, channel: str,
                                outcome: str, note: str = "", override: bool = False,
                                override_reason: str = "",
                                now: datetime | None = None) -> ContactLog:
    """Log a contact attempt on a follow-up (through the harassment guard).

    An attempt that did not reach the buyer counts towards "unreachable"; the first contact
    of a new follow-up moves it to "contacting".
    """
    now = now or timezone.now()
    _check_can_work(follow_up, actor, "refunds.log_contact")
    with transaction.atomic():
        locked = lock_followup(follow_up.pk)
        contact = contacts.contact_log_record(
            shop=locked.shop, buyer=locked.buyer, follow_up=locked, actor=actor,
            channel=channel, outcome=outcome, note=note, override=override,
            override_reason=override_reason, now=now,
        )
        events.followup_contact_event(follow_up=locked, contact=contact)
        if outcome in contacts.FAILED_OUTCOMES:
            locked.failed_attempts += 1
            locked.save(update_fields=["failed_attempts", "updated_at"])
        if (locked.state == FollowUpState.NEW and can_proceed(locked.start_contact)
                and has_transition_perm(locked.start_contact, actor)):
            _apply_transition(follow_up=locked, actor=actor, name="start_contact",
                              note=_("First contact logged."), now=now)
    return contact


def followup_assign(*, follow_up: ReviewFollowUp, actor: User, assignee: User | None,
                    expected_assignee_id: int | None | str = "any") -> ReviewFollowUp:
    """Assign (supervisor) or claim (assignee is the actor) a follow-up; a claim never takes a
    follow-up away from a colleague."""
    claiming = assignee is not None and assignee.pk == actor.pk
    _check_can_work(follow_up, actor,
                    "refunds.work_followup" if claiming else "refunds.assign_followup")
    if assignee is not None and not (assignee.is_active
                                     and user_serves_shop(assignee, follow_up.shop_id)):
        raise ActionNotAllowed(_("%(user)s does not serve this shop.")
                               % {"user": assignee.get_username()})
    with transaction.atomic():
        locked = lock_followup(follow_up.pk)
        if expected_assignee_id != "any" and locked.assignee_id != expected_assignee_id:
            raise FollowUpChanged()
        previous = locked.assignee
        if (claiming and previous is not None and previous.pk != actor.pk
                and not actor.has_perm("refunds.assign_followup")):
            raise ActionNotAllowed(_("This follow-up is already being handled by %(user)s.")
                                   % {"user": previous.get_username()})
        if previous == assignee:
            return locked
        locked.assignee = assignee
        locked.save(update_fields=["assignee", "updated_at"])
        events.followup_assigned_event(follow_up=locked, actor=actor, assignee=assignee,
                                       previous=previous)
    return locked


def followup_update_details(*, follow_up: ReviewFollowUp, actor: User, category: str,
                            flag: str) -> ReviewFollowUp:
    """Classify the complaint (quality, size, …) and set the order flag."""
    _check_can_work(follow_up, actor, "refunds.work_followup")
    if category not in ComplaintCategory.values or flag not in FlagColour.values:
        raise ActionNotAllowed(_("Choose a complaint category and a flag."))
    with transaction.atomic():
        locked = lock_followup(follow_up.pk)
        changes = {name: [getattr(locked, name), value]
                   for name, value in (("category", category), ("flag", flag))
                   if getattr(locked, name) != value}
        if not changes:
            return locked
        for name, (_old, value) in changes.items():
            setattr(locked, name, value)
        locked.save(update_fields=[*changes, "updated_at"])
        events.followup_details_event(follow_up=locked, actor=actor, changes=changes)
    return locked
