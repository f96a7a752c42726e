from refunds.services.imports import import_refunds

from ._import import ImportCommand


class Command(ImportCommand):
    help = "Import the platform's refund (退款管理) export into a shop; safe to run again."
    what = "refund (退款管理)"
    importer = staticmethod(import_refunds)
