from tortoise import migrations


class Migration(migrations.Migration):
    dependencies = [('models', '0012_voucher_controls')]

    initial = False

    operations = []
