"""Review of the complaint pages (维权/投诉): defects found in the web layer, one test each.

Each test fails against the code as reviewed, for the reason its docstring names."""

from __future__ import annotations

import re

import pytest

from refunds.models import Complaint, ComplaintEvidence
from refunds.services import complaints as svc
from tests.services.test_complaints import record
from tests.services.test_warehouse import image_upload

from .helpers import alert_texts, text
from .test_complaint_pages import form_data

HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)"')


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")


@pytest.mark.parametrize("field", ["case", "follow_up"])
def test_a_forged_hidden_link_on_the_new_complaint_form_is_told(login, agent, order, field):
    """Bad input gets a clear message. A forged POST whose hidden `case` / `follow_up` is not
    a number is refused (400) but its error is rendered nowhere: crispy shows no error of a
    hidden field and the form adds no non-field error, so the agent sees the form again with
    no word of what is wrong."""
    response = login(agent).post("/complaints/new/", form_data(order, **{field: "abc"}))
    assert response.status_code == 400
    assert not Complaint.objects.exists()
    page = text(response)
    assert "invalid-feedback" in page or "alert-danger" in page, "no message at all"


def test_an_empty_post_to_the_new_complaint_form_says_what_is_missing(login, agent, shop):
    """Bad input gets a clear message. `ComplaintCreateForm(request.POST or None)`: a POST
    with an empty body makes an unbound form, so the 400 page shows no field errors."""
    response = login(agent).post("/complaints/new/", {})
    assert response.status_code == 400
    assert "This field is required." in text(response)
    assert not Complaint.objects.exists()


def test_the_new_complaint_form_sent_twice_records_one_complaint(login, agent, order):
    """refunds/submissions.py: a form that creates something does it once, however often it
    is sent. The new-complaint form carries no submission token, so a double click (no
    complaint number typed, as it is optional) records two open complaints with their own
    deadlines; the twin left without evidence is ruled for the buyer by the nightly sweep,
    which records the amount asked as paid a second time."""
    client = login(agent)
    hidden = dict(HIDDEN.findall(text(client.get("/complaints/new/"))))
    hidden.pop("csrfmiddlewaretoken", None)
    post = {**form_data(order, amount_claimed="30.00"), **hidden}
    first = client.post("/complaints/new/", post)
    assert first.status_code == 302
    client.post("/complaints/new/", post)
    assert Complaint.objects.count() == 1


def test_an_incomplete_ruling_on_a_stale_page_is_told_the_complaint_changed(
        login, agent, supervisor, order):
    """Stale page → clear message. The supervisor's page shows the complaint open; the buyer
    withdrew it meanwhile. Their rule-for-buyer form sent with the ruling left empty gets
    "Please correct the errors below." — but the page they get has no ruling form any more
    (the transition is gone), so there is nothing to correct and no word that the complaint
    changed."""
    complaint = record(order, agent)
    svc.complaint_withdraw(complaint=complaint, actor=agent, note="买家撤诉")
    response = login(supervisor).post(
        f"/complaints/{complaint.pk}/actions/rule_for_buyer/",
        {"rule_for_buyer-expected_state": "open", "rule_for_buyer-ruling": ""}, follow=True)
    assert "changed while you were looking at it" in alert_texts(response, "danger")
    assert Complaint.objects.get(pk=complaint.pk).state == "withdrawn"


def test_too_many_screenshots_at_once_are_refused_in_words_about_screenshots(login, agent,
                                                                            order):
    """A clear message. Eleven screenshots at once are refused with the warehouse's
    "At most 10 photos per parcel." (refunds/photos.py clean_photos) on a complaint page,
    where there is no parcel."""
    complaint = record(order, agent)
    response = login(agent).post(
        f"/complaints/{complaint.pk}/evidence/",
        {"evidence-kind": "chat",
         "evidence-photos": [image_upload(f"s{n}.png", fmt="PNG") for n in range(11)]},
        follow=True)
    message = alert_texts(response, "danger")
    assert "10" in message
    assert "parcel" not in message
    assert not ComplaintEvidence.objects.exists()

