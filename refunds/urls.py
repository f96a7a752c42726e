from django.urls import path

from .views import cases

app_name = "refunds"

urlpatterns = [
    path("cases/", cases.case_list, name="case_list"),
    path("cases/new/", cases.case_create, name="case_create"),
    path("cases/<int:pk>/", cases.case_detail, name="case_detail"),
    path("cases/<int:pk>/actions/<slug:action>/", cases.case_action, name="case_action"),
    path("cases/<int:pk>/contact/", cases.case_contact, name="case_contact"),
    path("cases/<int:pk>/note/", cases.case_note, name="case_note"),
    path("cases/<int:pk>/assign/", cases.case_assign, name="case_assign"),
    path("cases/<int:pk>/claim/", cases.case_claim, name="case_claim"),
]
