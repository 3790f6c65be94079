from django.urls import path

from verification.views import person, staff

staff_patterns = (
    [
        path("persons/", staff.person_list, name="persons"),
        path("persons/new/", staff.person_create, name="person_create"),
        path("persons/<int:pk>/", staff.person_detail, name="person"),
        path("persons/<int:pk>/edit/", staff.person_edit, name="person_edit"),
        path("persons/<int:pk>/verify/", staff.session_start, name="session_start"),
        path("sessions/<int:pk>/", staff.session_detail, name="session"),
        path("sessions/<int:pk>/status/", staff.session_status, name="session_status"),
        path("sessions/<int:pk>/resend/", staff.session_resend, name="session_resend"),
        path("sessions/<int:pk>/show-link/", staff.session_show_link, name="session_show_link"),
        path("sessions/<int:pk>/cancel/", staff.session_cancel, name="session_cancel"),
        path("consents/<int:pk>/withdraw/", staff.consent_withdraw, name="consent_withdraw"),
    ],
    "staff",
)

person_patterns = (
    [
        path("p/<str:token>/", person.link, name="link"),
        path("p/<str:token>/consent/", person.consent, name="consent"),
        path("p/<str:token>/start/", person.start, name="start"),
        path("p/<str:token>/withdraw/", person.withdraw, name="withdraw"),
        path("p/<str:token>/renew/", person.renew, name="renew"),
        path("p/<str:token>/receipt.json", person.receipt, {"fmt": "json"}, name="receipt_json"),
        path("p/<str:token>/receipt.pdf", person.receipt, {"fmt": "pdf"}, name="receipt_pdf"),
        path("verified/<str:ref>/", person.callback, name="callback"),
        path("verified/<str:ref>/retry/", person.retry, name="retry"),
    ],
    "person",
)
