"""The managers' admin: read-mostly, scoped to the manager's shops, transitions via services.

django-fsm-2's own admin transition buttons are not used: in 4.2.4 they do not check the
transition permission on POST. Transitions here are admin actions that call the same
service functions as the staff pages, which check state, permission and shop.
"""

from __future__ import annotations

from functools import reduce
from operator import or_

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import NotRelationField, get_fields_from_path
from django.contrib.admin.views.main import PAGE_VAR, ChangeList
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.core.exceptions import FieldDoesNotExist
from django.db import connections, models, transaction
from django.db.models import Count, Exists, F, Func, OuterRef, Prefetch, Q, Subquery
from django.db.models.functions import Coalesce
from django.db.models.lookups import In
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import pagination
from .exceptions import DomainError
from .filters import too_broad_notice
from .models import (
    Buyer,
    CalendarDay,
    CannedReply,
    CarrierClaim,
    Case,
    CaseEvent,
    ClaimEvent,
    CloseReason,
    Compensation,
    Complaint,
    ComplaintEvent,
    ContactLog,
    EventKind,
    Exchange,
    FollowUpEvent,
    ImportRun,
    InquiryEvent,
    Notification,
    Order,
    OrderLine,
    ParcelInquiry,
    Payout,
    PayoutBatch,
    Policy,
    ReceiptWindowChange,
    Refund,
    ReturnParcel,
    Review,
    ReviewFollowUp,
    Shop,
    StaffProfile,
    StockOut,
    StockOutEvent,
)
from .pagination import CappedPaginator
from .permissions import user_shop_ids
from .roles import ROLE_PERMISSIONS
from .selectors import NICK_FRAGMENT_CAP, search_cases, search_orders
from .services import cases as case_services
from .services.cases import normalize_tracking_no
from .services.receipts import WINDOW_FIELDS, start_window
from .services.stockouts import stockouts_follow_orders


class Unindexed(Func):
    """`+column` (SQLite): the column's value, which the planner will not look up through an
    index on the column."""

    template = "(+%(expressions)s)"


class ShopListFilter(admin.RelatedFieldListFilter):
    """A shop filter that offers the manager's own shops (a plain "shop" filter would list
    every shop's name). Django's RelatedOnlyFieldListFilter asked the list's rows which
    shops they name: a DISTINCT over every row on every load (190 ms for a million order
    lines on SQLite, docs/PERFORMANCE.md); a manager's shops are a handful of rows."""

    def field_choices(self, field, request, model_admin):
        shop_ids = user_shop_ids(request.user)
        limit = None if shop_ids is None else {"pk__in": shop_ids}
        ordering = self.field_admin_ordering(field, request, model_admin)
        return field.get_choices(include_blank=False, limit_choices_to=limit,
                                 ordering=ordering)


SHOP_FILTER = ("shop", ShopListFilter)

# The lists of rows that only grow (timeline, money, contacts, notifications, order lines,
# reviews) show the newest first, read off the primary key. Their models' own ordering is
# by a date column no index leads with: every load sorted the whole table for 100 rows
# (0.2–0.4 s on SQLite at full size, docs/PERFORMANCE.md). A column's header still sorts.
NEWEST_FIRST = ["-id"]


def case_transitions() -> list[tuple[str, str]]:
    """(name, label) of every django-fsm transition of a case, in the order they are
    declared: what a timeline row's `transition` holds when its kind is "transition"."""
    seen: dict[str, str] = {}
    for transition in Case._meta.get_field("state").get_all_transitions(Case):
        seen.setdefault(transition.name, transition.custom.get("label", transition.name))
    return list(seen.items())


class CaseTransitionFilter(admin.SimpleListFilter):
    """The timeline's state changes by transition, from the state machine itself, not from
    a DISTINCT over every timeline row on each load (125 ms at 740,000 rows on SQLite).
    Payout and compensation rows are found by their kind."""

    title = _("state change")
    parameter_name = "transition"

    def lookups(self, request, model_admin):
        return case_transitions()

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        return queryset.filter(kind=EventKind.TRANSITION, transition=self.value())


def staff_users_for(user):
    """The accounts a manager may see and edit: staff who serve only the manager's shops,
    and accounts with no staff profile yet (just created); never a superuser, never someone
    who also serves another shop (their password or profile would open that shop). A
    superuser: every account."""
    shop_ids = user_shop_ids(user)
    if shop_ids is None:
        return User.objects.all()
    profiles = StaffProfile.objects.filter(user=OuterRef("pk"))
    elsewhere = StaffProfile.shops.through.objects.filter(
        staffprofile__user=OuterRef("pk")).exclude(shop_id__in=shop_ids)
    return User.objects.filter(
        Q(staff_profile__shops__in=shop_ids) | ~Exists(profiles), ~Exists(elsewhere),
        is_superuser=False,
    ).distinct()


def buyers_for_admin(user):
    """Buyers a manager may pick for an order: those of their shops' orders, and buyers with
    no order yet (added by hand for the order being entered)."""
    shop_ids = user_shop_ids(user)
    if shop_ids is None:
        return Buyer.objects.all()
    return Buyer.objects.filter(
        Exists(Order.objects.filter(buyer=OuterRef("pk"), shop_id__in=shop_ids))
        | ~Exists(Order.objects.filter(buyer=OuterRef("pk"))))


class DeskSearchMixin:
    """The list's search through one of the selectors' search shapes (exact first, then part
    of a nick; never duplicate rows). A too common nick fragment is said once, on the list
    page itself: Django also searches for each filter's counts, before an action and for
    autocomplete, none of which should leave a message behind."""

    desk_search = None  # a selectors search: (queryset, term, user, fragment_cap)

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        found, too_broad = type(self).desk_search(queryset, search_term, request.user,
                                                  fragment_cap=NICK_FRAGMENT_CAP)
        if too_broad:
            request.desk_search_too_broad = search_term
        return found, False

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        term = getattr(request, "desk_search_too_broad", None)
        if term is not None and request.method == "GET":  # rendered after this: shown now
            self.message_user(request, too_broad_notice(term, NICK_FRAGMENT_CAP),
                              messages.WARNING)
        return response


def _integer_field(model, key: str):
    """The integer field (an id, or the id a foreign key holds) that a list's filter
    parameter such as `shop`, `shop__exact` or `assignee__id__in` compares, else None."""
    parts = key.split("__")
    paths = ["__".join(parts)]
    if parts[-1] in ("exact", "in"):  # a comparison (__lt, __gt…) takes any number
        paths.append("__".join(parts[:-1]))
    for path in paths:
        if not path:
            continue
        try:
            field = get_fields_from_path(model, path)[-1]
        except (FieldDoesNotExist, NotRelationField):
            continue
        if field.many_to_one or field.one_to_one:
            field = field.target_field
        return field if isinstance(field, models.IntegerField) else None
    return None


def names_an_impossible_id(model, params, connection) -> bool:
    """Whether a filter parameter holds a number its integer column cannot hold (a
    hand-edited link: ?shop=99999999999999999999). The database driver refuses such a number
    when the query runs (SQLite: OverflowError), long after the admin checked the lookup."""
    for key, values in params.lists():
        field = _integer_field(model, key)
        if field is None:
            continue
        low, high = connection.ops.integer_field_range(field.get_internal_type())
        for value in values:
            for part in value.split(","):
                try:
                    number = int(part)
                except ValueError:
                    continue
                if (low is not None and number < low) or (high is not None and number > high):
                    return True
    return False


class ImpossibleIdsChangeList(ChangeList):
    """A filter on an id no row can have lists no rows, as a filter on an id no row has
    does — never a server error. So does any other filter value a lookup cannot even turn
    into SQL (?requested_at__year=<20 digits>: Python's date range)."""

    def get_queryset(self, request, exclude_parameters=None):
        queryset = super().get_queryset(request, exclude_parameters)
        if names_an_impossible_id(self.model, request.GET, connections[queryset.db]):
            return queryset.none()
        return queryset

    def get_results(self, request):
        try:
            super().get_results(request)
        except OverflowError:  # raised building or binding the query, before any SQL ran
            self.queryset = self.root_queryset.none()  # the filters themselves cannot compile
            super().get_results(request)


class ImpossibleIdsMixin:
    """For every admin list of the desk: a filter on an impossible id lists no rows."""

    def get_changelist(self, request, **kwargs):
        return ImpossibleIdsChangeList


class ShopScopedAdmin(ImpossibleIdsMixin, admin.ModelAdmin):
    """Limit every list, search and change page to the manager's shops (404 otherwise)."""

    shop_field = "shop_id"
    # A filtered list counts its rows once, not also the whole table ("5 results (333,333
    # total)"): on a million orders that second COUNT was a page load of its own.
    show_full_result_count = False

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        shop_ids = user_shop_ids(request.user)
        if shop_ids is None:
            return queryset
        if self._walk_on_sqlite(queryset, shop_ids):
            return queryset.filter(In(Unindexed(F(self.shop_field)), sorted(shop_ids)))
        return queryset.filter(**{f"{self.shop_field}__in": shop_ids})

    def _walk_on_sqlite(self, queryset, shop_ids) -> bool:
        """SQLite keeps no statistics. Offered `shop_id IN (1, 2)`, or one shop through a join
        (`order__shop_id`), it read every row of the manager's shops by the shop index and
        sorted them for one page (1.6 s for a million orders). Then the list's own order (the
        primary key, or the cases' deadline index) is walked instead, each row tested: a page
        stops after its rows when the manager's shops hold most of the table — the usual
        manager — and at worst reads the table once. One shop on the list's own table keeps
        the shop index, which SQLite reads in the list's order. PostgreSQL's planner chooses
        by its statistics."""
        if connections[queryset.db].vendor != "sqlite" or self.shop_field == "id":
            return False
        return len(shop_ids) > 1 or "__" in self.shop_field

    def get_paginator(self, request, queryset, per_page, orphans=0,
                      allow_empty_first_page=True):
        """Counts at most `pagination.CAP` rows, as the queue does ("More than 1,000 …"):
        Django's COUNT of a manager's million order lines took 0.3 s on PostgreSQL. A list
        with actions counts exactly: its "Select all N" must say what it selects. The cap
        stays above "Show all"'s limit, which a capped count must never reach. The list asks
        for a page as `p`, the autocomplete as `page`."""
        if self.get_actions(request):
            return super().get_paginator(request, queryset, per_page, orphans,
                                         allow_empty_first_page)
        return CappedPaginator(queryset, per_page, orphans=orphans,
                               allow_empty_first_page=allow_empty_first_page,
                               cap=max(pagination.CAP, self.list_max_show_all + 1),
                               page=request.GET.get(PAGE_VAR) or request.GET.get("page"))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # Every choice (select, raw id or autocomplete) is limited to the manager's shops:
        # a typed id of another shop's order is refused by the form, not saved.
        shop_ids = user_shop_ids(request.user)
        if shop_ids is not None:
            if db_field.name == "shop":
                kwargs["queryset"] = Shop.objects.filter(pk__in=shop_ids)
            elif db_field.related_model is Order:
                kwargs["queryset"] = Order.objects.filter(shop_id__in=shop_ids)
            elif db_field.related_model is Buyer:
                kwargs["queryset"] = buyers_for_admin(request.user)
            elif db_field.related_model is User:
                kwargs["queryset"] = staff_users_for(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class NoDeleteMixin:
    def has_delete_permission(self, request, obj=None):
        return False


class PolicyInline(admin.StackedInline):
    model = Policy
    can_delete = False


@admin.register(Shop)
class ShopAdmin(ShopScopedAdmin):
    shop_field = "id"
    list_display = ["code", "name", "platform", "shop_type", "platform_shop_id"]
    list_filter = ["platform", "shop_type"]
    search_fields = ["code", "name", "platform_shop_id"]
    inlines = [PolicyInline]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        profile = StaffProfile.objects.filter(user=request.user).first()
        if not change and profile is not None:
            # the manager who opens a shop serves it (else only a superuser could staff it)
            profile.shops.add(obj)

    def save_related(self, request, form, formsets, change):
        """Every shop has its policy: one left untouched in the form (the admin then saves
        none) is created with the defaults, which the manager can change afterwards."""
        super().save_related(request, form, formsets, change)
        Policy.objects.get_or_create(shop=form.instance)


@admin.register(Policy)
class PolicyAdmin(ShopScopedAdmin):
    list_display = ["shop", "agree_unshipped_days", "agree_shipped_days", "buyer_return_days",
                    "confirm_receipt_days", "instant_refund_limit", "agent_approval_limit"]
    list_select_related = ["shop"]
    search_fields = ["shop__code", "shop__name"]

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(StaffProfile)
class StaffProfileAdmin(ImpossibleIdsMixin, admin.ModelAdmin):
    list_display = ["staff_number", "user", "roles", "shop_list"]
    search_fields = ["staff_number", "user__username", "user__first_name", "user__last_name"]
    list_filter = [("shops", admin.RelatedOnlyFieldListFilter), "user__groups"]
    filter_horizontal = ["shops"]
    autocomplete_fields = ["user"]

    def get_queryset(self, request):
        shop_ids = user_shop_ids(request.user)
        visible = Shop.objects.order_by("code")
        if shop_ids is not None:
            visible = visible.filter(pk__in=shop_ids)
        shop_count = (StaffProfile.shops.through.objects.filter(staffprofile=OuterRef("pk"))
                      .values("staffprofile").annotate(count=Count("*")).values("count"))
        queryset = super().get_queryset(request).select_related("user").prefetch_related(
            Prefetch("shops", queryset=visible, to_attr="visible_shops"), "user__groups",
        ).annotate(shop_count=Coalesce(Subquery(shop_count), 0))
        return queryset if shop_ids is None else queryset.filter(shops__in=shop_ids).distinct()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            kwargs["queryset"] = staff_users_for(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        # whose profile it is stays: moving it to another account would hand that account
        # the shops the profile serves, the ones the manager cannot see included
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and not request.user.is_superuser:
            readonly.append("user")
        return readonly

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        # A manager gives only their own shops: joining another shop would open all its data.
        shop_ids = user_shop_ids(request.user)
        if db_field.name == "shops" and shop_ids is not None:
            kwargs["queryset"] = Shop.objects.filter(pk__in=shop_ids)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_related(self, request, form, formsets, change):
        # The form only knows the manager's shops: the profile keeps the others it serves.
        shop_ids = user_shop_ids(request.user)
        hidden = [] if shop_ids is None or not change else list(
            form.instance.shops.exclude(pk__in=shop_ids).values_list("pk", flat=True))
        super().save_related(request, form, formsets, change)
        if hidden:
            form.instance.shops.add(*hidden)

    @admin.display(description=_("roles"))
    def roles(self, obj):
        return ", ".join(group.name for group in obj.user.groups.all())

    @admin.display(description=_("shops"))
    def shop_list(self, obj):
        """The manager's shops the person serves; the others only counted, never named (a
        colleague who also works for another shop must not tell the manager which)."""
        shown = [shop.code for shop in obj.visible_shops]
        others = obj.shop_count - len(shown)
        if others > 0:
            shown.append(ngettext("and %(count)s other shop", "and %(count)s other shops",
                                  others) % {"count": others})
        return ", ".join(shown)


@admin.register(Buyer)
class BuyerAdmin(ImpossibleIdsMixin, admin.ModelAdmin):
    list_display = ["nick", "platform", "masked_mobile", "is_vip", "do_not_contact"]
    list_filter = ["platform", "is_vip", "do_not_contact"]
    search_fields = ["nick", "=mobile_last4"]
    exclude = []
    # set and lifted on the buyer page only (with a reason, on the buyer's timeline)
    readonly_fields = ["do_not_contact", "do_not_contact_reason", "do_not_contact_at"]

    show_full_result_count = False  # as ShopScopedAdmin

    def get_queryset(self, request):
        # buyers with an order in the manager's shops: EXISTS per buyer (order_buyer_shop_idx)
        # rather than a join to every order and DISTINCT (1.5 s per query at 1,000,000 orders)
        queryset = super().get_queryset(request)
        shop_ids = user_shop_ids(request.user)
        if shop_ids is None:
            return queryset
        return queryset.filter(Exists(Order.objects.filter(buyer=OuterRef("pk"),
                                                           shop_id__in=shop_ids)))

    @admin.display(description=_("mobile"))
    def masked_mobile(self, obj):
        return obj.masked_mobile

    def has_delete_permission(self, request, obj=None):
        return False


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(DeskSearchMixin, NoDeleteMixin, ShopScopedAdmin):
    list_display = ["platform_order_id", "shop", "buyer", "paid_amount", "postage", "status",
                    "shipped_at"]
    readonly_fields = ["confirm_receipt_by", "confirm_receipt_estimated", "receipt_extensions"]
    # a date filter, not date_hierarchy: the hierarchy's month links are a DISTINCT over the
    # month of every order (2.9 s at 1,000,000 orders on SQLite, on every list load)
    list_filter = [SHOP_FILTER, "status", ("paid_at", admin.DateFieldListFilter)]
    search_fields = ["=platform_order_id", "buyer__nick", "=tracking_no"]  # search_orders
    list_select_related = ["shop", "buyer"]
    raw_id_fields = ["buyer"]
    inlines = [OrderLineInline]
    desk_search = staticmethod(search_orders)
    ordering = ["-id"]  # newest first, also in the order pickers' autocomplete (paged)
    # What the buyer paid bounds every refund, compensation and payout: once money or a
    # case hangs on the order, it (and whose order it is) changes only through an import,
    # which checks it against what is committed, with the order row locked.
    money_fields = ["shop", "buyer", "paid_amount", "goods_amount", "postage"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.has_after_sales():
            return [*super().get_readonly_fields(request, obj), *self.money_fields]
        return super().get_readonly_fields(request, obj)

    def save_model(self, request, obj, form, change):
        """An order a manager marks shipped or closed here settles its open stock-outs, as
        the order import does (the same service, a timeline row each), and a shipped one
        starts its confirm-receipt window as the import would."""
        with transaction.atomic():
            if change:
                # the window as it is now, read under the order row's lock: an agent may have
                # recorded an extension since this form was read, and saving the whole row
                # must not write the old date (nor the old count) back
                current = (Order.objects.select_for_update().filter(pk=obj.pk)
                           .values(*WINDOW_FIELDS).get())
                for name, value in current.items():
                    setattr(obj, name, value)
            if {"status", "shipped_at", "paid_at"} & set(form.changed_data):
                start_window(obj, Policy.objects.get_or_create(shop_id=obj.shop_id)[0])
            super().save_model(request, obj, form, change)
            if change and {"status", "shipped_at"} & set(form.changed_data):
                settled = stockouts_follow_orders([obj.pk])
                if settled:
                    self.message_user(request, ngettext(
                        "%(count)s stock-out of this order follows it (shipped or closed).",
                        "%(count)s stock-outs of this order follow it (shipped or closed).",
                        settled) % {"count": settled})


@admin.register(OrderLine)
class OrderLineAdmin(NoDeleteMixin, ShopScopedAdmin):
    shop_field = "order__shop_id"
    list_display = ["order", "platform_sub_order_id", "title", "sku", "quantity", "paid_amount"]
    list_filter = [("order__shop", ShopListFilter)]
    search_fields = ["=order__platform_order_id", "=platform_sub_order_id", "title", "sku"]
    list_select_related = ["order"]
    ordering = NEWEST_FIRST
    raw_id_fields = ["order"]

    def get_readonly_fields(self, request, obj=None):
        # a line stays on its order (and so in its shop)
        readonly = super().get_readonly_fields(request, obj)
        return [*readonly, "order"] if obj is not None else readonly


class TimelineInline(admin.TabularInline):
    """A timeline (case, follow-up, claim events) under its object: read only, never
    deleted."""

    extra = 0
    can_delete = False
    fields = ["created_at", "staff_number", "kind", "transition", "from_state", "to_state",
              "note", "data"]
    readonly_fields = fields
    ordering = ["created_at", "id"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class CaseEventInline(TimelineInline):
    model = CaseEvent


class RefundInline(admin.TabularInline):
    model = Refund
    extra = 0
    can_delete = False
    fields = ["amount", "status", "payment_reference", "failure_reason", "approved_by",
              "approved_at", "paid_at"]
    readonly_fields = fields

    def get_queryset(self, request):  # who approved each: one query for all the rows
        return super().get_queryset(request).select_related("approved_by")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class CaseActionForm(admin.helpers.ActionForm):
    note = forms.CharField(label=_("Reason / note"), required=False, max_length=2000)
    close_reason = forms.ChoiceField(label=_("Close reason"), required=False,
                                     choices=[("", "---------"), *CloseReason.choices])


def _run_admin_transition(modeladmin, request, queryset, label, call):
    done = 0
    for case in queryset.select_related("shop__policy", "order"):
        try:
            call(case)
        except DomainError as error:
            modeladmin.message_user(request, f"#{case.pk}: {error.message}", messages.ERROR)
        else:
            done += 1
    if done:
        modeladmin.message_user(
            request, _("%(action)s: %(count)d case(s) done.") % {"action": label, "count": done},
            messages.SUCCESS,
        )


@admin.register(Case)
class CaseAdmin(DeskSearchMixin, NoDeleteMixin, ShopScopedAdmin):
    list_display = ["id", "shop", "order", "kind", "state", "requested_amount", "deadline_at",
                    "deadline_owner", "assignee"]
    list_filter = ["state", "kind", SHOP_FILTER, "reason", "deadline_owner"]
    # the queue's search (selectors.search_cases): what search_fields would match, from
    # indexed lookups instead of an OR across the joined tables (0.8 s at 200,000 cases)
    search_fields = ["=order__platform_order_id", "=platform_refund_id", "order__buyer__nick",
                     "=return_tracking_no"]
    search_help_text = _("Order id, refund id, tracking number, mobile's last 4 digits, or all "
                         "or part of the buyer's nick")
    list_select_related = ["shop", "order", "assignee"]
    desk_search = staticmethod(search_cases)
    fields = ["shop", "order", "platform_refund_id", "kind", "reason", "description",
              "requested_amount", "goods_status", "state", "deadline_at", "deadline_owner",
              "deadline_rule", "escalated_deadline_at", "dispute_opened_at",
              "dispute_evidence_at", "photos_requested_at", "photos_due_at",
              "photos_received_at", "photos_reminded_at", "platform_status",
              "platform_modified_at", "return_address", "return_carrier", "return_tracking_no",
              "resellable", "refusal_reason", "close_reason", "assignee", "created_by",
              "requested_at", "updated_at"]
    raw_id_fields = ["assignee"]
    inlines = [RefundInline, CaseEventInline]
    action_form = CaseActionForm
    actions = ["agree_cases", "close_cases", "reopen_cases", "retry_refunds"]

    def has_add_permission(self, request):
        return False  # cases are opened through the desk or the imports (money checks apply)

    def get_readonly_fields(self, request, obj=None):
        # A case only ever changes through the services (state, money, timeline together):
        # the change page is for reading; the actions above the list change cases.
        return self.fields

    # Each action is offered only to holders of its transition permission; the service checks
    # it again (with state and shop) for every case.
    def has_agree_permission(self, request):
        return request.user.has_perm("refunds.agree_case")

    def has_close_permission(self, request):
        return request.user.has_perm("refunds.close_case")

    def has_reopen_permission(self, request):
        return request.user.has_perm("refunds.reopen_case")

    def has_refund_permission(self, request):
        return request.user.has_perm("refunds.mark_refunded")

    @admin.action(description=_("Agree to the selected requests"), permissions=["agree"])
    def agree_cases(self, request, queryset):
        note = request.POST.get("note", "")
        _run_admin_transition(self, request, queryset, _("Agree"), lambda case: (
            case_services.case_agree(case=case, actor=request.user, note=note)))

    @admin.action(description=_("Close the selected cases (choose a close reason)"),
                  permissions=["close"])
    def close_cases(self, request, queryset):
        reason, note = request.POST.get("close_reason", ""), request.POST.get("note", "")
        _run_admin_transition(self, request, queryset, _("Close"), lambda case: (
            case_services.case_close(case=case, actor=request.user, reason=reason, note=note)))

    @admin.action(description=_("Reopen the selected cases for review (give a reason)"),
                  permissions=["reopen"])
    def reopen_cases(self, request, queryset):
        reason = request.POST.get("note", "")
        _run_admin_transition(self, request, queryset, _("Reopen"), lambda case: (
            case_services.case_reopen(case=case, actor=request.user, reason=reason)))

    @admin.action(description=_("Retry the failed refunds of the selected cases"),
                  permissions=["refund"])
    def retry_refunds(self, request, queryset):
        note = request.POST.get("note", "")
        _run_admin_transition(self, request, queryset, _("Retry refund"), lambda case: (
            case_services.case_retry_refund(case=case, actor=request.user, note=note)))


@admin.register(CaseEvent)
class CaseEventAdmin(ShopScopedAdmin):
    shop_field = "case__shop_id"
    list_display = ["created_at", "case", "staff_number", "kind", "transition", "from_state",
                    "to_state"]
    list_filter = ["kind", CaseTransitionFilter]
    search_fields = ["=case__id", "staff_number", "note"]
    list_select_related = ["case", "case__order"]  # a case's name shows its order id
    ordering = NEWEST_FIRST

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ContactLog)
class ContactLogAdmin(ShopScopedAdmin):
    shop_field = "shop_id"  # every contact names its shop (cases, follow-ups, buyer page)
    list_display = ["created_at", "shop", "case", "follow_up", "buyer", "channel", "outcome",
                    "staff_number", "overridden_rule"]
    list_filter = ["channel", "outcome", "overridden_rule"]
    search_fields = ["buyer__nick", "staff_number", "note", "override_reason"]
    # the names of a case and of a follow-up show their order (and the review's rating)
    list_select_related = ["shop", "case", "case__order", "buyer", "follow_up",
                           "follow_up__review", "follow_up__order"]
    ordering = NEWEST_FIRST

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Refund)
class RefundAdmin(ShopScopedAdmin):
    shop_field = "order__shop_id"
    list_display = ["id", "case", "order", "amount", "status", "payment_reference", "approved_at",
                    "paid_at"]
    list_filter = ["status"]
    search_fields = ["=order__platform_order_id", "=case__id", "payment_reference"]
    list_select_related = ["case", "case__order", "order"]
    ordering = NEWEST_FIRST

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(ShopScopedAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Review)
class ReviewAdmin(ReadOnlyAdmin):
    list_display = ["posted_at", "shop", "order", "buyer_nick", "rating", "item_title"]
    list_filter = ["rating", SHOP_FILTER, ("posted_at", admin.DateFieldListFilter)]  # as orders
    search_fields = ["=order__platform_order_id", "buyer_nick", "content"]
    list_select_related = ["shop", "order"]
    ordering = NEWEST_FIRST


@admin.register(ImportRun)
class ImportRunAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "shop", "kind", "filename", "dry_run", "imported", "updated",
                    "unchanged", "rejected", "started_by"]
    list_filter = ["kind", SHOP_FILTER, "dry_run"]
    search_fields = ["filename"]
    list_select_related = ["shop", "started_by"]


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    """A notification is about a case, a review follow-up, a complaint or a stock-out: a
    manager reads those about any of their shops' (before, only those about a case)."""

    shop_field = "case__shop_id"
    about_fields = ("case", "follow_up", "complaint", "stockout", "inquiry")
    list_display = ["created_at", "user", "kind", "about", "deadline_at", "read_at"]
    list_filter = ["kind"]
    search_fields = ["user__username", "message"]
    list_select_related = ["user", "case", "follow_up", "complaint", "stockout", "inquiry"]
    ordering = NEWEST_FIRST

    def get_queryset(self, request):
        queryset = super(ShopScopedAdmin, self).get_queryset(request)
        shop_ids = user_shop_ids(request.user)
        if shop_ids is None:
            return queryset
        return queryset.filter(reduce(or_, (Q(**{f"{name}__shop_id__in": shop_ids})
                                            for name in self.about_fields)))

    @admin.display(description=_("about"))
    def about(self, notification) -> str:
        for name in self.about_fields:
            if getattr(notification, f"{name}_id"):
                model = notification._meta.get_field(name).related_model
                return f"{model._meta.verbose_name} #{getattr(notification, f'{name}_id')}"
        return "—"


# --- compensation and payouts: money records, read-only (the services change them) -----------


class CompensationInline(admin.TabularInline):
    model = Compensation
    extra = 0
    can_delete = False
    fields = ["kind", "amount", "state", "reason", "proposed_staff_number", "proposed_at",
              "decided_staff_number", "decided_at", "decline_reason", "payment_reference"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class PayoutInline(admin.TabularInline):
    model = Payout
    extra = 0
    can_delete = False
    fields = ["kind", "amount", "state", "route", "account", "batch", "payment_reference",
              "failure_reason", "staff_number", "created_at", "paid_at"]
    readonly_fields = fields

    def get_queryset(self, request):  # each payout's batch: one query for all the rows
        return super().get_queryset(request).select_related("batch")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


CaseAdmin.inlines = [*CaseAdmin.inlines, CompensationInline, PayoutInline]


@admin.register(Compensation)
class CompensationAdmin(ReadOnlyAdmin):
    list_display = ["id", "case", "kind", "amount", "state", "proposed_staff_number",
                    "decided_staff_number", "proposed_at"]
    list_filter = ["state", "kind", SHOP_FILTER]
    search_fields = ["=case__id", "=order__platform_order_id", "reason"]
    list_select_related = ["case", "case__order"]
    ordering = NEWEST_FIRST


@admin.register(Payout)
class PayoutAdmin(ReadOnlyAdmin):
    list_display = ["id", "shop", "case", "kind", "amount", "state", "route", "batch",
                    "payment_reference", "created_at", "paid_at"]
    list_filter = ["state", "kind", "route", "paid_by_platform_in_batch", SHOP_FILTER]
    search_fields = ["=case__id", "=order__platform_order_id", "payment_reference"]
    list_select_related = ["shop", "case", "case__order", "batch"]
    ordering = NEWEST_FIRST


@admin.register(PayoutBatch)
class PayoutBatchAdmin(ReadOnlyAdmin):
    list_display = ["id", "shop", "created_at", "staff_number", "payout_count", "total",
                    "closed_at", "source"]
    list_filter = [SHOP_FILTER, "source"]
    list_select_related = ["shop"]


# --- review follow-ups and canned replies -----------------------------------------------------


class CannedReplyAdminForm(forms.ModelForm):
    class Meta:
        model = CannedReply
        fields = ["title", "category", "language", "text", "is_active", "position"]
        widgets = {"text": forms.Textarea(attrs={"rows": 4})}


@admin.register(CalendarDay)
class CalendarDayAdmin(ImpossibleIdsMixin, admin.ModelAdmin):
    """China's working-day calendar (refunds/workdays.py): the holidays on weekdays and the
    weekend days worked in exchange, as the State Council publishes them each year. It is
    the same for every shop. A deadline is counted when a case enters its state: a day
    entered later counts for the deadlines set from then on."""

    list_display = ["date", "weekday", "working", "name"]
    list_filter = ["working", "date"]  # no date_hierarchy on the desk's lists (see tests)
    search_fields = ["name"]

    @admin.display(description=_("weekday"), ordering="date")
    def weekday(self, day: CalendarDay) -> str:
        return date_format(day.date, "l")


@admin.register(CannedReply)
class CannedReplyAdmin(ImpossibleIdsMixin, admin.ModelAdmin):
    """快捷短语, by category and language. An unknown placeholder or a stray brace is refused
    here, when the reply is saved (the text field's validator), never when it is used."""

    form = CannedReplyAdminForm
    list_display = ["title", "category", "language", "is_active", "position", "updated_at"]
    list_filter = ["category", "language", "is_active"]
    list_editable = ["is_active", "position"]
    search_fields = ["title", "text"]


class FollowUpEventInline(TimelineInline):
    model = FollowUpEvent


@admin.register(ReviewFollowUp)
class ReviewFollowUpAdmin(ReadOnlyAdmin):
    """Read-only: follow-ups change through their page (services, guard, timeline)."""

    list_display = ["id", "shop", "order", "state", "category", "deadline_at", "assignee",
                    "remedy_case"]
    list_filter = ["state", "category", SHOP_FILTER]
    search_fields = ["=order__platform_order_id", "buyer__nick", "review__content"]
    list_select_related = ["shop", "order", "assignee", "remedy_case", "remedy_case__order"]
    inlines = [FollowUpEventInline]


@admin.register(ReturnParcel)
class ReturnParcelAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "batch_date", "shop", "tracking_no", "case", "condition",
                    "quantity_received", "inspected_staff_number"]
    list_filter = [SHOP_FILTER, "condition", "batch_date"]
    search_fields = ["=tracking_no", "=case__id"]
    list_select_related = ["shop", "case", "case__order"]
    ordering = NEWEST_FIRST


@admin.register(Exchange)
class ExchangeAdmin(ReadOnlyAdmin):
    shop_field = "case__shop_id"
    list_display = ["case", "replacement_title", "replacement_price", "returned_value",
                    "buyer_owes", "buyer_settled_at", "tracking_no", "shipped_at"]
    search_fields = ["=case__id", "replacement_title", "=tracking_no"]
    list_select_related = ["case", "case__order"]


# --- carrier claims (报损报失) ---------------------------------------------------------------


class ClaimEventInline(TimelineInline):
    model = ClaimEvent


@admin.register(CarrierClaim)
class CarrierClaimAdmin(ReadOnlyAdmin):
    """Read-only: claims change through their page (services, timeline)."""

    list_display = ["id", "reported_on", "shop", "tracking_no", "kind", "state",
                    "claimed_amount", "compensated_amount", "handler_staff_number"]
    list_filter = ["state", "kind", SHOP_FILTER]
    search_fields = ["=tracking_no", "=order__platform_order_id"]
    list_select_related = ["shop"]
    exclude = ["sender_id_number"]
    inlines = [ClaimEventInline]

    def get_search_results(self, request, queryset, search_term):
        """The waybill as claims store it ("No: sf 12" is SF12); an order id is unchanged."""
        term = search_term.strip().removeprefix('="').removesuffix('"')
        return super().get_search_results(request, queryset, normalize_tracking_no(term))


class ComplaintEventInline(TimelineInline):
    model = ComplaintEvent


@admin.register(Complaint)
class ComplaintAdmin(ReadOnlyAdmin):
    """Read-only: complaints change through their page (services, timeline)."""

    list_display = ["id", "opened_at", "shop", "kind", "state", "evidence_due_at",
                    "amount_claimed", "refund_amount", "platform_reference"]
    list_filter = ["state", "kind", SHOP_FILTER]
    search_fields = ["=order__platform_order_id", "=platform_reference"]
    list_select_related = ["shop"]
    inlines = [ComplaintEventInline]


# --- out of stock (缺货) -----------------------------------------------------------------------


class StockOutEventInline(TimelineInline):
    model = StockOutEvent


@admin.register(StockOut)
class StockOutAdmin(ReadOnlyAdmin):
    """Read-only: stock-outs change through their page (services, timeline)."""

    list_display = ["id", "reported_at", "shop", "order", "line", "quantity", "state", "remedy",
                    "agreed_ship_by", "case"]
    list_filter = ["state", "remedy", SHOP_FILTER]
    search_fields = ["=order__platform_order_id"]
    list_select_related = ["shop", "order", "line", "case__order"]
    inlines = [StockOutEventInline]


class InquiryEventInline(TimelineInline):
    model = InquiryEvent


@admin.register(ParcelInquiry)
class ParcelInquiryAdmin(ReadOnlyAdmin):
    """Read-only: parcel inquiries change through their page (services.inquiries)."""

    list_display = ["id", "opened_at", "shop", "order", "kind", "state", "reply_by",
                    "carrier_staff", "outcome", "case"]
    list_filter = ["state", "kind", "outcome", SHOP_FILTER]
    search_fields = ["=order__platform_order_id", "=tracking_no"]
    list_select_related = ["shop", "order", "case__order"]
    inlines = [InquiryEventInline]

    def get_search_results(self, request, queryset, search_term):
        """The tracking number as inquiries store it ("No: sf 12" is SF12)."""
        term = search_term.strip().removeprefix('="').removesuffix('"')
        return super().get_search_results(request, queryset, normalize_tracking_no(term))


@admin.register(ReceiptWindowChange)
class ReceiptWindowChangeAdmin(ReadOnlyAdmin):
    """Read-only: recorded from the order's confirm-receipt page (services.receipts)."""

    list_display = ["created_at", "shop", "order", "kind", "days", "previous_confirm_by",
                    "confirm_by", "staff_number", "case"]
    list_filter = ["kind", SHOP_FILTER]
    search_fields = ["=order__platform_order_id"]
    list_select_related = ["shop", "order", "case__order"]
    ordering = NEWEST_FIRST


# --- staff accounts ---------------------------------------------------------------------------

admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(Group)
class RoleGroupAdmin(ImpossibleIdsMixin, GroupAdmin):
    """Django's group admin, its list as safe against a hand-edited link as the others."""


@admin.register(User)
class StaffUserAdmin(ImpossibleIdsMixin, UserAdmin):
    """Django's user admin, limited for a manager: the accounts of their shops' staff (and new
    accounts without a staff profile), never a superuser's; roles only from the five role
    groups; the superuser flag and single permissions stay with superusers, so a manager
    can give no more than the roles give."""

    superuser_only_fields = ["is_superuser", "user_permissions"]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(pk__in=staff_users_for(request.user).values("pk"))

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += self.superuser_only_fields
        return readonly

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "groups" and not request.user.is_superuser:
            kwargs["queryset"] = Group.objects.filter(name__in=ROLE_PERMISSIONS)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_related(self, request, form, formsets, change):
        # The form only offers the role groups: the account keeps the others it has.
        hidden = [] if request.user.is_superuser or not change else list(
            form.instance.groups.exclude(name__in=ROLE_PERMISSIONS))
        super().save_related(request, form, formsets, change)
        if hidden:
            form.instance.groups.add(*hidden)
