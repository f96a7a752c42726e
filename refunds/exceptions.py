"""Domain errors. Views and admin actions turn each into a message; none may become a 500."""

from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    """An expected refusal with a message fit to show the user."""

    default_message = _("This action could not be completed.")

    def __init__(self, message=None):
        self.message = message or self.default_message
        super().__init__(str(self.message))


class CaseChanged(DomainError):
    default_message = _("This case changed while you were looking at it. Reload and try again.")


class ActionNotAllowed(DomainError):
    default_message = _("This action is not allowed for this case now.")


class PermissionDeniedError(DomainError):
    default_message = _("You do not have permission to do this.")


class AmountError(DomainError):
    default_message = _("The amount is not valid.")
