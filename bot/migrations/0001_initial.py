from orjson import loads
from tortoise import fields, migrations
from tortoise.fields.data import JSON_DUMPS
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name="EventLog",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("key", fields.CharField(unique=True, max_length=128)),
                ("source", fields.CharField(max_length=16)),
                ("kind", fields.CharField(max_length=32)),
                ("event", fields.CharField(default="", max_length=64)),
                ("change", fields.CharField(default="", max_length=64)),
                ("body", fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ("handlers", fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ("attempts", fields.IntField(default=1)),
                ("received_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("processed_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "event_log",
                "app": "scrm",
                "indexes": [Index(fields=["kind", "event", "change"])],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
    ]
