from tortoise import migrations


class Migration(migrations.Migration):
    dependencies = [('models', '0011_delivery')]

    initial = False

    operations = []
