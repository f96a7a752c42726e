"""The queue's rows, written in Python the way Django's admin writes its change list.

Why not a template loop: 25 rows of eleven cells were some 1,200 template nodes, two
`reverse()` calls and a `{% csrf_token %}` per row — a third of the queue's server time
(docs/PERFORMANCE.md). Every value is escaped as the template did (`_e`); what a row shows
is unchanged, and tests/views/test_case_pages.py reads it.
"""

from __future__ import annotations

from django import template
from django.utils.formats import localize
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from ..escaping import escape as _e
from ..links import path_maker
from ..services.cases import CLAIM_PERMISSION
from .refunds_tags import display, state_badge, time_left

register = template.Library()



def _deadline(case) -> str:
    left = time_left(case)
    owner = ""
    if case.deadline_owner and case.is_open:
        owner = (f'<br><small class="text-body-secondary">{_e(display(case, "deadline_owner"))}'
                 "</small>")
    return f'<span class="{_e(left["css"])}">{_e(left["text"])}</span>{owner}'


def _assignee(case) -> str:
    if not case.assignee:
        return '<span class="text-body-secondary">—</span>'
    profile = getattr(case.assignee, "staff_profile", None)
    return _e((profile and profile.staff_number) or case.assignee.username)


@register.simple_tag(takes_context=True)
def case_rows(context, cases) -> SafeString:
    """The queue's `<tr>` rows for `cases` (shop, order, buyer, assignee and 工号 joined)."""
    detail_url = path_maker("refunds:case_detail")
    claim_url = path_maker("refunds:case_claim")
    csrf_token = context.get("csrf_token")
    csrf = (f'<input type="hidden" name="csrfmiddlewaretoken" value="{_e(csrf_token)}">'
            if csrf_token and csrf_token != "NOTPROVIDED" else "")
    request = context.get("request")
    may_claim = request is not None and request.user.has_perm(CLAIM_PERMISSION)
    claim_label = _e(_("Claim"))
    vip = ' <span class="badge text-bg-warning">VIP</span>'
    rows = []
    for case in cases:
        pk = case.pk
        url = _e(detail_url(pk))
        order, buyer = case.order, case.order.buyer
        refund_id = (f'<br><small class="text-body-secondary">{_e(case.platform_refund_id)}'
                     "</small>" if case.platform_refund_id else "")
        claim = (f'\n        <form method="post" action="{_e(claim_url(pk))}">{csrf}\n'
                 '          <input type="hidden" name="expected_assignee" value="">\n'
                 '          <button class="btn btn-sm btn-outline-primary" type="submit">'
                 f"{claim_label}</button>\n        </form>"
                 if may_claim and case.is_open and not case.assignee_id else "")
        rows.append(
            f'<tr data-case="{pk}">\n'
            f'      <td><a href="{url}">{pk}</a></td>\n'
            f"      <td>{_deadline(case)}</td>\n"
            f'      <td><span class="badge {_e(state_badge(case.state))}">'
            f'{_e(display(case, "state"))}</span></td>\n'
            f'      <td>{_e(display(case, "kind"))}</td>\n'
            f"      <td>{_e(case.shop.name)}</td>\n"
            f'      <td><a href="{url}">{_e(order.platform_order_id)}</a>{refund_id}</td>\n'
            f"      <td>{_e(buyer.nick)}{vip if buyer.is_vip else ''}"
            f'<br><small class="text-body-secondary">{_e(buyer.masked_mobile)}</small></td>\n'
            f'      <td class="text-end">¥{_e(localize(case.requested_amount))}</td>\n'
            f'      <td>{_e(display(case, "reason"))}</td>\n'
            f"      <td>{_assignee(case)}</td>\n"
            f"      <td>{claim}</td>\n"
            "    </tr>"
        )
    return mark_safe("\n".join(rows))
