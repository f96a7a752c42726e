"""The queue's rows, written in Python the way Django's admin writes its change list.

Why not a template loop: 25 rows of eleven cells were some 1,200 template nodes, two
`reverse()` calls and a `{% csrf_token %}` per row — a third of the queue's server time
(docs/PERFORMANCE.md). `format_html` escapes every value as the template did; what a row shows
is unchanged, and tests/views/test_case_pages.py reads it.
"""

from __future__ import annotations

from django import template
from django.urls import reverse
from django.utils.formats import localize
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from .refunds_tags import display, state_badge, time_left

register = template.Library()

# A number that cannot occur in the site's URLs otherwise: reversed once per page, then each
# row's URL is this one with the case's id in its place (reverse() per row was hot).
_PK = 918273645


def _url_maker(name: str):
    prefix, _sentinel, suffix = reverse(name, args=[_PK]).rpartition(str(_PK))
    return lambda pk: f"{prefix}{pk}{suffix}"


def _deadline(case) -> SafeString:
    left = time_left(case)
    owner = ""
    if case.deadline_owner and case.is_open:
        owner = format_html('<br><small class="text-body-secondary">{}</small>',
                            display(case, "deadline_owner"))
    return format_html('<span class="{}">{}</span>{}', left["css"], left["text"], owner)


def _assignee(case) -> SafeString:
    if not case.assignee:
        return mark_safe('<span class="text-body-secondary">—</span>')
    profile = getattr(case.assignee, "staff_profile", None)
    return format_html("{}", (profile and profile.staff_number) or case.assignee.username)


@register.simple_tag(takes_context=True)
def case_rows(context, cases) -> SafeString:
    """The queue's `<tr>` rows for `cases` (shop, order, buyer, assignee and 工号 joined)."""
    detail_url = _url_maker("refunds:case_detail")
    claim_url = _url_maker("refunds:case_claim")
    csrf_token = context.get("csrf_token")
    csrf = (format_html('<input type="hidden" name="csrfmiddlewaretoken" value="{}">', csrf_token)
            if csrf_token and csrf_token != "NOTPROVIDED" else "")
    claim_label = _("Claim")
    rows = []
    for case in cases:
        url = detail_url(case.pk)
        order, buyer = case.order, case.order.buyer
        rows.append(format_html(
            '<tr data-case="{pk}">\n'
            '      <td><a href="{url}">{pk}</a></td>\n'
            "      <td>{deadline}</td>\n"
            '      <td><span class="badge {badge}">{state}</span></td>\n'
            "      <td>{kind}</td>\n"
            "      <td>{shop}</td>\n"
            '      <td><a href="{url}">{order}</a>{refund_id}</td>\n'
            '      <td>{nick}{vip}<br><small class="text-body-secondary">{mobile}</small></td>\n'
            '      <td class="text-end">¥{amount}</td>\n'
            "      <td>{reason}</td>\n"
            "      <td>{assignee}</td>\n"
            "      <td>{claim}</td>\n"
            "    </tr>",
            pk=case.pk, url=url, deadline=_deadline(case), badge=state_badge(case.state),
            state=display(case, "state"), kind=display(case, "kind"), shop=case.shop.name,
            order=order.platform_order_id,
            refund_id=format_html('<br><small class="text-body-secondary">{}</small>',
                                  case.platform_refund_id) if case.platform_refund_id else "",
            nick=buyer.nick,
            vip=mark_safe(' <span class="badge text-bg-warning">VIP</span>')
            if buyer.is_vip else "",
            mobile=buyer.masked_mobile, amount=localize(case.requested_amount),
            reason=display(case, "reason"), assignee=_assignee(case),
            claim=format_html(
                '\n        <form method="post" action="{}">{}\n'
                '          <input type="hidden" name="expected_assignee" value="">\n'
                '          <button class="btn btn-sm btn-outline-primary" type="submit">{}'
                "</button>\n        </form>", claim_url(case.pk), csrf, claim_label)
            if case.is_open and not case.assignee_id else "",
        ))
    return format_html_join("\n", "{}", ((row,) for row in rows))
