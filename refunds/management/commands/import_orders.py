from refunds.services.imports import import_orders

from ._import import ImportCommand


class Command(ImportCommand):
    help = "Import the platform's order (订单报表) export into a shop; safe to run again."
    what = "order (订单报表)"
    importer = staticmethod(import_orders)
