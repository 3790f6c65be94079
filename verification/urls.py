from django.urls import path

from verification.views import outbox, person, staff

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
        path("sessions/<int:pk>/link/", staff.session_link, name="session_link"),
        path(
            "sessions/<int:pk>/link/choose/",
            staff.session_link_choice,
            name="session_link_choice",
        ),
        path("sessions/<int:pk>/cancel/", staff.session_cancel, name="session_cancel"),
        path("consents/<int:pk>/withdraw/", staff.consent_withdraw, name="consent_withdraw"),
        path("dev/outbox/", outbox.outbox, name="outbox"),
    ],
    "staff",
)

person_patterns = (
    [
        path("p/<slug:token>/", person.link, name="link"),
        path("p/<slug:token>/consent/", person.consent, name="consent"),
        path("p/<slug:token>/start/", person.start, name="start"),
        path("p/<slug:token>/code/", person.consent_code, name="consent_code"),
        path("p/<slug:token>/code/resend/", person.consent_code_resend, name="consent_code_resend"),
        path("p/<slug:token>/withdraw/", person.withdraw, name="withdraw"),
        path("p/<slug:token>/renew/", person.renew, name="renew"),
        path("p/<slug:token>/receipt.json", person.receipt, {"fmt": "json"}, name="receipt_json"),
        path("p/<slug:token>/receipt.pdf", person.receipt, {"fmt": "pdf"}, name="receipt_pdf"),
        path("verified/<slug:ref>/", person.callback, name="callback"),
        path("verified/<slug:ref>/retry/", person.retry, name="retry"),
        path("studio.css", person.studio_style, name="studio_style"),
    ],
    "person",
)
