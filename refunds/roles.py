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
         "view_caseevent", "view_contactlog", "view_refund"]
_AGENT = _READ + ["add_case", "agree_case", "refuse_case", "modify_request",
                  "record_return_shipment", "approve_refund", "close_case", "log_contact"]

# codenames in the `refunds` app, plus "app_label.codename" for other apps
ROLE_PERMISSIONS: dict[str, list[str]] = {
    AGENT: _AGENT,
    SUPERVISOR: _AGENT + ["approve_over_limit", "reopen_case", "assign_case"],
    WAREHOUSE: _READ + ["record_return_shipment", "receive_return"],
    FINANCE: _READ + ["mark_refunded"],
    MANAGER: _AGENT + [
        "approve_over_limit", "reopen_case", "assign_case", "receive_return", "mark_refunded",
        "add_shop", "change_shop", "view_policy", "add_policy", "change_policy",
        "add_staffprofile", "change_staffprofile", "view_staffprofile",
        "add_order", "change_order", "add_orderline", "change_orderline",
        "add_buyer", "change_buyer",
        "auth.view_user", "auth.add_user", "auth.change_user", "auth.view_group",
        "django_fsm_log.view_statelog",
    ],
}
