import django_filters
from django.contrib.auth import get_user_model
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from .models import CaseKind, CaseReason, CaseState
from .selectors import due_filter, search_filter, shops_for_user


class CaseFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label=_("Search"), method="filter_search",
        help_text=_("Order id, refund id, buyer nick, tracking number or mobile's last 4 digits"),
    )
    state = django_filters.MultipleChoiceFilter(label=_("State"), choices=CaseState.choices)
    kind = django_filters.ChoiceFilter(label=_("Kind"), choices=CaseKind.choices)
    shop = django_filters.ModelChoiceFilter(label=_("Shop"), queryset=None)
    reason = django_filters.ChoiceFilter(label=_("Reason"), choices=CaseReason.choices)
    assignee = django_filters.ModelChoiceFilter(label=_("Assignee"), queryset=None)
    due = django_filters.ChoiceFilter(
        label=_("Deadline"), method="filter_due",
        choices=[("overdue", _("Overdue")), ("24h", _("Due within 24h"))],
    )
    mine = django_filters.BooleanFilter(label=_("My cases"), method="filter_mine",
                                        widget=django_filters.widgets.BooleanWidget())
    sort = django_filters.OrderingFilter(
        label=_("Sort"),
        fields=(("deadline_at", "deadline"), ("requested_at", "requested"),
                ("requested_amount", "amount")),
        field_labels={"deadline_at": _("Deadline"), "requested_at": _("Requested"),
                      "requested_amount": _("Amount")},
    )

    def __init__(self, *args, request, **kwargs):
        super().__init__(*args, request=request, **kwargs)
        shops = shops_for_user(request.user)
        self.filters["shop"].queryset = shops
        self.filters["assignee"].queryset = (
            get_user_model().objects.filter(staff_profile__shops__in=shops).distinct()
            .order_by("username")
        )

    def filter_search(self, queryset, name, value):
        return queryset.filter(search_filter(value))

    def filter_due(self, queryset, name, value):
        return queryset.filter(due_filter(value))

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
