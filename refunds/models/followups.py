"""Follow-ups of neutral and negative reviews (中差评处理) and their state machine.

One follow-up per 中评/差评: understand why, reach the buyer, offer a remedy, ask for a
revision within the platform's window. Transitions only change the state and say whether
they may run; `refunds.services.followups` locks, saves and writes the timeline around them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from ..permissions import user_serves_shop
from .timeline import TimelineEvent


class ComplaintCategory(models.TextChoices):
    QUALITY = "quality", _("Quality (质量)")
    SIZE = "size", _("Size (尺码)")
    LOGISTICS = "logistics", _("Logistics (物流)")
    SERVICE = "service", _("Service (服务)")
    PRICE = "price", _("Price (价格)")
    OTHER = "other", _("Other (其他)")


class FlagColour(models.TextChoices):
    """The seller centre's order flags (旗帜); a review follow-up is flagged purple."""

    NONE = "", _("No flag")
    RED = "red", _("Red")
    YELLOW = "yellow", _("Yellow")
    GREEN = "green", _("Green")
    BLUE = "blue", _("Blue")
    PURPLE = "purple", _("Purple")


class FollowUpState(models.TextChoices):
    NEW = "new", _("New")
    CONTACTING = "contacting", _("Contacting the buyer")
    REMEDY_OFFERED = "remedy_offered", _("Remedy offered")
    REVISED = "revised", _("Revised by the buyer")
    BUYER_REFUSED = "buyer_refused", _("Buyer refused")
    UNREACHABLE = "unreachable", _("Buyer unreachable")
    APPEALED = "appealed", _("Appealed as malicious (恶意评价)")
    APPEAL_WON = "appeal_won", _("Appeal won")
    APPEAL_LOST = "appeal_lost", _("Appeal lost")
    EXPIRED = "expired", _("Revision window passed")
    CLOSED = "closed", _("Closed")


# Still being worked inside the revision window: what the queue puts first and the sweep expires.
OPEN_FOLLOWUP_STATES = [FollowUpState.NEW, FollowUpState.CONTACTING,
                        FollowUpState.REMEDY_OFFERED]
# An outcome is known; closing files it away.
OUTCOME_STATES = [FollowUpState.REVISED, FollowUpState.BUYER_REFUSED, FollowUpState.UNREACHABLE,
                  FollowUpState.APPEAL_WON, FollowUpState.APPEAL_LOST, FollowUpState.EXPIRED]


class RemedyKind(models.TextChoices):
    """What the shop offers: a case of the usual flows, or a compensation on a case."""

    REFUND_ONLY = "refund_only", _("Partial or full refund, item kept (仅退款)")
    RETURN = "return", _("Free return and refund (退货退款)")
    EXCHANGE = "exchange", _("Free exchange (换货)")
    COMPENSATION_COUPON = "coupon", _("Compensation: coupon or gift (优惠券/赠品)")
    COMPENSATION_POINTS = "points", _("Compensation: points (积分)")
    COMPENSATION_POSTAGE = "postage", _("Compensation: postage (运费补偿)")


CASE_REMEDIES = frozenset({RemedyKind.REFUND_ONLY, RemedyKind.RETURN, RemedyKind.EXCHANGE})


# --- transition permissions: role permission + the user serves the follow-up's shop ------


def _role(codename: str):
    def check(follow_up: ReviewFollowUp, user) -> bool:
        return user.has_perm(f"refunds.{codename}") and user_serves_shop(user, follow_up.shop_id)

    check.__name__ = f"can_{codename}"
    return check


can_work = _role("work_followup")
can_appeal = _role("appeal_review")


def platform_only(follow_up: ReviewFollowUp, user) -> bool:
    """Only the nightly sweep (actor=None) lets a revision window pass."""
    return False


# --- transition conditions (side-effect free) ---------------------------------------------


def enough_failed_attempts(follow_up: ReviewFollowUp) -> bool:
    """Unreachable only after the policy's number of failed contact attempts."""
    return follow_up.failed_attempts >= follow_up.shop.policy.review_unreachable_attempts


class ReviewFollowUp(ConcurrentTransitionMixin, models.Model):
    """The follow-up of one neutral or negative review (中差评跟进)."""

    review = models.OneToOneField("refunds.Review", on_delete=models.PROTECT,
                                  related_name="follow_up", verbose_name=_("review"))
    shop = models.ForeignKey("refunds.Shop", on_delete=models.PROTECT,
                             related_name="review_follow_ups", verbose_name=_("shop"))
    order = models.ForeignKey("refunds.Order", on_delete=models.PROTECT,
                              related_name="review_follow_ups", verbose_name=_("order"))
    buyer = models.ForeignKey("refunds.Buyer", on_delete=models.PROTECT,
                              related_name="review_follow_ups", verbose_name=_("buyer"))
    category = models.CharField(_("complaint category"), max_length=12, blank=True,
                                choices=ComplaintCategory.choices,
                                help_text=_("Why the buyer is unhappy; empty until known."))
    flag = models.CharField(_("flag"), max_length=8, blank=True, choices=FlagColour.choices,
                            default=FlagColour.PURPLE)
    state = FSMField(_("state"), max_length=20, choices=FollowUpState.choices,
                     default=FollowUpState.NEW, protected=True)
    deadline_at = models.DateTimeField(
        _("revision deadline"),
        help_text=_("The review's date plus the shop's revision window: after it the review "
                    "is final."),
    )
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                 null=True, blank=True, related_name="assigned_follow_ups",
                                 verbose_name=_("assignee"))
    failed_attempts = models.PositiveSmallIntegerField(
        _("failed contact attempts"), default=0, editable=False,
        help_text=_("Contacts logged on this follow-up that did not reach the buyer."),
    )
    remedy_kind = models.CharField(_("remedy"), max_length=12, blank=True,
                                   choices=RemedyKind.choices)
    remedy_case = models.ForeignKey("refunds.Case", on_delete=models.PROTECT, null=True,
                                    blank=True, related_name="review_follow_ups",
                                    verbose_name=_("remedy case"))
    remedy_compensation = models.ForeignKey(
        "refunds.Compensation", on_delete=models.PROTECT, null=True, blank=True,
        related_name="review_follow_ups", verbose_name=_("remedy compensation"),
    )
    appeal_evidence = models.TextField(
        _("appeal evidence"), blank=True,
        help_text=_("Why the review is malicious (competitor, extortion) and what proves it."),
    )
    warned_deadline_at = models.DateTimeField(
        _("warned for deadline"), null=True, blank=True, editable=False,
        help_text=_("The deadline the last warning was sent for (the sweep warns once)."),
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   null=True, blank=True, related_name="+",
                                   verbose_name=_("created by"))
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("review follow-up")
        verbose_name_plural = _("review follow-ups")
        ordering = ["deadline_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(state=FollowUpState.APPEALED) | ~Q(appeal_evidence=""),
                name="followup_appeal_has_evidence",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "deadline_at"], name="followup_state_deadline_idx"),
            models.Index(fields=["shop", "state", "deadline_at"], name="followup_shop_state_idx"),
            models.Index(fields=["assignee", "state"], name="followup_assignee_state_idx"),
        ]
        permissions = [
            ("work_followup", _("Can work review follow-ups (contact, remedy, outcome)")),
            ("appeal_review", _("Can appeal malicious reviews and record the ruling")),
            ("assign_followup", _("Can assign review follow-ups to colleagues")),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.review.get_rating_display()} {self.order.platform_order_id}"

    def get_absolute_url(self) -> str:
        return reverse("refunds:followup_detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_FOLLOWUP_STATES

    # --- transitions ---------------------------------------------------------------------

    @transition(field=state, source=FollowUpState.NEW, target=FollowUpState.CONTACTING,
                permission=can_work, custom={"label": _("Start contacting")})
    def start_contact(self):
        pass

    @transition(field=state, source=[FollowUpState.CONTACTING, FollowUpState.REMEDY_OFFERED],
                target=FollowUpState.REMEDY_OFFERED, permission=can_work,
                custom={"label": _("Offer a remedy")})
    def offer_remedy(self):
        pass

    @transition(field=state, source=OPEN_FOLLOWUP_STATES, target=FollowUpState.REVISED,
                permission=can_work, custom={"label": _("Mark revised")})
    def mark_revised(self):
        pass

    @transition(field=state, source=[FollowUpState.CONTACTING, FollowUpState.REMEDY_OFFERED],
                target=FollowUpState.BUYER_REFUSED, permission=can_work,
                custom={"label": _("Buyer refused")})
    def buyer_refuse(self):
        pass

    @transition(field=state, source=[FollowUpState.CONTACTING, FollowUpState.REMEDY_OFFERED],
                target=FollowUpState.UNREACHABLE, conditions=[enough_failed_attempts],
                permission=can_work, custom={"label": _("Mark unreachable")})
    def mark_unreachable(self):
        pass

    @transition(field=state,
                source=[*OPEN_FOLLOWUP_STATES, FollowUpState.BUYER_REFUSED,
                        FollowUpState.UNREACHABLE],
                target=FollowUpState.APPEALED,
                permission=can_appeal, custom={"label": _("Appeal as malicious")})
    def appeal(self):
        pass

    @transition(field=state, source=FollowUpState.APPEALED, target=FollowUpState.APPEAL_WON,
                permission=can_appeal, custom={"label": _("Appeal won")})
    def appeal_won(self):
        pass

    @transition(field=state, source=FollowUpState.APPEALED, target=FollowUpState.APPEAL_LOST,
                permission=can_appeal, custom={"label": _("Appeal lost")})
    def appeal_lost(self):
        pass

    @transition(field=state, source=OPEN_FOLLOWUP_STATES, target=FollowUpState.EXPIRED,
                permission=platform_only, custom={"label": _("Revision window passed")})
    def expire(self):
        pass

    @transition(field=state, source=OUTCOME_STATES, target=FollowUpState.CLOSED,
                permission=can_work, custom={"label": _("Close")})
    def close(self):
        pass


class FollowUpEventKind(models.TextChoices):
    CREATED = "created", _("Created")
    TRANSITION = "transition", _("State change")
    CONTACT = "contact", _("Contact")
    ASSIGNED = "assigned", _("Assigned")
    DETAILS = "details", _("Details changed")


class FollowUpEvent(TimelineEvent):
    """The follow-up timeline, like CaseEvent: written by `refunds.events`, never edited."""

    follow_up = models.ForeignKey(ReviewFollowUp, on_delete=models.PROTECT,
                                  related_name="events", verbose_name=_("follow-up"))
    kind = models.CharField(_("kind"), max_length=12, choices=FollowUpEventKind.choices)
    from_state = models.CharField(_("from"), max_length=20, blank=True)
    to_state = models.CharField(_("to"), max_length=20, blank=True)

    class Meta(TimelineEvent.Meta):
        verbose_name = _("follow-up event")
        verbose_name_plural = _("follow-up events")
        indexes = [models.Index(fields=["follow_up", "created_at"],
                                name="followupevent_time_idx")]
