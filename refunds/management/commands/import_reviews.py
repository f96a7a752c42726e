from refunds.services.imports import import_reviews

from ._import import ImportCommand


class Command(ImportCommand):
    help = "Import the platform's review (评价管理) export into a shop; safe to run again."
    what = "review (评价管理)"
    importer = staticmethod(import_reviews)
