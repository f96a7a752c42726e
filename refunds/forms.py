"""Forms collect and validate input; the services decide. Crispy helpers are set in __init__."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Hidden, Submit
from django import forms
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext_lazy

from .models import (
    EXTENSION_DAYS,
    Buyer,
    CarrierClaim,
    Case,
    CaseKind,
    CaseReason,
    CaseState,
    ClaimDirection,
    ClaimKind,
    CloseReason,
    Compensation,
    CompensationKind,
    ComplaintCategory,
    ComplaintKind,
    ContactChannel,
    ContactOutcome,
    EvidenceKind,
    FlagColour,
    GoodsStatus,
    ImportKind,
    InquiryKind,
    Order,
    ParcelCondition,
    Payout,
    PayoutRoute,
    RemedyKind,
    ReviewFollowUp,
    ReviewRating,
    StockOutRemedy,
)
from .models.shops import DEDUCTION_LINES
from .services.cases import DISPUTE_CLOSE_REASONS, action_label
from .services.claims import EDITABLE_FIELDS as CLAIM_EDITABLE_FIELDS
from .services.claims import action_label as claim_action_label
from .services.claims import claim_version
from .services.compensation import action_label as compensation_action_label
from .services.complaints import action_label as complaint_action_label
from .services.followups import action_label as followup_action_label
from .services.inquiries import action_label as inquiry_action_label
from .services.inquiries import needs_carrier, outcomes_for
from .services.payouts import action_label as payout_action_label
from .services.stockouts import action_label as stockout_action_label
from .services.stockouts import china_today
from .submissions import submission_field
from .timezones import CHINA


def amount_field(**kwargs) -> forms.DecimalField:
    return forms.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0.01"),
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
        **kwargs,
    )


def note_field(label=None, required=False) -> forms.CharField:
    return forms.CharField(label=label or _("Note"), required=required, max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 2}))


def _local_input() -> forms.DateTimeInput:
    return forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class ChinaDateTimeField(forms.DateTimeField):
    """A time as the platform's pages show it: China time, whatever the server's TIME_ZONE
    (refunds/timezones.py). A plain DateTimeField reads it in the current time zone: on a
    server left at UTC, 10:00 typed from the seller centre would be stored eight hours late."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", _local_input())
        super().__init__(*args, **kwargs)

    def to_python(self, value):
        with timezone.override(CHINA):
            return super().to_python(value)

    def prepare_value(self, value):
        with timezone.override(CHINA):
            return super().prepare_value(value)


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
    """The refund after the return, with deduction lines (扣款) each with a reason; the shop's
    policy suggests them (e.g. 5% fee kept on Tmall), the agent may clear or change them."""

    action = "approve_refund"
    button_class = "btn-success"
    amount = amount_field(label=_("Refund amount before deductions (¥)"), required=False,
                          help_text=_("Leave empty to refund what the buyer asked for."))
    note = note_field()

    def setup_fields(self) -> None:
        base = self.case.requested_amount
        suggested = self.case.shop.policy.deduction_lines()
        for index in range(1, DEDUCTION_LINES + 1):
            reason = forms.CharField(label=_("Deduction %(n)s: reason") % {"n": index},
                                     max_length=200, required=False)
            value = amount_field(label=_("Deduction %(n)s: amount (¥)") % {"n": index},
                                 required=False)
            if index <= len(suggested):
                text, percent = suggested[index - 1]
                reason.initial = text[:200]
                if percent is not None:
                    value.initial = (base * percent / 100).quantize(Decimal("0.01"))
            self.fields[f"deduction_{index}_reason"] = reason
            self.fields[f"deduction_{index}_amount"] = value
        self.fields["note"] = self.fields.pop("note")  # the note last

    def clean(self):
        cleaned = super().clean()
        for index in range(1, DEDUCTION_LINES + 1):
            reason = (cleaned.get(f"deduction_{index}_reason") or "").strip()
            value = cleaned.get(f"deduction_{index}_amount")
            if value is not None and not reason:
                self.add_error(f"deduction_{index}_reason", _("Every deduction needs a reason."))
            if reason and value is None:
                self.add_error(f"deduction_{index}_amount", _("Enter the amount kept."))
        return cleaned

    def service_kwargs(self) -> dict:
        data = super().service_kwargs()
        data["deductions"] = [
            (data.pop(f"deduction_{i}_reason"), data.pop(f"deduction_{i}_amount"))
            for i in range(1, DEDUCTION_LINES + 1)
        ]
        data["deductions"] = [(r, v) for r, v in data["deductions"] if r or v is not None]
        return data


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

    def setup_fields(self) -> None:
        if self.case.state == CaseState.IN_DISPUTE:  # the ruling is recorded as a ruling
            self.fields["reason"].choices = [
                ("", "---------"),
                *((value, label) for value, label in CloseReason.choices
                  if value in DISPUTE_CLOSE_REASONS)]


class ReopenForm(CaseActionForm):
    action = "reopen"
    button_class = "btn-warning"
    reason = forms.CharField(label=_("Why is the case reviewed (复核)?"), max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 2}))
    requested_amount = amount_field(
        label=_("Further amount requested (¥)"), required=False,
        help_text=_("Required when the case has already refunded: what more the buyer asks "
                    "for. Agreeing refunds this amount, never the first one again."))


class OpenDisputeForm(CaseActionForm):
    """平台介入: the buyer asked the platform to arbitrate."""

    action = "open_dispute"
    button_class = "btn-warning"
    note = note_field(_("What does the buyer dispute? (and the platform's dispute number)"),
                      required=True)


class SubmitDisputeEvidenceForm(CaseActionForm):
    action = "submit_dispute_evidence"
    note = note_field(_("What evidence was submitted?"), required=True)


class DisputeForBuyerForm(CaseActionForm):
    action = "dispute_for_buyer"
    button_class = "btn-danger"
    amount = amount_field(label=_("Amount the platform refunded (¥)"), required=False,
                          help_text=_("Leave empty if it refunded what the buyer asked for."))
    note = note_field()

    def setup_fields(self) -> None:
        self.fields["amount"].widget.attrs["placeholder"] = str(self.case.requested_amount)


class DisputeReturnFirstForm(CaseActionForm):
    action = "dispute_return_first"
    button_class = "btn-outline-primary"
    note = note_field()


class DisputeForShopForm(CaseActionForm):
    action = "dispute_for_shop"
    button_class = "btn-success"
    note = note_field()


ACTION_FORMS: dict[str, type[CaseActionForm]] = {
    form.action: form
    for form in (AgreeForm, RefuseForm, BuyerModifyForm, RecordReturnShipmentForm, ReceiveForm,
                 ApproveRefundForm, MarkRefundedForm, MarkRefundFailedForm, RetryRefundForm,
                 CloseForm, ReopenForm, OpenDisputeForm, SubmitDisputeEvidenceForm,
                 DisputeForBuyerForm, DisputeReturnFirstForm, DisputeForShopForm)
}


class OutlineSubmit(Submit):
    """crispy's Submit always adds btn-primary, which turns an outline button blue on blue."""

    field_classes = "btn"


class ContactForm(forms.Form):
    """A contact attempt from the case, follow-up or buyer page; the harassment guard decides.

    Only users who may override the guard (supervisors) get the override fields.
    """

    channel = forms.ChoiceField(label=_("Channel"), choices=ContactChannel.choices)
    outcome = forms.ChoiceField(label=_("Outcome"), choices=ContactOutcome.choices)
    note = note_field(_("What was said"))
    override = forms.BooleanField(label=_("Override the harassment guard"), required=False)
    override_reason = forms.CharField(
        label=_("Why the override is justified"), required=False, max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Required with an override; kept on the contact log entry."),
    )

    def __init__(self, *args, case: Case | None = None, action: str = "",
                 can_override: bool = False, shops=None, **kwargs):
        kwargs.setdefault("prefix", "contact")
        super().__init__(*args, **kwargs)
        if not can_override:
            del self.fields["override"], self.fields["override_reason"]
        if shops is not None:  # the buyer page: in the name of which shop
            add_shop_field(self, shops)
        self.helper = FormHelper(self)
        self.helper.form_id = "contact-form"
        self.helper.form_action = action or reverse("refunds:case_contact", args=[case.pk])
        self.helper.add_input(OutlineSubmit("submit", _("Log contact"),
                                            css_class="btn-outline-primary"))


class NoteForm(forms.Form):
    note = note_field(_("Internal note"), required=True)

    def __init__(self, *args, case: Case, **kwargs):
        kwargs.setdefault("prefix", "note")
        super().__init__(*args, **kwargs)
        self.helper = FormHelper(self)
        self.helper.form_action = reverse("refunds:case_note", args=[case.pk])
        self.helper.add_input(Submit("submit", _("Add note"), css_class="btn-outline-secondary"))


class PhotoRequestForm(forms.Form):
    """Ask the buyer for photos of the problem (the policy's hours to send them)."""

    note = note_field(_("What was asked (optional)"))

    def __init__(self, *args, case: Case, **kwargs):
        kwargs.setdefault("prefix", "photos")
        super().__init__(*args, **kwargs)
        self.helper = FormHelper(self)
        self.helper.form_action = reverse("refunds:case_request_photos", args=[case.pk])
        self.helper.add_input(Submit("submit", _("Ask for photos"),
                                     css_class="btn-outline-primary"))


class PhotosReceivedForm(forms.Form):
    note = note_field(_("What the photos show (optional)"))

    def __init__(self, *args, case: Case, **kwargs):
        kwargs.setdefault("prefix", "photos_received")
        super().__init__(*args, **kwargs)
        self.helper = FormHelper(self)
        self.helper.form_action = reverse("refunds:case_photos_received", args=[case.pk])
        self.helper.add_input(Submit("submit", _("Photos received"),
                                     css_class="btn-outline-success"))


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
    submission = submission_field()  # sent twice, opened once (refunds/submissions.py)

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


IMPORT_MAX_MB = 50
IMPORT_MAX_BYTES = IMPORT_MAX_MB * 1024 * 1024


def import_too_large_message() -> str:
    return _("The file is larger than %(limit)s MB: export a shorter period and import the "
             "parts one after the other.") % {"limit": IMPORT_MAX_MB}


class ImportForm(forms.Form):
    """Upload a platform export (managers): which shop, which export, the file, dry run."""

    shop = forms.ModelChoiceField(label=_("Shop"), queryset=None)
    kind = forms.ChoiceField(label=pgettext_lazy("platform export file", "Export"),
                             choices=ImportKind.choices)
    file = forms.FileField(
        label=_("File"),
        help_text=_("The seller centre's CSV export as downloaded (GBK, GB18030 or UTF-8)."),
    )
    dry_run = forms.BooleanField(
        label=_("Dry run: check the file and show what would change, write nothing"),
        required=False,
    )

    def __init__(self, *args, shops, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["shop"].queryset = shops
        if len(shops) == 1:
            self.fields["shop"].initial = shops[0].pk
        self.helper = FormHelper(self)
        self.helper.form_id = "import-form"
        self.helper.add_input(Submit("submit", _("Import"), css_class="btn-primary"))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > IMPORT_MAX_BYTES:
            raise forms.ValidationError(import_too_large_message())
        return upload


# --- compensation (补偿) ------------------------------------------------------------------------


class CompensationProposeForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=[("", "---------"),
                                                       *CompensationKind.choices])
    amount = amount_field(label=_("Amount (¥)"))
    reason = forms.CharField(label=_("Reason"), max_length=500)
    note = note_field()
    submission = submission_field()  # sent twice, proposed once (refunds/submissions.py)

    def __init__(self, *args, case: Case, **kwargs):
        kwargs.setdefault("prefix", "compensation")
        super().__init__(*args, **kwargs)
        self.helper = FormHelper(self)
        self.helper.form_action = reverse("refunds:compensation_propose", args=[case.pk])
        self.helper.form_id = "compensation-propose"
        self.helper.add_input(Submit("submit", _("Propose compensation"),
                                     css_class="btn-outline-primary"))


class CompensationActionForm(forms.Form):
    """Base of the per-transition compensation forms (with the state the user saw)."""

    action: str = ""
    button_class = "btn-primary"
    expected_state = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, compensation: Compensation, **kwargs):
        self.compensation = compensation
        kwargs.setdefault("initial", {})["expected_state"] = compensation.state
        kwargs.setdefault("prefix", f"c{compensation.pk}-{self.action}")
        super().__init__(*args, **kwargs)
        self.helper = FormHelper(self)
        self.helper.form_action = reverse("refunds:compensation_action",
                                          args=[compensation.pk, self.action])
        self.helper.form_id = f"compensation-{compensation.pk}-{self.action}"
        self.helper.add_input(Submit("submit", compensation_action_label(self.action),
                                     css_class=f"btn-sm {self.button_class}"))

    def service_kwargs(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("expected_state")
        return data


class ApproveCompensationForm(CompensationActionForm):
    action = "approve"
    button_class = "btn-success"
    note = note_field()


class DeclineCompensationForm(CompensationActionForm):
    action = "decline"
    button_class = "btn-outline-danger"
    reason = forms.CharField(label=_("Why is it declined?"), max_length=500)
    note = note_field()


class IssueCompensationForm(CompensationActionForm):
    action = "mark_paid"
    button_class = "btn-outline-success"
    reference = forms.CharField(label=_("Coupon or points reference"), max_length=100,
                                required=False)
    note = note_field()


COMPENSATION_FORMS: dict[str, type[CompensationActionForm]] = {
    form.action: form
    for form in (ApproveCompensationForm, DeclineCompensationForm, IssueCompensationForm)
}


# --- finance: payouts ---------------------------------------------------------------------------


class PayoutActionForm(forms.Form):
    """Base of the per-transition payout forms (with the state the user saw)."""

    action: str = ""
    button_class = "btn-primary"
    expected_state = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, payout: Payout, next_url: str = "", **kwargs):
        self.payout = payout
        kwargs.setdefault("initial", {})["expected_state"] = payout.state
        kwargs.setdefault("prefix", f"p{payout.pk}-{self.action}")
        super().__init__(*args, **kwargs)
        self.helper = FormHelper(self)
        self.helper.form_action = reverse("refunds:payout_action", args=[payout.pk, self.action])
        self.helper.form_id = f"payout-{payout.pk}-{self.action}"
        self.helper.form_class = "payout-form"
        self.helper.add_input(Submit("submit", payout_action_label(self.action),
                                     css_class=f"btn-sm {self.button_class}"))
        if next_url:
            self.helper.add_input(Hidden("next", next_url))

    def service_kwargs(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("expected_state")
        return data


class MarkPayoutPaidForm(PayoutActionForm):
    action = "mark_paid"
    button_class = "btn-success"
    payment_reference = forms.CharField(label=_("Payment reference"), max_length=100)


class MarkPayoutFailedForm(PayoutActionForm):
    action = "mark_failed"
    button_class = "btn-outline-danger"
    reason = forms.CharField(label=_("Why did the payment fail?"), max_length=200)


class RetryPayoutForm(PayoutActionForm):
    action = "retry"
    button_class = "btn-outline-primary"
    note = note_field()


PAYOUT_FORMS: dict[str, type[PayoutActionForm]] = {
    form.action: form for form in (MarkPayoutPaidForm, MarkPayoutFailedForm, RetryPayoutForm)
}


class PayoutRouteForm(forms.Form):
    """原路退回 or the buyer's Alipay account, while the payout is not in a batch."""

    expected_state = forms.CharField(widget=forms.HiddenInput)
    route = forms.ChoiceField(label=_("Pay by"), choices=PayoutRoute.choices)
    account = forms.CharField(label=_("Alipay account"), max_length=100, required=False)

    def __init__(self, *args, payout: Payout, next_url: str = "", **kwargs):
        kwargs.setdefault("initial", {}).update(
            {"expected_state": payout.state, "route": payout.route, "account": payout.account})
        kwargs.setdefault("prefix", f"p{payout.pk}-route")
        super().__init__(*args, **kwargs)
        self.helper = FormHelper(self)
        self.helper.form_action = reverse("refunds:payout_route", args=[payout.pk])
        self.helper.form_id = f"payout-{payout.pk}-route"
        self.helper.add_input(Submit("submit", _("Change route"),
                                     css_class="btn-sm btn-outline-secondary"))
        if next_url:
            self.helper.add_input(Hidden("next", next_url))


class PayoutExportForm(forms.Form):
    shop = forms.ModelChoiceField(label=_("Shop"), queryset=None)

    def __init__(self, *args, shops, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["shop"].queryset = shops
        if len(shops) == 1:
            self.fields["shop"].initial = shops[0].pk
        self.helper = FormHelper(self)
        self.helper.form_action = reverse("refunds:payout_export")
        self.helper.form_id = "payout-export"
        self.helper.form_class = "d-flex gap-2 align-items-end"
        self.helper.add_input(Submit("submit", _("Export pending payouts"),
                                     css_class="btn-primary"))


# --- review follow-ups (中差评) and buyers --------------------------------------------------


class TransitionForm(forms.Form):
    """Base of the action forms of a follow-up or a claim: carries the state the user saw
    (stale-page guard), posts to `url_name` (object id, action), labelled by the transition."""

    action: str = ""
    button_class = "btn-primary"
    url_name = ""
    expected_state = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, target, **kwargs):
        kwargs.setdefault("initial", {})["expected_state"] = target.state
        kwargs.setdefault("prefix", self.action)
        super().__init__(*args, **kwargs)
        self.helper = FormHelper(self)
        self.helper.form_action = reverse(self.url_name, args=[target.pk, self.action])
        self.helper.form_id = f"action-{self.action}"
        self.helper.add_input(OutlineSubmit("submit", self.label(),
                                            css_class=self.button_class))

    def label(self) -> str:
        raise NotImplementedError

    def service_kwargs(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("expected_state")
        return data


class FollowUpActionForm(TransitionForm):
    url_name = "refunds:followup_action"

    def __init__(self, *args, follow_up: ReviewFollowUp, **kwargs):
        self.follow_up = follow_up
        super().__init__(*args, target=follow_up, **kwargs)

    def label(self) -> str:
        return followup_action_label(self.action)


class StartContactForm(FollowUpActionForm):
    action = "start_contact"
    note = note_field()


class OfferRemedyForm(FollowUpActionForm):
    action = "offer_remedy"
    button_class = "btn-success"
    remedy = forms.ChoiceField(label=_("Remedy"), choices=[("", "---------"),
                                                           *RemedyKind.choices])
    amount = amount_field(
        label=_("Amount (¥)"),
        help_text=_("A refund: what the buyer gets back (less than paid for a partial refund). "
                    "A return or exchange: the item's value. A coupon, points or postage: "
                    "their value. Compensation is proposed on the order's case."),
    )
    note = note_field()


class MarkRevisedForm(FollowUpActionForm):
    action = "mark_revised"
    button_class = "btn-success"
    note = note_field()


class BuyerRefuseForm(FollowUpActionForm):
    action = "buyer_refuse"
    button_class = "btn-secondary"
    note = note_field(_("What the buyer said"))


class MarkUnreachableForm(FollowUpActionForm):
    action = "mark_unreachable"
    button_class = "btn-secondary"
    note = note_field()


class AppealForm(FollowUpActionForm):
    action = "appeal"
    button_class = "btn-warning"
    evidence = forms.CharField(
        label=_("Evidence that the review is malicious (恶意评价)"), max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Competitor or extortion: chat excerpts, order history, what was demanded."),
    )
    note = note_field()


class AppealWonForm(FollowUpActionForm):
    action = "appeal_won"
    button_class = "btn-success"
    note = note_field(_("The platform's ruling"))


class AppealLostForm(FollowUpActionForm):
    action = "appeal_lost"
    button_class = "btn-danger"
    note = note_field(_("The platform's ruling"))


class CloseFollowUpForm(FollowUpActionForm):
    action = "close"
    button_class = "btn-secondary"
    note = note_field()


FOLLOWUP_ACTION_FORMS: dict[str, type[FollowUpActionForm]] = {
    form.action: form
    for form in (StartContactForm, OfferRemedyForm, MarkRevisedForm, BuyerRefuseForm,
                 MarkUnreachableForm, AppealForm, AppealWonForm, AppealLostForm,
                 CloseFollowUpForm)
}


class FollowUpDetailsForm(forms.Form):
    category = forms.ChoiceField(label=_("Complaint category"),
                                 choices=[("", _("Not classified yet")),
                                          *ComplaintCategory.choices], required=False)
    flag = forms.ChoiceField(label=_("Flag"), choices=FlagColour.choices, required=False)

    def __init__(self, *args, follow_up: ReviewFollowUp, **kwargs):
        kwargs.setdefault("prefix", "details")
        kwargs.setdefault("initial", {}).update(category=follow_up.category,
                                                flag=follow_up.flag)
        super().__init__(*args, **kwargs)
        self.helper = FormHelper(self)
        self.helper.form_id = "details-form"
        self.helper.form_action = reverse("refunds:followup_details", args=[follow_up.pk])
        self.helper.add_input(OutlineSubmit("submit", _("Save"), css_class="btn-outline-secondary"))


class FollowUpAssignForm(forms.Form):
    assignee = forms.ModelChoiceField(label=_("Assign to"), queryset=None, required=False,
                                      empty_label=_("Nobody"))

    def __init__(self, *args, follow_up: ReviewFollowUp, **kwargs):
        kwargs.setdefault("prefix", "assign")
        kwargs.setdefault("initial", {})["assignee"] = follow_up.assignee_id
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = (
            get_user_model().objects.filter(is_active=True,
                                            staff_profile__shops=follow_up.shop_id)
            .select_related("staff_profile").order_by("username")
        )
        self.fields["assignee"].label_from_instance = (
            lambda u: f"{u.staff_profile.staff_number} {u.get_full_name() or u.username}"
        )
        self.helper = FormHelper(self)
        self.helper.form_action = reverse("refunds:followup_assign", args=[follow_up.pk])
        self.helper.add_input(OutlineSubmit("submit", _("Assign"),
                                            css_class="btn-outline-secondary"))


class FollowUpCreateForm(forms.Form):
    """A 中评/差评 seen in the seller centre before the review import brought it in."""

    shop = forms.ModelChoiceField(label=_("Shop"), queryset=None)
    order_id = forms.CharField(label=_("Order id (订单编号)"), max_length=64)
    item_title = forms.CharField(label=_("Item (宝贝标题)"), max_length=200)
    rating = forms.ChoiceField(label=_("Rating"), choices=[
        (ReviewRating.BAD, ReviewRating.BAD.label),
        (ReviewRating.NEUTRAL, ReviewRating.NEUTRAL.label)])
    content = forms.CharField(label=_("Review text"), required=False, max_length=5000,
                              widget=forms.Textarea(attrs={"rows": 3}))
    posted_at = ChinaDateTimeField(label=_("Posted"))
    category = forms.ChoiceField(label=_("Complaint category"), required=False,
                                 choices=[("", _("Not classified yet")),
                                          *ComplaintCategory.choices])

    def __init__(self, *args, shops, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["shop"].queryset = shops
        if len(shops) == 1:
            self.fields["shop"].initial = shops[0].pk
        self.helper = FormHelper(self)
        self.helper.form_id = "followup-create-form"
        self.helper.add_input(Submit("submit", _("Open follow-up"), css_class="btn-primary"))

    def clean(self):
        cleaned = super().clean()
        shop, order_id = cleaned.get("shop"), (cleaned.get("order_id") or "").strip()
        if shop and order_id:
            order_id = order_id.removeprefix('="').removesuffix('"')
            try:
                cleaned["order"] = Order.objects.select_related("buyer").get(
                    shop=shop, platform_order_id=order_id)
            except Order.DoesNotExist:
                self.add_error("order_id", _("No order %(order)s in shop %(shop)s.")
                               % {"order": order_id, "shop": shop.name})
        return cleaned


def add_shop_field(form: forms.Form, shops) -> None:
    """The buyer page acts in the name of one of the user's shops the buyer ordered from."""
    field = forms.ModelChoiceField(label=_("Shop"), queryset=shops)
    field.label_from_instance = lambda shop: shop.name
    if len(shops) == 1:
        field.initial = shops[0].pk
        field.widget = forms.HiddenInput()
    form.fields["shop"] = field
    form.order_fields(["shop"])


class DoNotContactForm(forms.Form):
    reason = forms.CharField(label=_("What the buyer asked"), max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, buyer: Buyer, shops, lift: bool = False, **kwargs):
        kwargs.setdefault("prefix", "lift" if lift else "dnc")
        super().__init__(*args, **kwargs)
        add_shop_field(self, shops)
        self.helper = FormHelper(self)
        if lift:
            self.fields["reason"].label = _("Why the buyer may be contacted again")
            self.helper.form_id = "lift-dnc-form"
            self.helper.form_action = reverse("refunds:buyer_allow_contact", args=[buyer.pk])
            self.helper.add_input(OutlineSubmit("submit", _("Lift do-not-contact"),
                                                css_class="btn-outline-secondary"))
        else:
            self.helper.form_id = "dnc-form"
            self.helper.form_action = reverse("refunds:buyer_do_not_contact", args=[buyer.pk])
            self.helper.add_input(OutlineSubmit("submit", _("Buyer asked not to be contacted"),
                                                css_class="btn-outline-danger"))


# --- the warehouse station ----------------------------------------------------------------------


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


IMAGE_TYPES = "image/jpeg,image/png,image/webp"


class PhotosField(forms.FileField):
    """Several photos in one input; each is checked and re-encoded by the service."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(
            attrs={"accept": IMAGE_TYPES, "capture": "environment"}))
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if not data:
            return []
        files = data if isinstance(data, (list, tuple)) else [data]
        return [super(PhotosField, self).clean(item, initial) for item in files if item]


class ScanForm(forms.Form):
    tracking_no = forms.CharField(
        label=_("Return tracking number"), max_length=100,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "off",
                                      "placeholder": _("Scan or type")}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper(self)
        self.helper.form_method = "get"
        self.helper.form_id = "scan"
        self.helper.add_input(Submit("submit", _("Find"), css_class="btn-primary"))


class InspectionForm(forms.Form):
    expected_state = forms.CharField(widget=forms.HiddenInput)
    tracking_no = forms.CharField(label=_("Return tracking number"), max_length=100,
                                  required=False)
    carrier = forms.CharField(label=_("Carrier"), max_length=50, required=False)
    quantity = forms.IntegerField(label=_("Quantity received"), min_value=0, max_value=9999)
    condition = forms.ChoiceField(label=_("Condition"),
                                  choices=[("", "---------"), *ParcelCondition.choices])
    note = note_field(_("Inspection note"))
    photos = PhotosField(label=_("Photos"),
                         help_text=_("JPEG, PNG or WebP; up to 10 photos of 10 MB each."))

    def __init__(self, *args, case: Case, parcel=None, **kwargs):
        initial = kwargs.setdefault("initial", {})
        initial.setdefault("expected_state", case.state)
        initial.setdefault("tracking_no", parcel.tracking_no if parcel else case.return_tracking_no)
        initial.setdefault("carrier", parcel.carrier if parcel else case.return_carrier)
        initial.setdefault("quantity", sum(line.quantity for line in case.lines.all()) or 1)
        super().__init__(*args, **kwargs)
        if parcel is not None:
            self.fields["tracking_no"].disabled = True
        self.helper = FormHelper(self)
        self.helper.form_tag = False  # the page's own <form> also carries the parcel id
        self.helper.add_input(Submit("submit", _("Received: record the inspection"),
                                     css_class="btn-success"))


class UnmatchedParcelForm(forms.Form):
    shop = forms.ModelChoiceField(label=_("Shop"), queryset=None)
    tracking_no = forms.CharField(label=_("Return tracking number"), max_length=100)
    carrier = forms.CharField(label=_("Carrier"), max_length=50, required=False)
    note = note_field(_("What is in it"))
    photos = PhotosField(label=_("Photos"))

    def __init__(self, *args, shops, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["shop"].queryset = shops
        if len(shops) == 1:
            self.fields["shop"].initial = shops[0].pk
        self.helper = FormHelper(self)
        self.helper.form_id = "unmatched"
        self.helper.form_action = reverse("refunds:parcel_unmatched_create")
        self.helper.attrs = {"enctype": "multipart/form-data"}
        self.helper.add_input(Submit("submit", _("Put on the unmatched list (无主件)"),
                                     css_class="btn-warning"))


class AttachParcelForm(forms.Form):
    """Whose is it? A case number or an order id of the parcel's shop."""

    reference = forms.CharField(label=_("Case number or order id"), max_length=64)

    def __init__(self, *args, parcel, **kwargs):
        kwargs.setdefault("prefix", f"parcel{parcel.pk}")
        super().__init__(*args, **kwargs)
        self.helper = FormHelper(self)
        self.helper.form_action = reverse("refunds:parcel_attach", args=[parcel.pk])
        self.helper.form_class = "d-flex gap-2 align-items-end"
        self.helper.add_input(Submit("submit", _("Attach"), css_class="btn-sm btn-primary"))


# --- after inspection: exchanges (换货), return postage ----------------------------------------


class ShipReplacementForm(CaseActionForm):
    action = "ship_replacement"
    button_class = "btn-success"
    carrier = forms.CharField(label=_("Replacement carrier"), max_length=50)
    tracking_no = forms.CharField(label=_("Replacement tracking number"), max_length=64)
    note = note_field()


class CompleteExchangeForm(CaseActionForm):
    action = "complete_exchange"
    button_class = "btn-success"
    note = note_field()


ACTION_FORMS.update({form.action: form for form in (ShipReplacementForm, CompleteExchangeForm)})


class _CaseForm(forms.Form):
    url_name = ""
    prefix = ""
    button = ""
    button_class = "btn-outline-primary"

    def __init__(self, *args, case: Case, **kwargs):
        super().__init__(*args, **kwargs)
        self.case = case
        self.helper = FormHelper(self)
        self.helper.form_action = reverse(f"refunds:{self.url_name}", args=[case.pk])
        self.helper.form_id = self.url_name
        self.helper.add_input(Submit("submit", self.button, css_class=self.button_class))


class ChooseReplacementForm(_CaseForm):
    url_name = "exchange_choose"
    prefix = "exchange"
    button = _("Choose the replacement")
    title = forms.CharField(label=_("Replacement item"), max_length=200)
    sku = forms.CharField(label=_("SKU"), max_length=100, required=False)
    price = forms.DecimalField(label=_("Replacement price (¥)"), max_digits=12,
                               decimal_places=2, min_value=Decimal("0"))
    returned_value = forms.DecimalField(
        label=_("Value of the returned goods (¥)"), max_digits=12, decimal_places=2,
        min_value=Decimal("0"), required=False,
        help_text=_("Leave empty: what the buyer paid for the returned lines."))
    note = note_field()


class BuyerPaidForm(_CaseForm):
    url_name = "exchange_buyer_paid"
    prefix = "buyer_paid"
    button = _("The buyer paid the difference")
    button_class = "btn-outline-success"
    reference = forms.CharField(label=_("Payment reference (补差价)"), max_length=100)


class ReturnPostageForm(_CaseForm):
    url_name = "return_postage"
    prefix = "postage"
    button = _("Settle the return postage")
    freight_insurance = forms.BooleanField(label=_("The buyer had freight insurance (运费险)"),
                                           required=False)
    amount = amount_field(label=_("Return postage the buyer paid (¥)"), required=False,
                          help_text=_("Needed when the shop pays it."))
    note = note_field()


# --- carrier claims (报损报失) ----------------------------------------------------------------


class ClaimFieldsMixin:
    """The claim's own fields, for registering and for correcting a draft."""

    def add_claim_fields(self) -> None:
        def length(name: str) -> int:
            return CarrierClaim._meta.get_field(name).max_length

        self.fields.update({
            "kind": forms.ChoiceField(label=_("Damaged or lost"),
                                      choices=[("", "---------"), *ClaimKind.choices]),
            "direction": forms.ChoiceField(label=_("Parcel"), choices=ClaimDirection.choices),
            "tracking_no": forms.CharField(label=_("Tracking number (waybill)"),
                                           max_length=length("tracking_no")),
            "carrier": forms.CharField(label=_("Carrier"), max_length=length("carrier"),
                                       required=False),
            "ship_date": forms.DateField(label=_("Ship date"), required=False,
                                         widget=forms.DateInput(attrs={"type": "date"})),
            "region": forms.CharField(label=_("Region"), max_length=length("region"),
                                      required=False,
                                      help_text=_("Where the parcel went (province, city).")),
            "sender_id_number": forms.CharField(
                label=_("Sender's ID number"), max_length=length("sender_id_number"),
                required=False,
                help_text=_("The carrier asks for the sender's ID (身份证) with the claim; "
                            "pages show it masked.")),
            "parcel_status": forms.CharField(
                label=_("Parcel status"), max_length=length("parcel_status"),
                help_text=_("What the parcel looked like: outer box crushed, item broken, "
                            "never arrived, …")),
            "item_model": forms.CharField(label=_("Item model"),
                                          max_length=length("item_model")),
            "item_price": amount_field(label=_("Item price (¥)")),
            "quantity": forms.IntegerField(label=_("Quantity"), min_value=1, max_value=9999,
                                           initial=1),
            "claimed_amount": amount_field(
                label=_("Amount claimed (¥)"), required=False,
                help_text=_("Leave empty to claim the goods' value (price × quantity).")),
            "checked_staff_number": forms.CharField(
                label=_("Checked by (staff number)"), required=False,
                max_length=length("checked_staff_number"),
                help_text=_("Who checked the parcel (工号); empty: you.")),
            "reported_on": forms.DateField(label=_("Report date"), required=False,
                                           widget=forms.DateInput(attrs={"type": "date"}),
                                           help_text=_("Empty: today.")),
            "details": forms.CharField(label=_("Details"), required=False, max_length=5000,
                                       widget=forms.Textarea(attrs={"rows": 2})),
        })


class ClaimCreateForm(ClaimFieldsMixin, forms.Form):
    """Register a damaged or lost parcel: from a case (its order and return parcel filled
    in) or by order id."""

    shop = forms.ModelChoiceField(label=_("Shop"), queryset=None)
    order_id = forms.CharField(label=_("Order id (订单编号)"), max_length=64)
    case = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, shops, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["shop"].queryset = shops
        if len(shops) == 1:
            self.fields["shop"].initial = shops[0].pk
        self.add_claim_fields()
        self.fields["photos"] = PhotosField(
            label=_("Photos of the damage"),
            help_text=_("JPEG, PNG or WebP; up to 10 photos of 10 MB each. A damaged parcel "
                        "goes to the carrier with at least one."))
        self.helper = FormHelper(self)
        self.helper.form_id = "claim-create-form"
        self.helper.attrs = {"enctype": "multipart/form-data"}
        self.helper.add_input(Submit("submit", _("Register the claim"), css_class="btn-primary"))

    def clean(self):
        cleaned = super().clean()
        shop, order_id = cleaned.get("shop"), (cleaned.get("order_id") or "").strip()
        if shop and order_id:
            order_id = order_id.removeprefix('="').removesuffix('"')
            try:
                cleaned["order"] = Order.objects.get(shop=shop, platform_order_id=order_id)
            except Order.DoesNotExist:
                self.add_error("order_id", _("No order %(order)s in shop %(shop)s.")
                               % {"order": order_id, "shop": shop.name})
        case_id = cleaned.get("case")
        cleaned["case"] = None
        if case_id and cleaned.get("order") is not None:
            cleaned["case"] = Case.objects.filter(pk=case_id, order=cleaned["order"]).first()
            if cleaned["case"] is None:
                self.add_error("order_id", _("Case #%(case)s is not a case of this order.")
                               % {"case": case_id})
        return cleaned

    def claim_values(self) -> dict:
        data = dict(self.cleaned_data)
        for name in ("shop", "order_id", "order", "case", "photos"):
            data.pop(name, None)
        return data


class ClaimEditForm(ClaimFieldsMixin, forms.Form):
    """A correction: posts every field, and the claim as it was shown (`version`), so a
    colleague's correction made meanwhile is never silently undone."""

    expected_state = forms.CharField(widget=forms.HiddenInput)
    version = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, claim, **kwargs):
        initial = kwargs.setdefault("initial", {})
        initial["expected_state"] = claim.state
        initial["version"] = claim_version(claim)
        for name in CLAIM_EDITABLE_FIELDS:
            initial.setdefault(name, getattr(claim, name))
        initial["sender_id_number"] = ""  # never written into the page in full
        kwargs.setdefault("prefix", "edit")
        super().__init__(*args, **kwargs)
        self.add_claim_fields()
        if claim.sender_id_number:
            field = self.fields["sender_id_number"]
            field.widget.attrs["placeholder"] = claim.masked_sender_id
            field.help_text = _("Leave empty to keep %(id)s; type a new one to replace it.") % {
                "id": claim.masked_sender_id}
        self.helper = FormHelper(self)
        self.helper.form_id = "claim-edit-form"
        self.helper.form_action = reverse("refunds:claim_edit", args=[claim.pk])
        self.helper.add_input(OutlineSubmit("submit", _("Save"),
                                            css_class="btn-outline-primary"))


class PhotoUploadForm(forms.Form):
    """Base of a form adding photos to an object (a claim's, a complaint's evidence): posts
    to `url_name` (object id) with the fields' `prefix`, as `form_id`, its button `button`."""

    prefix = "photos"
    url_name = ""
    form_id = ""
    button = ""

    def __init__(self, *args, target, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["photos"].required = True
        self.helper = FormHelper(self)
        self.helper.form_id = self.form_id
        self.helper.attrs = {"enctype": "multipart/form-data"}
        self.helper.form_action = reverse(self.url_name, args=[target.pk])
        self.helper.add_input(OutlineSubmit("submit", self.button,
                                            css_class="btn-outline-secondary"))


class ClaimPhotosForm(PhotoUploadForm):
    url_name, form_id, button = "refunds:claim_photos", "claim-photos-form", _("Add photos")
    photos = PhotosField(label=_("Photos of the damage"),
                         help_text=_("JPEG, PNG or WebP; up to 10 photos of 10 MB each."))

    def __init__(self, *args, claim, **kwargs):
        super().__init__(*args, target=claim, **kwargs)


class ClaimActionForm(TransitionForm):
    url_name = "refunds:claim_action"

    def __init__(self, *args, claim, **kwargs):
        self.claim = claim
        super().__init__(*args, target=claim, **kwargs)

    def label(self) -> str:
        return claim_action_label(self.action)


class ClaimSubmitForm(ClaimActionForm):
    action = "submit"
    carrier_reference = forms.CharField(label=_("Carrier's claim number"), max_length=60,
                                        required=False)
    note = note_field()


class ClaimResubmitForm(ClaimActionForm):
    action = "resubmit"
    note = note_field(_("What the claim adds to answer the refusal"), required=True)


class ClaimAcceptForm(ClaimActionForm):
    action = "accept"
    button_class = "btn-success"
    result = forms.CharField(label=_("What the carrier answered"), max_length=5000,
                             widget=forms.Textarea(attrs={"rows": 2}))


class ClaimRejectForm(ClaimActionForm):
    action = "reject"
    button_class = "btn-danger"
    result = forms.CharField(label=_("Why the carrier rejected it"), max_length=5000,
                             widget=forms.Textarea(attrs={"rows": 2}))


class ClaimCompensationForm(ClaimActionForm):
    action = "record_compensation"
    button_class = "btn-success"
    amount = amount_field(label=_("Amount received (¥)"))
    note = note_field()

    def __init__(self, *args, claim, **kwargs):
        super().__init__(*args, claim=claim, **kwargs)
        self.fields["amount"].widget.attrs["placeholder"] = str(claim.claimed_amount)


class ClaimCloseForm(ClaimActionForm):
    action = "close"
    button_class = "btn-secondary"
    note = note_field(_("Why (required unless the carrier paid)"))


CLAIM_ACTION_FORMS = {form.action: form for form in (
    ClaimSubmitForm, ClaimResubmitForm, ClaimAcceptForm, ClaimRejectForm,
    ClaimCompensationForm, ClaimCloseForm)}


# --- complaints after the trade (维权/投诉) --------------------------------------------------


class ComplaintCreateForm(forms.Form):
    """Record a complaint the platform opened: from a case, a review follow-up or the orders
    to ship (the order filled in), or by order id."""

    shop = forms.ModelChoiceField(label=_("Shop"), queryset=None)
    order_id = forms.CharField(label=_("Order id (订单编号)"), max_length=64)
    case = forms.IntegerField(widget=forms.HiddenInput, required=False)
    follow_up = forms.IntegerField(widget=forms.HiddenInput, required=False)
    submission = submission_field()
    kind = forms.ChoiceField(label=_("The buyer complains of"),
                             choices=[("", "---------"), *ComplaintKind.choices])
    platform_reference = forms.CharField(
        label=_("Complaint number (投诉编号)"), max_length=64, required=False,
        help_text=_("As the seller centre shows it."))
    buyer_claim = forms.CharField(label=_("What the buyer says"), max_length=5000,
                                  widget=forms.Textarea(attrs={"rows": 3}))
    amount_claimed = amount_field(label=_("Amount the buyer asks (¥)"), required=False,
                                  help_text=_("If the platform rules for the buyer without the "
                                              "shop's evidence, this is what it pays."))
    opened_at = ChinaDateTimeField(label=_("Opened by the platform"), required=False,
                                   help_text=_("Empty: now."))
    trade_succeeded_on = forms.DateField(
        label=_("Trade succeeded on (交易成功)"), required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Complaints are accepted for a number of days after it (the shop's "
                    "policy; 15 by default)."))
    evidence_due_at = ChinaDateTimeField(
        label=_("Evidence due"), required=False,
        help_text=_("The deadline the seller centre shows. Empty: the shop policy's working "
                    "days from the opening."))

    def __init__(self, *args, shops, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["shop"].queryset = shops
        if len(shops) == 1:
            self.fields["shop"].initial = shops[0].pk
        self.helper = FormHelper(self)
        self.helper.form_id = "complaint-create-form"
        self.helper.add_input(Submit("submit", _("Record the complaint"),
                                     css_class="btn-primary"))

    def clean(self):
        cleaned = super().clean()
        # a hidden field's error is not shown with it: say it for the whole form
        if {"case", "follow_up"} & set(self.errors):
            raise forms.ValidationError(_("The link to the case or review follow-up on this "
                                          "form is not valid: open the form again from its "
                                          "page."))
        shop, order_id = cleaned.get("shop"), (cleaned.get("order_id") or "").strip()
        if shop and order_id:
            order_id = order_id.removeprefix('="').removesuffix('"')
            try:
                cleaned["order"] = Order.objects.get(shop=shop, platform_order_id=order_id)
            except Order.DoesNotExist:
                self.add_error("order_id", _("No order %(order)s in shop %(shop)s.")
                               % {"order": order_id, "shop": shop.name})
        order = cleaned.get("order")
        for name, model, message in (
                ("case", Case, _("Case #%(id)s is not a case of this order.")),
                ("follow_up", ReviewFollowUp,
                 _("Review follow-up #%(id)s is not about this order."))):
            pk = cleaned.get(name)
            cleaned[name] = None
            if pk and order is not None:
                cleaned[name] = model.objects.filter(pk=pk, order=order).first()
                if cleaned[name] is None:
                    self.add_error("order_id", message % {"id": pk})
        return cleaned

    def complaint_values(self) -> dict:
        data = dict(self.cleaned_data)
        for name in ("shop", "order_id", "order", "case", "follow_up", "submission"):
            data.pop(name, None)
        return data


class ComplaintEvidenceForm(PhotoUploadForm):
    prefix, url_name = "evidence", "refunds:complaint_evidence"
    form_id, button = "complaint-evidence-form", _("Add evidence")
    kind = forms.ChoiceField(label=_("The screenshots show"), choices=EvidenceKind.choices)
    # screenshots are picked from the files, not taken with the phone's camera (no `capture`)
    photos = PhotosField(label=_("Screenshots"),
                         widget=MultipleFileInput(attrs={"accept": IMAGE_TYPES}),
                         help_text=_("JPEG, PNG or WebP; up to 10 at a time, 10 MB each."))
    note = note_field()

    def __init__(self, *args, complaint, **kwargs):
        super().__init__(*args, target=complaint, **kwargs)


class ComplaintActionForm(TransitionForm):
    url_name = "refunds:complaint_action"

    def __init__(self, *args, complaint, **kwargs):
        self.complaint = complaint
        super().__init__(*args, target=complaint, **kwargs)

    def label(self) -> str:
        return complaint_action_label(self.action)


def _ruling_field(label=None) -> forms.CharField:
    return forms.CharField(label=label or _("What the platform ruled"), max_length=5000,
                           widget=forms.Textarea(attrs={"rows": 2}))


class ComplaintSubmitEvidenceForm(ComplaintActionForm):
    action = "submit_evidence"
    note = note_field(_("What the shop answered"))


class ComplaintRuleForShopForm(ComplaintActionForm):
    action = "rule_for_shop"
    button_class = "btn-success"
    ruling = _ruling_field()


class ComplaintRuleForBuyerForm(ComplaintActionForm):
    action = "rule_for_buyer"
    button_class = "btn-danger"
    ruling = _ruling_field()
    refund_amount = amount_field(label=_("Paid to the buyer (¥)"), required=False,
                                 help_text=_("Counts against what the buyer paid."))
    penalty_points = forms.IntegerField(label=_("Penalty points (扣分)"), required=False,
                                        min_value=0, max_value=100)

    def __init__(self, *args, complaint, **kwargs):
        super().__init__(*args, complaint=complaint, **kwargs)
        if complaint.amount_claimed is not None:
            self.fields["refund_amount"].help_text = _(
                "The buyer asked ¥%(amount)s. Empty: the ruling paid nothing.") % {
                "amount": complaint.amount_claimed}


class ComplaintWithdrawForm(ComplaintActionForm):
    action = "withdraw"
    button_class = "btn-secondary"
    note = note_field(_("How it was settled"), required=True)


class ComplaintAppealForm(ComplaintActionForm):
    action = "appeal"
    reason = forms.CharField(label=_("Grounds of the appeal"), max_length=5000,
                             widget=forms.Textarea(attrs={"rows": 2}))


class ComplaintUpholdAppealForm(ComplaintActionForm):
    action = "uphold_appeal"
    button_class = "btn-success"
    ruling = _ruling_field(_("What the platform decided"))


class ComplaintRejectAppealForm(ComplaintActionForm):
    action = "reject_appeal"
    button_class = "btn-danger"
    ruling = _ruling_field(_("What the platform decided"))


COMPLAINT_ACTION_FORMS = {form.action: form for form in (
    ComplaintSubmitEvidenceForm, ComplaintRuleForShopForm, ComplaintRuleForBuyerForm,
    ComplaintWithdrawForm, ComplaintAppealForm, ComplaintUpholdAppealForm,
    ComplaintRejectAppealForm)}


# --- stock-outs (缺货) ------------------------------------------------------------------------


class StockOutReportForm(forms.Form):
    """Report an item of a paid order out of stock (the order is in the URL)."""

    line = forms.ChoiceField(label=_("Item out of stock"), required=False)
    quantity = forms.IntegerField(label=_("How many are missing"), min_value=1, initial=1,
                                  max_value=100000)
    restock_expected = forms.DateField(
        label=_("Restock expected"), required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("If the warehouse knows when the goods come in: what the buyer is "
                    "offered to wait for."))
    note = note_field(_("Warehouse note"))

    def __init__(self, *args, order: Order, **kwargs):
        super().__init__(*args, **kwargs)
        self.order = order
        self.lines = {str(line.pk): line for line in order.lines.all()}
        choices = [(pk, f"{line.title} × {line.quantity}") for pk, line in self.lines.items()]
        self.fields["line"].choices = [*choices, ("", _("The whole order"))]
        if len(choices) == 1:
            self.fields["line"].initial = choices[0][0]
        self.helper = FormHelper(self)
        self.helper.form_id = "stockout-report"
        self.helper.form_action = reverse("refunds:stockout_report", args=[order.pk])
        self.helper.add_input(Submit("submit", _("Report out of stock"),
                                     css_class="btn-warning"))

    def clean_line(self):
        value = self.cleaned_data["line"]
        return self.lines.get(value) if value else None


class StockOutActionForm(TransitionForm):
    url_name = "refunds:stockout_action"

    def __init__(self, *args, stockout, **kwargs):
        self.stockout = stockout
        super().__init__(*args, target=stockout, **kwargs)

    def label(self) -> str:
        return stockout_action_label(self.action)


class StockOutAgreedForm(StockOutActionForm):
    action = "buyer_agreed"
    button_class = "btn-success"
    remedy = forms.ChoiceField(label=_("The buyer"), choices=StockOutRemedy.choices,
                               widget=forms.RadioSelect, initial=StockOutRemedy.WAIT)
    agreed_ship_by = forms.DateField(label=_("Ship by (agreed with the buyer)"),
                                     widget=forms.DateInput(attrs={"type": "date"}))
    note = note_field(_("What was agreed (which item instead, for another item)"))

    def __init__(self, *args, stockout, **kwargs):
        # the restock date, unless it has passed (then the day must be agreed anew)
        if stockout.restock_expected and stockout.restock_expected >= china_today(
                timezone.now()):
            kwargs.setdefault("initial", {}).setdefault("agreed_ship_by",
                                                        stockout.restock_expected)
        super().__init__(*args, stockout=stockout, **kwargs)


class StockOutRefundForm(StockOutActionForm):
    action = "refund"
    button_class = "btn-danger"
    note = note_field(_("What the buyer said"))


class StockOutShipForm(StockOutActionForm):
    action = "ship"
    note = note_field()


class StockOutRefundFellThroughForm(StockOutActionForm):
    action = "refund_fell_through"
    button_class = "btn-warning"
    note = note_field(_("Why the refund was closed (the buyer cancelled it, a ruling…)"))


class StockOutWithdrawForm(StockOutActionForm):
    action = "withdraw"
    button_class = "btn-outline-secondary"
    reason = forms.CharField(label=_("Where the stock was found"), max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 2}))


STOCKOUT_ACTION_FORMS = {form.action: form for form in (
    StockOutAgreedForm, StockOutRefundForm, StockOutRefundFellThroughForm, StockOutShipForm,
    StockOutWithdrawForm)}


# --- the buyer's confirm-receipt window (延长收货) ---------------------------------------------


def _days_label_now(days: int) -> str:
    return ngettext("%(days)s day", "%(days)s days", days) % {"days": days}


_days_label = lazy(_days_label_now, str)  # in the language of each request


class ReceiptChangeForm(forms.Form):
    """Base of the two records of the seller centre: carries the date the user saw (the
    stale-page guard) and the case the user came from. Both forms are on one page: each has
    its prefix, so their fields' ids differ."""

    expected_confirm_by = forms.CharField(widget=forms.HiddenInput, required=False)
    case = forms.IntegerField(widget=forms.HiddenInput, required=False)
    form_prefix = ""
    url_name = ""
    form_id = ""
    button = ""
    button_class = "btn-primary"

    def __init__(self, *args, order: Order, cases=(), case_id: int | None = None, **kwargs):
        seen = order.confirm_receipt_by
        initial = kwargs.setdefault("initial", {})
        initial.setdefault("expected_confirm_by", seen.isoformat() if seen else "")
        initial.setdefault("case", case_id)
        kwargs.setdefault("prefix", self.form_prefix)
        super().__init__(*args, **kwargs)
        self.order = order
        self.cases = {case.pk: case for case in cases}  # the order's cases
        self.helper = FormHelper(self)
        self.helper.form_id = self.form_id
        self.helper.form_action = reverse(self.url_name, args=[order.pk])
        self.helper.add_input(Submit(f"{self.form_prefix}-submit", self.button,
                                     css_class=self.button_class))

    def clean_expected_confirm_by(self):
        value = self.cleaned_data["expected_confirm_by"]
        if not value:
            return None
        try:
            seen = datetime.fromisoformat(value)
        except ValueError:
            raise forms.ValidationError(_("The page was changed: reload it.")) from None
        if timezone.is_naive(seen):
            raise forms.ValidationError(_("The page was changed: reload it."))
        return seen

    def clean_case(self):
        value = self.cleaned_data["case"]
        if value is None:
            return None
        if value not in self.cases:
            raise forms.ValidationError(_("That case is not one of this order's."))
        return self.cases[value]

    def clean(self):
        # a hidden field's error would be shown nowhere: say it above the form (a malformed
        # date seen is a changed page: `views.actions.submit` says so, STALE_FIELDS)
        for error in self.errors.get("case", []):
            self.add_error(None, error)
        return super().clean()


class ReceiptExtendForm(ReceiptChangeForm):
    form_prefix = "extend"
    url_name = "refunds:receipt_extend"
    form_id = "receipt-extend"
    button = _("Record the extension")
    days = forms.TypedChoiceField(
        label=_("Extended in the seller centre by"), coerce=int, initial=EXTENSION_DAYS[1],
        choices=[(days, _days_label(days)) for days in EXTENSION_DAYS],
        help_text=_("Extend it on the platform first (已卖出的宝贝 → 延长收货时间), then record "
                    "it here."))
    note = note_field()


class ReceiptReadForm(ReceiptChangeForm):
    form_prefix = "read"
    url_name = "refunds:receipt_read"
    form_id = "receipt-read"
    button = _("Record the date")
    button_class = "btn-outline-primary"
    confirm_by = ChinaDateTimeField(
        label=_("The seller centre says it confirms receipt at"),
        help_text=_("China time, as the order's page in the seller centre shows it."))
    note = note_field()


# --- parcel inquiries (快递查询 / 改地址) ------------------------------------------------------


class InquiryOpenForm(forms.Form):
    """Open an inquiry on an order (the order is in the URL): what the buyer asks."""

    kind = forms.ChoiceField(label=_("The buyer asks"), choices=InquiryKind.choices,
                             widget=forms.RadioSelect)
    question = forms.CharField(label=_("What the buyer said"), max_length=2000,
                               widget=forms.Textarea(attrs={"rows": 2}))
    tracking_no = forms.CharField(label=_("Tracking number"), max_length=64, required=False,
                                  help_text=_("The parcel's, as the carrier knows it: the "
                                              "order's unless the buyer means another one "
                                              "(a return, a replacement)."))
    carrier = forms.CharField(label=_("Carrier"), max_length=50, required=False)
    new_address = forms.CharField(
        label=_("New address"), max_length=2000, required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("For an address change: name, phone and the full address the buyer gave."))
    case = forms.ChoiceField(label=_("Case"), required=False)

    def __init__(self, *args, order: Order, cases=(), **kwargs):
        initial = kwargs.setdefault("initial", {})
        initial.setdefault("tracking_no", order.tracking_no)
        initial.setdefault("carrier", order.carrier)
        initial.setdefault("kind", InquiryKind.WHERE if order.is_shipped
                           else InquiryKind.ADDRESS)
        super().__init__(*args, **kwargs)
        self.order = order
        self.cases = {str(case.pk): case for case in cases}
        self.fields["case"].choices = [("", _("None")), *(
            (pk, f"#{pk} {case.get_kind_display()} · {case.get_state_display()}")
            for pk, case in self.cases.items())]
        if not self.cases:
            self.fields["case"].widget = forms.HiddenInput()
        self.helper = FormHelper(self)
        self.helper.form_id = "inquiry-open"
        self.helper.form_action = reverse("refunds:inquiry_open", args=[order.pk])
        self.helper.add_input(Submit("submit", _("Open the inquiry")))

    def clean_case(self):
        value = self.cleaned_data["case"]
        if value and value not in self.cases:
            raise forms.ValidationError(_("Choose one of the order's open cases."))
        return self.cases.get(value) if value else None

    def clean(self):
        data = super().clean()
        if data.get("kind") == InquiryKind.ADDRESS and not (data.get("new_address") or "").strip():
            self.add_error("new_address", _("Enter the new address the buyer gave."))
        return data


class InquiryActionForm(TransitionForm):
    url_name = "refunds:inquiry_action"

    def __init__(self, *args, inquiry, **kwargs):
        self.inquiry = inquiry
        super().__init__(*args, target=inquiry, **kwargs)

    def label(self) -> str:
        return inquiry_action_label(self.action)


class InquiryAskCarrierForm(InquiryActionForm):
    action = "ask_carrier"
    button_class = "btn-outline-primary"
    carrier_staff = forms.CharField(label=_("Carrier's staff number (快递客服号)"), max_length=40)
    callback_by = ChinaDateTimeField(label=_("They call back by"),
                                     help_text=_("China time, as the carrier said."))
    note = note_field(_("What you asked"))

    def __init__(self, *args, inquiry, **kwargs):
        if inquiry.carrier_staff:
            kwargs.setdefault("initial", {}).setdefault("carrier_staff", inquiry.carrier_staff)
        super().__init__(*args, inquiry=inquiry, **kwargs)


class InquiryAnswerForm(InquiryActionForm):
    action = "record_answer"
    button_class = "btn-success"
    outcome = forms.ChoiceField(label=_("Outcome"), widget=forms.RadioSelect)
    answer = forms.CharField(label=_("The answer"), max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 2}),
                             help_text=_("What the carrier found, or what was done."))
    carrier_staff = forms.CharField(label=_("Carrier's staff number (快递客服号)"), max_length=40,
                                    required=False)

    def __init__(self, *args, inquiry, **kwargs):
        if inquiry.carrier_staff:
            kwargs.setdefault("initial", {}).setdefault("carrier_staff", inquiry.carrier_staff)
        super().__init__(*args, inquiry=inquiry, **kwargs)
        self.fields["outcome"].choices = [(o.value, o.label) for o in outcomes_for(inquiry.kind)]
        if needs_carrier(inquiry):
            self.fields["carrier_staff"].help_text = _("Who at the carrier answered.")
        else:
            self.fields["carrier_staff"].help_text = _(
                "The order has not shipped: change the address in the seller centre; no "
                "carrier is needed.")


class InquiryTellBuyerForm(InquiryActionForm):
    action = "tell_buyer"
    button_class = "btn-success"
    note = note_field()


class InquiryWithdrawForm(InquiryActionForm):
    action = "withdraw"
    button_class = "btn-outline-secondary"
    reason = forms.CharField(label=_("Why the buyer no longer needs it"), max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 2}))


INQUIRY_ACTION_FORMS = {form.action: form for form in (
    InquiryAskCarrierForm, InquiryAnswerForm, InquiryTellBuyerForm, InquiryWithdrawForm)}
