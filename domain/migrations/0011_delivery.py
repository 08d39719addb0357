from tortoise import migrations


class Migration(migrations.Migration):
    dependencies = [('models', '0010_sweep_indexes')]

    initial = False

    operations = []
