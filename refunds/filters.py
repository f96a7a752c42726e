from datetime import timedelta

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import F, Q
from django.db.models.functions import TruncDate
from django.db.models.lookups import GreaterThanOrEqual, LessThanOrEqual
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .models import (
    OPEN_FOLLOWUP_STATES,
    CaseKind,
    CaseReason,
    CaseState,
    ClaimKind,
    ClaimState,
    ComplaintCategory,
    ComplaintKind,
    ComplaintState,
    FollowUpState,
    InquiryKind,
    InquiryState,
    ReviewRating,
    StockOutRemedy,
    StockOutState,
    refund_closed_unpaid_q,
)
from .selectors import (
    NICK_FRAGMENT_CAP,
    PHOTOS_AWAITED,
    PHOTOS_LATE,
    due_filter,
    photos_filter,
    search_cases,
    shops_for_user,
)
from .services.cases import normalize_tracking_no
from .timezones import CHINA


def too_broad_notice(term: str, cap: int) -> str:
    """What a search says when its term is part of too many nicks (queue and admin)."""
    return _("More than %(count)s buyers' nicks contain “%(term)s”: type more of the nick, "
             "or search by order id, refund id or tracking number.") % {
        "count": cap, "term": term.strip()}


class StableOrderingFilter(django_filters.OrderingFilter):
    """A sort the user picks, then the id in the same direction: cases with the same amount
    or time keep one order, so going from page to page neither repeats nor skips any."""

    def filter(self, qs, value):
        qs = super().filter(qs, value)
        if not value:
            return qs
        ordering = [str(field) for field in qs.query.order_by]
        descending = bool(ordering) and ordering[-1].startswith("-")
        return qs.order_by(*ordering, "-id" if descending else "id")


class QueueFilters:
    """The filter bar above a queue (templates/refunds/partials/queue_filters.html): each
    field in the Bootstrap columns `columns` gives it, in that order."""

    columns: dict[str, str] = {}

    @property
    def layout(self) -> list[tuple]:
        return [(self.form[name], css) for name, css in self.columns.items()]


class CaseFilter(QueueFilters, django_filters.FilterSet):
    q = django_filters.CharFilter(
        label=_("Search"), method="filter_search",
        help_text=_("Order id, refund id, tracking number, mobile's last 4 digits, or all or "
                    "part of the buyer's nick"),
    )
    # distinct=False: a column of the case itself cannot repeat a row, and the DISTINCT that
    # django-filter adds by default made PostgreSQL join and sort every matching case before
    # the page's LIMIT (152 ms for two states at full size; docs/PERFORMANCE.md)
    state = django_filters.MultipleChoiceFilter(label=_("State"), choices=CaseState.choices,
                                                distinct=False)
    kind = django_filters.ChoiceFilter(label=_("Kind"), choices=CaseKind.choices)
    shop = django_filters.ModelChoiceFilter(label=_("Shop"), queryset=None)
    reason = django_filters.ChoiceFilter(label=_("Reason"), choices=CaseReason.choices)
    assignee = django_filters.ModelChoiceFilter(label=_("Assignee"), queryset=None)
    due = django_filters.ChoiceFilter(
        label=_("Deadline"), method="filter_due",
        choices=[("overdue", _("Overdue")), ("24h", _("Due within 24h"))],
    )
    photos = django_filters.ChoiceFilter(
        label=_("Quality photos"), method="filter_photos",
        choices=[(PHOTOS_AWAITED, _("Awaited")), (PHOTOS_LATE, _("Not received in time"))],
    )
    mine = django_filters.BooleanFilter(label=_("My cases"), method="filter_mine",
                                        widget=django_filters.widgets.BooleanWidget())
    sort = StableOrderingFilter(
        label=_("Sort"),
        fields=(("deadline_at", "deadline"), ("requested_at", "requested"),
                ("requested_amount", "amount")),
        field_labels={"deadline_at": _("Deadline"),
                      "requested_at": pgettext_lazy("sort by date", "Requested"),
                      "requested_amount": _("Amount")},
    )

    columns = {"q": "col-12 col-lg-2", "state": "col-6 col-lg-2", "kind": "col-6 col-lg-1",
               "shop": "col-6 col-lg-1", "reason": "col-6 col-lg-1",
               "assignee": "col-6 col-lg-1", "due": "col-6 col-lg-1",
               "photos": "col-6 col-lg-1", "mine": "col-6 col-lg-1", "sort": "col-6 col-lg-1"}

    def __init__(self, *args, request, **kwargs):
        super().__init__(*args, request=request, **kwargs)
        shops = shops_for_user(request.user).select_related(None)  # the names only
        self.filters["shop"].queryset = shops
        self.filters["assignee"].queryset = (
            get_user_model().objects.filter(staff_profile__shops__in=shops).distinct()
            .order_by("username")
        )

    # set by the search when the term was too common a part of a nick to search by
    search_notice = ""

    def filter_queryset(self, queryset):
        """Every other filter first, the search last: whether the term matches something
        exactly is asked of the cases the other filters leave (shop, state…), not of the
        whole queue — else an exact hit elsewhere would hide the nick-fragment matches."""
        data = dict(self.form.cleaned_data)
        term = data.pop("q", None)
        for name, value in data.items():
            queryset = self.filters[name].filter(queryset, value)
        return self.filters["q"].filter(queryset, term)

    def filter_search(self, queryset, name, value):
        queryset, too_broad = search_cases(queryset, value, self.request.user,
                                           fragment_cap=NICK_FRAGMENT_CAP)
        if too_broad:
            self.search_notice = too_broad_notice(value, NICK_FRAGMENT_CAP)
        return queryset

    def filter_due(self, queryset, name, value):
        return queryset.filter(due_filter(value))

    def filter_photos(self, queryset, name, value):
        return queryset.filter(photos_filter(value))

    def filter_mine(self, queryset, name, value):
        if value:
            return queryset.filter(assignee=self.request.user)
        return queryset

    @property
    def qs(self):
        queryset = super().qs
        if not getattr(self.form, "cleaned_data", {}).get("sort"):
            # Default: the most urgent first; cases without a deadline (finished) last.
            queryset = queryset.order_by(F("deadline_at").asc(nulls_last=True), "id")
        return queryset


class FollowUpFilter(QueueFilters, django_filters.FilterSet):
    """The review follow-up queue: state, category, shop, assignee, days left."""

    state = django_filters.MultipleChoiceFilter(label=_("State"), choices=FollowUpState.choices,
                                                distinct=False)  # as CaseFilter.state
    category = django_filters.ChoiceFilter(label=_("Category"),
                                           choices=ComplaintCategory.choices)
    rating = django_filters.ChoiceFilter(
        label=_("Rating"), field_name="review__rating",
        choices=[(ReviewRating.BAD, ReviewRating.BAD.label),
                 (ReviewRating.NEUTRAL, ReviewRating.NEUTRAL.label)])
    shop = django_filters.ModelChoiceFilter(label=_("Shop"), queryset=None)
    assignee = django_filters.ModelChoiceFilter(label=_("Assignee"), queryset=None)
    days_left = django_filters.NumberFilter(
        label=_("Days left at most"), method="filter_days_left", min_value=0, max_value=3650,
        help_text=_("Open follow-ups whose revision window closes within this many days."),
    )
    mine = django_filters.BooleanFilter(label=_("Mine"), method="filter_mine",
                                        widget=django_filters.widgets.BooleanWidget())

    columns = {"state": "col-6 col-lg-2", "category": "col-6 col-lg-2",
               "rating": "col-6 col-lg-1", "shop": "col-6 col-lg-2",
               "assignee": "col-6 col-lg-2", "days_left": "col-6 col-lg-2",
               "mine": "col-6 col-lg-1"}

    def __init__(self, *args, request, **kwargs):
        super().__init__(*args, request=request, **kwargs)
        shops = shops_for_user(request.user)
        self.filters["shop"].queryset = shops
        self.filters["assignee"].queryset = (
            get_user_model().objects.filter(staff_profile__shops__in=shops).distinct()
            .order_by("username")
        )

    def filter_days_left(self, queryset, name, value):
        if value is None:
            return queryset
        until = timezone.now() + timedelta(days=int(value) + 1)
        return queryset.filter(state__in=OPEN_FOLLOWUP_STATES, deadline_at__lt=until)

    def filter_mine(self, queryset, name, value):
        if value:
            return queryset.filter(assignee=self.request.user)
        return queryset


def search_term(value: str | None) -> str:
    """A register's search box, as a spreadsheet's cell may hold an id: '="3900…"' is 3900…."""
    return (value or "").strip().removeprefix('="').removesuffix('"')


class RegisterFilters(QueueFilters):
    """The registers' filters (claims, complaints, stock-outs): a shop choice limited to the
    user's shops (their names only)."""

    def __init__(self, *args, request, **kwargs):
        super().__init__(*args, request=request, **kwargs)
        self.filters["shop"].queryset = shops_for_user(request.user).select_related(None)


class ClaimFilter(RegisterFilters, django_filters.FilterSet):
    """The damage register (报损登记): search, state, kind, shop, report dates."""

    q = django_filters.CharFilter(label=_("Search"), method="filter_search",
                                  help_text=_("Tracking number or order id"))
    state = django_filters.MultipleChoiceFilter(label=_("State"), choices=ClaimState.choices,
                                                distinct=False)
    kind = django_filters.ChoiceFilter(label=_("Damaged or lost"), choices=ClaimKind.choices)
    shop = django_filters.ModelChoiceFilter(label=_("Shop"), queryset=None)
    reported_from = django_filters.DateFilter(
        label=_("Reported from"), field_name="reported_on", lookup_expr="gte",
        widget=forms.DateInput(attrs={"type": "date"}))
    reported_until = django_filters.DateFilter(
        label=_("Reported until"), field_name="reported_on", lookup_expr="lte",
        widget=forms.DateInput(attrs={"type": "date"}))

    columns = {"q": "col-12 col-lg-3", "state": "col-6 col-lg-2", "kind": "col-6 col-lg-2",
               "shop": "col-6 col-lg-1", "reported_from": "col-6 col-lg-2",
               "reported_until": "col-6 col-lg-2"}

    def filter_search(self, queryset, name, value):
        term = search_term(value)
        if not term:
            return queryset
        # the waybill as claims store it (and the warehouse reads it): "No: sf 12" is SF12
        return queryset.filter(Q(tracking_no=normalize_tracking_no(term))
                               | Q(order__platform_order_id=term))


class ComplaintFilter(RegisterFilters, django_filters.FilterSet):
    """The complaints (维权/投诉): search, state, kind, shop, deadline."""

    q = django_filters.CharFilter(label=_("Search"), method="filter_search",
                                  help_text=_("Order id, complaint number or buyer nick"))
    state = django_filters.MultipleChoiceFilter(label=_("State"),
                                                choices=ComplaintState.choices, distinct=False)
    kind = django_filters.ChoiceFilter(label=pgettext_lazy("complaint", "Kind"),
                                       choices=ComplaintKind.choices)
    shop = django_filters.ModelChoiceFilter(label=_("Shop"), queryset=None)
    due = django_filters.ChoiceFilter(
        label=_("Evidence"), method="filter_due",
        choices=[("overdue", _("Overdue")), ("24h", _("Due within 24h"))])

    columns = {"q": "col-12 col-lg-3", "state": "col-6 col-lg-3", "kind": "col-6 col-lg-2",
               "shop": "col-6 col-lg-2", "due": "col-6 col-lg-2"}

    def filter_search(self, queryset, name, value):
        term = search_term(value)
        if not term:
            return queryset
        return queryset.filter(Q(order__platform_order_id=term) | Q(platform_reference=term)
                               | Q(order__buyer__nick=term))

    def filter_due(self, queryset, name, value):
        now = timezone.now()
        awaited = queryset.filter(state=ComplaintState.OPEN)
        if value == "overdue":
            return awaited.filter(evidence_due_at__lt=now)
        if value == "24h":
            return awaited.filter(evidence_due_at__gte=now,
                                  evidence_due_at__lt=now + timedelta(hours=24))
        return queryset


def _china_day(field: str) -> TruncDate:
    """The China day of a moment, compared in the database with the date given: no moment
    is built from the date, so the first or last day a date field takes is no overflow."""
    return TruncDate(field, tzinfo=CHINA)


class StockOutFilter(RegisterFilters, django_filters.FilterSet):
    """The stock-outs (缺货): search, state, the buyer's choice, shop, report dates (China
    days, as the warehouse counts them)."""

    q = django_filters.CharFilter(label=_("Search"), method="filter_search",
                                  help_text=_("Order id, buyer nick, or part of the item"))
    state = django_filters.MultipleChoiceFilter(label=_("State"), choices=StockOutState.choices,
                                                distinct=False)
    remedy = django_filters.ChoiceFilter(label=_("The buyer"), choices=StockOutRemedy.choices)
    shop = django_filters.ModelChoiceFilter(label=_("Shop"), queryset=None)
    reported_from = django_filters.DateFilter(
        label=_("Reported from"), method="filter_reported_from",
        widget=forms.DateInput(attrs={"type": "date"}))
    reported_until = django_filters.DateFilter(
        label=_("Reported until"), method="filter_reported_until",
        widget=forms.DateInput(attrs={"type": "date"}))
    refund_closed = django_filters.BooleanFilter(
        label=_("Refund closed unpaid"), method="filter_refund_closed",
        widget=forms.CheckboxInput,
        help_text=_("The buyer took a refund, its case closed without paying them"))

    columns = {"q": "col-12 col-lg-3", "state": "col-6 col-lg-2", "remedy": "col-6 col-lg-2",
               "shop": "col-6 col-lg-1", "reported_from": "col-6 col-lg-2",
               "reported_until": "col-6 col-lg-2", "refund_closed": "col-6 col-lg-2"}

    def filter_search(self, queryset, name, value):
        term = search_term(value)
        if not term:
            return queryset
        return queryset.filter(Q(order__platform_order_id=term) | Q(order__buyer__nick=term)
                               | Q(line__title__icontains=term))

    def filter_reported_from(self, queryset, name, value):
        return queryset.filter(GreaterThanOrEqual(_china_day("reported_at"), value))

    def filter_reported_until(self, queryset, name, value):
        return queryset.filter(LessThanOrEqual(_china_day("reported_at"), value))

    def filter_refund_closed(self, queryset, name, value):
        return queryset.filter(refund_closed_unpaid_q()) if value else queryset


class InquiryFilter(RegisterFilters, django_filters.FilterSet):
    """The parcel inquiries (快递查询 / 改地址): search, state, kind, shop, late only."""

    q = django_filters.CharFilter(label=_("Search"), method="filter_search",
                                  help_text=_("Order id, tracking number or buyer nick"))
    state = django_filters.MultipleChoiceFilter(label=_("State"), choices=InquiryState.choices,
                                                distinct=False)
    kind = django_filters.ChoiceFilter(label=_("The buyer asks"), choices=InquiryKind.choices)
    shop = django_filters.ModelChoiceFilter(label=_("Shop"), queryset=None)
    late = django_filters.BooleanFilter(
        label=_("Answer overdue"), method="filter_late",
        widget=forms.CheckboxInput, help_text=_("Open, and the buyer's answer is past due"))

    columns = {"q": "col-12 col-lg-4", "state": "col-6 col-lg-3", "kind": "col-6 col-lg-2",
               "shop": "col-6 col-lg-1", "late": "col-6 col-lg-2"}

    def filter_search(self, queryset, name, value):
        term = search_term(value)
        if not term:
            return queryset
        return queryset.filter(Q(order__platform_order_id=term)
                               | Q(tracking_no=normalize_tracking_no(term))
                               | Q(order__buyer__nick=term))

    def filter_late(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(state__in=[InquiryState.OPEN, InquiryState.WAITING,
                                          InquiryState.ANSWERED],
                               reply_by__lte=timezone.now())
