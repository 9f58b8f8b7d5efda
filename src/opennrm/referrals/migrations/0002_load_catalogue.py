"""Load the service catalogue shipped in catalogue.yaml (idempotent; `manage.py load_catalogue` reloads it)."""

from django.db import migrations


def load_catalogue(apps, schema_editor):
    from opennrm.referrals import catalogue

    service_type = apps.get_model("referrals", "ServiceType")
    catalogue.load(service_type, catalogue.read())


class Migration(migrations.Migration):
    dependencies = [("referrals", "0001_services_referrals_deliveries")]

    operations = [migrations.RunPython(load_catalogue, migrations.RunPython.noop)]
