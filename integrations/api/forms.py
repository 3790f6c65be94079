"""The API hands its input to the same Django forms the pages use; their first error becomes the
API's error, naming the field as the API spells it."""

from django import forms

from integrations.api.errors import ApiError


def check(form: forms.BaseForm, fields: dict[str, str] | None = None) -> None:
    if form.is_valid():
        return
    fields = fields or {}
    for name, errors in form.errors.items():
        field = None if name == "__all__" else fields.get(name, name)
        raise ApiError(422, "invalid", str(errors[0]), field)
