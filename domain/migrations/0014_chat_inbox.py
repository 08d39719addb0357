from tortoise import migrations


class Migration(migrations.Migration):
    dependencies = [('models', '0013_capture_device')]

    initial = False

    operations = []
