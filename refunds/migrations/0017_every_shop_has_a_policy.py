"""Every shop has its policy: a shop the admin saved without touching its policy form had
none, and each page or job that reads the shop's deadlines failed on it. Such shops get the
defaults, which a manager can change in the admin."""

from django.db import migrations


def give_every_shop_a_policy(apps, schema_editor):
    Shop = apps.get_model("refunds", "Shop")
    Policy = apps.get_model("refunds", "Policy")
    without = Shop.objects.filter(policy__isnull=True).values_list("pk", flat=True)
    Policy.objects.bulk_create([Policy(shop_id=pk) for pk in without.iterator()])


class Migration(migrations.Migration):
    dependencies = [("refunds", "0016_orders_to_ship_index")]

    operations = [migrations.RunPython(give_every_shop_a_policy, migrations.RunPython.noop)]
