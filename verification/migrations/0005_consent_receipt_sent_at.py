from django.db import migrations, models


def mark_earlier_receipts_sent(apps, schema_editor):
    # Receipts of consents given before this field existed were sent then (or had no address to
    # go to); without this the new sweep would send the last day's receipts a second time.
    Consent = apps.get_model("verification", "Consent")
    Consent.objects.filter(receipt_sent_at__isnull=True).update(receipt_sent_at=models.F("signed_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("verification", "0004_project_closed_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="consent",
            name="receipt_sent_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(mark_earlier_receipts_sent, migrations.RunPython.noop),
    ]
