"""The five roles of DOMAIN.md as Django groups and their permissions (see `setup_roles`)."""

from django.utils.translation import gettext_lazy as _

AGENT, SUPERVISOR, WAREHOUSE, FINANCE, MANAGER = (
    "agent", "supervisor", "warehouse", "finance", "manager",
)

ROLE_LABELS = {
    AGENT: _("Agent (售后客服)"),
    SUPERVISOR: _("Supervisor (主管)"),
    WAREHOUSE: _("Warehouse (仓库)"),
    FINANCE: _("Finance (财务)"),
    MANAGER: _("Manager (经理)"),
}

_READ = ["view_case", "view_order", "view_orderline", "view_buyer", "view_shop",
         "view_caseevent", "view_contactlog", "view_refund", "view_returnparcel",
         "view_parcelphoto", "view_carrierclaim", "view_claimevent", "view_claimphoto",
         "view_complaint", "view_complaintevent", "view_complaintevidence",
         "view_stockout", "view_stockoutevent", "view_parcelinquiry", "view_inquiryevent"]
# compensation (补偿): agents propose, approve a colleague's within the limit, issue coupons
_COMPENSATION = ["view_compensation", "propose_compensation", "approve_compensation",
                 "issue_compensation"]
_FINANCE = ["view_compensation", "view_payout", "view_payoutbatch", "export_payouts",
            "mark_refunded"]
# review follow-ups (中差评): agents work them; supervisors appeal, assign and may override
# the harassment guard or lift a buyer's do-not-contact request, each with a written reason
_REVIEWS = ["view_reviewfollowup", "add_reviewfollowup", "work_followup", "view_followupevent",
            "view_buyerevent", "view_cannedreply"]
_REVIEW_SUPERVISION = ["appeal_review", "assign_followup", "override_contact_guard",
                       "lift_do_not_contact"]
# exchanges (换货): after-sales chooses the replacement; whoever ships it records it
_EXCHANGES = ["view_exchange", "choose_replacement", "ship_replacement", "complete_exchange"]
_AGENT = _READ + ["add_case", "agree_case", "refuse_case", "modify_request",
                  "record_return_shipment", "approve_refund", "close_case", "log_contact",
                  *_COMPENSATION, "view_payout", *_REVIEWS, *_EXCHANGES, "handle_dispute",
                  "handle_claim", "report_stockout", "handle_stockout",
                  # the buyer's confirm-receipt window (延长收货)
                  "view_receiptwindowchange", "extend_receipt",
                  # parcel inquiries and address changes (快递查询 / 改地址)
                  "handle_inquiry"]

# codenames in the `refunds` app, plus "app_label.codename" for other apps
ROLE_PERMISSIONS: dict[str, list[str]] = {
    AGENT: _AGENT,
    SUPERVISOR: _AGENT + ["approve_over_limit", "reopen_case", "assign_case",
                          "record_dispute_ruling", *_REVIEW_SUPERVISION,
                          "record_claim_compensation"],
    WAREHOUSE: _READ + ["record_return_shipment", "receive_return", "view_exchange",
                        "ship_replacement", "handle_claim", "report_stockout"],
    FINANCE: _READ + _FINANCE + ["record_claim_compensation"],
    MANAGER: _AGENT + [
        "approve_over_limit", "reopen_case", "assign_case", "receive_return", *_FINANCE,
        "record_dispute_ruling", "record_claim_compensation",
        "add_shop", "change_shop", "view_policy", "add_policy", "change_policy",
        "add_staffprofile", "change_staffprofile", "view_staffprofile",
        "add_order", "change_order", "add_orderline", "change_orderline",
        "add_buyer", "change_buyer",
        "add_importrun", "view_importrun",
        "view_calendarday", "add_calendarday", "change_calendarday", "delete_calendarday",
        *_REVIEW_SUPERVISION, "add_cannedreply", "change_cannedreply", "delete_cannedreply",
        "auth.view_user", "auth.add_user", "auth.change_user", "auth.view_group",
        "django_fsm_log.view_statelog",
    ],
}
