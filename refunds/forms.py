"""Forms collect and validate input; the services decide. Each sets its crispy helper in __init__."""

from __future__ import annotations

from decimal import Decimal

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from .models import (
    Case,
    CaseKind,
    CaseReason,
    CloseReason,
    ContactChannel,
    ContactOutcome,
    GoodsStatus,
    Order,
)
from .services.cases import action_label


def amount_field(**kwargs) -> forms.DecimalField:
    return forms.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0.01"),
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
        **kwargs,
    )


def note_field(label=_("Note"), required=False) -> forms.CharField:
    return forms.CharField(label=label, required=required, max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 2}))


class CaseActionForm(forms.Form):
    """Base of the per-transition forms: carries the state the user saw (stale-page guard)."""

    action: str = ""
    button_class = "btn-primary"
    expected_state = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, case: Case, **kwargs):
        self.case = case
        kwargs.setdefault("initial", {})["expected_state"] = case.state
        kwargs.setdefault("prefix", self.action)
        super().__init__(*args, **kwargs)
        self.setup_fields()
        self.helper = FormHelper(self)
        self.helper.form_action = reverse("refunds:case_action", args=[case.pk, self.action])
        self.helper.form_id = f"action-{self.action}"
        self.helper.add_input(Submit("submit", action_label(self.action),
                                     css_class=self.button_class))

    def setup_fields(self) -> None:
        """Adjust fields to the case before the crispy layout is built from them."""

    def service_kwargs(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("expected_state")
        return data


class AgreeForm(CaseActionForm):
    action = "agree"
    button_class = "btn-success"
    amount = amount_field(label=_("Refund amount (¥)"), required=False,
                          help_text=_("Leave empty to refund what the buyer asked for."))
    note = note_field()

    def setup_fields(self) -> None:
        if self.case.kind != CaseKind.REFUND_ONLY:
            del self.fields["amount"]
        else:
            self.fields["amount"].widget.attrs["placeholder"] = str(self.case.requested_amount)


class RefuseForm(CaseActionForm):
    action = "refuse"
    button_class = "btn-danger"
    reason = forms.ChoiceField(label=_("Refusal reason"))
    note = note_field()

    def setup_fields(self) -> None:
        reasons = [str(r) for r in (self.case.shop.policy.refusal_reasons or []) if str(r).strip()]
        self.fields["reason"].choices = [("", "---------")] + [(r, r) for r in reasons]


class BuyerModifyForm(CaseActionForm):
    action = "buyer_modify"
    requested_amount = amount_field(label=_("New requested amount (¥)"), required=False)
    note = note_field()


class RecordReturnShipmentForm(CaseActionForm):
    action = "record_return_shipment"
    carrier = forms.CharField(label=_("Return carrier"), max_length=50)
    tracking_no = forms.CharField(label=_("Return tracking number"), max_length=64)
    note = note_field()


class ReceiveForm(CaseActionForm):
    action = "receive"
    resellable = forms.TypedChoiceField(
        label=_("Condition"), coerce=lambda v: v == "yes",
        choices=[("", "---------"), ("yes", _("Resellable (不影响二次销售)")),
                 ("no", _("Not resellable (影响二次销售)"))],
    )
    note = note_field(_("Inspection note"))


class ApproveRefundForm(CaseActionForm):
    action = "approve_refund"
    button_class = "btn-success"
    amount = amount_field(label=_("Refund amount (¥)"), required=False,
                          help_text=_("Leave empty to refund what the buyer asked for."))
    note = note_field()


class MarkRefundedForm(CaseActionForm):
    action = "mark_refunded"
    button_class = "btn-success"
    payment_reference = forms.CharField(label=_("Payment reference"), max_length=100)
    note = note_field()


class MarkRefundFailedForm(CaseActionForm):
    action = "mark_refund_failed"
    button_class = "btn-warning"
    reason = forms.CharField(label=_("Why did the payment fail?"), max_length=200)
    note = note_field()


class RetryRefundForm(CaseActionForm):
    action = "retry_refund"
    note = note_field()


class CloseForm(CaseActionForm):
    action = "close"
    button_class = "btn-secondary"
    reason = forms.ChoiceField(label=_("Why is it closed?"),
                               choices=[("", "---------"), *CloseReason.choices])
    note = note_field()


class ReopenForm(CaseActionForm):
    action = "reopen"
    button_class = "btn-warning"
    reason = forms.CharField(label=_("Why is the case reviewed (复核)?"), max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 2}))
    requested_amount = amount_field(label=_("Further amount requested (¥)"), required=False)


ACTION_FORMS: dict[str, type[CaseActionForm]] = {
    form.action: form
    for form in (AgreeForm, RefuseForm, BuyerModifyForm, RecordReturnShipmentForm, ReceiveForm,
                 ApproveRefundForm, MarkRefundedForm, MarkRefundFailedForm, RetryRefundForm,
                 CloseForm, ReopenForm)
}


class ContactForm(forms.Form):
    channel = forms.ChoiceField(label=_("Channel"), choices=ContactChannel.choices)
    outcome = forms.ChoiceField(label=_("Outcome"), choices=ContactOutcome.choices)
    note = note_field(_("What was said"))

    def __init__(self, *args, case: Case, **kwargs):
        kwargs.setdefault("prefix", "contact")
        super().__init__(*args, **kwargs)
        self.helper = FormHelper(self)
        self.helper.form_action = reverse("refunds:case_contact", args=[case.pk])
        self.helper.add_input(Submit("submit", _("Log contact"), css_class="btn-outline-primary"))


class NoteForm(forms.Form):
    note = note_field(_("Internal note"), required=True)

    def __init__(self, *args, case: Case, **kwargs):
        kwargs.setdefault("prefix", "note")
        super().__init__(*args, **kwargs)
        self.helper = FormHelper(self)
        self.helper.form_action = reverse("refunds:case_note", args=[case.pk])
        self.helper.add_input(Submit("submit", _("Add note"), css_class="btn-outline-secondary"))


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(label=_("Assign to"), queryset=None, required=False,
                                      empty_label=_("Nobody"))

    def __init__(self, *args, case: Case, **kwargs):
        kwargs.setdefault("prefix", "assign")
        kwargs.setdefault("initial", {})["assignee"] = case.assignee_id
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = (
            get_user_model().objects.filter(is_active=True, staff_profile__shops=case.shop_id)
            .select_related("staff_profile").order_by("username")
        )
        self.fields["assignee"].label_from_instance = (
            lambda u: f"{u.staff_profile.staff_number} {u.get_full_name() or u.username}"
        )
        self.helper = FormHelper(self)
        self.helper.form_action = reverse("refunds:case_assign", args=[case.pk])
        self.helper.add_input(Submit("submit", _("Assign"), css_class="btn-outline-secondary"))


class CaseCreateForm(forms.Form):
    """A request that came in by chat or phone, for an order already in the system."""

    shop = forms.ModelChoiceField(label=_("Shop"), queryset=None)
    order_id = forms.CharField(label=_("Order id (订单编号)"), max_length=64)
    kind = forms.ChoiceField(label=_("Kind"), choices=CaseKind.choices)
    reason = forms.ChoiceField(label=_("Reason"), choices=CaseReason.choices)
    requested_amount = amount_field(label=_("Requested amount (¥)"))
    goods_status = forms.ChoiceField(label=_("Goods status"), choices=GoodsStatus.choices)
    description = forms.CharField(label=_("What the buyer said"), required=False,
                                  max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, shops, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["shop"].queryset = shops
        if len(shops) == 1:
            self.fields["shop"].initial = shops[0].pk
        self.helper = FormHelper(self)
        self.helper.add_input(Submit("submit", _("Open case"), css_class="btn-primary"))

    def clean(self):
        cleaned = super().clean()
        shop, order_id = cleaned.get("shop"), (cleaned.get("order_id") or "").strip()
        if shop and order_id:
            order_id = order_id.removeprefix('="').removesuffix('"')
            try:
                cleaned["order"] = Order.objects.select_related("buyer").get(
                    shop=shop, platform_order_id=order_id
                )
            except Order.DoesNotExist:
                self.add_error("order_id", _("No order %(order)s in shop %(shop)s.")
                               % {"order": order_id, "shop": shop.name})
        return cleaned
